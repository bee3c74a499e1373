#!/usr/bin/env bash
# Where Tether's CPU per append goes, thread by thread, against the bare relay's: one Tether node and
# one relay (io.tether.bench.RelayNode), or a cluster of three of each (PROFILE_NODES=3), run side by
# side under the same paced StreamLoad workload, and Linux perf counts, per thread, the CPU time, the
# system calls and the context switches over a window of the load, and samples the threads' stacks
# (kernel and JIT-compiled Java).
#
#   scripts/profile-cpu.sh [STREAMS] [RATE] [READER] [WARM_RUNS]     (defaults 1000 2000 ws 10)
#
# Prints, for each server and group of threads (Vert.x event loops and workers; Hazelcast partition,
# network and generic operation threads and its other threads; JIT compiler; GC; the rest): CPU µs per
# append, the share of that CPU's samples that were in the kernel, system calls and context switches
# per append. The appends of the window are its offered rate times its length (the workload is paced;
# bench-cpu.sh's runs acknowledge at least 99.8% of the offered rate); the window opens when
# StreamLoad's measured run begins. The ten hottest leaf frames of each group go to
# target/bench/profile-cpu-frames.txt.
#
# Needs perf (Debian: linux-perf) and the right to profile the servers (root, or a low
# kernel.perf_event_paranoid). Both JVMs run with -XX:+PreserveFramePointer (for Java stacks) and
# write a perf symbol map when they stop, so the figures include the cost of frame pointers on both.
# Environment: PROFILE_SECONDS (perf window, default 5, within each 8 s measured run), BENCH_HEAP,
# PROFILE_NODES (1, the default, or 3: a cluster of three of each, CPU summed over a side's nodes;
# Tether's readers then connect to a node that does not own their stream and its writers spread over
# the nodes, as in bench-cpu.sh's three-node part).
# Output: target/bench/profile-cpu.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STREAMS="${1:-1000}" RATE="${2:-2000}" READER="${3:-ws}" WARM="${4:-10}"
WINDOW="${PROFILE_SECONDS:-5}"
NODES="${PROFILE_NODES:-1}"
[[ "$NODES" == 1 || "$NODES" == 3 ]] || { echo "PROFILE_NODES is 1 or 3, not $NODES" >&2; exit 2; }
HEAP="${BENCH_HEAP:--Xms1g -Xmx1g}"
[[ "$READER" == sse || "$READER" == ws ]] || { echo "READER is sse or ws, not $READER" >&2; exit 2; }
(( WINDOW >= 1 && WINDOW <= 7 )) || { echo "PROFILE_SECONDS is 1 to 7 (the measured run is 8 s)" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 2; }
OUT="$ROOT/target/bench"
WORK="$OUT/profile-cpu"
rm -rf "$WORK" && mkdir -p "$WORK"
ensure_node_jar
bench_classpath
JAR="${TETHER_JAR:-$ROOT/target/tether.jar}"
JVM_PERF="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer"

PIDS=()
stop_servers() {
  # SIGTERM, so each JVM writes its /tmp/perf-<pid>.map on the way out; then wait for all, 60 s at most.
  local p deadline=$((SECONDS + 60))
  kill "${PIDS[@]}" 2>/dev/null || true
  for p in "${PIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null; do
      if (( SECONDS >= deadline )); then kill -9 "$p" 2>/dev/null || true; break; fi
      sleep 0.2
    done
  done
}
# On any exit before the end (an error, a signal): stop the servers and remove their perf maps.
cleanup() {
  local p
  stop_servers
  for p in "${PIDS[@]}"; do rm -f "/tmp/perf-$p.map"; done
}
trap cleanup EXIT

# Node ids are short (t0, r0, ...): the kernel keeps 15 characters of a thread's name, "hz.tether-t0.pa"
# for a partition thread.
start_cluster tether "$NODES" t "$WORK/tether-" $HEAP $JVM_PERF -jar "$JAR"
start_cluster relay "$NODES" r "$WORK/relay-" $HEAP $JVM_PERF -cp "$CP" io.tether.bench.RelayNode
cluster_ready tether "$NODES"
cluster_ready relay "$NODES"

run() { # run KIND: one 8 s paced StreamLoad run (2 s warm-up), prints its figures
  local urls="URLS_$1" pids="PIDS_$1" placement=next
  # As in bench-cpu.sh: on three nodes Tether's readers connect to a node that does not own their stream
  # (writers spread over the nodes), the relay's to the next node.
  [[ $1 == tether ]] && (( NODES > 1 )) && placement=non-owner
  BENCH_PIDS="${!pids}" java -cp "$CP" io.tether.bench.StreamLoad "${!urls}" "$STREAMS" 32 2 8 profile \
    "$READER" "$placement" "$RATE" | grep '^RESULT' \
    | grep -o 'appends_per_s=[0-9]*\|jit_ms=[0-9]*\|cpu_us_per_append=[0-9.]*' | tr '\n' ' '
}
echo "$NODES Tether node(s) and $NODES relay node(s), $STREAMS streams, $RATE appends/s offered, $READER readers; $WARM warm-up runs each"
for ((i = 1; i <= WARM; i++)); do
  echo "warm-up $i/$WARM: tether $(run tether)| relay $(run relay)"
