#!/usr/bin/env bash
# The browser client's unit tests, then the demo chat's end-to-end tests in a real browser:
# Debian's Chromium driven by playwright-core, against a 3-node cluster of this build
# (HTTP ports 24081-24083, Hazelcast 24701-24703). Installs Chromium (apt) and playwright-core (npm)
# when they are missing. A screenshot of the final page lands in target/e2e/demo.png.
#
#   scripts/browser-tests.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "installing chromium (apt)" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version

echo "== browser client unit tests (clients/js)"
(cd "$ROOT/clients/js" && node --test test/)

echo "== demo end-to-end tests (clients/e2e)"
(cd "$ROOT/clients/e2e" && npm ci --no-audit --no-fund --loglevel=error)
ensure_jar
export TETHER_BASE_PORT=24080 TETHER_CLUSTER_BASE_PORT=24700 TETHER_CLUSTER_NAME="e2e-$$"
# A simulated answer takes about 8 s (80 words at 10 per second): long enough to cut the network,
# open a second page or kill a node in the middle of it. Heartbeats every 2 s keep failover short.
export TETHER_SIM_TOKENS_PER_SECOND=10 TETHER_SIM_ANSWER_WORDS=80 TETHER_HEARTBEAT_SECONDS=2 TETHER_LEASE_SECONDS=2
export E2E_NODES="http://127.0.0.1:24081,http://127.0.0.1:24082,http://127.0.0.1:24083"
trap '"$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/cluster.sh" up 3
(cd "$ROOT/clients/e2e" && node --test --test-concurrency=1 --test-timeout=180000)
echo "screenshot: target/e2e/demo.png"
