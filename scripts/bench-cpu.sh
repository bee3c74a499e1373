#!/usr/bin/env bash
# CPU per append, side by side, in one run: Tether, the Durable Streams reference server
# (npm @durable-streams/server 0.3.7, in memory, single-threaded Node) and a bare Vert.x relay
# (io.tether.bench.RelayNode: HTTP append in, SSE or WebSocket frame out, nothing stored, on the same
# clustered event bus and cluster.xml as Tether).
#
# Each run offers a fixed append rate over N streams, each stream read live by one reader (SSE or
# WebSocket), and takes every server process's CPU time (/proc/<pid>/stat, utime + stime) over the
# measured window divided by the appends it acknowledged: the cost of one append and its delivery.
#
#   Part 1, one node:   streams x rate x reader over the three servers (the reference server has no
#                       WebSocket mode, so WebSocket cells compare Tether with the relay only).
#   Part 2, three nodes: 1000 streams at 2000 appends/s (BENCH_RATES3="200 2000" adds a rate at which
#                       the two cores are far from saturated), WebSocket readers on a node that does not own
#                       their stream (relay: the next node), writers spread over all nodes; CPU summed
#                       over the three processes.
#
# Each cell also shows the part spent by the server's Hazelcast threads, and each one-node cell with the
# reference server a floor: the relay's CPU per append plus Tether's Hazelcast threads' (what a design
# that stores every append with a Hazelcast entry processor spends at the least), against the reference.
#
# Every server is warmed up under load first (JIT), the order of the servers rotates from round to
# round so that drift on this shared machine hits all of them, and each cell reports the median of
# its rounds.
#
#   scripts/bench-cpu.sh [MEASURE_SECONDS] [ROUNDS]           (defaults 10 3)
#
# Environment: BENCH_STREAMS (default "100 1000"), BENCH_RATES ("1000 2000"), BENCH_READERS ("sse ws"),
# BENCH_PARTS ("1 2"), BENCH_RATES3 (part 2's rates, "2000"), BENCH_WARMUP (least seconds of load per
# server before measuring, default 20; the warm-up goes on until the JIT compiler is quiet, BENCH_WARMUP_MAX at most, default 300).
# BENCH_HEAP sets the JVM servers' heap (default -Xms1g -Xmx1g -XX:+AlwaysPreTouch
# -XX:+UseTransparentHugePages, as k8s/base runs Tether: the heap is touched at start, as a long-running
# server's heap is after its first minutes, else fresh heap pages are faulted in for minutes of load and
# that kernel time lands in the measured windows; and it is mapped with huge pages where the kernel allows
# them, which costs fewer TLB misses. The relay runs with the same settings).
# Results: target/bench/cpu.md (also printed) and the raw lines in target/bench/cpu.raw.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MEASURE="${1:-10}"
ROUNDS="${2:-3}"
STREAMS="${BENCH_STREAMS:-100 1000}"
RATES="${BENCH_RATES:-1000 2000}"
READERS="${BENCH_READERS:-sse ws}"
PARTS="${BENCH_PARTS:-1 2}"
RATES3="${BENCH_RATES3:-2000}"
WARMUP="${BENCH_WARMUP:-20}"
WARMUP_MAX="${BENCH_WARMUP_MAX:-300}"
HEAP="${BENCH_HEAP:--Xms1g -Xmx1g -XX:+AlwaysPreTouch -XX:+UseTransparentHugePages}"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

ensure_jar
bench_classpath
ensure_reference_server

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# start_nodes KIND NAME COUNT: COUNT Tether nodes (KIND tether) or relay processes (KIND relay) on loopback,
# one Hazelcast cluster, up and seeing each other; sets URLS_<NAME> (comma-separated base URLs) and
# PIDS_<NAME> (their process ids). Logs: target/bench/cpu-<NAME>-<i>.log.
start_nodes() { # start_nodes KIND NAME COUNT
  local kind="$1" name="$2" count="$3"
  if [[ "$kind" == tether ]]; then
    start_cluster "$name" "$count" "$name-" "$OUT/cpu-$name-" $HEAP -jar "$JAR"
  else
    start_cluster "$name" "$count" "$name-" "$OUT/cpu-$name-" $HEAP -cp "$CP" io.tether.bench.RelayNode
  fi
  cluster_ready "$name" "$count"
}

start_reference() {
  local port
  port=$(free_port)
  (cd "$ROOT/scripts/bench" && PORT=$port exec node reference-server.mjs >"$OUT/cpu-reference.log" 2>&1) &
  PIDS+=($!)
  local deadline=$((SECONDS + 30))
  until grep -q ready "$OUT/cpu-reference.log" 2>/dev/null; do
    if (( SECONDS >= deadline )); then echo "the reference server did not start" >&2; exit 1; fi
    sleep 0.2
  done
  URLS_reference="http://127.0.0.1:$port"
  PIDS_reference="$!"
}

