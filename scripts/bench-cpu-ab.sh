#!/usr/bin/env bash
# CPU per append of two builds of Tether, side by side: both run at once (one node each), and paced
# StreamLoad runs alternate between them (A B, then B A, ...), so that whatever else this machine does
# weighs on both alike. This is how a change to the hot path is judged on shared, noisy cores; a
# difference smaller than the spread of the runs is no difference.
#
#   scripts/bench-cpu-ab.sh JAR_A JAR_B [WARM_RUNS] [RUNS] [STREAMS] [RATE] [READER]
#
#   JAR_A, JAR_B  the two node jars (e.g. a copy of target/tether.jar from before the change, and after)
#   WARM_RUNS     runs per build before measuring, for the JIT (default 8; the first minutes of load
#                 measure 2-3 times the steady figure)
#   RUNS          measured runs per build (default 10)
#   STREAMS RATE  streams and offered appends/s (default 100 and 1000)
#   READER        sse or ws: one live reader per stream (default sse)
#
# Each run is 10 s of StreamLoad (32 writers); its line shows the server's CPU µs per append from
# /proc/<pid>/stat, the compiler threads' share (jit_ms: a run with a large one is still warming up) and
# delivery p99. The summary gives each build's median over the measured runs. Heap: BENCH_HEAP (-Xms1g -Xmx1g
# -XX:+AlwaysPreTouch, as in bench-cpu.sh).
# BENCH_ENV_A and BENCH_ENV_B add space-separated NAME=VALUE settings to one side only (e.g.
# BENCH_ENV_B="TETHER_EVENT_LOOPS=1" with the same jar twice compares two configurations of one build;
# JAVA_TOOL_OPTIONS=-D... passes a JVM or Hazelcast property).
# BENCH_NODES=3 makes each side a cluster of three nodes (both clusters up at once: six JVMs); writers
# then spread over a side's nodes, readers connect to a node that does not own their stream, and the CPU
# is summed over the side's nodes.
# Side B, started second, has measured 2.4-4.2% cheaper than side A with the same build on both sides
# or the builds swapped (one node and three), and A 9% cheaper when A started second: the edge goes with
# the start order (docs/benchmarks/cpu.md). To judge a change of a few per cent, run the script twice
# with JAR_A and JAR_B swapped and compare the averages of the two orders.
# Output: target/bench/cpu-ab.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if (( $# < 2 )); then
  sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
A="$1" B="$2" WARM="${3:-8}" RUNS="${4:-10}" STREAMS="${5:-100}" RATE="${6:-1000}" READER="${7:-sse}"
HEAP="${BENCH_HEAP:--Xms1g -Xmx1g -XX:+AlwaysPreTouch}"
for jar in "$A" "$B"; do
  [[ -f "$jar" ]] || { echo "no such jar: $jar" >&2; exit 2; }
done
[[ "$READER" == sse || "$READER" == ws ]] || { echo "READER is sse or ws, not $READER" >&2; exit 2; }
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
bench_classpath

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
NODES="${BENCH_NODES:-1}"
[[ "$NODES" =~ ^[1-9]$ ]] || { echo "BENCH_NODES is a node count from 1 to 9, not $NODES" >&2; exit 2; }
PLACEMENT=next
(( NODES > 1 )) && PLACEMENT=non-owner
CLUSTER_ENV="${BENCH_ENV_A:-}" start_cluster A "$NODES" ab-A- "$OUT/cpu-ab-A-" $HEAP -jar "$A"
CLUSTER_ENV="${BENCH_ENV_B:-}" start_cluster B "$NODES" ab-B- "$OUT/cpu-ab-B-" $HEAP -jar "$B"
cluster_ready A "$NODES"
cluster_ready B "$NODES"

run() { # run NAME: one paced StreamLoad run against build NAME; prints its figures
  local urls="URLS_$1" pids="PIDS_$1"
  BENCH_PIDS="${!pids}" java -cp "$CP" io.tether.bench.StreamLoad "${!urls}" "$STREAMS" 32 2 8 x \
    "$READER" "$PLACEMENT" "$RATE" | grep '^RESULT' \
    | grep -o 'appends_per_s=[0-9]*\|deliver_p99_ms=[0-9.]*\|jit_ms=[0-9]*\|hz_ms=[0-9]*\|cpu_ms=[0-9]*\|cpu_us_per_append=[0-9.]*' | tr '\n' ' '
}

{
  echo "A: $A"
  echo "B: $B"
  [[ -z "${BENCH_ENV_A:-}${BENCH_ENV_B:-}" ]] || echo "settings: A ${BENCH_ENV_A:-(none)}, B ${BENCH_ENV_B:-(none)}"
  echo "$NODES node(s) a side, $STREAMS streams, $RATE appends/s offered, $READER readers, $WARM warm-up and $RUNS measured runs each"
} | tee "$OUT/cpu-ab.txt"
for ((i = 1; i <= WARM; i++)); do
  echo "warm-up $i/$WARM: A $(run A)| B $(run B)" >&2
done
for ((i = 1; i <= RUNS; i++)); do
  if (( i % 2 )); then first=A second=B; else first=B second=A; fi
  echo "$first $(run $first)" | tee -a "$OUT/cpu-ab.txt"
  echo "$second $(run $second)" | tee -a "$OUT/cpu-ab.txt"
done
median() { # median BUILD FIELD
  grep "^$1 " "$OUT/cpu-ab.txt" | grep -o "$2=[0-9.]*" | cut -d= -f2 | sort -n \
    | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
{
  echo "median CPU µs per append: A $(median A cpu_us_per_append), B $(median B cpu_us_per_append)"
  echo "median delivery p99 ms:   A $(median A deliver_p99_ms), B $(median B deliver_p99_ms)"
} | tee -a "$OUT/cpu-ab.txt"
