#!/usr/bin/env bash
# Three-node benchmark on a local cluster of processes (scripts/cluster.sh), on this machine:
#
#   1. append -> SSE delivery at 1000 streams, readers on nodes that do not own their stream,
#      writers spread over all nodes (after a 60 s warm-up of all nodes)
#   1b. append -> WebSocket delivery at 1000 streams and fixed offered rates, side by side with a bare
#      Vert.x WebSocket relay (io.tether.bench.RelayNode: three processes on the same clustered event
#      bus and cluster.xml, no owner, no ring, no replication), alternating over ROUNDS rounds
#   2. reconnect on a non-owner node -> first replayed event (p50/p99 over 500 sequential reconnects)
#   3. streams created per second (PUT, 16 concurrent clients over all nodes)
#   4. SIGKILL of a stream's owner -> the stream writable again through a survivor (10 trials)
#
#   scripts/bench-cluster.sh [MEASURE_SECONDS] [FAILOVER_TRIALS] [RATES] [ROUNDS]
#                                                          (defaults 10 10 250,1000,2000 3)
#
# RATES are the offered loads of the relay comparison, appends/s over all 1000 streams, comma-separated.
# Uses HTTP ports 28081-28083 and Hazelcast ports 25701-25703 (Tether), 29081-29083 and 26701-26703
# (relay). Results: target/bench/cluster.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MEASURE="${1:-10}"
TRIALS="${2:-10}"
RATES="${3:-250,1000,2000}"
ROUNDS="${4:-3}"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
export TETHER_BASE_PORT=28080 TETHER_CLUSTER_BASE_PORT=25700 TETHER_CLUSTER_NAME="bench-$$" TETHER_LOG_LEVEL=WARN \
  TETHER_CLUSTER_DIR="$OUT/cluster-nodes"
export TETHER_JVM_OPTS="${TETHER_JVM_OPTS:--Xms512m -Xmx512m}"
# The load generator's thousands of connections all come from 127.0.0.1.
export TETHER_MAX_CONNECTIONS_PER_IP=0
URLS="http://127.0.0.1:28081,http://127.0.0.1:28082,http://127.0.0.1:28083"
RELAY_URLS="http://127.0.0.1:29081,http://127.0.0.1:29082,http://127.0.0.1:29083"
RELAY_PIDS="$OUT/relay.pids"