RAW="$OUT/cpu.raw"
: >"$RAW"
# load PART SERVER STREAMS RATE READER [WARMUP_SECONDS]: one measured run, its RESULT line to $RAW.
load() {
  local part="$1" server="$2" streams="$3" rate="$4" reader="$5" warm="${6:-3}" urls pids placement=non-owner
  urls="URLS_$server"; pids="PIDS_$server"
  [[ "$server" == relay* ]] && placement=next
  local writers=$(( streams < 32 ? streams : 32 ))
  echo "  part $part, $server: $streams streams, $rate appends/s, $reader readers" >&2
  BENCH_PIDS="${!pids}" java -cp "$CP" io.tether.bench.StreamLoad "${!urls}" "$streams" "$writers" "$warm" "$MEASURE" \
      "p$part-$server" "$reader" "$placement" "$rate" \
    | grep RESULT | sed "s/^RESULT /RESULT part=$part server=$server /" | tee -a "$RAW" >&2
}
# warm SERVER READER: load until the JIT has settled: at least $WARMUP s, then 10 s chunks until the
# server's compiler threads used under 3% of a chunk (at most $WARMUP_MAX s). On two cores a JVM under
# this load keeps compiling for a minute or more, and compiler time counts as the server's CPU.
warm() {
  local urls="URLS_$1" pids="PIDS_$1" placement=non-owner started=$SECONDS line jit
  [[ "$1" == relay* ]] && placement=next
  while :; do
    line=$(BENCH_PIDS="${!pids}" java -cp "$CP" io.tether.bench.StreamLoad "${!urls}" 100 16 2 10 warmup "$2" "$placement" 2000 \
      | grep RESULT || true)
    jit=$(grep -o 'jit_ms=[0-9]*' <<<"$line" | cut -d= -f2)
    echo "  warming up $1 ($2): $((SECONDS - started)) s, compiler threads ${jit:-?} ms of the last 10 s" >&2
    if (( SECONDS - started >= WARMUP )) && [[ -n "$jit" ]] && (( jit < 300 )); then break; fi
    if (( SECONDS - started >= WARMUP_MAX )); then echo "  $1 still compiling after $WARMUP_MAX s; measuring anyway" >&2; break; fi
  done
}

if [[ " $PARTS " == *" 1 "* ]]; then
  echo "part 1: one node each" >&2
  start_nodes tether tether 1
  start_nodes relay relay 1
  start_reference
  for s in tether relay reference; do
    warm "$s" sse
    [[ "$s" != reference && " $READERS " == *" ws "* ]] && warm "$s" ws
  done
  for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS" >&2
    for streams in $STREAMS; do
      for rate in $RATES; do
        for reader in $READERS; do
          servers=(tether relay reference)
          [[ "$reader" == ws ]] && servers=(tether relay)
          n=${#servers[@]}
          for ((k = 0; k < n; k++)); do
            load 1 "${servers[$(( (k + round - 1) % n ))]}" "$streams" "$rate" "$reader"
          done
        done
      done
    done
  done
  cleanup
  PIDS=()
fi

if [[ " $PARTS " == *" 2 "* ]]; then
  echo "part 2: three nodes each" >&2
  start_nodes tether tether3 3
  start_nodes relay relay3 3
  # Three JVMs compiling on two cores take longer to settle than one.
  warm tether3 ws
  warm relay3 ws
  for round in $(seq 1 "$ROUNDS"); do
    echo "round $round of $ROUNDS" >&2
    servers=(tether3 relay3)
    for rate in $RATES3; do
      for ((k = 0; k < 2; k++)); do
        load 2 "${servers[$(( (k + round - 1) % 2 ))]}" 1000 "$rate" ws
      done
    done
  done
  cleanup
  PIDS=()
fi

python3 - "$RAW" "$OUT/cpu.md" "$MEASURE" "$ROUNDS" "$WARMUP" <<'PY'
import sys, statistics, collections, datetime, platform, os, re
raw, out, measure, rounds, warmup = sys.argv[1:6]
cells = collections.defaultdict(list)
for line in open(raw):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    cells[(kv["part"], int(kv["streams"]), kv["offered_per_s"], kv["readers"], kv["server"])].append(kv)
def med(runs, key):
    return statistics.median(float(r[key]) for r in runs)
def fmt_ratio(a, b):
    return f"{a / b:.2f}×" if b else "n/a"
L = [f"# CPU per append ({datetime.date.today()})", "",
     f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}; the load generator shares it. "
     f"Each server warmed up under load for at least {warmup} s and until its JIT compiler threads used under 3% "
     f"of the last 10 s (the column jit shows their share of the measured window); {rounds} rounds of {measure} s "
     "per cell (after 3 s of load), servers in rotating order; cells show the median of the rounds. CPU is "
     "utime + stime of the server processes over the measured window (summed over a cluster's nodes), "
     "divided by the appends acknowledged in it; each append is delivered to one live reader. "
     f"Command: `scripts/bench-cpu.sh {measure} {rounds}`.", ""]
