#!/usr/bin/env bash
# Runs a Gatling simulation against a local 3-node cluster and SIGKILLs one node half-way through
# (the local stand-in for a pod kill), then starts it again. Fails if any Gatling check failed.
#
#   loadtest/run-local.sh [SIMULATION] [USERS] [RAMP_SECONDS]
#     SIMULATION  StreamingSimulation (default) or ReconnectStormSimulation
#
# HTTP ports 58081-58083, Hazelcast 55701-55703. The Gatling report lands in target/gatling/.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

SIMULATION="${1:-StreamingSimulation}"
USERS="${2:-30}"
RAMP="${3:-30}"
export TETHER_BASE_PORT=58080 TETHER_CLUSTER_BASE_PORT=55700 TETHER_CLUSTER_NAME="load-$$"
export TETHER_HEARTBEAT_SECONDS="${TETHER_HEARTBEAT_SECONDS:-5}"
BASES="http://127.0.0.1:58081,http://127.0.0.1:58082,http://127.0.0.1:58083"

ensure_jar
trap '"$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/cluster.sh" up 3
mvn -q -B -f "$ROOT/loadtest/pom.xml" test-compile

echo "running $SIMULATION: $USERS users over $RAMP s; node 2 is killed after $((RAMP / 2)) s"
mvn -B -f "$ROOT/loadtest/pom.xml" gatling:test -Dgatling.simulationClass="io.tether.loadtest.$SIMULATION" \
  -DbaseUrls="$BASES" -Dusers="$USERS" -DrampSeconds="$RAMP" >"$ROOT/target/gatling-run.log" 2>&1 &
gatling=$!
sleep $((RAMP / 2))
echo "SIGKILL node 2 at $(date +%T)"
"$ROOT/scripts/cluster.sh" kill 2
"$ROOT/scripts/cluster.sh" start 2
echo "node 2 back at $(date +%T)"
status=0
wait "$gatling" || status=$?
grep -E "^(>|-|=|  )|Global:|failed|KO|OK" "$ROOT/target/gatling-run.log" | tail -40 || true
echo "report: $(ls -td "$ROOT"/target/gatling/*/ 2>/dev/null | head -1)index.html"
exit "$status"
