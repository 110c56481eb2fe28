#!/bin/bash
# benchmarks/file-transfer.sh: a large file between two clients through each server's SOCKS5 proxy (XEP-0065:
# `xmpp send-file --method si --via-proxy` to a client running `xmpp receive-files`), and through its HTTP upload service
# (XEP-0363: `xmpp upload`), for xmppd and Prosody (proxy65, http_file_share) on the same machine, alternating and
# starting each server afresh for every measurement. Uploads go over plain HTTP on both (TLS terminated elsewhere),
# so the servers do the same work. Reports per server: MB/s (wall time of the transfer, as the sender sees it) and
# the server's CPU seconds per 100 MB (utime + stime of its process across the transfer); medians (min-max), and
# xmppd/prosody ratios.
#
#   bash benchmarks/file-transfer.sh
#
# Environment (optional): PASSES=3, MEGABYTES=100, SERVERS="xmppd prosody", BENCH_RUN=benchmarks/run.
# Release build of the working tree; needs Prosody from Debian; loopback only; every server is stopped by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN=${BENCH_RUN:-$ROOT/benchmarks/run}/file-transfer
PASSES=${PASSES:-3}
MEGABYTES=${MEGABYTES:-100}
SERVERS=${SERVERS:-xmppd prosody}
rm -rf "$RUN"
mkdir -p "$RUN"
(cd "$ROOT" && swift build -c release --product xmppd >&2 && swift build -c release --product xmppctl >&2 \
  && swift build -c release --product xmpp >&2)
BIN=$(cd "$ROOT" && swift build -c release --show-bin-path)
# shellcheck source=benchmarks/server-control.sh
source "$ROOT/benchmarks/server-control.sh"

declare -A C2S=([xmppd]=17222 [prosody]=17322)
declare -A HTTP=([xmppd]=17280 [prosody]=17380)
declare -A PROXY=([xmppd]=17777 [prosody]=17877)
FILE=$RUN/payload.bin
head -c $((MEGABYTES * 1048576)) /dev/urandom > "$FILE"
LIMIT=$((MEGABYTES * 1048576 * 2))

configure_prosody() {
  local dir=$RUN/prosody
  mkdir -p "$dir/data" "$dir/certs"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost" -keyout "$dir/certs/localhost.key" -out "$dir/certs/localhost.crt" 2>/dev/null
  cat > "$dir/prosody.cfg.lua" <<CONFIG
run_as_root = true
daemonize = false
data_path = "$dir/data"
log = { warn = "$dir/prosody.log" }
network_backend = "epoll"
interfaces = { "127.0.0.1" }
c2s_ports = { ${C2S[prosody]} }
c2s_direct_tls_ports = { }
s2s_ports = { }
component_ports = { }
http_ports = { ${HTTP[prosody]} }
http_interfaces = { "127.0.0.1" }
https_ports = { }
proxy65_ports = { ${PROXY[prosody]} }
proxy65_interfaces = { "127.0.0.1" }
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "message"; "iq" }
modules_disabled = { "limits"; "register"; "posix"; "s2s" }
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
c2s_require_encryption = true
certificates = "$dir/certs"
ssl = { certificate = "$dir/certs/localhost.crt"; key = "$dir/certs/localhost.key" }
VirtualHost "localhost"
Component "proxy.localhost" "proxy65"
  proxy65_address = "127.0.0.1"
Component "upload.localhost" "http_file_share"
  http_host = "localhost"
  http_file_share_size_limit = $LIMIT
  http_file_share_daily_quota = $((LIMIT * 100))
CONFIG
  python3 "$ROOT/../shared/anchors/mkusers_prosody.py" "$dir/data" localhost 2 > /dev/null
}

start() {   # xmppd | prosody
  local dir=$RUN/$1
  case $1 in
    xmppd)
      setsid bash -c 'echo $$ > "$1"; shift; exec "$@"' _ "$dir/server.pid" "$BIN/xmppd" --domain localhost \
        --data-dir "$dir/data" --bind 127.0.0.1 --c2s-port "${C2S[xmppd]}" --c2s-tls-port off --http-port "${HTTP[xmppd]}" \
        --https-port off --log-level warning --set proxy_port="${PROXY[xmppd]}" --set federation=off \
        --set proxy_bytes_per_second=1073741824 --set upload_bytes_per_second=1073741824 \
        --set upload_max_file_bytes=$LIMIT --set upload_quota_bytes=$((LIMIT * 100)) \
        --set upload_url="http://localhost:${HTTP[xmppd]}" >> "$dir/stdout.log" 2>&1 < /dev/null & ;;
    prosody)
      setsid bash -c 'echo $$ > "$1"; exec prosody --config "$2" -F' _ "$dir/server.pid" "$dir/prosody.cfg.lua" \
        >> "$dir/stdout.log" 2>&1 < /dev/null & ;;
  esac
  wait_port "${C2S[$1]}" || { tail "$dir/stdout.log"; exit 1; }
  sleep 1
}
stop() { stop_pidfile "$RUN/$1/server.pid"; }
trap 'for s in $SERVERS; do stop "$s"; done' EXIT
cpu() { awk '{ print $14 + $15 }' "/proc/$(cat "$RUN/$1/server.pid")/stat"; }   # clock ticks