keys = sorted({k[:4] for k in cells}, key=lambda k: (k[0], k[1], int(k[2]) if k[2].isdigit() else 0, k[3]))
L += ["| part | streams | appends/s | readers | server | CPU µs/append | of it Hazelcast µs | vs reference | vs relay | jit % | appends/s done | deliver p50 ms | deliver p99 ms | p99 vs relay | missing |",
      "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
def hz_per_append(runs):
    """Median CPU of the Hazelcast threads ("hz.") per acknowledged append, or None without hz_ms."""
    if "hz_ms" not in runs[0]:
        return None
    # hz_ms over the window's appends (cpu_ms / cpu_us_per_append of the same run).
    return statistics.median(float(r["hz_ms"]) * float(r["cpu_us_per_append"]) / float(r["cpu_ms"])
                             for r in runs if float(r["cpu_ms"]) > 0)
for k in keys:
    part = k[0]
    servers = [s for s in ("tether", "tether3", "relay", "relay3", "reference") if (*k, s) in cells]
    ref = cells.get((*k, "reference"))
    relay = cells.get((*k, "relay")) or cells.get((*k, "relay3"))
    for s in servers:
        runs = cells[(*k, s)]
        cpu = med(runs, "cpu_us_per_append")
        jit = f"{100 * med(runs, 'jit_ms') / med(runs, 'cpu_ms'):.0f}" if "jit_ms" in runs[0] and s != "reference" else ""
        vs_ref = fmt_ratio(cpu, med(ref, "cpu_us_per_append")) if ref and s.startswith("tether") else ""
        vs_relay = fmt_ratio(cpu, med(relay, "cpu_us_per_append")) if relay and s.startswith("tether") else ""
        p99_relay = fmt_ratio(med(runs, "deliver_p99_ms"), med(relay, "deliver_p99_ms")) if relay and s.startswith("tether") else ""
        hz = hz_per_append(runs) if s != "reference" else None
        L.append(f"| {'1 node' if part == '1' else '3 nodes'} | {k[1]} | {k[2]} | {k[3]} | {s} | {cpu:.0f} | "
                 f"{'' if hz is None else f'{hz:.0f}'} | {vs_ref} | {vs_relay} | "
                 f"{jit} | {med(runs, 'appends_per_s'):.0f} | {med(runs, 'deliver_p50_ms'):.2f} | {med(runs, 'deliver_p99_ms'):.2f} | {p99_relay} | "
                 f"{sum(int(r['missing']) for r in runs)} |")
one = cells.get(("1", 1000, "2000", "ws", "tether"))
three = cells.get(("2", 1000, "2000", "ws", "tether3"))
if one and three:
    L += ["", f"Three nodes against one (1000 streams, 2000 appends/s, WebSocket): CPU per append summed over the "
          f"three nodes is {fmt_ratio(med(three, 'cpu_us_per_append'), med(one, 'cpu_us_per_append'))} one node's."]
# The floor of the design: whatever else it cuts, a Tether append does at least what the bare relay does
# (an HTTP append in, a live frame out) plus the Hazelcast entry processor that stores it; the second is
# estimated from below by the CPU of Tether's Hazelcast threads alone (its submission and completion on the
# event loop are left out).
floor = []
for k in keys:
    ref, relay, tether = (cells.get((*k, s)) for s in ("reference", "relay", "tether"))
    hz = hz_per_append(tether) if tether else None
    if k[0] != "1" or not (ref and relay) or hz is None:
        continue
    lower = med(relay, "cpu_us_per_append") + hz
    reference = med(ref, "cpu_us_per_append")
    floor.append(f"| {k[1]} | {k[2]} | {k[3]} | {med(relay, 'cpu_us_per_append'):.0f} | {hz:.0f} | "
                 f"{lower:.0f} | {reference:.0f} | {fmt_ratio(lower, reference)} | {med(tether, 'cpu_us_per_append') / reference:.2f}× |")
if floor:
    L += ["", "Floor on one node: the relay's CPU per append plus Tether's Hazelcast threads' (a lower bound of what "
          "a design that stores each append in a Hazelcast map spends), against the reference server's.", "",
          "| streams | appends/s | readers | relay µs | Tether's Hazelcast µs | floor µs | reference µs | floor vs reference | tether vs reference |",
          "|---:|---:|---|---:|---:|---:|---:|---:|---:|"] + floor
L += ["", "Raw result lines:", "", "```"] + [l.rstrip() for l in open(raw)] + ["```"]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
