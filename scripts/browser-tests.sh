#!/usr/bin/env bash
# The JS clients, then the browser end-to-end tests, against a 3-node cluster of this build (HTTP ports
# 24081-24083, Hazelcast 24701-24703):
#   - @tether/client (clients/js): unit tests in Node;
#   - @tether/ai-sdk (clients/aisdk): type declarations checked, both packages installed from their
#     tarballs, then the transport driven by the AI SDK's Chat in Node against the cluster;
#   - @durable-streams/aisdk-transport (the protocol's own AI SDK transport) writing to and reading
#     from the cluster, unchanged (clients/aisdk/interop);
#   - the demo chat and the AI SDK example app (clients/aisdk/example, built with Vite) in Debian's
#     Chromium driven by playwright-core (clients/e2e).
# Installs Chromium (apt) and the npm packages (from the lock files) when they are missing. Screenshots
# of the final pages land in target/e2e/.
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

NPM_CI=(npm ci --no-audit --no-fund --loglevel=error)
echo "== AI SDK transport: install and type-check (clients/aisdk)"
(cd "$ROOT/clients/aisdk" && "${NPM_CI[@]}" && npm run -s typecheck)

echo "== @tether/client and @tether/ai-sdk install from their package tarballs"
PACKED=$(mktemp -d)
(cd "$PACKED" && npm pack --silent "$ROOT/clients/js" "$ROOT/clients/aisdk" >/dev/null && npm init -y >/dev/null \
  && npm install --no-audit --no-fund --loglevel=error ./*.tgz "ai@$(node -p "require('$ROOT/clients/aisdk/package.json').devDependencies.ai")" \
  && node -e "import('@tether/ai-sdk').then((m) => { if (typeof m.TetherChatTransport !== 'function') process.exit(1); })")
rm -rf "$PACKED"

echo "== AI SDK example app build (clients/aisdk/example, Vite)"
(cd "$ROOT/clients/aisdk/example" && "${NPM_CI[@]}" && npx vite build --logLevel warn)

(cd "$ROOT/clients/e2e" && "${NPM_CI[@]}")
ensure_jar
export TETHER_BASE_PORT=24080 TETHER_CLUSTER_BASE_PORT=24700 TETHER_CLUSTER_NAME="e2e-$$"
# A simulated answer takes about 8 s (80 words at 10 per second): long enough to cut the network,
# open a second page or kill a node in the middle of it. Heartbeats every 2 s keep failover short.
export TETHER_SIM_TOKENS_PER_SECOND=10 TETHER_SIM_ANSWER_WORDS=80 TETHER_HEARTBEAT_SECONDS=2 TETHER_LEASE_SECONDS=2
export E2E_NODES="http://127.0.0.1:24081,http://127.0.0.1:24082,http://127.0.0.1:24083"
trap '"$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true' EXIT
"$ROOT/scripts/cluster.sh" up 3
echo "== AI SDK transport driven by the SDK's Chat against the cluster (clients/aisdk, Node)"
(cd "$ROOT/clients/aisdk" && TETHER_NODES="$E2E_NODES" node --test --test-concurrency=1 --test-timeout=120000 test/)
echo "== the Durable Streams project's AI SDK transport against the cluster, unchanged (clients/aisdk/interop)"
(cd "$ROOT/clients/aisdk/interop" && "${NPM_CI[@]}" && TETHER_NODES="$E2E_NODES" node --test --test-timeout=120000)
echo "== demo chat and AI SDK example end-to-end (clients/e2e, Chromium)"
(cd "$ROOT/clients/e2e" && node --test --test-concurrency=1 --test-timeout=180000)
echo "screenshots: target/e2e/demo.png, demo-phone.png, aisdk.png"
