#!/usr/bin/env bash
# Runs a Gatling simulation against a local 3-node cluster and SIGKILLs one node half-way through
# (the local stand-in for a pod kill), then starts it again; or, with FAULT=roll, restarts every node in
# turn (scripts/cluster.sh roll: SIGTERM, start, wait for safe partitions), as an image update does.
# Fails if any Gatling check failed.
#
#   loadtest/run-local.sh [SIMULATION] [USERS] [RAMP_SECONDS] [FAULT]
#     SIMULATION  StreamingSimulation (default), ReconnectStormSimulation or MixedTransportsSimulation
#     FAULT       kill (default): node 2 SIGKILLed after RAMP/2 s and started again
#                 roll: a rolling restart of nodes 1, 2, 3 starting after RAMP/4 s
#                 none: no fault (the load alone)
#
# Prints the CPU time the nodes spent from the simulation's start to its end (utime + stime from
# /proc/<pid>/stat, summed over every node process, a killed one up to its death) and per user.
#
# HTTP ports 23081-23083, Hazelcast 23701-23703: below Linux's ephemeral range (32768-60999), so no
# outgoing connection of the load can hold a port the restarted node must bind. The Gatling report
# lands in target/gatling/.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

SIMULATION="${1:-StreamingSimulation}"
USERS="${2:-30}"
RAMP="${3:-30}"
FAULT="${4:-kill}"
[[ "$FAULT" == kill || "$FAULT" == roll || "$FAULT" == none ]] \
  || { echo "FAULT must be kill, roll or none, not $FAULT" >&2; exit 2; }
export TETHER_BASE_PORT=23080 TETHER_CLUSTER_BASE_PORT=23700 TETHER_CLUSTER_NAME="load-$$"
# Heartbeats every 2 s let a user notice a dead connection within its 6 s silence limit.
export TETHER_HEARTBEAT_SECONDS="${TETHER_HEARTBEAT_SECONDS:-2}"
# Every simulated user connects from 127.0.0.1: no limit per client address.
export TETHER_MAX_CONNECTIONS_PER_IP=0
BASES="http://127.0.0.1:23081,http://127.0.0.1:23082,http://127.0.0.1:23083"

ensure_jar
gatling=""
sampler=""
CPU_LOG="$ROOT/target/gatling-node-cpu.log"
# On any exit, stop Gatling (Maven and the JVM it forked), the CPU sampler and the cluster.
stop_gatling() { [[ -z "$gatling" ]] || { pkill -TERM -P "$gatling" 2>/dev/null; kill "$gatling" 2>/dev/null; } || true; }
trap 'stop_gatling; [[ -z "$sampler" ]] || kill "$sampler" 2>/dev/null; "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true' EXIT
# Every second, each node process's pid and CPU ticks (utime + stime); the last line of a pid is its
# CPU up to that second.
sample_node_cpu() {
  local dir="${TETHER_CLUSTER_DIR:-$ROOT/target/cluster}" f pid
  while true; do
    for f in "$dir"/node-*.pid; do
      pid=$(cat "$f" 2>/dev/null) || continue
      [[ -r "/proc/$pid/stat" ]] && awk -v pid="$pid" '{sub(/^.*\) /, ""); print pid, $12 + $13}' "/proc/$pid/stat" 2>/dev/null || true
    done
    sleep 1
  done
}
"$ROOT/scripts/cluster.sh" up 3
mvn -q -B -f "$ROOT/loadtest/pom.xml" test-compile

if [[ "$FAULT" == kill ]]; then
  echo "running $SIMULATION: $USERS users over $RAMP s; node 2 is killed after $((RAMP / 2)) s"
elif [[ "$FAULT" == none ]]; then
  echo "running $SIMULATION: $USERS users over $RAMP s; no fault"
else
  echo "running $SIMULATION: $USERS users over $RAMP s; every node restarted in turn from $((RAMP / 4)) s"
