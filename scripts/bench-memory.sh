#!/usr/bin/env bash
# Memory benchmark: live heap per idle session, per stream with a full 256-event ring and per open
# live connection (SSE and WebSocket), measured with jcmd on running nodes, on one node and then on a
# local 3-node cluster (io.tether.bench.MemoryBench does the measuring; see its Javadoc).
#
#   scripts/bench-memory.sh [SESSIONS] [STREAMS] [CONNECTIONS]        (defaults 2000, 400 and 1000)
#   scripts/bench-memory.sh passivated [STREAMS] [IDLE_SECONDS]       (defaults 200000 and 10)
#
# The passivated form measures what idle streams cost: on the 3-node cluster only (owners passivate
# after IDLE_SECONDS, TETHER_OWNER_IDLE_SECONDS), STREAMS streams in two steps, each created with one
# 32-byte event through all nodes in turn and read once through every node, then left alone for twice
# the idle time until no node has an active owner; the heap per stream over the cluster is compared with
# 2 x its ring bytes + 2 KiB. Results in target/bench/memory-passivated.md.
#
# Each quantity is added in two equal steps (SESSIONS sessions, STREAMS streams filled with 256 events
# of 32 bytes, CONNECTIONS idle connections per transport), so a linear figure shows twice. Every
# measurement is a full GC and a class histogram (live objects only) on every node.
#
# Nodes run with a 1 GiB heap (-Xms1g -Xmx1g), TETHER_RING_MAX_EVENTS=256 and TETHER_LOG_LEVEL=WARN,
# from a copy of target/tether.jar, on HTTP ports 30081-30083 and Hazelcast ports 27701-27703, started
# with scripts/cluster.sh (base ports 30080 and 27700) in a directory of their own under
# target/bench/memory-run/, so this script never stops nodes it did not start.
#
# Results: target/bench/memory.md (also printed) and the raw RESULT lines in target/bench/memory.raw;
# the top classes of each quantity in target/bench/memory-single-classes.txt and -cluster-classes.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODE=measure
if [[ "${1:-}" == passivated ]]; then
  MODE=passivated
  shift
fi
SESSIONS="${1:-2000}"
STREAMS="${2:-400}"
CONNECTIONS="${3:-1000}"
EVENTS=256
HTTP_BASE=30080
CLUSTER_BASE=27700
OUT="$ROOT/target/bench"
WORK="$OUT/memory-run"
mkdir -p "$OUT" "$WORK"
export TETHER_LOG_LEVEL=WARN TETHER_RING_MAX_EVENTS=$EVENTS
# The connections it measures all come from 127.0.0.1.
export TETHER_MAX_CONNECTIONS_PER_IP=0
HEAP_OPTS="-Xms1g -Xmx1g"
CLUSTER_NAME="bench-memory-$$"
TOKEN_SECRET="$(head -c 36 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"

ensure_jar
bench_classpath
# Nodes load classes lazily from their jar: run them from a copy, so that a rebuild of target/tether.jar
# during the run cannot pull classes from under them.
cp "$JAR" "$WORK/tether.jar"
cd "$ROOT" # the nodes read ./cluster.xml, as with scripts/cluster.sh

export TETHER_BASE_PORT=$HTTP_BASE TETHER_CLUSTER_BASE_PORT=$CLUSTER_BASE TETHER_JVM_OPTS="$HEAP_OPTS" \
  TETHER_JAR="$WORK/tether.jar" TETHER_TOKEN_SECRET="$TOKEN_SECRET" TETHER_CLUSTER_DIR="$WORK/nodes-1"
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT

# start_nodes N: nodes 1..N as one cluster, in a directory of their own (see bench_cluster_up).
start_nodes() {
  export TETHER_CLUSTER_DIR="$WORK/nodes-$1" TETHER_CLUSTER_NAME="$CLUSTER_NAME-$1"
  bench_cluster_up "$1" "$HTTP_BASE" "$TETHER_CLUSTER_DIR" "$TETHER_CLUSTER_NAME"
}

