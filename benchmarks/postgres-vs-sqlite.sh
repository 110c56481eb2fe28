#!/bin/bash
# benchmarks/postgres-vs-sqlite.sh: xmppd on PostgreSQL next to xmppd on SQLite, one release build, alternating
# (sqlite, postgresql, sqlite, ...) with the server started afresh for every measurement: logins (credential reads),
# throughput with the message archive on (every message is an archive write) and archive page queries on an archive
# of ARCHIVE messages. Prints the medians and the postgresql/sqlite ratios (benchmarks/summarize.py).
#
#   PASSES=3 bash benchmarks/postgres-vs-sqlite.sh
#
# Environment (optional): PASSES=3, SCENARIOS="login throughput mam", USERS=2000, ARCHIVE=100000, BENCH_RUN=benchmarks/run. PostgreSQL (Debian's
# postgresql) runs as a private cluster under $BENCH_RUN on 127.0.0.1:15433 (as the postgres user when run as
# root), fsync on as in production, stopped by PID at the end. Loopback only; each run stops itself.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}
PASSES=${PASSES:-3}
USERS=${USERS:-2000}
ARCHIVE=${ARCHIVE:-100000}
SCENARIOS=${SCENARIOS:-"login throughput mam"}
PGPORT=15433
RESULTS=$RUN/postgres-vs-sqlite/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"

(cd "$ROOT" && swift build -c release --product xmppd >&2 && swift build -c release --product xmppctl >&2 \
  && swift build -c release --product xmpp-bench >&2)
BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)

# The PostgreSQL cluster.
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDIR=$RUN/postgres
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
rm -rf "$PGDIR"; mkdir -p "$PGDIR"; [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
"${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U xmppd -A trust -E UTF8 > "$PGDIR/initdb.log"
"${AS[@]}" "$PGBIN/postgres" -D "$PGDIR/data" -p $PGPORT -k "$PGDIR" -c listen_addresses=127.0.0.1 -c max_connections=200 \
  > "$PGDIR/postgres.log" 2>&1 < /dev/null &
# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"
wait_port $PGPORT
sleep 1
"$PGBIN/createdb" -h 127.0.0.1 -p $PGPORT -U xmppd xmppd
PGPID=$(head -1 "$PGDIR/data/postmaster.pid")

PIDFILE=$RUN/postgres-vs-sqlite.pid
config() {  # which -> config file
  local file=$RUN/postgres-vs-sqlite-$1.conf
  printf 'domain = bench.local\ndata_dir = %s\nstorage = %s\npostgresql_url = postgres://xmppd@127.0.0.1:%s/xmppd\n' \
    "$RUN/data-$1" "$1" "$PGPORT" > "$file"
  echo "$file"
}
start() {  # which
  setsid bash -c 'echo $$ > "$1"; shift; ulimit -n 20000; exec "$@"' _ "$PIDFILE" "$BIN/xmppd" --config "$(config "$1")" \
    --bind 127.0.0.1 --c2s-port 14222 --c2s-tls-port 14223 --log-level warning --http-port off --https-port off \
    --set connections_per_ip=1000000 --set read_rate=1000000000 --set read_burst=1000000000 >> "$RUN/postgres-vs-sqlite.log" 2>&1 < /dev/null &
  wait_port 14222
  sleep 2
}
stop() { stop_pidfile "$PIDFILE"; sleep 1; }
finish() { stop; kill -INT "$PGPID" 2>/dev/null || true; }
trap finish EXIT

rm -rf "$RUN/data-sqlite" "$RUN/data-postgresql"
for which in sqlite postgresql; do
  start "$which"   # creates the database (and the PostgreSQL schema)
  stop
  "$BIN/xmppctl" addusers "$USERS" --config "$(config "$which")" > /dev/null
  "$BIN/xmppctl" addarchive bench1 "$ARCHIVE" --with bench2 --config "$(config "$which")" > /dev/null
done

scenario_args() {
  case $1 in
    login) echo "login --logins 2000 --concurrency 100" ;;
    throughput) echo "throughput --pairs 100 --window 20 --warmup 3 --seconds 10" ;;
    mam) echo "mam --queries 2000 --page-size 50" ;;
  esac
}
for pass in $(seq 1 "$PASSES"); do
  for scenario in $SCENARIOS; do
    for which in sqlite postgresql; do
      start "$which"
      echo "pass $pass: $scenario on $which" >&2
      # shellcheck disable=SC2046
      "$BIN/xmpp-bench" $(scenario_args "$scenario") --server 127.0.0.1:14222 --domain bench.local \
        --users "$USERS" --source-addresses 8 --pid "$(cat "$PIDFILE")" \
        --output "$RESULTS/$scenario-$which-$pass.json" > /dev/null || echo "  (xmpp-bench reported failures)" >&2
      stop
    done
  done
done
python3 "$ROOT/benchmarks/summarize.py" "$RESULTS" postgresql sqlite | tee "$RESULTS/summary.md"