fi
mvn -B -f "$ROOT/loadtest/pom.xml" gatling:test -Dgatling.simulationClass="io.tether.loadtest.$SIMULATION" \
  -DbaseUrls="$BASES" -Dusers="$USERS" -DrampSeconds="$RAMP" >"$ROOT/target/gatling-run.log" 2>&1 &
gatling=$!
# The fault's delay counts from the simulation's start, not from Maven's (compiling and starting
# Gatling takes 10-30 s here).
for _ in $(seq 1 1200); do
  grep -q "Simulation io.tether.loadtest.$SIMULATION started" "$ROOT/target/gatling-run.log" 2>/dev/null && break
  kill -0 "$gatling" 2>/dev/null || break
  sleep 0.25
done
: >"$CPU_LOG"
sample_node_cpu >>"$CPU_LOG" &
sampler=$!
if [[ "$FAULT" == kill ]]; then
  sleep $((RAMP / 2))
  echo "SIGKILL node 2 at $(date +%T)"
  "$ROOT/scripts/cluster.sh" kill 2
  "$ROOT/scripts/cluster.sh" start 2
  echo "node 2 back at $(date +%T)"
elif [[ "$FAULT" == roll ]]; then
  sleep $((RAMP / 4))
  echo "rolling restart from $(date +%T)"
  "$ROOT/scripts/cluster.sh" roll
  echo "rolling restart done at $(date +%T)"
fi
status=0
wait "$gatling" || status=$?
gatling=""
kill "$sampler" 2>/dev/null || true
sampler=""
hz=$(getconf CLK_TCK)
awk -v hz="$hz" -v users="$USERS" '{if (!($1 in first)) first[$1] = $2; last[$1] = $2}
  END {for (p in first) total += last[p] - first[p]; if (total > 0)
    printf "node CPU during the simulation: %.0f CPU-s over %d processes, %.1f ms per user\n",
      total / hz, length(first), 1000 * total / hz / users}' "$CPU_LOG"
# Every user's answer must have been verified (the simulation's assertion), and the only errors allowed
# are requests refused by the node being killed (or, in a roll, by the node being restarted), which the
# users retried on another node. Gatling cuts each error line at a fixed width: closing an SSE stream
# whose connection had been refused reads "SSE stream was already crashed: j.n.ConnectException: fini",
# with "Connection refused" on the next line.
unexpected=$(sed -n '/---- Errors/,/====/p' "$ROOT/target/gatling-run.log" | grep '^> ' \
  | grep -v -e 'Connection refused' -e 'Connection reset by peer' -e 'found 503' -e 'response with code 503' \
      -e 'Premature close' -e 'WebSocket was already crashed' \
      -e 'SSE stream was already crashed: j.n.ConnectException' | sort -u || true)
# A reset connection counts as the killed node's refusal only if it was a request to that node (the
# failure log names the URL of every failed HTTP request).
# In a roll every node is restarted once, so none of them counts as live throughout.
stray=""
if [[ "$FAULT" == kill ]]; then
  stray=$(awk '/ Request .* failed for user .*reset by peer/ {want = 1; next}
    want && /^(GET|POST|PUT|DELETE|HEAD) / {if ($2 !~ /:23082\//) print "reset by a live node: " $1 " " $2; want = 0}' \
    "$ROOT/target/gatling-failures.log" 2>/dev/null | sort -u || true)
fi
unexpected="$unexpected${stray:+$'\n'$stray}"
unexpected="${unexpected#$'\n'}"
if [[ -n "$unexpected" ]]; then
  if [[ "$FAULT" == kill ]]; then
    echo "errors other than refusals by the killed node:" >&2
  else
    echo "errors other than refusals by the restarting nodes:" >&2
  fi
  echo "$unexpected" >&2
  status=1
fi
sed -n '/---- Global Information/,$p' "$ROOT/target/gatling-run.log" | grep -v "^\[" | head -60 || true
echo "report: $(ls -td "$ROOT"/target/gatling/*/ 2>/dev/null | head -1)index.html"
exit "$status"
