#!/bin/bash
# benchmarks/websocket-vs-c2s.sh: what XMPP over WebSocket (RFC 7395) costs next to c2s over TCP on the same xmppd:
# server memory per held connection (connect) and server CPU per message (throughput), c2s with STARTTLS against
# plain ws:// on loopback (TLS terminated elsewhere, as behind a proxy), alternating and starting xmppd afresh for
# every measurement; prints medians and websocket/c2s ratios (benchmarks/summarize.py).
#
#   bash benchmarks/websocket-vs-c2s.sh
#
# Environment (optional): PASSES=3, SCENARIOS="connect throughput", USERS=2000, BENCH_RUN=benchmarks/run.
# Release build of the working tree; loopback only; each run stops itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}
PASSES=${PASSES:-3}
SCENARIOS=${SCENARIOS:-"connect throughput"}
USERS=${USERS:-2000}
RESULTS=$RUN/websocket-vs-c2s/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
(cd "$ROOT" && swift build -c release --product xmppd >&2 && swift build -c release --product xmppctl >&2 \
  && swift build -c release --product xmpp-bench >&2)
BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)

# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"
PIDFILE=$RUN/websocket-vs-c2s.pid
start() {
  setsid bash -c 'echo $$ > "$1"; shift; ulimit -n 20000; exec "$@"' _ "$PIDFILE" "$BIN/xmppd" --domain bench.local \
    --data-dir "$RUN/data-websocket" --bind 127.0.0.1 --c2s-port 14222 --c2s-tls-port 14223 --http-port 14280 --https-port off \
    --log-level warning --set connections_per_ip=1000000 --set read_rate=1000000000 --set read_burst=1000000000 \
    >> "$RUN/websocket-vs-c2s.log" 2>&1 < /dev/null &
  wait_port 14222
  wait_port 14280
  sleep 2
}
stop() { stop_pidfile "$PIDFILE"; sleep 1; }
trap stop EXIT

start
"$BIN/xmppctl" addusers "$USERS" --data-dir "$RUN/data-websocket" > /dev/null
stop

scenario_args() {
  case $1 in
    connect) echo "connect --connections 2000 --concurrency 100 --hold 5" ;;
    throughput) echo "throughput --pairs 100 --window 20 --warmup 3 --seconds 10" ;;
  esac
}
transport_args() {
  case $1 in
    c2s) echo "--server 127.0.0.1:14222 --tls starttls" ;;
    websocket) echo "--server 127.0.0.1:14280 --tls websocket" ;;
  esac
}
for pass in $(seq 1 "$PASSES"); do
  for scenario in $SCENARIOS; do
    for transport in c2s websocket; do
      start
      echo "pass $pass: $scenario over $transport" >&2
      # shellcheck disable=SC2046
      "$BIN/xmpp-bench" $(scenario_args "$scenario") $(transport_args "$transport") --domain bench.local \
        --users "$USERS" --source-addresses 8 --pid "$(cat "$PIDFILE")" \
        --output "$RESULTS/$scenario-$transport-$pass.json" > /dev/null || echo "  (xmpp-bench reported failures)" >&2
      stop
    done
  done
done
python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" websocket c2s | tee "$RESULTS/summary.md"
