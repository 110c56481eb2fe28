#!/bin/bash
# benchmarks/before-after.sh: does a change cost the hot path? Runs xmpp-bench's throughput and login scenarios
# against xmppd built at two commits, alternating (before, after, before, after, ...) and starting each server afresh
# for every measurement, then prints the medians and the after/before ratios (benchmarks/summarize.py).
#
#   BEFORE=68f9f32 bash benchmarks/before-after.sh       # compares that commit with the working tree
#
# Environment (optional): PASSES=3, SCENARIOS="throughput login", USERS=2000, BENCH_RUN=benchmarks/run.
# The commit is checked out in a git worktree under $BENCH_RUN and built there in release mode (the first time
# about 8 minutes on 2 cores); the working tree is built in release mode too. Loopback only; each run stops itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}
BEFORE=${BEFORE:?name the commit to compare with: BEFORE=<commit>}
PASSES=${PASSES:-3}
SCENARIOS=${SCENARIOS:-"throughput login"}
USERS=${USERS:-2000}
RESULTS=$RUN/before-after/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"

build() {  # directory -> prints the release bin path
  (cd "$1" && swift build -c release --product xmppd >&2 && swift build -c release --product xmppctl >&2 \
    && swift build -c release --product xmpp-bench >&2 && swift build -c release --show-bin-path)
}
WORKTREE=${WORKTREE:-$RUN/worktree-$BEFORE}   # or an existing checkout of it
[ -d "$WORKTREE" ] || git -C "$ROOT" worktree add -f "$WORKTREE" "$BEFORE" >&2
BIN_before=$(build "$WORKTREE")
BIN_after=$(build "$ROOT")

# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"
PIDFILE=$RUN/before-after.pid
start() {  # which
  local bin; bin=BIN_$1
  setsid bash -c 'echo $$ > "$1"; shift; ulimit -n 20000; exec "$@"' _ "$PIDFILE" "${!bin}/xmppd" --domain bench.local \
    --data-dir "$RUN/data-$1" --bind 127.0.0.1 --c2s-port 14222 --c2s-tls-port 14223 --log-level warning \
    --set connections_per_ip=1000000 --set read_rate=1000000000 --set read_burst=1000000000 >> "$RUN/before-after.log" 2>&1 < /dev/null &
  wait_port 14222
  sleep 2
}
stop() { stop_pidfile "$PIDFILE"; sleep 1; }
trap stop EXIT

# The same accounts on both (each build keeps its own data directory, migrated by its own schema).
for which in before after; do
  start "$which"
  bin=BIN_$which
  "${!bin}/xmppctl" addusers "$USERS" --data-dir "$RUN/data-$which" > /dev/null
  stop
done

scenario_args() {
  case $1 in
    login) echo "login --logins 2000 --concurrency 100" ;;
    throughput) echo "throughput --pairs 100 --window 20 --warmup 3 --seconds 10" ;;
  esac
}
for pass in $(seq 1 "$PASSES"); do
  for scenario in $SCENARIOS; do
    for which in before after; do
      start "$which"
      echo "pass $pass: $scenario on $which" >&2
      # shellcheck disable=SC2046
      "$BIN_after/xmpp-bench" $(scenario_args "$scenario") --server 127.0.0.1:14222 --domain bench.local \
        --users "$USERS" --source-addresses 8 --pid "$(cat "$PIDFILE")" \
        --output "$RESULTS/$scenario-$which-$pass.json" > /dev/null || echo "  (xmpp-bench reported failures)" >&2
      stop
    done
  done
done
python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" after before | tee "$RESULTS/summary.md"
