#!/usr/bin/env bash
# Single-node benchmark, Tether side by side with the Durable Streams reference server
# (npm @durable-streams/server 0.3.7, in memory), on this machine, in one run.
#
# For 1, 100 and 1000 streams: one SSE reader per stream and a closed loop of writers appending
# round-robin. Reports appends/s, append acknowledgement p50/p99 and append->SSE delivery p50/p99.
# Servers alternate (Tether first in round 1, reference first in round 2) so drift hits both.
#
#   scripts/bench-single-node.sh [MEASURE_SECONDS]        (default 10)
#
# Results: target/bench/single-node.md (also printed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MEASURE="${1:-10}"
WARMUP=3
ROUNDS="${BENCH_ROUNDS:-2}"
OUT="$ROOT/target/bench"
mkdir -p "$OUT"

ensure_jar
bench_classpath
ensure_reference_server

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

T_PORT=$(free_port); C_PORT=$(free_port); R_PORT=$(free_port)
TETHER_HTTP_HOST=127.0.0.1 TETHER_HTTP_PORT=$T_PORT TETHER_CLUSTER_PORT=$C_PORT \
  TETHER_CLUSTER_MEMBERS=127.0.0.1:$C_PORT TETHER_CLUSTER_NAME="bench-$$" TETHER_LOG_LEVEL=WARN \
  TETHER_MAX_CONNECTIONS_PER_IP=0 \
  java -Xms1g -Xmx1g -jar "$JAR" >"$OUT/tether-node.log" 2>&1 &
PIDS+=($!)
(cd "$ROOT/scripts/bench" && PORT=$R_PORT exec node reference-server.mjs >"$OUT/reference-server.log" 2>&1) &
PIDS+=($!)
wait_ready "http://127.0.0.1:$T_PORT" 90
until grep -q ready "$OUT/reference-server.log" 2>/dev/null; do sleep 0.2; done

RAW="$OUT/single-node.raw"
: >"$RAW"
run() { # run LABEL URL STREAMS WRITERS
  echo "  $1: $3 streams, $4 writers" >&2
  java -cp "$CP" io.tether.bench.StreamLoad "$2" "$3" "$4" "$WARMUP" "$MEASURE" "$1" | grep RESULT | tee -a "$RAW" >&2
}
echo "warming up both servers (JIT): 20 s at 100 streams each" >&2
java -cp "$CP" io.tether.bench.StreamLoad "http://127.0.0.1:$T_PORT" 100 16 17 3 warmup >/dev/null
java -cp "$CP" io.tether.bench.StreamLoad "http://127.0.0.1:$R_PORT" 100 16 17 3 warmup >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  for streams in 1 100 1000; do
    writers=$(( streams < 16 ? streams : 16 ))
    echo "round $round" >&2
    if (( round % 2 == 1 )); then
      run tether "http://127.0.0.1:$T_PORT" "$streams" "$writers"
      run reference "http://127.0.0.1:$R_PORT" "$streams" "$writers"
    else
      run reference "http://127.0.0.1:$R_PORT" "$streams" "$writers"
      run tether "http://127.0.0.1:$T_PORT" "$streams" "$writers"
    fi
  done
done

python3 - "$RAW" "$OUT/single-node.md" "$MEASURE" "$ROUNDS" <<'PY'
import sys, statistics, collections, datetime, platform, os
raw, out, measure, rounds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = collections.defaultdict(list)
for line in open(raw):
    parts = line.split()
    label = parts[1]
    kv = dict(p.split("=") for p in parts[2:])
    rows[(int(kv["streams"]), label)].append(kv)
def med(vals): return statistics.median(float(v) for v in vals)
lines = []
lines.append(f"# Single-node benchmark ({datetime.date.today()})")
lines.append("")
lines.append(f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.release()}; the load generator, Tether "
             f"(one node, 1 GiB heap) and the reference server share it. Both servers are warmed up for 20 s first. "
             f"{rounds} rounds of {measure} s (each after 3 s of warm-up) per cell, servers alternating; "
             "cells show the median of the rounds. Closed loop: up to 16 writers append round-robin "
             "(each waits for its acknowledgement), one SSE reader per stream. Command: "
             "`scripts/bench-single-node.sh " + measure + "`.")
lines.append("")
lines.append("| streams | server | appends/s | ack p50 ms | ack p99 ms | append→SSE p50 ms | append→SSE p99 ms | missing |")
lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
for streams in sorted({k[0] for k in rows}):
    for label in ("tether", "reference"):
        r = rows.get((streams, label))
        if not r: continue
        lines.append(f"| {streams} | {label} | {med(x['appends_per_s'] for x in r):.0f} | {med(x['ack_p50_ms'] for x in r):.2f} | "
                     f"{med(x['ack_p99_ms'] for x in r):.2f} | {med(x['deliver_p50_ms'] for x in r):.2f} | "
                     f"{med(x['deliver_p99_ms'] for x in r):.2f} | {sum(int(x['missing']) for x in r)} |")
    t, ref = rows.get((streams, "tether")), rows.get((streams, "reference"))
    if t and ref:
        lines.append(f"| {streams} | tether/reference | {med(x['appends_per_s'] for x in t)/med(x['appends_per_s'] for x in ref):.2f}× | | "
                     f"| | {med(x['deliver_p99_ms'] for x in t)/max(0.001, med(x['deliver_p99_ms'] for x in ref)):.2f}× p99 | |")
lines.append("")
lines.append("Raw result lines:")
lines.append("")
lines.append("```")
lines.extend(l.rstrip() for l in open(raw))
lines.append("```")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
