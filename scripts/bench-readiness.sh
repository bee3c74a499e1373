#!/usr/bin/env bash
# Readiness through a migration: a 3-node cluster holding STREAMS streams (default 100000, one 32-byte
# event each, created through every node), /health/ready of nodes 1 and 2 polled every 100 ms while node 3
# is SIGKILLed and its partitions are copied again, until both survivors report partitionsSafe. Every
# answer must be 200: readiness says whether a node can serve, not whether the cluster is replicated.
# (io.tether.bench.ReadinessBench does the work.)
#
#   scripts/bench-readiness.sh [STREAMS]
#
# Nodes: 1 GiB heap, TETHER_MAX_STREAMS_PER_NODE raised (its default, one stream per 32 KiB of heap, is
# sized for active streams and stops a 1 GiB member at 32,768), HTTP ports 31081-31083, Hazelcast ports
# 28701-28703, from a copy of target/tether.jar
# in target/bench/readiness-run/. Result line in target/bench/readiness.raw (also printed).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

STREAMS="${1:-100000}"
OUT="$ROOT/target/bench"
WORK="$OUT/readiness-run"
mkdir -p "$OUT" "$WORK"
ensure_jar
bench_classpath
cp "$JAR" "$WORK/tether.jar"
cd "$ROOT"
export TETHER_BASE_PORT=31080 TETHER_CLUSTER_BASE_PORT=28700 TETHER_JVM_OPTS="-Xms1g -Xmx1g" \
  TETHER_JAR="$WORK/tether.jar" TETHER_CLUSTER_DIR="$WORK/nodes" TETHER_CLUSTER_NAME="bench-readiness-$$" \
  TETHER_LOG_LEVEL=WARN TETHER_MAX_CONNECTIONS_PER_IP=0 TETHER_MAX_STREAMS_PER_NODE=1000000
trap 'scripts/cluster.sh down >/dev/null 2>&1 || true' EXIT
scripts/cluster.sh down >/dev/null 2>&1 || true
scripts/cluster.sh up 3 >&2
java -cp "$CP" io.tether.bench.ReadinessBench "http://127.0.0.1:31081,http://127.0.0.1:31082,http://127.0.0.1:31083" \
  "$STREAMS" | tee "$OUT/readiness.raw"
