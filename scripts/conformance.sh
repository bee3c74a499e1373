#!/usr/bin/env bash
# Runs the public Durable Streams conformance suite (npm @durable-streams/server-conformance-tests 0.3.6)
# against Tether.
#
#   scripts/conformance.sh            start a node from target/tether.jar, test it, stop it
#   scripts/conformance.sh URL        test a server that is already running (e.g. one node of a cluster)
#
# Exit status is the suite's: 0 only when no test fails. The summary is also written to
# target/conformance.txt.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SUITE="$ROOT/scripts/conformance"
mkdir -p "$ROOT/target"
if [[ ! -d "$SUITE/node_modules/@durable-streams/server-conformance-tests" ]]; then
  echo "installing the conformance suite (npm ci)" >&2
  (cd "$SUITE" && npm ci --no-audit --no-fund --loglevel=error)
fi

URL="${1:-}"
NODE_PID=""
cleanup() {
  if [[ -n "$NODE_PID" ]]; then
    kill "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [[ -z "$URL" ]]; then
  ensure_jar
  HTTP_PORT=$(free_port)
  CLUSTER_PORT=$(free_port)
  LOG="$ROOT/target/conformance-node.log"
  echo "starting a node on port $HTTP_PORT (log: $LOG)" >&2
  TETHER_HTTP_HOST=127.0.0.1 TETHER_HTTP_PORT=$HTTP_PORT TETHER_CLUSTER_PORT=$CLUSTER_PORT \
    TETHER_CLUSTER_MEMBERS=127.0.0.1:$CLUSTER_PORT TETHER_CLUSTER_NAME="conformance-$$" \
    java -jar "$JAR" >"$LOG" 2>&1 &
  NODE_PID=$!
  URL="http://127.0.0.1:$HTTP_PORT"
  wait_ready "$URL" 90
fi

echo "running the conformance suite against $URL" >&2
set +e
(cd "$SUITE" && NO_COLOR=1 CONFORMANCE_TEST_URL="$URL" npx vitest run --reporter=dot 2>&1) | tee "$ROOT/target/conformance.log"
status=${PIPESTATUS[0]}
set -e
sed 's/\x1b\[[0-9;]*m//g' "$ROOT/target/conformance.log" | grep -E "^ *(Test Files|Tests) " | tee "$ROOT/target/conformance.txt"
exit "$status"
