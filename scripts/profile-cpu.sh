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
# Environment: PROFILE_SECONDS (perf window, default 5, within each 8 s measured run), BENCH_HEAP (as in
# bench-cpu.sh),
# PROFILE_NODES (1, the default, or 3: a cluster of three of each, CPU summed over a side's nodes;
# Tether's readers then connect to a node that does not own their stream and its writers spread over
# the nodes, as in bench-cpu.sh's three-node part).
# PROFILE_TOOL=async samples the stacks with async-profiler (fetched from Maven Central, loaded into each
# server JVM for the window only) instead of perf record: Java frames are then named exactly, inlined
# ones included, and the frames file splits each group's CPU µs per append (from perf stat) in the
# proportions of its samples: by component (kernel time by the system call it serves, Java time by the
# package of the innermost frame), for the event loops by phase (event-bus send, HTTP request, the
# owner, ...), and the frames with the most of it, counted inclusively (a frame anywhere on a sampled
# stack) and by self time. Sampling costs CPU of its own (more than perf record's), so compare shares
# and sides rather than runs. The CPU, system call and context-switch figures come from perf stat either
# way. In this mode the JVMs run without frame pointers and perf maps (async-profiler walks Java stacks
# itself).
# Output: target/bench/profile-cpu.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STREAMS="${1:-1000}" RATE="${2:-2000}" READER="${3:-ws}" WARM="${4:-10}"
WINDOW="${PROFILE_SECONDS:-5}"
NODES="${PROFILE_NODES:-1}"
[[ "$NODES" == 1 || "$NODES" == 3 ]] || { echo "PROFILE_NODES is 1 or 3, not $NODES" >&2; exit 2; }
HEAP="${BENCH_HEAP:--Xms1g -Xmx1g -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages}"
[[ "$READER" == sse || "$READER" == ws ]] || { echo "READER is sse or ws, not $READER" >&2; exit 2; }
(( WINDOW >= 1 && WINDOW <= 7 )) || { echo "PROFILE_SECONDS is 1 to 7 (the measured run is 8 s)" >&2; exit 2; }
command -v perf >/dev/null || { echo "perf is not installed (Debian: apt-get install linux-perf)" >&2; exit 2; }
TOOL="${PROFILE_TOOL:-perf}"
[[ "$TOOL" == perf || "$TOOL" == async ]] || { echo "PROFILE_TOOL is perf or async, not $TOOL" >&2; exit 2; }
OUT="$ROOT/target/bench"
WORK="$OUT/profile-cpu"
rm -rf "$WORK" && mkdir -p "$WORK"
ensure_node_jar
bench_classpath
JAR="${TETHER_JAR:-$ROOT/target/tether.jar}"
JVM_PERF="-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer"
AP_VERSION=3.0
AP_LIB="$OUT/async-profiler-$AP_VERSION/linux-x64/libasyncProfiler.so"
AP_INTERVAL_NS=200000
if [[ "$TOOL" == async ]]; then
  # async-profiler walks Java stacks itself: the servers need neither frame pointers nor perf maps.
  JVM_PERF="-XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints"
  if [[ ! -f "$AP_LIB" ]]; then
    (cd "$ROOT" && mvn -q -B dependency:copy -Dartifact="tools.profiler:async-profiler:$AP_VERSION" \
      -DoutputDirectory="$OUT")
    (cd "$OUT" && unzip -q -o "async-profiler-$AP_VERSION.jar" 'linux-x64/*' -d "async-profiler-$AP_VERSION")
  fi
fi