done
for side in tether relay; do
  pids="PIDS_$side"
  # The perf window opens when StreamLoad says its measured 8 s have begun (after creating the streams,
  # connecting the readers and 2 s of paced warm-up), so every second of it carries the offered rate.
  mark="$WORK/$side.measuring"
  BENCH_MEASURE_MARK="$mark" run "$side" >"$WORK/$side.result" & run_pid=$!
  deadline=$((SECONDS + 120))
  until [[ -f "$mark" ]]; do
    if (( SECONDS >= deadline )) || ! kill -0 "$run_pid" 2>/dev/null; then
      echo "StreamLoad against $side did not start measuring" >&2; exit 1
    fi
    sleep 0.1
  done
  perf stat -e task-clock,context-switches,raw_syscalls:sys_enter --per-thread -p "${!pids}" \
    -o "$WORK/$side.stat" -- sleep "$WINDOW" >/dev/null 2>&1 & stat_pid=$!
  perf record -F 999 -g -p "${!pids}" -o "$WORK/$side.data" -- sleep "$WINDOW" >/dev/null 2>&1 & rec_pid=$!
  wait "$run_pid" "$stat_pid" "$rec_pid"
  echo "measured: $side $(cat "$WORK/$side.result")"
done
stop_servers
for side in tether relay; do
  perf script -i "$WORK/$side.data" -F comm,ip,sym,dso 2>/dev/null >"$WORK/$side.script"
done
for p in "${PIDS[@]}"; do rm -f "/tmp/perf-$p.map"; done
PIDS=()

python3 - "$WORK" "$RATE" "$WINDOW" "$OUT/profile-cpu-frames.txt" <<'EOF' | tee "$OUT/profile-cpu.txt"
import collections, re, sys
work, rate, window, frames_out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
appends = rate * window

def group(comm):
    # Thread names as the kernel keeps them: 15 characters ("hz.tether-t.par" for a partition thread
    # of node t, hence the short node ids above).
    if comm.startswith("vert.x-eventloo"): return "event loop"
    if comm.startswith("vert.x-worker"): return "vert.x worker"
    if re.match(r"hz\..*\.pa", comm): return "hz partition"
    if re.match(r"hz\..*\.IO", comm): return "hz network"
    if re.match(r"hz\..*\.ge", comm): return "hz generic"
    if comm.startswith("hz."): return "hz other"
    if comm.startswith(("C1 Compiler", "C2 Compiler")): return "jit"
    if comm.startswith(("GC Thread", "G1 ")): return "gc"
    return "other"

def stat(side):
    v = collections.defaultdict(lambda: collections.Counter())
    for line in open(f"{work}/{side}.stat"):
        m = re.match(r"\s*(.+?)-\d+\s+([\d,.]+)\s+(msec task-clock|context-switches|raw_syscalls:sys_enter)", line)
        if m:
            v[group(m.group(1))][m.group(3).split()[-1]] += float(m.group(2).replace(",", ""))
    return v

def samples(side):
    total, kernel, leaves = collections.Counter(), collections.Counter(), collections.defaultdict(collections.Counter)
    for block in open(f"{work}/{side}.script").read().split("\n\n"):
        lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
        if len(lines) < 2: continue
        g = group(lines[0])
        total[g] += 1
        if "[kernel" in lines[1]:
            kernel[g] += 1
            leaves[g]["(kernel) " + lines[1].split()[1]] += 1
        else:
            sym = re.sub(r"^[0-9a-f]+ ", "", lines[1])
            sym = re.sub(r"\(.*", "", sym).split(" ")[-1]
            leaves[g][re.sub(r"\$\$Lambda\$\d+/0x[0-9a-f]+", "$$Lambda", sym) or "(unresolved JIT code)"] += 1
    return total, kernel, leaves

groups = ["event loop", "vert.x worker", "hz partition", "hz network", "hz generic", "hz other", "jit", "gc", "other"]
print(f"window {window:.0f} s at {rate:.0f} appends/s offered: {appends:.0f} appends")
print("| server | threads | CPU µs/append | of its samples in the kernel | syscalls/append | context switches/append |")
print("|---|---|---:|---:|---:|---:|")
with open(frames_out, "w") as frames:
    for side in ("tether", "relay"):
        v = stat(side); total, kernel, leaves = samples(side)
        whole = collections.Counter()
        for g in groups:
            s = v.get(g)
            if not s or s["task-clock"] == 0: continue
            whole.update(s)
            share = f"{100 * kernel[g] / total[g]:.0f}%" if total[g] else "-"
            print(f"| {side} | {g} | {1000 * s['task-clock'] / appends:.1f} | {share} | "
                  f"{s['raw_syscalls:sys_enter'] / appends:.2f} | {s['context-switches'] / appends:.2f} |")
            frames.write(f"== {side} {g}: {total[g]} samples\n")
            for name, n in leaves[g].most_common(10):
                frames.write(f"  {n:5d} {name}\n")
        ks = sum(kernel.values()); ts = sum(total.values())
        print(f"| {side} | all | {1000 * whole['task-clock'] / appends:.1f} | {100 * ks / max(ts, 1):.0f}% | "
              f"{whole['raw_syscalls:sys_enter'] / appends:.2f} | {whole['context-switches'] / appends:.2f} |")
EOF
echo "hottest leaf frames per group: $OUT/profile-cpu-frames.txt"
