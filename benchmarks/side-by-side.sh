#!/bin/bash
# benchmarks/side-by-side.sh: runs xmpp-bench against xmppd, Prosody and ejabberd on this machine, alternating
# servers (A B C A B C ...) and starting each one afresh for every measurement, then prints the summary
# (medians with min-max, and xmppd's ratio to each peer) that docs/BENCHMARKS.md reports.
#
# Environment (all optional):
#   PASSES=3                      passes of every scenario on every server
#   SCENARIOS="connect login throughput rate churn"   (muc: group-chat fan-out, run on its own)
#   SERVERS="xmppd prosody ejabberd"
#   USERS=20000                   accounts bench1..benchN / secret1..secretN on bench.local
#   CONNECTIONS=19000             connect: connections held
#   CHURN=19000                   churn: connections opened and closed between the two measurements
#   ANCHORS=../shared/anchors     the scripts that install and configure Prosody and ejabberd
#   BENCH_RUN=benchmarks/run      runtime state: data, logs, pid files, results
#   MOBILE=1                      clients enable carbons and stream management (xmpp-bench --mobile), and Prosody and
#                                 ejabberd also run stream management and a message archive keeping everything, as
#                                 xmppd does by default
# Needs root for apt (Prosody and ejabberd from Debian) on the first run. Loopback only.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}
PASSES=${PASSES:-3}
SCENARIOS=${SCENARIOS:-"connect login throughput rate churn"}
SERVERS=${SERVERS:-"xmppd prosody ejabberd"}
USERS=${USERS:-20000}
CONNECTIONS=${CONNECTIONS:-19000}
CHURN=${CHURN:-19000}
RESULTS=$RUN/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS" "$RUN/xmppd"

cd "$ROOT"
swift build -c release --product xmppd
swift build -c release --product xmppctl
swift build -c release --product xmpp-bench
BIN=$(swift build -c release --show-bin-path)

# Prosody and ejabberd: installed, configured and given their users by the anchors script, then stopped
# (each is started alone for its measurements).
BENCH_RUN="$RUN/anchors" bash "$ANCHORS/setup-anchors.sh" "$USERS"
BENCH_RUN="$RUN/anchors" bash "$ANCHORS/stop-anchors.sh" all
BENCH_EXTRA=()
if [ "${MOBILE:-0}" = 1 ]; then
  BENCH_EXTRA=(--mobile)
  # The rendered copies get the modules a mobile deployment runs: ejabberd mod_stream_mgmt and mod_mam (default
  # always; mod_carboncopy is on already), Prosody smacks and mam (carbons is on already) archiving everything.
  python3 - "$RUN/anchors" <<'PATCH'
import re, sys
run = sys.argv[1]
path = f"{run}/ejabberd/ejabberd.yml"
text = open(path).read()
if "mod_stream_mgmt" not in text:
    text = text.replace("  mod_carboncopy: {}\n", "  mod_carboncopy: {}\n  mod_stream_mgmt: {}\n  mod_mam:\n    default: always\n", 1)
open(path, "w").write(text)
path = f"{run}/prosody/prosody.cfg.lua"
text = open(path).read()
if '"smacks"; "mam";' not in text:
    text = text.replace('"carbons"; "offline";', '"carbons"; "offline"; "smacks"; "mam";', 1)
    text = re.sub(r'modules_disabled = \{[^}]*\}', 'modules_disabled = { "s2s"; "dialback"; "limits"; "register"; "posix" }', text, count=1)
    text = text.replace('storage = "internal"', 'storage = "internal"\ndefault_archive_policy = true', 1)
open(path, "w").write(text)
PATCH
fi

# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"

# xmppd with limits relaxed as the anchors' are: no per-address cap, no read throttle, warning-level logs. Its ports
# are below the ephemeral range (32768-60999): the load generator's own connections could hold a port above it.
XMPPD_ARGS=(--domain bench.local --data-dir "$RUN/xmppd" --bind 127.0.0.1 --c2s-port 14222 --c2s-tls-port 14223
            --log-level warning --set connections_per_ip=1000000 --set read_rate=1000000000 --set read_burst=1000000000)