mkdir -p "$RUN/xmppd/data"
configure_prosody
start xmppd
printf 'secret1\n' | "$BIN/xmppctl" adduser bench1 --data-dir "$RUN/xmppd/data" --domain localhost > /dev/null
printf 'secret2\n' | "$BIN/xmppctl" adduser bench2 --data-dir "$RUN/xmppd/data" --domain localhost > /dev/null
stop xmppd
certificate() { [ "$1" = xmppd ] && echo "$RUN/xmppd/data/localhost.crt" || echo "$RUN/prosody/certs/localhost.crt"; }
client() {   # SERVER USER RESOURCE
  echo --jid "bench$2@localhost/$3" --password "secret$2" --server "127.0.0.1:${C2S[$1]}" --ca-file "$(certificate "$1")" --timeout 120
}
TICKS=$(getconf CLK_TCK)
RESULTS=$RUN/results.jsonl
: > "$RESULTS"
for pass in $(seq 1 "$PASSES"); do
  for server in $SERVERS; do
    for kind in proxy upload; do
      start "$server"
      inbox=$RUN/inbox-$server-$kind-$pass
      mkdir -p "$inbox"
      receiver=""
      if [ "$kind" = proxy ]; then
        # shellcheck disable=SC2046
        "$BIN/xmpp" receive-files --dir "$inbox" --accept-from bench1@localhost --count 1 --idle 300 $(client "$server" 2 files) \
          > "$RUN/receiver.log" 2>&1 &
        receiver=$!
        sleep 2
      fi
      before=$(cpu "$server")
      started=$(date +%s.%N)
      # shellcheck disable=SC2046
      if [ "$kind" = proxy ]; then
        "$BIN/xmpp" send-file bench2@localhost/files "$FILE" --method si --via-proxy $(client "$server" 1 sender) > "$RUN/sender.log" 2>&1
        wait "$receiver"
        cmp -s "$FILE" "$inbox/payload.bin" || { echo "the received file differs" >&2; exit 1; }
      else
        "$BIN/xmpp" upload "$FILE" $(client "$server" 1 sender) > "$RUN/sender.log" 2>&1
      fi
      ended=$(date +%s.%N)
      after=$(cpu "$server")
      stop "$server"
      rm -rf "$inbox"
      python3 - "$server" "$kind" "$started" "$ended" "$before" "$after" "$TICKS" "$MEGABYTES" >> "$RESULTS" <<'PY'
import json, sys
server, kind, start, end, before, after, ticks, megabytes = sys.argv[1:9]
seconds = float(end) - float(start)
cpu = (float(after) - float(before)) / float(ticks)
print(json.dumps({"server": server, "kind": kind, "mb_per_second": int(megabytes) * 1.048576 / seconds,
                  "server_cpu_seconds_per_100mb": cpu * 100 / int(megabytes)}))
PY
      echo "pass $pass: $server $kind: $(tail -1 "$RESULTS")" >&2
    done
  done
done
python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
servers = sorted({r["server"] for r in rows}, key=lambda s: s != "xmppd")
for kind in ("proxy", "upload"):
    print(f"\n{kind}:\n\n| figure | " + " | ".join(servers) + (" | xmppd / prosody |" if len(servers) == 2 else " |"))
    print("| --- " * (len(servers) + 1 + (len(servers) == 2)) + "|")
    for figure in ("mb_per_second", "server_cpu_seconds_per_100mb"):
        values = {s: [r[figure] for r in rows if r["server"] == s and r["kind"] == kind] for s in servers}
        medians = {s: statistics.median(v) for s, v in values.items()}
        cells = [f"{medians[s]:.3g} ({min(values[s]):.3g}-{max(values[s]):.3g})" for s in servers]
        ratio = f" | {medians['xmppd'] / medians['prosody']:.2f}" if len(servers) == 2 and medians.get("prosody") else ""
        print(f"| {figure} | " + " | ".join(cells) + ratio + " |")
PY
