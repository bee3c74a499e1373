#!/usr/bin/env bash
# Three-node benchmark on a local cluster of processes (scripts/cluster.sh), on this machine:
#
#   1. append -> SSE delivery at 1000 streams, readers on nodes that do not own their stream,
#      writers spread over all nodes (after a 60 s warm-up of all nodes)
#   2. reconnect on a non-owner node -> first replayed event (p50/p99 over 500 sequential reconnects)
#   3. streams created per second (PUT, 16 concurrent clients over all nodes)
#   4. SIGKILL of a stream's owner -> the stream writable again through a survivor (10 trials)
#
#   scripts/bench-cluster.sh [MEASURE_SECONDS] [FAILOVER_TRIALS]      (defaults 10 and 10)
#
# Uses HTTP ports 28081-28083 and Hazelcast ports 25701-25703. Results: target/bench/cluster.md.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MEASURE="${1:-10}"
TRIALS="${2:-10}"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
export TETHER_BASE_PORT=28080 TETHER_CLUSTER_BASE_PORT=25700 TETHER_CLUSTER_NAME="bench-$$" TETHER_LOG_LEVEL=WARN
export TETHER_JVM_OPTS="${TETHER_JVM_OPTS:--Xms512m -Xmx512m}"
URLS="http://127.0.0.1:28081,http://127.0.0.1:28082,http://127.0.0.1:28083"

ensure_jar
(cd "$ROOT" && mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath \
  -Dmdep.includeScope=test)
CP="$ROOT/target/test-classes:$ROOT/target/classes:$(cat "$ROOT/target/bench.classpath")"
cd "$ROOT"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh up 3 >&2

RAW="$OUT/cluster.raw"
: >"$RAW"
# Three JVMs compiling on two cores take about a minute of load before the JIT settles.
echo "warming up all nodes: 60 s of load" >&2
java -cp "$CP" io.tether.bench.StreamLoad "$URLS" 300 16 57 3 warmup >/dev/null
echo "append -> deliver, 1000 streams" >&2
java -cp "$CP" io.tether.bench.StreamLoad "$URLS" 1000 16 3 "$MEASURE" cluster-1000 | grep RESULT | tee -a "$RAW" >&2
echo "reconnect on a non-owner node" >&2
java -cp "$CP" io.tether.bench.ClusterBench reconnect "$URLS" 100 500 | grep RESULT | tee -a "$RAW" >&2
echo "stream creation" >&2
java -cp "$CP" io.tether.bench.ClusterBench create "$URLS" 16 "$MEASURE" | grep RESULT | tee -a "$RAW" >&2
echo "SIGKILL failover, $TRIALS trials" >&2
java -cp "$CP" io.tether.bench.ClusterBench failover "$URLS" "$TRIALS" | grep RESULT | tee -a "$RAW" >&2

python3 - "$RAW" "$OUT/cluster.md" "$MEASURE" "$TRIALS" <<'PY'
import sys, datetime, os, platform
raw, out, measure, trials = sys.argv[1:5]
rows = {}
for line in open(raw):
    parts = line.split()
    import re
    rows[parts[1]] = dict(re.findall(r"(\w+)=(\[[^\]]*\]|\S+)", line))
d, r, c, f = rows.get("cluster-1000", {}), rows.get("reconnect", {}), rows.get("create", {}), rows.get("failover", {})
lines = [
  f"# Three-node benchmark ({datetime.date.today()})", "",
  f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}. Three Tether nodes (512 MiB heap each, "
  "processes on loopback, `scripts/cluster.sh`) and the load generator share it. All nodes are warmed up for 60 s first. "
  f"Command: `scripts/bench-cluster.sh {measure} {trials}`.", "",
  "| measurement | result |", "|---|---|",
  f"| append → SSE delivery, 1000 streams, 16 writers over all nodes, each reader on a node that does not own its stream | "
  f"{d.get('appends_per_s','?')} appends/s; ack p50 {d.get('ack_p50_ms','?')} ms, p99 {d.get('ack_p99_ms','?')} ms; "
  f"delivery p50 {d.get('deliver_p50_ms','?')} ms, p99 {d.get('deliver_p99_ms','?')} ms; missing {d.get('missing','?')} |",
  f"| reconnect on a non-owner node → first replayed event ({r.get('samples','?')} sequential reconnects over {r.get('streams','?')} streams) | "
  f"p50 {r.get('first_event_p50_ms','?')} ms, p99 {r.get('first_event_p99_ms','?')} ms, max {r.get('first_event_max_ms','?')} ms |",
  f"| streams created per second (PUT, 16 concurrent clients over all nodes, {measure} s) | {c.get('per_second','?')}/s "
  f"(create p50 {c.get('p50_ms','?')} ms, p99 {c.get('p99_ms','?')} ms; {c.get('failed','?')} failed) |",
  f"| SIGKILL of the owner → writable through a survivor ({f.get('trials','?')} trials) | median {f.get('writable_median_ms','?')} ms, "
  f"max {f.get('writable_max_ms','?')} ms; every trial: {f.get('each_ms','?')} |",
  "", "Raw result lines:", "", "```"] + [l.rstrip() for l in open(raw)] + ["```"]
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