start_xmppd() {
  setsid bash -c 'echo $$ > "$1"; shift; ulimit -n 20000; exec "$@"' _ "$RUN/xmppd.pid" "$BIN/xmppd" "${XMPPD_ARGS[@]}" \
    >> "$RUN/xmppd.log" 2>&1 < /dev/null &
  wait_port 14222 || { tail "$RUN/xmppd.log"; exit 1; }
}
start_prosody() {
  setsid bash -c 'echo $$ > "$1"; ulimit -n 20000; exec prosody --config "$2" -F' _ \
    "$RUN/anchors/prosody/server.pid" "$RUN/anchors/prosody/prosody.cfg.lua" >> "$RUN/anchors/prosody/stdout.log" 2>&1 < /dev/null &
  wait_port 15222
}
EJC=(ejabberdctl --ctl-config "$RUN/anchors/ejabberd/ejabberdctl.cfg")
start_ejabberd() {
  (cd "$RUN/anchors/ejabberd" && ulimit -n 20000 && "${EJC[@]}" start)
  timeout 120 "${EJC[@]}" started
  wait_port 25222
}

# Accounts for xmppd: created once (key derivation for three hashes takes a minute for 20,000).
start_xmppd
"$BIN/xmppctl" addusers "$USERS" --data-dir "$RUN/xmppd"
stop_pidfile "$RUN/xmppd.pid"

start_server() {
  case $1 in
    xmppd) start_xmppd; PORT=14222; PIDFILE=$RUN/xmppd.pid ;;
    prosody) start_prosody; PORT=15222; PIDFILE=$RUN/anchors/prosody/server.pid ;;
    ejabberd) start_ejabberd; PORT=25222; PIDFILE=$RUN/anchors/ejabberd/ejabberd.pid ;;
  esac
  sleep 2   # let start-up work settle before the first sample
}
stop_server() {
  case $1 in
    xmppd) stop_pidfile "$RUN/xmppd.pid" ;;
    prosody) BENCH_RUN="$RUN/anchors" bash "$ANCHORS/stop-anchors.sh" prosody >/dev/null ;;
    ejabberd) BENCH_RUN="$RUN/anchors" bash "$ANCHORS/stop-anchors.sh" ejabberd >/dev/null ;;
  esac
  sleep 1
}

scenario_args() {
  case $1 in
    connect) echo "connect --connections $CONNECTIONS --concurrency 100 --hold 5" ;;
    login) echo "login --logins 2000 --concurrency 100" ;;
    throughput) echo "throughput --pairs 100 --window 20 --warmup 3 --seconds 10" ;;
    rate) echo "rate --pairs 100 --rate 2000 --warmup 3 --seconds 10" ;;
    churn) echo "churn --pairs 100 --window 20 --warmup 3 --seconds 10 --churn $CHURN --concurrency 100" ;;
    muc) echo "muc --occupants 50 --senders 5 --window 10 --warmup 3 --seconds 10" ;;
  esac
}

for pass in $(seq 1 "$PASSES"); do
  for scenario in $SCENARIOS; do
    for server in $SERVERS; do
      start_server "$server"
      echo "pass $pass: $scenario on $server"
      # shellcheck disable=SC2046
      "$BIN/xmpp-bench" $(scenario_args "$scenario") --server "127.0.0.1:$PORT" --domain bench.local \
        --users "$USERS" --source-addresses 8 --pid "$(cat "$PIDFILE")" "${BENCH_EXTRA[@]}" \
        --output "$RESULTS/$scenario-$server-$pass.json" > /dev/null || echo "  (xmpp-bench reported failures)"
      stop_server "$server"
    done
  done
done

python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" | tee "$RESULTS/summary.md"
