#!/usr/bin/env bash
# A local Tether cluster of processes on loopback: the stand-in for pods.
#
#   scripts/cluster.sh up N       start nodes 1..N (those not running) and wait until every node is
#                                 ready and sees N members
#   scripts/cluster.sh down       stop every node (SIGTERM, then SIGKILL after 60 s)
#   scripts/cluster.sh kill I     SIGKILL node I (a crash)
#   scripts/cluster.sh stop I     SIGTERM node I (a pod deletion: graceful handover) and wait for it to exit
#   scripts/cluster.sh start I    start node I again and wait until it is ready and has joined
#   scripts/cluster.sh roll       a rolling restart, as a StatefulSet update does it: each node in turn
#                                 stopped (SIGTERM), started again, and waited for until it is ready and
#                                 every partition has its backups (/v1/admin/cluster) before the next
#   scripts/cluster.sh status     one line per node: id, pid, HTTP port, ready or not
#   scripts/cluster.sh pause I    SIGSTOP node I (a frozen process: long GC pause, suspended VM)
#   scripts/cluster.sh resume I   SIGCONT node I
#   scripts/cluster.sh partition I[,J...]   cut nodes I,J... off from the other nodes (they stay reachable
#                                 from this machine); needs TETHER_NETNS=on
#   scripts/cluster.sh heal       undo every partition
#
# With TETHER_NETNS=on (root only) every node runs in its own network namespace on a bridge, at
# 10.77.K.I (K: TETHER_NETNS_ID, default 7), so that partitions are real: packets between nodes are
# dropped by tc filters on the bridge ports. Clients on this machine reach node I at 10.77.K.I.
#
# Node I listens for HTTP on TETHER_BASE_PORT+I (base 8080: 8081, 8082, ...) and for Hazelcast on
# TETHER_CLUSTER_BASE_PORT+I (base 5700: 5701, 5702, ...). Pid files and logs: target/cluster/, or
# TETHER_CLUSTER_DIR (so that two local clusters never stop each other's nodes). The nodes run
# target/tether.jar, or the jar named by TETHER_JAR. Extra JVM options: TETHER_JVM_OPTS (default
# -Xmx512m -XX:TieredStopAtLevel=1, see below). The event bus between nodes is mutual TLS with a
# throwaway certificate made in that directory (TETHER_CLUSTER_TLS=off for plain text). Any other TETHER_* variable is passed on.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

BASE_PORT="${TETHER_BASE_PORT:-8080}"
CLUSTER_BASE_PORT="${TETHER_CLUSTER_BASE_PORT:-5700}"
# The nodes of a local cluster share this machine's cores, with each other and with the load generator.
# Three cold JVMs compiling with C2 at once spend about a third of their CPU in the JIT for minutes,
# enough to tip a 2-core host over under load (loadtest/README.md, "Fifth look"); C1 alone costs a
# fraction of that to compile, for code that costs somewhat more CPU once warm. Pods with cores of their
# own keep the JVM's default (k8s/README.md).
JVM_OPTS="${TETHER_JVM_OPTS:--Xmx512m -XX:TieredStopAtLevel=1}"
DIR="${TETHER_CLUSTER_DIR:-$ROOT/target/cluster}"
NODE_JAR="${TETHER_JAR:-$JAR}"
mkdir -p "$DIR"

