#!/bin/bash
# benchmarks/federation.sh: chat messages between two domains on this machine, across a server-to-server stream —
# xmppd a.bench <-> xmppd b.bench, Prosody a.bench <-> Prosody b.bench, and ejabberd a.bench <-> ejabberd b.bench —
# in turn (xmppd, prosody, ejabberd, xmppd, ...) and starting each pair afresh for every measurement; then the summary
# (medians with min-max, xmppd's ratios to the others) that docs/BENCHMARKS.md reports. Senders log in to a.bench and receivers to b.bench (xmpp-bench throughput
# --receivers-server); the server CPU figures are both servers of a pair together.
#
# Environment (all optional):
#   PASSES=3        passes
#   PAIRS=50        sender/receiver pairs (accounts bench1..bench2P exist on both domains)
#   BENCH_RUN=benchmarks/run   runtime state: data, logs, pid files, results (under federation/)
#   XMPPD_SET="mam_default=never"   more xmppd options (key=value, space-separated), for experiments
#   SERVERS="xmppd prosody ejabberd"   which pairs to measure
# Needs Prosody and ejabberd from Debian (apt-get install prosody ejabberd) and openssl. Loopback only; every server
# is stopped by PID (ejabberd's Erlang port mapper too, when this script started it).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}/federation
PASSES=${PASSES:-3}
PAIRS=${PAIRS:-50}
USERS=$((2 * PAIRS))
RESULTS=$RUN/results/$(date +%Y%m%d-%H%M%S)
SERVERS=${SERVERS:-xmppd prosody ejabberd}
rm -rf "$RUN/xmppd-a" "$RUN/xmppd-b" "$RUN/prosody-a" "$RUN/prosody-b" "$RUN/ejabberd-a" "$RUN/ejabberd-b"
mkdir -p "$RESULTS"

cd "$ROOT"
swift build -c release --product xmppd
swift build -c release --product xmppctl
swift build -c release --product xmpp-bench
BIN=$(swift build -c release --show-bin-path)
# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"

# Ports below the ephemeral range: c2s and s2s of each of the four servers.
declare -A C2S=([xmppd-a]=14422 [xmppd-b]=14522 [prosody-a]=15422 [prosody-b]=15522 [ejabberd-a]=16422 [ejabberd-b]=16522)
declare -A S2S=([xmppd-a]=14469 [xmppd-b]=14569 [prosody-a]=15469 [prosody-b]=15569 [ejabberd-a]=16469 [ejabberd-b]=16569)

# xmppd with limits relaxed as in side-by-side.sh (no per-address cap, no read throttle), warning-level logs.
start_xmppd() {   # NAME DOMAIN OTHER-DOMAIN OTHER-NAME
  local name=$1 dir=$RUN/$1
  mkdir -p "$dir"
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$dir/server.pid" "$BIN/xmppd" --domain "$2" --data-dir "$dir" \
    --bind 127.0.0.1 --c2s-port "${C2S[$name]}" --c2s-tls-port off --http-port off --https-port off --log-level warning \
    --set proxy_port=0 --set "s2s_port=${S2S[$name]}" --set "s2s_hosts=$3=127.0.0.1:${S2S[$4]}" \
    --set connections_per_ip=1000000 --set read_rate=1000000000 --set read_burst=1000000000 \
    --set s2s_bytes_per_second=1073741824 ${XMPPD_SET:+$(printf -- '--set %s ' $XMPPD_SET)} >> "$dir/xmppd.log" 2>&1 < /dev/null &
  wait_port "${C2S[$name]}" || { tail "$dir/xmppd.log"; exit 1; }
}

