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
# delivery p99. The summary gives each session's medians per build (see below). Heap: BENCH_HEAP (-Xms1g -Xmx1g
# -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages, as in bench-cpu.sh).
# BENCH_ENV_A and BENCH_ENV_B add space-separated NAME=VALUE settings to one side only (e.g.
# BENCH_ENV_B="TETHER_EVENT_LOOPS=1" with the same jar twice compares two configurations of one build;
# JAVA_TOOL_OPTIONS=-D... passes a JVM or Hazelcast property).
# BENCH_NODES=3 makes each side a cluster of three nodes (both clusters up at once: six JVMs); writers
# then spread over a side's nodes, readers connect to a node that does not own their stream, and the CPU
# is summed over the side's nodes.
# A JVM keeps the cost it starts with: two processes of the same jar, started one after the other, have
# measured 8-13% apart for their whole lives, one way or the other (docs/benchmarks/cpu.md). Runs that
# alternate between one pair of processes cannot see past that, so the script starts fresh processes
# for several sessions (BENCH_AB_SESSIONS, default 2), A's first in odd sessions and B's first in even
# ones, each with its own warm-up and measured runs, and reports every session's medians, B's difference
# in each, and the mean of the sessions' medians. Judge a change by whether its sign holds in every
# session; a difference within the sessions' spread is no difference.
# Output: target/bench/cpu-ab.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if (( $# < 2 )); then
  sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
A="$1" B="$2" WARM="${3:-8}" RUNS="${4:-10}" STREAMS="${5:-100}" RATE="${6:-1000}" READER="${7:-sse}"
HEAP="${BENCH_HEAP:--Xms1g -Xmx1g -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages}"
for jar in "$A" "$B"; do
  [[ -f "$jar" ]] || { echo "no such jar: $jar" >&2; exit 2; }
done
[[ "$READER" == sse || "$READER" == ws ]] || { echo "READER is sse or ws, not $READER" >&2; exit 2; }
SESSIONS="${BENCH_AB_SESSIONS:-2}"
[[ "$SESSIONS" =~ ^[1-9][0-9]?$ ]] || { echo "BENCH_AB_SESSIONS is a count from 1 to 99, not $SESSIONS" >&2; exit 2; }
OUT="$ROOT/target/bench"
mkdir -p "$OUT"
bench_classpath

PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true' EXIT
NODES="${BENCH_NODES:-1}"
[[ "$NODES" =~ ^[1-9]$ ]] || { echo "BENCH_NODES is a node count from 1 to 9, not $NODES" >&2; exit 2; }
PLACEMENT=next
(( NODES > 1 )) && PLACEMENT=non-owner

start_side() { # start_side NAME: starts build NAME's nodes
  local jar="$A" env="${BENCH_ENV_A:-}"
  [[ "$1" == B ]] && jar="$B" env="${BENCH_ENV_B:-}"
  CLUSTER_ENV="$env" start_cluster "$1" "$NODES" "ab-$1-" "$OUT/cpu-ab-s$S-$1-" $HEAP -jar "$jar"
}

stop_sides() { # stops every node started so far and waits until each has exited
  kill "${PIDS[@]}" 2>/dev/null || true
  wait "${PIDS[@]}" 2>/dev/null || true
  PIDS=()
}

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
  echo "$NODES node(s) a side, $STREAMS streams, $RATE appends/s offered, $READER readers, $WARM warm-up and $RUNS measured runs each, in $SESSIONS session(s) of fresh processes"
} | tee "$OUT/cpu-ab.txt"
for ((S = 1; S <= SESSIONS; S++)); do
  if (( S % 2 )); then ORDER=AB; else ORDER=BA; fi
  echo "session $S: ${ORDER:0:1}'s nodes started first" | tee -a "$OUT/cpu-ab.txt"
  start_side "${ORDER:0:1}"
  start_side "${ORDER:1:1}"
  cluster_ready A "$NODES"
  cluster_ready B "$NODES"
  for ((i = 1; i <= WARM; i++)); do
    echo "session $S, warm-up $i/$WARM: A $(run A)| B $(run B)" >&2
  done
  for ((i = 1; i <= RUNS; i++)); do
    if (( i % 2 )); then first=A second=B; else first=B second=A; fi
    echo "$first s$S $(run $first)" | tee -a "$OUT/cpu-ab.txt"
    echo "$second s$S $(run $second)" | tee -a "$OUT/cpu-ab.txt"
  done
  stop_sides
done

median() { # median BUILD SESSION FIELD
  grep "^$1 s$2 " "$OUT/cpu-ab.txt" | grep -o "$3=[0-9.]*" | cut -d= -f2 | sort -n \
    | awk '{v[NR]=$1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
{
  sum_a=0 sum_b=0 diffs=""
  for ((S = 1; S <= SESSIONS; S++)); do
    a="$(median A "$S" cpu_us_per_append)" b="$(median B "$S" cpu_us_per_append)"
    d="$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%+.1f", (b - a) * 100 / a}')"
    echo "session $S, median CPU µs per append: A $a, B $b (B $d%); delivery p99 ms: A $(median A "$S" deliver_p99_ms), B $(median B "$S" deliver_p99_ms)"
    sum_a="$(awk -v s="$sum_a" -v x="$a" 'BEGIN {print s + x}')" sum_b="$(awk -v s="$sum_b" -v x="$b" 'BEGIN {print s + x}')"
    diffs+="$d% "
  done
  a="$(awk -v s="$sum_a" -v n="$SESSIONS" 'BEGIN {printf "%.1f", s / n}')" b="$(awk -v s="$sum_b" -v n="$SESSIONS" 'BEGIN {printf "%.1f", s / n}')"
  echo "mean of the sessions' medians, CPU µs per append: A $a, B $b (B $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%+.1f", (b - a) * 100 / a}')%; per session: ${diffs% })"
} | tee -a "$OUT/cpu-ab.txt"
