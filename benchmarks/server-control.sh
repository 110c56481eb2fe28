# benchmarks/server-control.sh: sourced by the benchmark scripts (side-by-side.sh, before-after.sh, websocket-vs-c2s.sh).
# wait_port PORT: waits (up to a minute) until something accepts connections on 127.0.0.1:PORT.
# stop_pidfile PIDFILE: stops the server whose process id is in PIDFILE (SIGTERM, then SIGKILL after 20 s).
wait_port() { for _ in $(seq 1 240); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.25; done; return 1; }
stop_pidfile() {
  local pid; pid=$(cat "$1" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}