# Prosody as the anchors run it (no limits module), with s2s, dialback and the fixture's resolver override.
configure_prosody() {   # NAME DOMAIN OTHER-DOMAIN OTHER-NAME
  local name=$1 dir=$RUN/$1
  mkdir -p "$dir/data" "$dir/certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" -keyout "$dir/certs/$2.key" -out "$dir/certs/$2.crt" 2>/dev/null
  cat > "$dir/prosody.cfg.lua" <<CONFIG
run_as_root = true
daemonize = false
data_path = "$dir/data"
log = { warn = "$dir/prosody.log" }
network_backend = "epoll"
interfaces = { "127.0.0.1" }
c2s_ports = { ${C2S[$name]} }
c2s_direct_tls_ports = { }
s2s_ports = { ${S2S[$name]} }
component_ports = { }
http_ports = { }
https_ports = { }
plugin_paths = { "$ROOT/Tests/XMPPTestSupport/Prosody" }
test_s2s_hosts = { ["$3"] = ${S2S[$4]} }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "message"; "iq"; "dialback"; "test_s2s_hosts" }
modules_disabled = { "limits"; "register"; "posix" }
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = true
s2s_secure_auth = false
certificates = "$dir/certs"
ssl = { certificate = "$dir/certs/$2.crt"; key = "$dir/certs/$2.key" }
VirtualHost "$2"
CONFIG
  python3 "$ROOT/../shared/anchors/mkusers_prosody.py" "$dir/data" "$2" "$USERS" > /dev/null
}
start_prosody() {   # NAME
  local dir=$RUN/$1
  setsid bash -c 'echo $$ > "$1"; exec prosody --config "$2" -F' _ "$dir/server.pid" "$dir/prosody.cfg.lua" \
    >> "$dir/stdout.log" 2>&1 < /dev/null &
  wait_port "${C2S[$1]}" || { tail "$dir/prosody.log"; exit 1; }
}

# ejabberd as the anchors run it (no shapers), with s2s and dialback; its Erlang resolver asks only the script's name
# server (srv-responder.py, from the inetrc in its config directory), which points each domain's _xmpp-server._tcp
# at the other ejabberd's s2s port.
configure_ejabberd() {   # NAME DOMAIN OTHER-DOMAIN OTHER-NAME
  local name=$1 dir=$RUN/$1
  mkdir -p "$dir/db" "$dir/log"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=$2" \
    -addext "subjectAltName=DNS:$2" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  cat "$dir/cert.pem" "$dir/key.pem" > "$dir/$2.pem"
  cat > "$dir/ejabberd.yml" <<CONFIG
loglevel: warning
log_rotate_count: 0
hosts: ["$2"]
certfiles: ["$dir/$2.pem"]
listen:
  - {port: ${C2S[$name]}, ip: "127.0.0.1", module: ejabberd_c2s, starttls_required: true, shaper: none, max_stanza_size: 262144, backlog: 1024}
  - {port: ${S2S[$name]}, ip: "127.0.0.1", module: ejabberd_s2s_in, shaper: none}
s2s_use_starttls: required
s2s_access: all
s2s_dns_timeout: 2
s2s_dns_retries: 1
auth_method: internal
auth_password_format: scram
default_db: mnesia
acl: {local: {user_regexp: ""}}
access_rules: {local: {allow: local}, c2s: {allow: all}}
shaper: {normal: 1000000000}
shaper_rules: {c2s_shaper: none, s2s_shaper: none, max_user_sessions: 10}
modules: {mod_disco: {}, mod_roster: {}, mod_ping: {}, mod_s2s_dialback: {}}
CONFIG
  cat > "$dir/ejabberdctl.cfg" <<CONFIG
EXEC_CMD="as_current_user"
POLL=true
ERL_MAX_PORTS=65536
INET_DIST_INTERFACE=127.0.0.1
ERL_EPMD_ADDRESS=127.0.0.1
ERLANG_NODE=bench$1@localhost
EJABBERD_CONFIG_PATH=$dir/ejabberd.yml
EJABBERD_PID_PATH=$dir/server.pid
SPOOL_DIR=$dir/db
LOGS_DIR=$dir/log
EJABBERD_LOG_PATH=$dir/log/ejabberd.log
CONFIG
  printf '{resolv_conf, ""}.\n{hosts_file, ""}.\n{nameserver, {127,0,0,1}, %s}.\n{lookup, [dns]}.\n' "$DNS_PORT" > "$dir/inetrc"
}
start_ejabberd() {   # NAME
  local dir=$RUN/$1
  (cd "$dir" && ulimit -n 20000 && HOME=$dir ejabberdctl --config-dir "$dir" start >> "$dir/log/start.log" 2>&1 < /dev/null)
  wait_port "${C2S[$1]}" || { tail "$dir/log/ejabberd.log"; exit 1; }
}
# Accounts bench1..benchN with secret1..secretN on ejabberd NAME and DOMAIN: one Erlang call registers them all.
register_ejabberd() {   # NAME DOMAIN
  local dir=$RUN/$1
  (cd "$dir" && HOME=$dir erl -noshell -sname "benchreg$$" -kernel inet_dist_use_interface '{127,0,0,1}' -eval "
    R = rpc:call('bench$1@localhost', lists, map, [fun(I) ->
          ejabberd_auth:try_register(<<\"bench\", (integer_to_binary(I))/binary>>, <<\"$2\">>,
                                     <<\"secret\", (integer_to_binary(I))/binary>>) end, lists:seq(1, $USERS)], 600000),
    io:format(\"~p~n\", [lists:usort(R)]), halt().")
}

EPMD_BEFORE=$(pgrep -x epmd || true)
DNS_PORT=16053
start_dns() {
  setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$RUN/dns.pid" python3 "$ROOT/benchmarks/srv-responder.py" "$DNS_PORT" \
    "a.bench=${S2S[ejabberd-a]}" "b.bench=${S2S[ejabberd-b]}" >> "$RUN/dns.log" 2>&1 < /dev/null &
  sleep 0.5
}
start_pair() {   # xmppd | prosody | ejabberd
  case "$1" in
    xmppd)
      start_xmppd xmppd-a a.bench b.bench xmppd-b
      start_xmppd xmppd-b b.bench a.bench xmppd-a ;;
    prosody)
      start_prosody prosody-a
      start_prosody prosody-b ;;
    ejabberd)
      start_dns
      start_ejabberd ejabberd-a
      start_ejabberd ejabberd-b ;;
  esac
  sleep 2
}
stop_pair() {
  stop_pidfile "$RUN/$1-a/server.pid"
  stop_pidfile "$RUN/$1-b/server.pid"
  if [ "$1" = ejabberd ]; then
    stop_pidfile "$RUN/dns.pid"
    for pid in $(pgrep -x epmd || true); do
      case " $EPMD_BEFORE " in *" $pid "*) ;; *) kill "$pid" 2>/dev/null || true ;; esac
    done
  fi
  sleep 1
}

