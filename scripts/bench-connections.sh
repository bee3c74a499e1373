#!/usr/bin/env bash
# Live connections at scale (io.tether.bench.ConnectionBench does the measuring; see its Javadoc):
#
#  1. fan-out: one stream read live by READERS connections (half SSE, half WebSocket) spread over a local
#     3-node cluster, one writer appending RATE events/s through node 1; 60 s warm-up, 30 s measured.
#     Append→delivery p50/p99 over every delivery, and the nodes' CPU per delivered event.
#  2. idle: IDLE_CONNECTIONS idle live connections (half SSE, half WebSocket) on one node, over 100
#     streams: live heap per connection (jcmd, two equal steps) and the CPU that keeping them open costs
#     (heartbeats, pings, timers), from 60 s without and 60 s with them.
#
#   scripts/bench-connections.sh [READERS] [RATE] [IDLE_CONNECTIONS]      (defaults 10000, 1 and 19000)
#
# A process may hold at most `ulimit -n` descriptors, and both the node and this client hold one per
# connection: IDLE_CONNECTIONS must stay about 300 below that limit (19,000 where it is 20,000).
# Nodes: 1 GiB heap, TETHER_MAX_CONNECTIONS=30000, no per-address limit, started with scripts/cluster.sh
# on HTTP ports 30181-30183 and Hazelcast ports 27801-27803 in target/bench/connections-run/.
# BENCH_PARTS="fanout idle" (the default) picks the parts to run.
# Results: target/bench/connections.md (also printed), raw lines in target/bench/connections.raw.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

READERS="${1:-10000}"
RATE="${2:-1}"
IDLE="${3:-19000}"
HTTP_BASE=30180
CLUSTER_BASE=27800
OUT="$ROOT/target/bench"
WORK="$OUT/connections-run"
RAW="$OUT/connections.raw"
mkdir -p "$OUT" "$WORK"

limit=$(ulimit -n)
for n in "$READERS" "$IDLE"; do
  if (( n + 300 > limit )); then
    echo "$n connections need more than this shell's descriptor limit allows (ulimit -n = $limit)" >&2
    exit 2
  fi
done

ensure_jar
bench_classpath
cp "$JAR" "$WORK/tether.jar"
cd "$ROOT"
export TETHER_LOG_LEVEL=WARN TETHER_MAX_CONNECTIONS=30000 TETHER_MAX_CONNECTIONS_PER_IP=0 \
  TETHER_BASE_PORT=$HTTP_BASE TETHER_CLUSTER_BASE_PORT=$CLUSTER_BASE TETHER_JVM_OPTS="-Xms1g -Xmx1g" \
  TETHER_JAR="$WORK/tether.jar"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT

start_nodes() { # start_nodes N: nodes 1..N as one cluster, in a directory of their own
  export TETHER_CLUSTER_DIR="$WORK/nodes-$1" TETHER_CLUSTER_NAME="bench-connections-$$-$1"
  bench_cluster_up "$1" "$HTTP_BASE" "$TETHER_CLUSTER_DIR" "$TETHER_CLUSTER_NAME"
}
urls() { local n="$1" i list=""; for i in $(seq 1 "$n"); do list+="${list:+,}http://127.0.0.1:$((HTTP_BASE + i))"; done; echo "$list"; }
pids() { local n="$1" i list=""; for i in $(seq 1 "$n"); do list+="${list:+,}$(cat "$TETHER_CLUSTER_DIR/node-$i.pid")"; done; echo "$list"; }
CLIENT=(java -Xms2g -Xmx2g -cp "$CP" io.tether.bench.ConnectionBench)

: >"$RAW"
PARTS="${BENCH_PARTS:-fanout idle}"
if [[ " $PARTS " == *" fanout "* ]]; then
echo "== fan-out: $READERS readers of one stream on 3 nodes, $RATE appends/s" >&2
start_nodes 3
BENCH_PIDS="$(pids 3)" "${CLIENT[@]}" fanout "$(urls 3)" "$READERS" "$RATE" "${BENCH_FANOUT_WARMUP:-60}" "${BENCH_FANOUT_SECONDS:-30}" | tee -a "$RAW"
scripts/cluster.sh down >&2
fi

if [[ " $PARTS " == *" idle "* ]]; then
echo "== idle: $IDLE idle connections on one node" >&2
start_nodes 1
"${CLIENT[@]}" idle "$(urls 1)" "$(pids 1)" "$IDLE" 100 "${BENCH_IDLE_SECONDS:-60}" | tee -a "$RAW"
scripts/cluster.sh down >&2
fi

{
  echo "# Connections at scale ($(date -u +%F))"
  echo
  echo "Machine: $(nproc) cores, $(uname -sr), $(java -version 2>&1 | head -1)."
  echo "Command: \`scripts/bench-connections.sh $READERS $RATE $IDLE\`."
  echo
  echo '```'
  cat "$RAW"
  echo '```'
} >"$OUT/connections.md"
echo "results: $OUT/connections.md" >&2
