#!/usr/bin/env bash
# Appends through a graceful stop (SIGTERM) on a local 3-node cluster (scripts/cluster.sh):
#
#   scripts/bench-handover.sh [STOPS] [STREAMS] [WRITERS]            (defaults 4 300 8)
#
# STOPS times, node 3 and node 2 in turn are stopped (see BENCH_VICTIMS) while WRITERS plain appends (no producer headers,
# so a client has no safe retry) stay in flight through node 1 (BENCH_WRITER), round-robin over STREAMS streams; the
# stopped node is started again before the next round. Each round prints how the appends ended (204, or
# 503 "outcome unknown" and the like), their latency percentiles, the node's own handover and exit times,
# and whether every stream holds exactly its acknowledged appends. Uses HTTP ports 19081-19083 and
# Hazelcast ports 19701-19703. Results: target/bench/handover.md. TETHER_JAR runs another build.
# BENCH_WRITER (default 1) is the node the appends go through and BENCH_VICTIMS (default "3 2") the nodes
# stopped in turn: BENCH_WRITER=3 BENCH_VICTIMS="1 2" also stops the cluster's oldest member (Hazelcast's
# master), which the defaults never do.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STOPS="${1:-4}"
STREAMS="${2:-300}"
WRITERS="${3:-8}"
WRITER="${BENCH_WRITER:-1}"
read -r -a VICTIMS <<< "${BENCH_VICTIMS:-3 2}"
for v in "${VICTIMS[@]}"; do
  [[ "$v" =~ ^[123]$ && "$v" != "$WRITER" ]] || { echo "BENCH_VICTIMS: nodes 1-3 other than the writer ($WRITER)" >&2; exit 2; }
done
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
export TETHER_BASE_PORT=19080 TETHER_CLUSTER_BASE_PORT=19700 TETHER_CLUSTER_NAME="handover-$$" TETHER_LOG_LEVEL=INFO \
  TETHER_CLUSTER_DIR="$OUT/handover-nodes" TETHER_MAX_CONNECTIONS_PER_IP=0
export TETHER_JVM_OPTS="${TETHER_JVM_OPTS:--Xmx512m}"

ensure_node_jar
command -v node >/dev/null || { echo "node (Node.js 18+) is needed for the append driver" >&2; exit 1; }
cd "$ROOT"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh down >/dev/null 2>&1 || true
rm -f "$TETHER_CLUSTER_DIR"/node-*.log
echo "starting 3 nodes ($(basename "${TETHER_JAR:-$JAR}"))" >&2
scripts/cluster.sh up 3 >&2

{
  echo "# Appends through a graceful stop ($(date -u +%Y-%m-%dT%H:%MZ), $(basename "${TETHER_JAR:-$JAR}"))"
  echo
  echo "\`scripts/bench-handover.sh $STOPS $STREAMS $WRITERS\`: $WRITERS plain appends in flight through node $WRITER over $STREAMS streams."
  echo
  echo "| stop | appends | answers | p50 ms | p99 ms | p99.9 ms | max ms | lost | extra | handover ms | exit ms |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
} > "$OUT/handover.md"

for ((round = 1; round <= STOPS; round++)); do
  victim=${VICTIMS[$(( (round - 1) % ${#VICTIMS[@]} ))]}
  node scripts/bench/handover.mjs "http://127.0.0.1:$((19080 + WRITER))" "$STREAMS" 14 "$WRITERS" > "$OUT/handover-$round.json" &
  driver=$!
  # Let the writers reach every stream before the stop.
  sleep 6
  echo "round $round of $STOPS: stopping node $victim under load" >&2
  scripts/cluster.sh stop "$victim" >/dev/null
  wait "$driver"
  times=$(grep -o 'handed over in [0-9]* ms, left the cluster in [0-9]* ms' "$TETHER_CLUSTER_DIR/node-$victim.log" | tail -1)
  python3 - "$OUT/handover-$round.json" "$round" "$victim" "$times" >> "$OUT/handover.md" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
nums = re.findall(r"\d+", sys.argv[4]) or ["?", "?"]
answers = ", ".join(f"{k}: {v}" for k, v in sorted(r["status"].items()))
print(f"| {sys.argv[2]} (node {sys.argv[3]}) | {r['appends']} | {answers} | {r['p50']} | {r['p99']} | {r['p999']} | {r['max']} "
      f"| {r['lost']} | {r['extra']} | {nums[0]} | {nums[1]} |")
for e in r["examples"]:
    print(f"|  | | {e} | | | | | | | | |", file=sys.stderr)
PY
  tail -1 "$OUT/handover.md" >&2
  scripts/cluster.sh start "$victim" >/dev/null
done
cat "$OUT/handover.md"
