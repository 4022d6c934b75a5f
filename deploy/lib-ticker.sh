# shellcheck shell=bash
# The ticker (WebSocket fan-out of ops_events, proxied by nginx at /api/ws) and the live
# demo generator: long-running processes of the embedded stack, each with a pid file in
# STATE/run and a log in STATE/logs. Sourced by stack.sh after lib-common.sh.

ticker_pidfile() { echo "$RUN_DIR/ticker.pid"; }
ticker_pid() { pidfile_pid "$(ticker_pidfile)" "ticker --port"; }

# The ticker's port: the one it had when still free (or ours), else a new free one.
ticker_choose_port() {
  local port
  port=$(cat "$RUN_DIR/ticker.port" 2>/dev/null || true)
  if [ -n "$port" ] && { [ -n "$(ticker_pid)" ] || ! port_in_use "$port"; }; then
    echo "$port"
  else
    pick_free_port
  fi
}

# (Re)starts the ticker on `port`; clients of an old one reconnect (close code 1001).
ticker_up() { # port
  local port=$1 pid log=$LOG_DIR/ticker.log
  ticker_stop
  nohup setsid "$OPSPLANE_BIN" ticker --port "$port" >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(ticker_pidfile)"
  echo "$port" >"$RUN_DIR/ticker.port"
  for _ in $(seq 1 100); do
    port_in_use "$port" && pid_alive "$pid" && { say "ticker listening on 127.0.0.1:$port (pid $pid)"; return 0; }
    pid_alive "$pid" || break
    sleep 0.1
  done
  show_log_tail "$log"
  die "the ticker (pid $pid) did not listen on 127.0.0.1:$port"
}

ticker_stop() { stop_running "$(ticker_pid)" ticker; }

# SIGTERM (then SIGKILL after 10 s) to a pid found by pidfile_pid, if any.
stop_running() { # pid name
  [ -n "$1" ] || return 0
  say "stopping $2 (pid $1)"
  stop_pid "$1" "$2" TERM 10
}

demo_pidfile() { echo "$RUN_DIR/demo.pid"; }
demo_pid() { pidfile_pid "$(demo_pidfile)" "demo --live"; }

# DEMO != 0: keeps live activity flowing (DEMO_RATE runs/s, default 1) so a newcomer sees
# a moving dashboard.
demo_live_up() {
  local pid
  demo_live_stop
  [ "$DEMO" != 0 ] || return 0
  nohup setsid "$OPSPLANE_BIN" demo --live --rate "${DEMO_RATE:-1}" >>"$LOG_DIR/demo.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(demo_pidfile)"
  say "live demo activity at ${DEMO_RATE:-1} run(s)/s (pid $pid, DEMO=0 to start without)"
}

demo_live_stop() { stop_running "$(demo_pid)" "live demo"; }
