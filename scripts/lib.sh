#!/usr/bin/env bash
# Helpers shared by the scripts: find free ports, start a node from target/tether.jar, wait for it.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR="$ROOT/target/tether.jar"

# Builds target/tether.jar unless it exists.
ensure_jar() {
  if [[ ! -f "$JAR" ]]; then
    echo "building $JAR" >&2
    (cd "$ROOT" && mvn -q -B -DskipTests package)
  fi
}

# Builds target/tether.jar unless TETHER_JAR names another jar to run.
ensure_node_jar() {
  [[ -n "${TETHER_JAR:-}" ]] || ensure_jar
}

# Compiles the test classes (the benchmark drivers) and sets CP to their classpath.
bench_classpath() {
  (cd "$ROOT" && mvn -q -B test-compile dependency:build-classpath -Dmdep.outputFile=target/bench.classpath \
    -Dmdep.includeScope=test)
  CP="$ROOT/target/test-classes:$ROOT/target/classes:$(cat "$ROOT/target/bench.classpath")"
}

# Installs the Durable Streams reference server the benchmarks compare against (scripts/bench), once.
ensure_reference_server() {
  if [[ ! -d "$ROOT/scripts/bench/node_modules/@durable-streams/server" ]]; then
    (cd "$ROOT/scripts/bench" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Prints a TCP port nobody listens on (loopback).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_ready URL SECONDS: polls URL/health/ready until it answers 200.
wait_ready() {
  local url="$1" deadline=$((SECONDS + ${2:-60}))
  until curl -fsS -o /dev/null "$url/health/ready" 2>/dev/null; do
    if (( SECONDS >= deadline )); then
      echo "node at $url not ready after ${2:-60} s" >&2
      return 1
    fi
    sleep 0.2
  done
}

# bench_cluster_up N HTTP_BASE DIR NAME: nodes 1..N as one cluster named NAME (scripts/cluster.sh up with
# TETHER_BASE_PORT=HTTP_BASE, state in DIR); refuses if one of their HTTP ports is taken, and returns
# once each node is ready and sees N members. The caller exports the rest of cluster.sh's settings.
bench_cluster_up() {
  local n="$1" base="$2" dir="$3" name="$4" i
  for i in $(seq 1 "$n"); do
    if curl -s -o /dev/null "http://127.0.0.1:$((base + i))/"; then
      echo "port $((base + i)) is already in use: stop whatever listens there first" >&2
      return 1
    fi
  done
  TETHER_BASE_PORT="$base" TETHER_CLUSTER_DIR="$dir" TETHER_CLUSTER_NAME="$name" "$ROOT/scripts/cluster.sh" up "$n" >&2
}

# start_cluster VAR COUNT ID_PREFIX LOG_PREFIX JAVA_ARGS...: COUNT nodes of one cluster on free loopback
# ports, each `java JAVA_ARGS...` (a Tether jar, or the relay's main class), node ids ID_PREFIX0,
# ID_PREFIX1, ..., logs LOG_PREFIX0.log, ...; CLUSTER_ENV adds space-separated NAME=VALUE settings to every
# node. Appends the process ids to PIDS and sets URLS_<VAR> (comma-separated base URLs) and PIDS_<VAR>.
start_cluster() {
  local var="$1" count="$2" prefix="$3" logs="$4" i members="" urls="" pids="" ports=()
  shift 4
  for ((i = 0; i < count; i++)); do ports+=("$(free_port) $(free_port)"); done
  for ((i = 0; i < count; i++)); do members+="${members:+,}127.0.0.1:${ports[$i]#* }"; done
  for ((i = 0; i < count; i++)); do
    env ${CLUSTER_ENV:-} TETHER_NODE_ID="$prefix$i" TETHER_HTTP_HOST=127.0.0.1 TETHER_HTTP_PORT="${ports[$i]% *}" \
    TETHER_CLUSTER_HOST=127.0.0.1 TETHER_CLUSTER_PORT="${ports[$i]#* }" TETHER_CLUSTER_MEMBERS="$members" \
    TETHER_CLUSTER_NAME="$prefix$$" TETHER_LOG_LEVEL=WARN TETHER_MAX_CONNECTIONS_PER_IP=0 \
      java "$@" >"$logs$i.log" 2>&1 &
    PIDS+=($!)
    pids+="${pids:+,}$!"
    urls+="${urls:+,}http://127.0.0.1:${ports[$i]% *}"
  done
  printf -v "URLS_$var" '%s' "$urls"
  printf -v "PIDS_$var" '%s' "$pids"
}

# cluster_ready VAR COUNT: waits (180 s at most) until every node of URLS_<VAR> answers ready and sees COUNT
# members; exits the script otherwise.
cluster_ready() {
  local urls="URLS_$1" url deadline=$((SECONDS + 180))
  for url in ${!urls//,/ }; do
    until curl -fsS "$url/health/ready" 2>/dev/null | grep -q "\"members\":$2"; do
      if (( SECONDS >= deadline )); then echo "$1: $url did not see $2 members" >&2; exit 1; fi
      sleep 0.2
    done
  done
}
