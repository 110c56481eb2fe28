#!/bin/bash
# benchmarks/cluster.sh: xmppd in cluster mode, 1, 2 and 3 nodes behind HAProxy, on one machine: a private PostgreSQL
# (the shared storage) and a private redis-server (the session directory and the routing between nodes), release
# builds, everything on loopback and started afresh for every measurement. It measures, through HAProxy (TCP mode,
# leastconn, as deploy/cluster/haproxy.cfg):
#   throughput   xmpp-bench throughput: messages per second, latency p50/p99, CPU of all xmppd processes per message
#                (from /proc/PID/stat, utime + stime, over the measured stretch), HAProxy's CPU per message (whole run)
#   memory       xmpp-bench connect: IDLE idle logged-in connections; resident memory of all nodes together, grown
#                while they are held, per connection (with one node: that node's figure); HAProxy's growth likewise
# and, with two nodes, the cost of crossing nodes, clients connected straight to the nodes (no HAProxy):
#   same         senders and receivers all on node1
#   cross        senders on node1, receivers on node2 (xmpp-bench --receivers-server): every message goes through Redis
# Prints one Markdown table (medians over the passes), then benchmarks/summarize.py's details (min-max).
#
#   PASSES=3 bash benchmarks/cluster.sh
#
# Environment (all optional):
#   PASSES=3          passes of everything
#   NODES="1 2 3"     cluster sizes behind HAProxy
#   SCENARIOS="throughput memory crossing"
#   PAIRS=100 WINDOW=20 WARMUP=2 MEASURE=8   throughput: pairs, messages in flight per pair, seconds before and measured
#   IDLE=2000         memory: idle connections held
#   NODE_TTL=5        cluster_node_ttl of the nodes
#   CLUSTER=1         0: start the nodes without the cluster keys (for trying the harness on a server without cluster
#                     mode: one node only, no crossing scenario)
#   BIN=DIR           use the xmppd, xmppctl and xmpp-bench already in DIR instead of building them (swift build -c release)
#   BENCH_RUN=benchmarks/run   runtime state: data, logs, pid files, results (under BENCH_RUN/cluster)
#   BASE_PORT=16000   ports are taken from here up (the first free ones), below the ephemeral range (32768-60999) that
#                     the load generator's own connections use
# Needs Debian's postgresql, redis-server (with redis-tools) and haproxy. Each xmpp-bench run is cut at 30 s; a pass
# is eight runs, each on freshly started nodes and a fresh copy of the database (about three minutes a pass). Every
# process it starts is stopped by its PID when the script exits, however it exits.
#
# The machine runs the load generator, HAProxy, the nodes, PostgreSQL and Redis together: with few cores the absolute
# rates say more about sharing the CPU than about the cluster; the CPU per message and memory per connection are the
# figures that compare across cluster sizes.
# shellcheck disable=SC2016  # the single-quoted bash -c programs expand their own arguments
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}/cluster
PASSES=${PASSES:-3}
NODES=${NODES:-"1 2 3"}
SCENARIOS=${SCENARIOS:-"throughput memory crossing"}
PAIRS=${PAIRS:-100}
WINDOW=${WINDOW:-20}
WARMUP=${WARMUP:-2}
MEASURE=${MEASURE:-8}
IDLE=${IDLE:-2000}
CLUSTER=${CLUSTER:-1}
NODE_TTL=${NODE_TTL:-5}
USERS=$(( IDLE > 2 * PAIRS ? IDLE : 2 * PAIRS ))
DOMAIN=bench.local
RUN_LIMIT=30   # seconds, per xmpp-bench run
RESULTS=$RUN/results/$(date +%Y%m%d-%H%M%S)

for tool in haproxy redis-server redis-cli; do
  command -v "$tool" > /dev/null || { echo "$tool is missing: apt-get install haproxy redis-server" >&2; exit 1; }