usage() {
  sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

NETNS="${TETHER_NETNS:-off}"
NETNS_ID="${TETHER_NETNS_ID:-7}"
ns_name() { echo "tth$NETNS_ID-$1"; }
ns_host_if() { echo "tth$NETNS_ID-h$1"; }
ns_bridge() { echo "tth${NETNS_ID}br"; }
# The address node I listens on: its namespace's, or loopback.
host_of() {
  if [[ "$NETNS" == on ]]; then echo "10.77.$NETNS_ID.$1"; else echo 127.0.0.1; fi
}

# Creates the bridge and node I's namespace with its veth pair (idempotent).
netns_node() {
  local i="$1" ns host br
  ns=$(ns_name "$i") host=$(ns_host_if "$i") br=$(ns_bridge)
  if ! ip link show "$br" >/dev/null 2>&1; then
    ip link add "$br" type bridge
    ip addr add "10.77.$NETNS_ID.254/24" dev "$br"
    ip link set "$br" up
  fi
  if ! ip netns list | grep -qw "$ns"; then
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
  fi
  if ! ip netns exec "$ns" ip link show eth0 >/dev/null 2>&1; then
    # A host end of that name belongs to a namespace deleted a moment ago: the kernel removes such
    # namespaces, and their links, asynchronously. Delete it and wait until it is gone.
    ip link del "$host" 2>/dev/null || true
    local waited=0
    while ip link show "$host" >/dev/null 2>&1 && (( waited < 100 )); do
      sleep 0.1
      waited=$((waited + 1))
    done
    ip link add "$host" type veth peer name eth0 netns "$ns"
    ip link set "$host" master "$br"
    ip link set "$host" up
    ip netns exec "$ns" ip addr add "10.77.$NETNS_ID.$i/24" dev eth0
    ip netns exec "$ns" ip link set eth0 up
  fi
}

netns_down() {
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^tth$NETNS_ID-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$(ns_bridge)" 2>/dev/null || true
  ip link del "tth${NETNS_ID}bp" 2>/dev/null || true
}

# partition GROUP: moves the bridge ports of the nodes in GROUP (comma-separated) to a second bridge.
# Frames between the two bridges are lost without a trace, as in a real partition (no reset, no ICMP),
# while this machine still reaches every node: it has the same address on both bridges and a host route
# to each cut-off node through the second one.
netns_partition() {
  local group="$1" i br2="tth${NETNS_ID}bp"
  if ! ip link show "$br2" >/dev/null 2>&1; then
    ip link add "$br2" type bridge
    ip addr add "10.77.$NETNS_ID.254/32" dev "$br2"
    ip link set "$br2" up
  fi
  for i in ${group//,/ }; do
    ip link set "$(ns_host_if "$i")" master "$br2"
    ip route replace "10.77.$NETNS_ID.$i/32" dev "$br2"
  done
}

netns_heal() {
  local n="$1" i br2="tth${NETNS_ID}bp"
  for i in $(seq 1 "$n"); do
    if ip link show "$(ns_host_if "$i")" 2>/dev/null | grep -q "master $br2"; then
      ip link set "$(ns_host_if "$i")" master "$(ns_bridge)"
    fi
    ip route del "10.77.$NETNS_ID.$i/32" dev "$br2" 2>/dev/null || true
  done
  ip link del "$br2" 2>/dev/null || true
}

http_port() { echo $((BASE_PORT + $1)); }
pid_of() { cat "$DIR/node-$1.pid" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; }
size() { cat "$DIR/size" 2>/dev/null || echo 0; }

members_list() {
  local n="$1" list="" i
  for i in $(seq 1 "$n"); do
    list+="${list:+,}$(host_of "$i"):$((CLUSTER_BASE_PORT + i))"
  done
  echo "$list"
}

# The secret every node signs session tokens with: TETHER_TOKEN_SECRET, else one generated once and
# kept in the cluster's directory, so tokens stay valid across node restarts of the local cluster.
token_secret() {
  if [[ -n "${TETHER_TOKEN_SECRET:-}" ]]; then
    echo "$TETHER_TOKEN_SECRET"
    return
  fi
  if [[ ! -s "$DIR/token-secret" ]]; then
    head -c 36 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$DIR/token-secret"
  fi
  cat "$DIR/token-secret"
}
# Computed here, once: the variables of a backgrounded command are expanded in its own subshell, so
# calling token_secret per node would race on the file.
TOKEN_SECRET="$(token_secret)"

# The cluster certificate: the members' event bus runs over mutual TLS with it, as in the Kubernetes
# manifests. TETHER_CLUSTER_TLS_CERT/_KEY name one of your own; else a throwaway one (EC P-256, 30 days)
# is made once per cluster directory; TETHER_CLUSTER_TLS=off runs the event bus in plain text.
cluster_tls() {
  if [[ "${TETHER_CLUSTER_TLS:-on}" == "off" ]]; then
    TLS_CERT="" TLS_KEY=""
    return
  fi
  if [[ -n "${TETHER_CLUSTER_TLS_CERT:-}" ]]; then
    TLS_CERT="$TETHER_CLUSTER_TLS_CERT" TLS_KEY="${TETHER_CLUSTER_TLS_KEY:-}"
    return
  fi
  TLS_CERT="$DIR/cluster-tls.crt" TLS_KEY="$DIR/cluster-tls.key"
  if [[ ! -s "$TLS_CERT" || ! -s "$TLS_KEY" ]]; then
    if ! command -v openssl >/dev/null; then
      echo "openssl is needed to make the cluster certificate (or set TETHER_CLUSTER_TLS=off)" >&2
      exit 1
    fi
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=tether-cluster" -keyout "$TLS_KEY" -out "$TLS_CERT" 2>/dev/null
    chmod 600 "$TLS_KEY"
  fi
}
cluster_tls

start_node() {
  local i="$1" n="$2"
  if alive "$i"; then
    return
  fi
  local in_ns=() prio=()
  # A node is started by whoever runs this script, and inherits its niceness. A load generator that
  # runs niced on the same cores (scripts/faults.sh) must not pass that on to the nodes it restarts:
  # root can take it back.
  if (( $(nice) > 0 )) && [[ "$(id -u)" == 0 ]]; then
    prio=(nice -n "-$(nice)")
  fi
  if [[ "$NETNS" == on ]]; then
    netns_node "$i"
    in_ns=(ip netns exec "$(ns_name "$i")")
  fi
  TETHER_NODE_ID="node-$i" \
  TETHER_HTTP_HOST="$(host_of "$i")" \
  TETHER_HTTP_PORT="$(http_port "$i")" \
  TETHER_CLUSTER_HOST="$(host_of "$i")" \
  TETHER_CLUSTER_PORT=$((CLUSTER_BASE_PORT + i)) \
  TETHER_CLUSTER_MEMBERS="$(members_list "$n")" \
  TETHER_CLUSTER_NAME="${TETHER_CLUSTER_NAME:-tether-local}" \
  TETHER_TOKEN_SECRET="$TOKEN_SECRET" \
  TETHER_CLUSTER_TLS_CERT="$TLS_CERT" \
  TETHER_CLUSTER_TLS_KEY="$TLS_KEY" \
    nohup "${prio[@]}" "${in_ns[@]}" java $JVM_OPTS -jar "$NODE_JAR" >>"$DIR/node-$i.log" 2>&1 &
  echo $! >"$DIR/node-$i.pid"
}

# The last lines of each node's log about membership (member lists, suspicions, removals, split-brain
# merges): what a start that never sees its cluster form needs explaining.
membership_report() {
  local log
  for log in "$DIR"/node-*.log; do
    [[ -f "$log" ]] || continue
    echo "--- $(basename "$log")"
    grep -E 'Members \{size|[Mm]erg|[Ss]plit|[Ss]uspect|[Rr]emoving|left;|heartbeat' "$log" | tail -n 15 | cut -c1-240
  done
}

# wait_members I N SECONDS: node I ready and reporting N members.
wait_members() {
  local i="$1" n="$2" deadline=$((SECONDS + ${3:-90})) url
  url="http://$(host_of "$i"):$(http_port "$i")/health/ready"
  until curl -fsS "$url" 2>/dev/null | grep -q "\"members\":$n[,}]"; do
    if ! alive "$i"; then
      echo "node $i exited; see $DIR/node-$i.log" >&2
      return 1
    fi
    if (( SECONDS >= deadline )); then
      echo "node $i not ready with $n members after ${3:-90} s; each node's last membership and merge lines:" >&2
      membership_report >&2
      return 1
    fi
    sleep 0.2
  done
}

cmd="${1:-}"
case "$cmd" in
  up)
    n="${2:-}"
    [[ "$n" =~ ^[1-9][0-9]*$ ]] || usage
    ensure_node_jar
    echo "$n" >"$DIR/size"
    for i in $(seq 1 "$n"); do
      start_node "$i" "$n"
    done
    for i in $(seq 1 "$n"); do
      wait_members "$i" "$n"
    done
    echo "cluster of $n nodes ready: HTTP ports $(http_port 1)..$(http_port "$n")"
    ;;
  down)
    for f in "$DIR"/node-*.pid; do
      [[ -e "$f" ]] || continue
      pid=$(cat "$f")
      kill -TERM "$pid" 2>/dev/null || true
    done
    deadline=$((SECONDS + 60))
    for f in "$DIR"/node-*.pid; do
      [[ -e "$f" ]] || continue
      pid=$(cat "$f")
      while kill -0 "$pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$f"
    done
    if [[ "$NETNS" == on ]]; then
      netns_down
    fi
    echo "cluster stopped"
    ;;
  kill|stop)
    i="${2:-}"
    [[ "$i" =~ ^[1-9][0-9]*$ ]] || usage
    pid=$(pid_of "$i")
    if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
      echo "node $i is not running" >&2
      exit 1
    fi
    if [[ "$cmd" == kill ]]; then
      kill -KILL "$pid"
      # Wait until the process is gone (or a zombie), so that a start right after finds its ports free.
      deadline=$((SECONDS + 15))
      while kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]] \
          && (( SECONDS < deadline )); do
        sleep 0.05
      done
      echo "node $i (pid $pid) killed"
    else
      kill -TERM "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      echo "node $i (pid $pid) stopped"
    fi
    rm -f "$DIR/node-$i.pid"
    ;;
  start)
    i="${2:-}"
    [[ "$i" =~ ^[1-9][0-9]*$ ]] || usage
    n=$(size)
    (( n >= i )) || n="$i"
    ensure_node_jar
    start_node "$i" "$n"
    running=0
    for j in $(seq 1 "$n"); do alive "$j" && running=$((running + 1)); done
    wait_members "$i" "$running"
    echo "node $i ready ($running members)"
    ;;
  roll)
    n=$(size)
    ensure_node_jar
    auth=()
    [[ -n "${TETHER_ADMIN_TOKEN:-}" ]] && auth=(-H "Authorization: Bearer $TETHER_ADMIN_TOKEN")
    for i in $(seq 1 "$n"); do
      alive "$i" || { echo "node $i is not running" >&2; exit 1; }
      started=$SECONDS
      pid=$(pid_of "$i")
      kill -TERM "$pid"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
      rm -f "$DIR/node-$i.pid"
      start_node "$i" "$n"
      wait_members "$i" "$n"
      deadline=$((SECONDS + 120))
      until curl -fsS "${auth[@]}" "http://$(host_of "$i"):$(http_port "$i")/v1/admin/cluster" 2>/dev/null \
          | grep -q '"partitionsSafe":true'; do
        (( SECONDS < deadline )) || { echo "partitions not safe 120 s after node $i came back" >&2; exit 1; }
        sleep 0.2
      done
      echo "node $i rolled in $((SECONDS - started)) s"
    done
    echo "cluster of $n nodes rolled"
    ;;
  pause|resume)
    i="${2:-}"
    [[ "$i" =~ ^[1-9][0-9]*$ ]] || usage
    pid=$(pid_of "$i")
    [[ -n "$pid" ]] || { echo "node $i is not running" >&2; exit 1; }
    kill "-$([[ "$cmd" == pause ]] && echo STOP || echo CONT)" "$pid"
    echo "node $i (pid $pid) ${cmd}d"
    ;;
  partition)
    [[ "$NETNS" == on ]] || { echo "partitions need TETHER_NETNS=on (network namespaces, root)" >&2; exit 1; }
    [[ "${2:-}" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || usage
    netns_partition "$2"
    echo "nodes $2 cut off from the others"
    ;;
  heal)
    [[ "$NETNS" == on ]] || exit 0
    netns_heal "$(size)"
    echo "partitions healed"
    ;;
  status)
    for i in $(seq 1 "$(size)"); do
      if alive "$i"; then
        state=$(curl -sS "http://$(host_of "$i"):$(http_port "$i")/health/ready" 2>/dev/null || echo '{"status":"DOWN"}')
        echo "node-$i pid $(pid_of "$i") http $(http_port "$i") $state"
      else
        echo "node-$i not running"
      fi
    done
    ;;
  *)
    usage
    ;;
esac
