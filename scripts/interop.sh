#!/usr/bin/env bash
# Drives Tether with the official Durable Streams client (npm @durable-streams/client 0.2.7, unchanged):
# an IdempotentProducer pipelining 5 requests writes through a node that does not own its stream, and a
# reader on another node checks every message arrived once, in order (scripts/interop/).
#
#   scripts/interop.sh URL1,URL2,URL3 [MESSAGES]     against a running cluster (1,000 messages by default)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DIR="$ROOT/scripts/interop"
if [[ ! -d "$DIR/node_modules/@durable-streams/client" ]]; then
  echo "installing the Durable Streams client (npm ci)" >&2
  (cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
[[ -n "${1:-}" ]] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
node "$DIR/idempotent-producer.mjs" "$1" "${2:-1000}"