# Accounts, once: bench1..benchN on both domains of both servers.
start_pair xmppd
"$BIN/xmppctl" addusers "$USERS" --data-dir "$RUN/xmppd-a" > /dev/null
"$BIN/xmppctl" addusers "$USERS" --data-dir "$RUN/xmppd-b" > /dev/null
stop_pair xmppd
configure_prosody prosody-a a.bench b.bench prosody-b
configure_prosody prosody-b b.bench a.bench prosody-a
if [[ " $SERVERS " == *" ejabberd "* ]]; then
  configure_ejabberd ejabberd-a a.bench b.bench ejabberd-b
  configure_ejabberd ejabberd-b b.bench a.bench ejabberd-a
  start_pair ejabberd
  register_ejabberd ejabberd-a a.bench
  register_ejabberd ejabberd-b b.bench
  stop_pair ejabberd
fi

for pass in $(seq 1 "$PASSES"); do
  for server in $SERVERS; do
    start_pair "$server"
    echo "pass $pass: federated throughput on $server"
    "$BIN/xmpp-bench" throughput --pairs "$PAIRS" --window 20 --warmup 3 --seconds 10 \
      --server "127.0.0.1:${C2S[$server-a]}" --domain a.bench --users "$USERS" --pid "$(cat "$RUN/$server-a/server.pid")" \
      --receivers-server "127.0.0.1:${C2S[$server-b]}" --receivers-domain b.bench --receivers-pid "$(cat "$RUN/$server-b/server.pid")" \
      --output "$RESULTS/throughput-$server-$pass.json" > /dev/null || echo "  (xmpp-bench reported failures)"
    stop_pair "$server"
  done
done

python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" | tee "$RESULTS/summary.md"