done
ls -d /usr/lib/postgresql/*/bin > /dev/null 2>&1 || { echo "PostgreSQL is missing: apt-get install postgresql" >&2; exit 1; }
if [ "$CLUSTER" != 1 ]; then
  # Without cluster mode, nodes sharing a database do not route to each other: only the single node means anything.
  NODES=1
  SCENARIOS=${SCENARIOS//crossing/}
fi

if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && swift build -c release --product xmppd >&2 && swift build -c release --product xmppctl >&2 \
    && swift build -c release --product xmpp-bench >&2)
  BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)
fi
for program in xmppd xmppctl xmpp-bench; do
  [ -x "$BIN/$program" ] || { echo "no $BIN/$program" >&2; exit 1; }
done

rm -rf "$RUN/state"
mkdir -p "$RUN/state" "$RESULTS"
STATE=$RUN/state
# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"

# ---- Stopping: everything this script started, by PID, whatever way it ends ----------------------------------------

PGPID=
stop_nodes() {
  # SIGTERM to every node at once (they stop in parallel), then stop_pidfile waits for each (SIGKILL after 20 s).
  local file
  for file in "$STATE"/node[0-9]*.pid; do
    if [ -e "$file" ]; then kill "$(cat "$file")" 2>/dev/null || true; fi
  done
  for file in "$STATE"/node[0-9]*.pid; do
    if [ -e "$file" ]; then stop_pidfile "$file"; fi
  done
  stop_pidfile "$STATE/nodes.pid"   # their parent, which exits by itself once they have
  stop_pidfile "$STATE/haproxy.pid"
}
finish() {
  stop_nodes
  stop_pidfile "$STATE/redis.pid"
  if [ -n "$PGPID" ]; then
    kill -INT "$PGPID" 2>/dev/null || true   # fast shutdown
    for _ in $(seq 1 80); do kill -0 "$PGPID" 2>/dev/null || break; sleep 0.25; done
  fi
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- Ports ---------------------------------------------------------------------------------------------------------

NEXT_PORT=${BASE_PORT:-16000}
take_port() {  # VARIABLE: sets it to the next port nothing on 127.0.0.1 accepts connections on
  while (exec 3<>"/dev/tcp/127.0.0.1/$NEXT_PORT") 2>/dev/null; do NEXT_PORT=$((NEXT_PORT + 1)); done
  printf -v "$1" '%s' "$NEXT_PORT"
  NEXT_PORT=$((NEXT_PORT + 1))
}
take_port PGPORT
take_port REDIS_PORT
take_port PROXY_PORT
NODE_PORTS=()
port=
for i in 1 2 3; do take_port port; NODE_PORTS[i]=$port; done

# ---- PostgreSQL: a private cluster, as benchmarks/postgres-vs-sqlite.sh (fsync on, as in production) ---------------

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDIR=$STATE/postgres
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)   # PostgreSQL refuses to run as root
mkdir -p "$PGDIR"; [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U xmppd -A trust -E UTF8 > "$PGDIR/initdb.log"
"${AS[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p "$PGPORT" -k "$PGDIR" -c listen_addresses=127.0.0.1 -c max_connections=200 \
  > "$PGDIR/postgres.log" 2>&1 < /dev/null &
wait_port "$PGPORT" || { tail "$PGDIR/postgres.log" >&2; exit 1; }
for _ in $(seq 1 120); do "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -U xmppd && break; sleep 0.25; done
PGPID=$(head -1 "$PGDIR/data/postmaster.pid")
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U xmppd xmppd
PGURL="postgres://xmppd@127.0.0.1:$PGPORT/xmppd"

# ---- Redis: private, nothing saved; noeviction as deploy/cluster/redis.conf explains --------------------------------

mkdir -p "$STATE/redis"
setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$STATE/redis.pid" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --dir "$STATE/redis" --maxmemory-policy noeviction > "$STATE/redis/redis.log" 2>&1 < /dev/null &
wait_port "$REDIS_PORT" || { tail "$STATE/redis/redis.log" >&2; exit 1; }
REDIS=(redis-cli -h 127.0.0.1 -p "$REDIS_PORT")

# ---- The nodes' configuration ----------------------------------------------------------------------------------------

# One certificate and one server secret (32 random bytes) for all nodes (deploy/cluster/README.md): made once here.
head -c 32 /dev/urandom > "$STATE/xmppd.secret"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=$DOMAIN" \
  -addext "subjectAltName=DNS:$DOMAIN" -keyout "$STATE/key.pem" -out "$STATE/cert.pem" 2> /dev/null

common_config() {  # DATA_DIR: the keys every node has, and the account set-up too
  cat <<EOF
domain = $DOMAIN
data_dir = $1
storage = postgresql
postgresql_url = $PGURL
certificate = $STATE/cert.pem
private_key = $STATE/key.pem
bind = 127.0.0.1
log_level = warning
# Ports only one node on the machine could have, and services that are per node: off (as deploy/cluster/node1.conf).
federation = false
proxy_domain = off
upload_domain = off
c2s_tls_port = off
http_port = off
https_port = off
# The load generator's limits relaxed as in the other benchmarks; through HAProxy every client is 127.0.0.1 anyway.
connections_per_ip = 1000000
auth_failures_per_ip = 1000000
read_rate = 1000000000
read_burst = 1000000000
EOF
}
node_config() {  # I: writes node I's config file
  local i=$1
  {
    common_config "$STATE/node$i"
    echo "c2s_port = ${NODE_PORTS[i]}"
    if [ "$CLUSTER" = 1 ]; then
      echo "cluster_redis_url = redis://127.0.0.1:$REDIS_PORT"
      echo "cluster_node = node$i"
      echo "cluster_node_ttl = $NODE_TTL"
    fi
  } > "$STATE/node$i.conf"
}

# The accounts, once, in the shared database (xmppctl creates and migrates the schema itself). A set-up config without
# the cluster keys: creating accounts needs only the storage.
mkdir -p "$STATE/setup"
common_config "$STATE/setup" > "$STATE/setup.conf"
echo "creating $USERS accounts" >&2
"$BIN/xmppctl" addusers "$USERS" --config "$STATE/setup.conf" > /dev/null
# Every measurement starts from a copy of this database: nothing left by the previous one (offline messages that a
# receiver's next login would count as received, a grown archive) changes the next.
"$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U xmppd -T xmppd xmppd_pristine
fresh_database() {
  "$PGBIN/dropdb" -h 127.0.0.1 -p "$PGPORT" -U xmppd xmppd
  "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U xmppd -T xmppd_pristine xmppd
}

# ---- Starting and stopping a cluster ---------------------------------------------------------------------------------

start_nodes() {  # COUNT: nodes 1..COUNT, as children of one parent process
  local count=$1 i
  "${REDIS[@]}" flushall > /dev/null   # nothing left from the previous measurement's nodes
  fresh_database
  for i in $(seq 1 "$count"); do
    node_config "$i"
    rm -rf "$STATE/node$i"; mkdir -p "$STATE/node$i"
    # The same server secret on every node, as deploy/cluster/README.md says.
    install -m 0600 "$STATE/xmppd.secret" "$STATE/node$i/xmppd.secret"
  done
  # The parent's process tree is the whole cluster: xmpp-bench --pid PARENT samples the CPU and memory of all nodes
  # together (it reads /proc/PID/stat and status of the process and its descendants, before and after its measured
  # stretch), and the parent itself does nothing but wait.
  setsid bash -c '
    echo $$ > "$1/nodes.pid"
    ulimit -n 20000
    for i in $(seq 1 "$3"); do
      "$2" --config "$1/node$i.conf" >> "$1/node$i.log" 2>&1 < /dev/null &
      echo $! > "$1/node$i.pid"
    done
    wait' _ "$STATE" "$BIN/xmppd" "$count" > /dev/null 2>&1 < /dev/null &
  for i in $(seq 1 "$count"); do
    if ! wait_port "${NODE_PORTS[i]}"; then
      echo "node$i did not start:" >&2; tail "$STATE/node$i.log" >&2; exit 1
    fi
  done
  sleep 2   # let start-up work (and the first heartbeats) settle before the first sample
}

start_haproxy() {  # COUNT: HAProxy in front of nodes 1..COUNT, configured as deploy/cluster/haproxy.cfg's c2s part
  local count=$1 i
  {
    cat <<EOF
global
    maxconn 9000   # two descriptors per client connection: within the 20000 below
defaults
    mode tcp
    retries 3
    option redispatch
    timeout connect 5s
    timeout client 10m
    timeout server 10m
    timeout tunnel 1h
    default-server inter 1s fall 2 rise 1
frontend c2s
    bind 127.0.0.1:$PROXY_PORT
    default_backend nodes
backend nodes
    balance leastconn
EOF
    for i in $(seq 1 "$count"); do echo "    server node$i 127.0.0.1:${NODE_PORTS[i]} check"; done
  } > "$STATE/haproxy.cfg"
  haproxy -c -q -f "$STATE/haproxy.cfg"
  setsid bash -c 'echo $$ > "$1"; shift; ulimit -n 20000; exec "$@"' _ "$STATE/haproxy.pid" haproxy -db -f "$STATE/haproxy.cfg" \
    >> "$STATE/haproxy.log" 2>&1 < /dev/null &
  wait_port "$PROXY_PORT" || { tail "$STATE/haproxy.log" >&2; exit 1; }
  sleep 1
}

# ---- Sampling HAProxy from /proc (xmpp-bench samples the nodes itself) -------------------------------------------

cpu_seconds() {  # PID: utime + stime from /proc/PID/stat, in seconds
  # Fields after the ")" that ends the command name: state is 1, utime 12, stime 13.
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%.2f\n", (f[12] + f[13]) / hz }' "/proc/$1/stat"
}
rss_kib() {  # PID: VmRSS in KiB
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}
add_figure() {  # REPORT NAME VALUE: adds a figure to an xmpp-bench JSON report
  python3 - "$@" <<'PY'
import json, sys
path, name, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
with open(path) as f:
    report = json.load(f)
report.setdefault("figures", {})[name] = value
with open(path, "w") as f:
    json.dump(report, f)
PY
}
figure() {  # REPORT NAME: a figure of a JSON report, or nothing
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get("figures",{}).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}

# ---- One measurement ---------------------------------------------------------------------------------------------

nodes_gone() {  # how many times, so far, a node logged that another one was gone
  cat "$STATE"/node[0-9]*.log 2> /dev/null | grep -c "cluster node gone" || true
}
bench() {  # LABEL OUTPUT ARGS...: runs xmpp-bench, bounded in time
  local label=$1 output=$2; shift 2
  local gone; gone=$(nodes_gone)
  echo "  $label: xmpp-bench $1" >&2
  local status=0
  timeout -k 5 "$RUN_LIMIT" "$BIN/xmpp-bench" "$@" --domain "$DOMAIN" --users "$USERS" --source-addresses 8 \
    --pid "$(cat "$STATE/nodes.pid")" --output "$output" > /dev/null || status=$?
  case $status in
    0) ;;
    124|137) echo "  (stopped after ${RUN_LIMIT} s: no report)" >&2; rm -f "$output" ;;
    2) echo "  (xmpp-bench counted failures or lost messages: see the table)" >&2 ;;
    *) echo "  (xmpp-bench exited with status $status)" >&2 ;;
  esac
  # A node that misses its heartbeats under load (a late beat, past cluster_node_ttl) is declared gone by the others
  # while it runs: its sessions leave their directories and messages to them go to offline storage. Such a run's
  # figures do not describe a healthy cluster; the table shows the count.
  if [ -s "$output" ]; then add_figure "$output" nodes_gone_during_run "$(( $(nodes_gone) - gone ))"; fi
}

THROUGHPUT=(throughput --pairs "$PAIRS" --window "$WINDOW" --warmup "$WARMUP" --seconds "$MEASURE")

run_throughput() {  # NODES PASS: through HAProxy
  local n=$1 pass=$2 output=$RESULTS/throughput-n$1-$2.json before
  start_nodes "$n"; start_haproxy "$n"
  local proxy; proxy=$(cat "$STATE/haproxy.pid")
  before=$(cpu_seconds "$proxy")
  bench "n$n throughput" "$output" "${THROUGHPUT[@]}" --server "127.0.0.1:$PROXY_PORT"
  # HAProxy's CPU over the whole run (logins and warm-up included, so slightly high) per message received.
  local after received=""
  after=$(cpu_seconds "$proxy")
  if [ -s "$output" ]; then received=$(figure "$output" received_total); fi
  if [ -n "$received" ] && [ "${received%.*}" -gt 0 ]; then
    add_figure "$output" haproxy_cpu_seconds_per_1000 \
      "$(python3 -c 'import sys; print((float(sys.argv[2]) - float(sys.argv[1])) * 1000 / float(sys.argv[3]))' "$before" "$after" "$received")"
  fi
  stop_nodes
}

run_memory() {  # NODES PASS: IDLE idle connections through HAProxy
  local n=$1 pass=$2 output=$RESULTS/connect-n$1-$2.json
  start_nodes "$n"; start_haproxy "$n"
  local proxy; proxy=$(cat "$STATE/haproxy.pid")
  # HAProxy's resident memory: before, and its peak while the connections are held (sampled in the background).
  local before; before=$(rss_kib "$proxy")
  ( peak=0
    while kill -0 "$proxy" 2>/dev/null; do
      rss=$(rss_kib "$proxy" 2>/dev/null || true)
      if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then peak=$rss; echo "$peak" > "$STATE/haproxy-peak"; fi
      sleep 0.2
    done ) &
  local sampler=$!
  bench "n$n memory" "$output" connect --connections "$IDLE" --concurrency 100 --hold 3 --server "127.0.0.1:$PROXY_PORT"
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  local open=""
  if [ -s "$output" ] && [ -s "$STATE/haproxy-peak" ]; then open=$(figure "$output" still_open_after_hold); fi
  if [ -n "$open" ] && [ "${open%.*}" -gt 0 ]; then
    add_figure "$output" haproxy_rss_kib_per_connection \
      "$(python3 -c 'import sys; print((float(sys.argv[2]) - float(sys.argv[1])) / float(sys.argv[3]))' "$before" "$(cat "$STATE/haproxy-peak")" "$open")"
  fi
  rm -f "$STATE/haproxy-peak"
  stop_nodes
}

run_crossing() {  # PASS: two nodes, clients straight to them; senders and receivers on one node, then on two
  local pass=$1
  start_nodes 2
  bench "same node" "$RESULTS/throughput-same-$pass.json" "${THROUGHPUT[@]}" --server "127.0.0.1:${NODE_PORTS[1]}"
  stop_nodes
  start_nodes 2
  # Senders (accounts 1, 3, 5 ...) on node1, receivers (2, 4, 6 ...) on node2, same domain: every message is routed
  # between the nodes. The parent's --pid already covers both nodes, so no --receivers-pid (it would count node2 twice).
  bench "cross node" "$RESULTS/throughput-cross-$pass.json" "${THROUGHPUT[@]}" --server "127.0.0.1:${NODE_PORTS[1]}" \
    --receivers-server "127.0.0.1:${NODE_PORTS[2]}" --receivers-domain "$DOMAIN"
  stop_nodes
}

for pass in $(seq 1 "$PASSES"); do
  echo "pass $pass" >&2
  for scenario in $SCENARIOS; do
    case $scenario in
      throughput) for n in $NODES; do run_throughput "$n" "$pass"; done ;;
      memory) for n in $NODES; do run_memory "$n" "$pass"; done ;;
      crossing) run_crossing "$pass" ;;
      *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
  done
done

# ---- The table -----------------------------------------------------------------------------------------------------

python3 - "$RESULTS" <<'PY' | tee "$RESULTS/summary.md"
import json, os, statistics, sys
directory = sys.argv[1]
runs = {}   # (scenario, setup) -> reports; files are SCENARIO-SETUP-PASS.json, as summarize.py expects
for name in sorted(os.listdir(directory)):
    if name.endswith(".json"):
        scenario, setup, _ = name[:-5].rsplit("-", 2)
        with open(os.path.join(directory, name)) as f:
            runs.setdefault((scenario, setup), []).append(json.load(f))

def median(scenario, setup, figure):
    values = [r["figures"][figure] for r in runs.get((scenario, setup), []) if figure in r.get("figures", {})]
    return statistics.median(values) if values else None

def cell(value, digits=1):
    return "-" if value is None else f"{value:,.{digits}f}"

setups = [(f"n{n}", f"{n} node{'' if n == 1 else 's'} through HAProxy") for n in (1, 2, 3)]
setups += [("same", "2 nodes, same node (direct)"), ("cross", "2 nodes, cross-node (direct)")]
print("| setup | msg/s | p50 ms | p99 ms | xmppd CPU ms/msg | HAProxy CPU ms/msg | lost | nodes gone | xmppd RSS KiB/conn | HAProxy RSS KiB/conn |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for key, label in setups:
    if ("throughput", key) not in runs and ("connect", key) not in runs:
        continue
    print("| " + " | ".join([
        label,
        cell(median("throughput", key, "delivered_per_second"), 0),
        cell(median("throughput", key, "latency_p50_ms"), 2),
        cell(median("throughput", key, "latency_p99_ms"), 2),
        # server_cpu_seconds_per_1000: CPU seconds per 1,000 messages, that is milliseconds per message
        cell(median("throughput", key, "server_cpu_seconds_per_1000"), 3),
        cell(median("throughput", key, "haproxy_cpu_seconds_per_1000"), 3),
        cell(median("throughput", key, "lost"), 0),
        cell(median("throughput", key, "nodes_gone_during_run"), 0),
        cell(median("connect", key, "server_rss_kib_per_connection"), 1),
        cell(median("connect", key, "haproxy_rss_kib_per_connection"), 1),
    ]) + " |")
passes = max((len(v) for v in runs.values()), default=0)
print(f"\nMedians of {passes} pass(es). The xmppd figures are all nodes together (CPU over the measured stretch, memory"
      " grown while the idle connections were held); HAProxy's CPU covers its whole run, logins included. lost: sent"
      " minus received and bounced (below zero: messages received twice). nodes gone: times a node declared another"
      " gone during the measurement (a missed heartbeat; such a run is not a healthy cluster's).")
errors = sorted({e for reports in runs.values() for r in reports for e in r.get("errors", [])})
if errors:
    print("\nerrors seen: " + "; ".join(errors[:5]))
print()
PY
# The details, min-max included: the cluster sizes side by side (ratios to one node), and crossing against not.
python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" n1 n2 n3 | tee -a "$RESULTS/summary.md"
python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" cross same | tee -a "$RESULTS/summary.md"
echo "results: $RESULTS" >&2
