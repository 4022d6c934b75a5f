# shellcheck shell=bash
# The monitor (probes, capacity, API performance, alerts, Discord, digest, rollups) and a
# private Redis for the embedded stack, so the cache panel has a real server to probe (a
# production monitor probes the host app's Redis instead). Pid files in STATE/run, logs in
# STATE/logs. Sourced by stack.sh after lib-common.sh.

redis_pidfile() { echo "$RUN_DIR/redis.pid"; }
redis_pid() { pidfile_pid "$(redis_pidfile)" "redis-server"; }

# Starts Redis on a free loopback port unless it runs; no persistence (it holds nothing of ours).
redis_up() {
  local port pid bin
  bin=$(command -v redis-server || true)
  if [ -z "$bin" ]; then
    say "redis-server not installed (deploy/install-deps.sh): the monitor skips Redis"
    REDIS_PORT=""
    return 0
  fi
  if [ -n "$(redis_pid)" ]; then
    REDIS_PORT=$(cat "$RUN_DIR/redis.port")
    return 0
  fi
  port=$(pick_free_port)
  nohup setsid "$bin" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$RUN_DIR" --maxmemory 64mb --maxmemory-policy allkeys-lru \
    >>"$LOG_DIR/redis.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(redis_pidfile)"
  echo "$port" >"$RUN_DIR/redis.port"
  for _ in $(seq 1 50); do
    port_in_use "$port" && { say "redis listening on 127.0.0.1:$port (pid $pid)"; REDIS_PORT=$port; return 0; }
    pid_alive "$pid" || break
    sleep 0.1
  done
  show_log_tail "$LOG_DIR/redis.log"
  die "redis-server (pid $pid) did not listen on 127.0.0.1:$port"
}

redis_stop() { stop_running "$(redis_pid)" redis; }

monitor_pidfile() { echo "$RUN_DIR/monitor.pid"; }
monitor_pid() { pidfile_pid "$(monitor_pidfile)" "opsplane monitor"; }
monitor_config() { echo "$STATE/monitor.json"; }

# The embedded stack's monitor configuration: its own Postgres, the API through nginx, the
# ticker's port, Redis, pushed heartbeats, the data directories and nginx's access log.
# Holds the database URL (with its password): mode 600.
monitor_render_config() { # ticker_port redis_port
  local redis=""
  [ -z "$2" ] || redis=$(printf ',\n    {"name": "redis", "kind": "redis", "target": "127.0.0.1:%s", "interval_s": 15, "timeout_ms": 1000}' "$2")
  (
    umask 077
    cat >"$(monitor_config).new" <<EOF2
{
  "services": [
    {"name": "postgres", "kind": "postgres", "target": "$OPS_DATABASE_URL", "interval_s": 15, "timeout_ms": 2000},
    {"name": "api", "kind": "http", "target": "http://127.0.0.1:$PORT/api/ops/healthz", "interval_s": 15, "timeout_ms": 2000,
     "thresholds": {"degraded_ms": 500}},
    {"name": "ticker", "kind": "tcp", "target": "127.0.0.1:$1", "interval_s": 15, "timeout_ms": 1000}$redis,
    {"name": "workers", "kind": "heartbeat", "target": "worker", "interval_s": 30, "timeout_ms": 1000},
    {"name": "queues", "kind": "heartbeat", "target": "queue", "interval_s": 30, "timeout_ms": 1000},
    {"name": "models", "kind": "heartbeat", "target": "model", "interval_s": 30, "timeout_ms": 1000}
  ],
  "data_directories": [
    {"name": "postgres", "path": "$PG_DATA"},
    {"name": "logs", "path": "$LOG_DIR"}
  ],
  "access_log": {"path": "$LOG_DIR/access.log"}
}
EOF2
  )
  mv "$(monitor_config).new" "$(monitor_config)"
}

# (Re)starts the monitor with the rendered configuration (MONITOR=0: not at all).
monitor_up() {
  local pid log=$LOG_DIR/monitor.log
  monitor_stop
  [ "${MONITOR:-1}" != 0 ] || { say "monitor not started (MONITOR=0)"; return 0; }
  "$OPSPLANE_BIN" monitor --config "$(monitor_config)" --check >>"$log" 2>&1 \
    || { show_log_tail "$log"; die "the monitor configuration $(monitor_config) is not valid"; }
  OPS_MONITOR_CONFIG=$(monitor_config) nohup setsid "$OPSPLANE_BIN" monitor >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(monitor_pidfile)"
  sleep 0.2
  pid_alive "$pid" || { show_log_tail "$log"; die "the monitor (pid $pid) exited at start"; }
  say "monitor running (pid $pid), configuration $(monitor_config)"
}

monitor_stop() { stop_running "$(monitor_pid)" monitor; }