# ap_command PID OPTIONS: hands OPTIONS to async-profiler in JVM PID (loading it the first time). The
# options go quoted: jcmd would otherwise take "start,event=cpu" for an argument named "start,event".
ap_command() {
  local out
  out="$(jcmd "$1" JVMTI.agent_load "$AP_LIB" "\"$2\"" 2>&1)"
  grep -q 'return code: 0' <<<"$out" || { echo "async-profiler in $1 refused $2: $out" >&2; return 1; }
}

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
  if [[ "$TOOL" == async ]]; then
    (
      for p in ${!pids//,/ }; do
        ap_command "$p" "start,event=cpu,interval=$AP_INTERVAL_NS,threads"
      done
      sleep "$WINDOW"
      for p in ${!pids//,/ }; do
        ap_command "$p" "stop,ann,collapsed,file=$WORK/$side-$p.collapsed"
      done
    ) & rec_pid=$!
  else
    perf record -F 999 -g -p "${!pids}" -o "$WORK/$side.data" -- sleep "$WINDOW" >/dev/null 2>&1 & rec_pid=$!
  fi
  wait "$run_pid" "$stat_pid" "$rec_pid"
  echo "measured: $side $(cat "$WORK/$side.result")"
done
stop_servers
for side in tether relay; do
  if [[ "$TOOL" == perf ]]; then
    perf script -i "$WORK/$side.data" -F comm,ip,sym,dso 2>/dev/null >"$WORK/$side.script"
  fi
done
for p in "${PIDS[@]}"; do rm -f "/tmp/perf-$p.map"; done
PIDS=()

python3 - "$WORK" "$RATE" "$WINDOW" "$OUT/profile-cpu-frames.txt" "$TOOL" "$AP_INTERVAL_NS" <<'EOF' | tee "$OUT/profile-cpu.txt"
import collections, glob, re, sys
work, rate, window, frames_out, tool = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
interval_us = float(sys.argv[6]) / 1000
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

def frame_name(frame):
    # async-profiler's collapsed frames: "pkg/Class.method_[j]" (_[i] inlined, _[k] kernel, _[1] C1).
    name = re.sub(r"_\[[a-z0-9]\]$", "", frame).replace("/", ".")
    return re.sub(r"\$\$Lambda\$\d+[./]0x[0-9a-f]+|\$\$Lambda\.0x[0-9a-f]+", "$$Lambda", name)

COMPONENTS = [("io.tether.", "Tether"), ("io.micrometer", "metrics (Micrometer)"),
              ("io.vertx.micrometer", "metrics (Micrometer)"), ("com.hazelcast", "Hazelcast"),
              ("io.vertx.ext.web", "Vert.x Web"), ("io.vertx.core.eventbus", "Vert.x event bus"),
              ("io.vertx.core.http", "Vert.x HTTP"), ("io.vertx.core.net", "Vert.x net"),
              ("io.vertx.core", "Vert.x core, other"), ("io.netty.handler.codec", "Netty codecs"),
              ("io.netty", "Netty, other"), ("com.fasterxml", "Jackson"), ("java.", "JDK"), ("jdk.", "JDK")]

def component(frames):
    # Where a sample's time was spent: kernel time by the system call it serves (the wake-ups a write
    # causes count for the write); Java time by the component of its innermost frame (a JDK leaf counts
    # for the JDK, whoever called it).
    if frames[-1].endswith("_[k]"):
        for f in frames:
            m = re.match(r"__x64_sys_(\w+?)_\[k\]$", f)
            if m:
                call = m.group(1)
                if call.startswith(("epoll", "futex")): return "kernel: wait/wake"
                if call in ("write", "writev", "sendto", "sendmsg"): return "kernel: write"
                if call in ("read", "readv", "recvfrom", "recvmsg"): return "kernel: read"
                return "kernel: other system calls"
        if any(f.startswith("asm_exc_page_fault") for f in frames): return "kernel: page faults"
        return "kernel: other (interrupts, scheduling)"
    for f in reversed(frames):
        name = f.replace("/", ".")
        for prefix, comp in COMPONENTS:
            if name.startswith(prefix): return comp
    return "JVM, native"

# Phases of an event loop's Java work: a sample counts for the innermost frame that names one (so an
# event-bus send made by the router counts as the send). Matched as substrings of "pkg/Class.method".
PHASES = [("OutboundConnection.writeMessage", "event bus: encode and write"),
          ("InboundConnection", "event bus: read, decode, dispatch"), ("ClusteredMessage.readFromWire", "event bus: read, decode, dispatch"),
          ("io/vertx/micrometer", "metrics (Micrometer)"), ("io/micrometer", "metrics (Micrometer)"),
          ("MapProxyImpl.submitToKey", "entry processor: submit and complete"),
          ("InvocationFuture", "entry processor: submit and complete"),
          ("ChannelWebSocket", "live delivery"), ("WebSocketSession", "live delivery"), ("SseSession", "live delivery"),
          ("LiveSubscription", "live delivery"), ("WebSocketImplBase", "live delivery"),
          ("LiveFanOut", "owner: append logic, reorder, fan-out"), ("Http1xServerResponse", "HTTP response"),
          ("Http1xServerRequest", "HTTP request in"), ("RequestBody", "HTTP request in"),
          ("StreamOwner", "owner: append logic, reorder, fan-out"), ("AppendResolver", "owner: append logic, reorder, fan-out"),
          ("OwnerRegistry", "owner: append logic, reorder, fan-out"), ("LocalRequest", "router to the owner"),
          ("StreamRouter", "router to the owner"), ("StreamHandler", "HTTP request in"), ("HttpApi", "HTTP request in"),
          ("ConnectionGuard", "HTTP request in"), ("transport/Drain", "HTTP request in"), ("io/vertx/ext/web", "HTTP request in"),
          ("HttpObjectDecoder", "HTTP request in"), ("Http1xServerConnection", "HTTP request in"),
          ("io/tether/bench/RelayNode", "HTTP request in"),
          ("EventBusImpl", "event bus: read, decode, dispatch"), ("HandlerRegistration", "event bus: read, decode, dispatch"),
          ("ReplyHandler", "event bus: read, decode, dispatch"), ("MessageConsumerImpl", "event bus: read, decode, dispatch"),
          ("ContextInternal", "Vert.x context tasks (hand-offs)"), ("EpollIoHandler", "Netty's loop and task queue"),
          ("SingleThreadEventExecutor", "Netty's loop and task queue")]

def phase(frames):
    for f in reversed(frames):
        for marker, name in PHASES:
            if marker in f: return name
    return "other"

def async_samples(side):
    # Per group: samples, kernel samples, per frame its self and inclusive samples, per component; and
    # the event loops' Java samples per phase.
    total, kernel, phases = collections.Counter(), collections.Counter(), collections.Counter()
    own, incl = collections.defaultdict(collections.Counter), collections.defaultdict(collections.Counter)
    comps = collections.defaultdict(collections.Counter)
    for path in glob.glob(f"{work}/{side}-*.collapsed"):
        for line in open(path):
            stack, _, n = line.rstrip("\n").rpartition(" ")
            frames = stack.split(";")
            m = re.match(r"\[(.*?)(?: tid=\d+)?\]$", frames[0])
            if not m or len(frames) < 2: continue
            g, n = group(m.group(1)), int(n)
            total[g] += n
            if frames[-1].endswith("_[k]"): kernel[g] += n
            own[g][("(kernel) " if frames[-1].endswith("_[k]") else "") + frame_name(frames[-1])] += n
            comps[g][component(frames[1:])] += n
            if g == "event loop" and not frames[-1].endswith("_[k]"):
                phases[phase(frames[1:])] += n
            for name in sorted({frame_name(f) for f in frames[1:]}):
                incl[g][name] += n
    return total, kernel, own, incl, comps, phases

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
        v = stat(side)
        if tool == "async":
            total, kernel, leaves, incl, comps, phases = async_samples(side)
        else:
            (total, kernel, leaves), incl = samples(side), None
        whole = collections.Counter()
        for g in groups:
            s = v.get(g)
            if not s or s["task-clock"] == 0: continue
            whole.update(s)
            share = f"{100 * kernel[g] / total[g]:.0f}%" if total[g] else "-"
            print(f"| {side} | {g} | {1000 * s['task-clock'] / appends:.1f} | {share} | "
                  f"{s['raw_syscalls:sys_enter'] / appends:.2f} | {s['context-switches'] / appends:.2f} |")
            frames.write(f"== {side} {g}: {total[g]} samples\n")
            if incl is None:
                for name, n in leaves[g].most_common(10):
                    frames.write(f"  {n:5d} {name}\n")
                continue
            # The group's CPU per append from perf stat, split in the proportions of its samples (the
            # sampling window is longer than perf's by the time jcmd takes to start and stop the
            # profiler in each JVM, so the samples' own total, interval_us each, runs higher).
            per = 1000 * s['task-clock'] / appends / total[g] if total[g] else 0
            frames.write(f"  {1000 * s['task-clock'] / appends:7.1f} µs/append (perf stat), "
                         f"{total[g]} samples ({total[g] * interval_us / appends:.1f} µs/append as sampled)\n")
            frames.write("  by component, µs/append:\n")
            for name, n in comps[g].most_common():
                frames.write(f"  {n * per:7.2f} {name}\n")
            if g == "event loop":
                frames.write("  Java and native code by phase, µs/append:\n")
                for name, n in phases.most_common():
                    frames.write(f"  {n * per:7.2f} {name}\n")
            frames.write("  inclusive µs/append:\n")
            for name, n in incl[g].most_common(40):
                frames.write(f"  {n * per:7.2f} {name}\n")
            frames.write("  self µs/append:\n")
            for name, n in leaves[g].most_common(25):
                frames.write(f"  {n * per:7.2f} {name}\n")
        ks = sum(kernel.values()); ts = sum(total.values())
        print(f"| {side} | all | {1000 * whole['task-clock'] / appends:.1f} | {100 * ks / max(ts, 1):.0f}% | "
              f"{whole['raw_syscalls:sys_enter'] / appends:.2f} | {whole['context-switches'] / appends:.2f} |")
EOF
echo "hottest leaf frames per group: $OUT/profile-cpu-frames.txt"