# urls N: the base URLs of nodes 1..N.
urls() {
  local n="$1" i list=""
  for i in $(seq 1 "$n"); do list+="${list:+,}http://127.0.0.1:$((HTTP_BASE + i))"; done
  echo "$list"
}
# pids N: the pids of nodes 1..N, in the same order.
pids() {
  local n="$1" i list=""
  for i in $(seq 1 "$n"); do list+="${list:+,}$(cat "$TETHER_CLUSTER_DIR/node-$i.pid")"; done
  echo "$list"
}

if [[ "$MODE" == passivated ]]; then
  STREAMS="${1:-200000}"
  IDLE="${2:-10}"
  RAW="$OUT/memory-passivated.raw"
  export TETHER_OWNER_IDLE_SECONDS="$IDLE"
  # TETHER_MAX_STREAMS_PER_NODE defaults to one stream per 32 KiB of heap, sized for streams whose owners
  # are all active; it counts passivated streams too, so a 1 GiB member would refuse its 32,769th.
  export TETHER_MAX_STREAMS_PER_NODE=1000000
  echo "== passivated: starting 3 nodes (owners passivate after $IDLE s)" >&2
  start_nodes 3
  java -cp "$CP" io.tether.bench.MemoryBench passivated "$(urls 3)" "$(pids 3)" passivated "$STREAMS" "$IDLE" "$OUT" \
    | tee "$RAW" | grep -E 'summary|bound|noise|owners' >&2
  scripts/cluster.sh down >&2
  {
    echo "# Memory of passivated streams ($(date -u +%F))"
    echo
    echo "Machine: $(nproc) cores, $(uname -sr), $(java -version 2>&1 | head -1). Command: \`scripts/bench-memory.sh passivated $STREAMS $IDLE\`."
    echo "3 nodes, 1 GiB heap each, TETHER_OWNER_IDLE_SECONDS=$IDLE; live heap summed over the nodes (jcmd GC.class_histogram)."
    echo
    echo '```'
    grep -E '^RESULT' "$RAW"
    echo '```'
    echo
    echo '```'
    cat "$OUT/memory-passivated-classes.txt"
    echo '```'
  } >"$OUT/memory-passivated.md"
  grep -E 'bound' "$RAW"
  exit 0
fi

RAW="$OUT/memory.raw"
# The per-unit figures are those of active streams and sessions: owners are kept for the whole run.
export TETHER_OWNER_IDLE_SECONDS=0
: >"$RAW"
for nodes in 1 3; do
  label=$([[ $nodes == 1 ]] && echo single || echo cluster)
  echo "== $label: starting $nodes node(s)" >&2
  start_nodes "$nodes"
  java -cp "$CP" io.tether.bench.MemoryBench "$label" "$(urls "$nodes")" "$(pids "$nodes")" "$SESSIONS" "$STREAMS" "$EVENTS" \
    "$CONNECTIONS" "$OUT" | tee -a "$RAW" | grep -E 'summary|residual|noise' >&2
  echo "== $label: stopping" >&2
  scripts/cluster.sh down >&2
done

python3 - "$RAW" "$OUT" "$SESSIONS" "$STREAMS" "$CONNECTIONS" "$EVENTS" "$(java -version 2>&1 | head -1)" "$(nproc)" <<'PY'
import sys, datetime, os, platform
raw, out, sessions, streams, connections, events, java, cpu = sys.argv[1:9]
summ, resid, noise = {}, {}, {}
for line in open(raw):
    parts = line.split()
    if len(parts) < 3 or parts[0] != "RESULT":
        continue
    label, what = parts[1], parts[2]
    kv = dict(p.split("=", 1) for p in parts[3:] if "=" in p)
    if what == "summary":
        summ[(label, kv["quantity"])] = kv
    elif what == "residual":
        resid[(label, kv["after"])] = kv
    elif what == "noise":
        noise[label] = kv
KIB = 1024.0
def cell(label, q):
    kv = summ.get((label, q))
    if not kv:
        return "n/a"
    mean, lo, hi = (int(kv[k]) for k in ("per_unit_mean_bytes", "per_unit_min_bytes", "per_unit_max_bytes"))
    return f"{mean / KIB:.2f} KiB ({lo}–{hi} B)"
def mean(label, q):
    kv = summ.get((label, q))
    return int(kv["per_unit_mean_bytes"]) if kv else 0
