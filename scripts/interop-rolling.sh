#!/usr/bin/env bash
# Rolling restarts under the official Durable Streams client (scripts/interop/rolling.mjs): a local
# 3-node cluster of its own (HTTP 32081-32083, Hazelcast 29701-29703), then RUNS times: the client writes
# through a balancer and reads over SSE and long-poll while `scripts/cluster.sh roll` restarts every node
# in turn; each run must end with every message once, in order, everywhere, and no error escaping the
# client. Prints one line per run and the count of clean runs.
#
#   scripts/interop-rolling.sh [RUNS] [MESSAGES_PER_SECOND]     (defaults 10 and 50)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUNS="${1:-10}"
RATE="${2:-50}"
DIR="$ROOT/scripts/interop"
if [[ ! -d "$DIR/node_modules/@durable-streams/client" ]]; then
  echo "installing the Durable Streams client (npm ci)" >&2
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
ensure_jar
WORK="$ROOT/target/interop-rolling"
mkdir -p "$WORK"
cp "$JAR" "$WORK/tether.jar"
cd "$ROOT"
export TETHER_BASE_PORT=32080 TETHER_CLUSTER_BASE_PORT=29700 TETHER_CLUSTER_NAME="interop-rolling-$$" \
  TETHER_CLUSTER_DIR="$WORK/nodes" TETHER_JAR="$WORK/tether.jar" TETHER_MAX_CONNECTIONS_PER_IP=0
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh down >/dev/null 2>&1 || true
scripts/cluster.sh up 3 >&2
clean=0
for run in $(seq 1 "$RUNS"); do
  if node "$DIR/rolling.mjs" http://127.0.0.1:32081,http://127.0.0.1:32082,http://127.0.0.1:32083 "$RATE" \
      > "$WORK/run-$run.log" 2>&1; then
    clean=$((clean + 1))
  fi
  echo "run $run: $(grep -E '^(rolling restart|OK|FAILED)' "$WORK/run-$run.log" | tr '\n' ' ')"
done
echo "RESULT rolling runs=$RUNS clean=$clean"
(( clean == RUNS ))