ensure_jar
bench_classpath
cd "$ROOT"
relay_down() {
  if [[ -f "$RELAY_PIDS" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$RELAY_PIDS"
    while read -r pid; do while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; done <"$RELAY_PIDS"
    rm -f "$RELAY_PIDS"
  fi
}
trap 'relay_down; scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up 3 >&2

echo "starting the bare relay: 3 processes" >&2
relay_down
for i in 1 2 3; do
  TETHER_NODE_ID="relay-$i" TETHER_HTTP_HOST=127.0.0.1 TETHER_HTTP_PORT=$((29080 + i)) \
  TETHER_CLUSTER_HOST=127.0.0.1 TETHER_CLUSTER_PORT=$((26700 + i)) TETHER_CLUSTER_NAME="relay-$$" \
  TETHER_CLUSTER_MEMBERS="127.0.0.1:26701,127.0.0.1:26702,127.0.0.1:26703" \
    nohup java $TETHER_JVM_OPTS -cp "$CP" io.tether.bench.RelayNode >"$OUT/relay-$i.log" 2>&1 &
  echo $! >>"$RELAY_PIDS"
done
for i in 1 2 3; do
  deadline=$((SECONDS + 120))
  until curl -fsS "http://127.0.0.1:$((29080 + i))/health/ready" 2>/dev/null | grep -q '"members":3'; do
    if (( SECONDS >= deadline )); then echo "relay $i did not see 3 members" >&2; exit 1; fi
    sleep 0.2
  done
done

RAW="$OUT/cluster.raw"
: >"$RAW"
# Three JVMs compiling on two cores take about a minute of load before the JIT settles.
echo "warming up all nodes: 60 s of load" >&2
java -cp "$CP" io.tether.bench.StreamLoad "$URLS" 300 16 57 3 warmup >/dev/null
echo "append -> deliver, 1000 streams" >&2
java -cp "$CP" io.tether.bench.StreamLoad "$URLS" 1000 16 3 "$MEASURE" cluster-1000 | grep RESULT | tee -a "$RAW" >&2
echo "warming up the relay: 30 s of load" >&2
java -cp "$CP" io.tether.bench.StreamLoad "$RELAY_URLS" 300 16 27 3 relay-warmup ws next >/dev/null
for rate in ${RATES//,/ }; do
  echo "append -> WebSocket delivery at $rate appends/s: Tether and the bare relay, $ROUNDS alternating rounds" >&2
  for round in $(seq 1 "$ROUNDS"); do
    java -cp "$CP" io.tether.bench.StreamLoad "$URLS" 1000 16 3 "$MEASURE" tether-ws ws non-owner "$rate" \
      | grep RESULT | tee -a "$RAW" >&2
    java -cp "$CP" io.tether.bench.StreamLoad "$RELAY_URLS" 1000 16 3 "$MEASURE" relay-ws ws next "$rate" \
      | grep RESULT | tee -a "$RAW" >&2
  done
done
relay_down
echo "reconnect on a non-owner node" >&2
java -cp "$CP" io.tether.bench.ClusterBench reconnect "$URLS" 100 500 | grep RESULT | tee -a "$RAW" >&2
echo "stream creation" >&2
java -cp "$CP" io.tether.bench.ClusterBench create "$URLS" 16 "$MEASURE" | grep RESULT | tee -a "$RAW" >&2
echo "SIGKILL failover, $TRIALS trials" >&2
java -cp "$CP" io.tether.bench.ClusterBench failover "$URLS" "$TRIALS" | grep RESULT | tee -a "$RAW" >&2

python3 - "$RAW" "$OUT/cluster.md" "$MEASURE" "$TRIALS" "$RATES" "$ROUNDS" <<'PY'
import sys, datetime, os, platform, re, statistics
raw, out, measure, trials, rates, rounds = sys.argv[1:7]
runs = {}
for line in open(raw):
    parts = line.split()
    kv = dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S+)", line))
    label = parts[1] + ("@" + kv["offered_per_s"] if parts[1] in ("tether-ws", "relay-ws") else "")
    runs.setdefault(label, []).append(kv)
first = lambda label: runs.get(label, [{}])[0]
d, r, c, f = first("cluster-1000"), first("reconnect"), first("create"), first("failover")
def med(label, key):
    values = [float(run[key]) for run in runs.get(label, []) if key in run]
    return statistics.median(values) if values else float("nan")
def each(label, key):
    return ", ".join(run.get(key, "?") for run in runs.get(label, []))
relay_rows = []
for rate in rates.split(","):
    t, rl = "tether-ws@" + rate, "relay-ws@" + rate
    t99, r99 = med(t, "deliver_p99_ms"), med(rl, "deliver_p99_ms")
    relay_rows.append(
      f"| {rate} | {med(t,'appends_per_s'):.0f} / {med(rl,'appends_per_s'):.0f} | {med(t,'deliver_p50_ms'):.2f} | "
      f"{med(rl,'deliver_p50_ms'):.2f} | {t99:.2f} ({each(t,'deliver_p99_ms')}) | {r99:.2f} ({each(rl,'deliver_p99_ms')}) | "
      f"**{t99 / r99:.2f}×** | {each(t,'missing')} / {each(rl,'missing')} |")
lines = [
  f"# Three-node benchmark ({datetime.date.today()})", "",
  f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}. Three Tether nodes (512 MiB heap each, "
  "processes on loopback, `scripts/cluster.sh`) and the load generator share it. All nodes are warmed up for 60 s first. "
  f"Command: `scripts/bench-cluster.sh {measure} {trials} {rates} {rounds}`.", "",
  "| measurement | result |", "|---|---|",
  f"| append → SSE delivery, 1000 streams, 16 writers over all nodes (closed loop), each reader on a node that does not own its stream | "
  f"{d.get('appends_per_s','?')} appends/s; ack p50 {d.get('ack_p50_ms','?')} ms, p99 {d.get('ack_p99_ms','?')} ms; "
  f"delivery p50 {d.get('deliver_p50_ms','?')} ms, p99 {d.get('deliver_p99_ms','?')} ms; missing {d.get('missing','?')} |",
  f"| reconnect on a non-owner node → first replayed event ({r.get('samples','?')} sequential reconnects over {r.get('streams','?')} streams) | "
  f"p50 {r.get('first_event_p50_ms','?')} ms, p99 {r.get('first_event_p99_ms','?')} ms, max {r.get('first_event_max_ms','?')} ms |",
  f"| streams created per second (PUT, 16 concurrent clients over all nodes, {measure} s) | {c.get('per_second','?')}/s "
  f"(create p50 {c.get('p50_ms','?')} ms, p99 {c.get('p99_ms','?')} ms; {c.get('failed','?')} failed) |",
  f"| SIGKILL of the owner → writable through a survivor ({f.get('trials','?')} trials) | median {f.get('writable_median_ms','?')} ms, "
  f"max {f.get('writable_max_ms','?')} ms; every trial: {f.get('each_ms','?')} |",
  "", "Append → WebSocket delivery at 1000 streams, Tether against a bare Vert.x WebSocket relay "
  "(`io.tether.bench.RelayNode`: three processes on the same clustered event bus and `cluster.xml`, no owner, no ring, "
  "no replication; readers spread over the nodes), at fixed offered rates, 16 paced writers over all nodes, "
  f"{rounds} rounds alternating between the two; cells are medians of the rounds (each round's p99 in brackets). "
  "Tether's readers are all on nodes that do not own their stream:", "",
  "| offered appends/s | achieved (Tether / relay) | Tether p50 ms | relay p50 ms | Tether p99 ms | relay p99 ms | "
  "p99 ratio (target ≤ 2×) | missing (Tether / relay) |",
  "|---:|---:|---:|---:|---:|---:|---:|---:|"] + relay_rows + [
  "", "Raw result lines:", "", "```"] + [l.rstrip() for l in open(raw)] + ["```"]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