ring = f"ring_{events}"
rows = [
  ("idle session, created (`POST /v1/sessions`, no message, nobody connected)", "session_created"),
  ("… plus its first read through the event bus (one catch-up `GET` of its stream)", "session_first_read"),
  ("idle session, created and read once", "session_created_and_read"),
  ("… plus one more read from each of the 2 other nodes", "session_read_on_2_other_nodes"),
  ("plain stream, created empty (`PUT`)", "stream_created"),
  ("… plus its first read through the event bus", "stream_first_read"),
  (f"… plus {events} events in its ring, payload excluded", ring),
  (f"plain stream created, read once and filled with {events} events, payload excluded", f"stream_with_{ring}"),
  ("open idle SSE connection (`?live=sse&offset=now`)", "sse"),
  ("open idle WebSocket (`?live=ws&offset=now`)", "ws"),
]
lines = [
  f"# Memory benchmark ({datetime.date.today()})", "",
  f"Machine: {cpu} cores (`nproc`), {platform.system()} {platform.release()}, {java}. "
  f"Command: `scripts/bench-memory.sh {sessions} {streams} {connections}`.", "",
  "Nodes: 1 GiB heap (`-Xms1g -Xmx1g`), `TETHER_RING_MAX_EVENTS=256`; live heap = total of `jcmd <pid> GC.class_histogram` "
  "(live objects only) after `jcmd <pid> GC.run`, summed over the nodes. Each figure is (heap after − heap before) ÷ "
  "units added, measured in two equal steps: mean (step 1 – step 2). The 3-node figures are totals over the three "
  "nodes, so they include the Hazelcast backup copy of every stream entry; ring payload is subtracted once per copy "
  "(once on one node, twice on three).", "",
  f"Units per step: {sessions} sessions, {streams} streams of {events} events × 32 bytes, {connections} connections per transport.", "",
  "| per unit | one node | 3-node cluster, total of all nodes |", "|---|---:|---:|",
]
for title, q in rows:
    lines.append(f"| {title} | {cell('single', q)} | {cell('cluster', q)} |")
lines += ["", "Targets (BRIEF §6): idle session with a 256-event ring < 16 KiB excluding payload; open connection < 32 KiB.", ""]
for label in ("single", "cluster"):
    s_with_ring = mean(label, "session_created") + mean(label, ring)
    s_read_ring = mean(label, "session_created_and_read") + mean(label, ring)
    everywhere = mean(label, "session_read_on_2_other_nodes")
    lines.append(f"- {label}: idle session + {events}-event ring (session_created + {ring}) = {s_with_ring / KIB:.2f} KiB; "
                 f"read once as well = {s_read_ring / KIB:.2f} KiB"
                 + (f"; read on every node = {(s_read_ring + everywhere) / KIB:.2f} KiB" if everywhere else "")
                 + f". SSE {mean(label, 'sse') / KIB:.2f} KiB, WebSocket {mean(label, 'ws') / KIB:.2f} KiB per connection.")
for label in ("single", "cluster"):
    n = noise.get(label, {})
    r1, r2 = resid.get((label, "sse-closed"), {}), resid.get((label, "ws-closed"), {})
    lines.append(f"- {label}: baseline measured twice differs by {n.get('baseline_repeat_delta_bytes', '?')} bytes; heap left "
                 f"after closing all SSE connections {r1.get('bytes', '?')} bytes, all WebSockets {r2.get('bytes', '?')} bytes.")
lines += ["", "Top classes per unit (from the class histogram differences; full lists in "
          "`target/bench/memory-*-classes.txt`):", ""]
for label in ("single", "cluster"):
    path = os.path.join(out, f"memory-{label}-classes.txt")
    if not os.path.exists(path):
        continue
    lines += [f"### {label}", "", "```"]
    block = []
    for l in open(path):
        l = l.rstrip("\n")
        if l.startswith("== "):
            block = [l]
            count = 0
            lines.append(l)
        elif l.startswith("by package"):
            lines.append(l)
            lines.append("")
        elif l and count < 8 and not l.strip().startswith("bytes/unit"):
            lines.append(l)
            count += 1
    lines += ["```", ""]
lines += ["Raw result lines:", "", "```"] + [l.rstrip() for l in open(raw)] + ["```"]
open(os.path.join(out, "memory.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
