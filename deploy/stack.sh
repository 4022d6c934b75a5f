#!/usr/bin/env bash
# The embedded Opsplane stack: a private Postgres cluster, OPS_WORKERS FastCGI worker
# processes and nginx, everything under one STATE directory so stacks can run side by side.
#
# usage: deploy/stack.sh up|down|status|pg-stop|pg-start|env
#   up        start what is not running; a running stack gets its workers restarted one by
#             one (so a rebuilt binary takes over without downtime) and nginx reloaded.
#   down      stop nginx, the workers and Postgres: only the processes this STATE started,
#             found by their pid files. Safe to repeat.
#   status    one line per process and the health check; exit 0 when all run, 3 otherwise.
#   pg-stop   stop only Postgres (outage tests); pg-start starts it again on the same port.
#   env       print the path of STATE/run.env.
#
# Environment:
#   STATE             state directory (default <repo>/.opsplane; relative to the cwd)
#   PORT              nginx port on 127.0.0.1 (default 8080)
#   OPS_WORKERS       FastCGI worker processes (default 2), socket STATE/run/fcgi-N.sock
#   OPS_FCGI_THREADS  accept threads per worker (default 4)
#   MONITOR           0 = do not start the monitor (default 1; config STATE/monitor.json)
#   DEMO              0 = no demo data and no live activity (default 1: `opsplane demo
#                     --if-empty` once, then `opsplane demo --live` at DEMO_RATE runs/s)
#   OPSPLANE_BIN      the binary (default <repo>/.build/release/opsplane)
#   OPS_PG_BIN        Postgres binaries (default: newest /usr/lib/postgresql/*/bin)
# Every other variable in the environment (OPS_LOG_LEVEL, ...) reaches the workers as is;
# OPS_DATABASE_URL and OPS_FCGI_SOCKET are always set by this script.
#
# Layout: STATE/pg/{data,run,port,password}, STATE/run/{fcgi-N.sock,fcgi-N.pid,nginx.pid},
# STATE/logs/{fcgi-N.log,access.log,nginx-error.log,postgres.log}, STATE/nginx (rendered
# configuration, temp dirs), STATE/run.env (URL, tokens, database URL; mode 600).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
. "$REPO/deploy/lib-pg.sh"
. "$REPO/deploy/lib-nginx.sh"
. "$REPO/deploy/lib-ticker.sh"
. "$REPO/deploy/lib-monitor.sh"

PORT=${PORT:-8080}
OPS_WORKERS=${OPS_WORKERS:-2}
DEMO=${DEMO:-1}
OPSPLANE_BIN=${OPSPLANE_BIN:-$REPO/.build/release/opsplane}
FRONTEND_DIR=$REPO/frontend
HEALTH_WAIT_S=20

# Resolves STATE to an absolute path (creating it only when `create` is asked) and sets
# every path derived from it.
set_paths() { # create|nocreate
  local state=${STATE:-$REPO/.opsplane}
  if [ "$1" = create ]; then
    mkdir -p "$state"
  elif [ ! -d "$state" ]; then
    STATE=$state
    return 1
  fi
  STATE=$(cd "$state" && pwd)
  # The paths go into nginx and Postgres configs and sed expressions unquoted.
  case "$STATE$REPO" in
    *[!A-Za-z0-9._/+-]*) die "paths may hold only letters, digits and ._/+- : STATE=$STATE repo=$REPO" ;;
  esac
  # sockaddr_un holds 107 bytes: the longest socket is STATE/pg/run/.s.PGSQL.NNNNN.
  [ "${#STATE}" -le 80 ] || die "STATE path is too long for unix sockets (${#STATE} > 80 chars): $STATE"
  PG_DIR=$STATE/pg
  PG_DATA=$PG_DIR/data
  PG_RUN=$PG_DIR/run
  PG_PORT_FILE=$PG_DIR/port
  PG_PASSWORD_FILE=$PG_DIR/password
  RUN_DIR=$STATE/run
  LOG_DIR=$STATE/logs
  PG_LOG=$LOG_DIR/postgres.log
  NGINX_DIR=$STATE/nginx
  NGINX_CONF=$NGINX_DIR/nginx.conf
  RUN_ENV=$STATE/run.env
}

check_settings() {
  case "$PORT" in ''|*[!0-9]*) die "PORT=$PORT is not a port number" ;; esac
  [ "$PORT" -ge 1 ] && [ "$PORT" -le 65535 ] || die "PORT=$PORT is out of range"
  case "$OPS_WORKERS" in ''|*[!0-9]*|0) die "OPS_WORKERS=$OPS_WORKERS: expected a number from 1 to 64" ;; esac
  [ "$OPS_WORKERS" -le 64 ] || die "OPS_WORKERS=$OPS_WORKERS: expected a number from 1 to 64"
}

require_binary() {
  [ -x "$OPSPLANE_BIN" ] || die "$OPSPLANE_BIN not found: build it first (make build)"
}

# --- FastCGI workers -------------------------------------------------------------------

worker_sock() { echo "$RUN_DIR/fcgi-$1.sock"; }
worker_pidfile() { echo "$RUN_DIR/fcgi-$1.pid"; }
# The socket path is unique to this STATE and worker: it identifies the process.
worker_pid() { pidfile_pid "$(worker_pidfile "$1")" "$(worker_sock "$1")"; }

# Worker numbers that have a pid file, running or not.
worker_numbers() {
  local f n
  for f in "$RUN_DIR"/fcgi-*.pid; do
    [ -e "$f" ] || continue
    n=${f##*/fcgi-}
    echo "${n%.pid}"
  done | sort -n
}

worker_start() { # n
  local n=$1 sock log pid
  sock=$(worker_sock "$n")
  log=$LOG_DIR/fcgi-$n.log
  # A socket left by a worker that died unseen would look like readiness below.
  rm -f "$sock"
  # setsid + nohup: the worker outlives this script and the terminal (no SIGHUP/SIGINT
  # from the shell's process group); `&` in a script makes no group leader, so setsid
  # execs in place and $! is the worker's own pid.
  OPS_FCGI_SOCKET=$sock nohup setsid "$OPSPLANE_BIN" fcgi --socket "$sock" --threads "$FCGI_THREADS" \
    >>"$log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$(worker_pidfile "$n")"
  # Ready when the worker has created its socket.
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && pid_alive "$pid" && return 0
    pid_alive "$pid" || break
    sleep 0.1
  done
  show_log_tail "$log"
  die "worker $n (pid $pid) did not open $sock"
}

# SIGTERM: the worker stops accepting, finishes requests in flight and exits within 10 s.
# Returns at once; worker_wait_stopped finishes the job.
worker_signal_stop() { # n
  local pid
  pid=$(worker_pid "$1")
  [ -n "$pid" ] || return 0
  say "stopping worker $1 (pid $pid)"
  kill -s TERM "$pid" 2>/dev/null || true
}

worker_wait_stopped() { # n
  local n=$1 pid
  pid=$(worker_pid "$n")
  if [ -n "$pid" ] && ! wait_pid_gone "$pid" 10; then
    stop_pid "$pid" "worker $n" KILL 5
  fi
  rm -f "$(worker_pidfile "$n")"
  # A killed worker leaves its socket behind; nobody else uses this path.
  [ ! -S "$(worker_sock "$n")" ] || rm -f "$(worker_sock "$n")"
}

# Workers above OPS_WORKERS (from an earlier up with more): stopped once nginx, reloaded,
# no longer sends them requests.
workers_stop_extra() {
  local n
  for n in $(worker_numbers); do
    [ "$n" -le "$OPS_WORKERS" ] || worker_signal_stop "$n"
  done
  for n in $(worker_numbers); do
    [ "$n" -le "$OPS_WORKERS" ] || worker_wait_stopped "$n"
  done
}

workers_stop_all() {
  local n
  for n in $(worker_numbers); do worker_signal_stop "$n"; done
  for n in $(worker_numbers); do worker_wait_stopped "$n"; done
}

# Starts workers 1..OPS_WORKERS. Running ones are replaced one at a time, so nginx always
# has another worker to send requests to.
workers_up() {
  local n
  for n in $(seq 1 "$OPS_WORKERS"); do
    if [ -n "$(worker_pid "$n")" ]; then
      worker_signal_stop "$n"
      worker_wait_stopped "$n"
    fi
    worker_start "$n"
  done
  say "$OPS_WORKERS worker(s) running ($FCGI_THREADS threads each), logs in $LOG_DIR/fcgi-N.log"
}

# --- tokens and run.env ----------------------------------------------------------------

# A token from run.env when it is still good, else a new one from the binary, else a
# placeholder (the file must exist even before `opsplane token` does).
token_for() { # role
  local role=$1 key old tok
  key=OPS_${role^^}_TOKEN
  old=$(env_file_get "$RUN_ENV" "$key")
  # A fresh cluster has none of the old tokens; placeholders are retried every time.
  if [ -n "$old" ] && [ -z "${PG_FRESH:-}" ] && [ "${old#placeholder-}" = "$old" ]; then
    echo "$old"
    return
  fi
  if tok=$("$OPSPLANE_BIN" token create --role "$role" --name "stack-$role-$(date -u +%Y%m%dT%H%M%SZ)" 2>>"$LOG_DIR/stack.log") \
    && [ "$(printf '%s\n' "$tok" | wc -l)" -eq 1 ] && [[ "$tok" =~ ^[A-Za-z0-9._~+/=-]+$ ]]; then
    echo "$tok"
  else
    say "warning: 'opsplane token create --role $role' failed (see $LOG_DIR/stack.log): using a placeholder"
    echo "placeholder-$role-token"
  fi
}

write_run_env() { # pg_port
  local admin ingest viewer
  admin=$(token_for admin)
  ingest=$(token_for ingest)
  viewer=$(token_for viewer)
  (
    umask 077
    cat >"$RUN_ENV.new" <<EOF
# Written by deploy/stack.sh up; KEY=VALUE lines, no quoting (values hold no spaces).
OPS_URL=http://127.0.0.1:$PORT
OPS_ADMIN_TOKEN=$admin
OPS_INGEST_TOKEN=$ingest
OPS_VIEWER_TOKEN=$viewer
OPS_DATABASE_URL=$OPS_DATABASE_URL
OPS_STATE=$STATE
OPS_PORT=$PORT
OPS_WORKERS=$OPS_WORKERS
OPS_FCGI_THREADS=$FCGI_THREADS
OPS_RUN_DIR=$RUN_DIR
OPS_PG_BIN=$PG_BIN
OPS_PG_PORT=$1
OPS_PG_SOCKET_DIR=$PG_RUN
OPS_ACCESS_LOG=$LOG_DIR/access.log
OPS_LOG_DIR=$LOG_DIR
OPS_STACK=$REPO/deploy/stack.sh
OPS_TICKER_PORT=$TICKER_PORT
OPS_MONITOR_CONFIG=$STATE/monitor.json
OPS_LOG_SOURCES=$STATE/log-sources.json
EOF
  )
  mv "$RUN_ENV.new" "$RUN_ENV"
  chmod 600 "$RUN_ENV"
}

# The allowlist of GET /api/ops/logs for this stack: its own processes, nginx, Postgres, Redis.
log_sources_render() {
  cat >"$STATE/log-sources.json.new" <<EOF
{"services": [
  {"name": "workers",      "files": ["$LOG_DIR/fcgi-*.log"],      "format": "json"},
  {"name": "ticker",       "files": ["$LOG_DIR/ticker.log"],      "format": "json"},
  {"name": "monitor",      "files": ["$LOG_DIR/monitor.log"],     "format": "json"},
  {"name": "demo",         "files": ["$LOG_DIR/demo.log"],        "format": "auto"},
  {"name": "nginx-access", "files": ["$LOG_DIR/access.log"],      "format": "nginx_access"},
  {"name": "nginx-error",  "files": ["$LOG_DIR/nginx-error.log"], "format": "nginx_error"},
  {"name": "postgres",     "files": ["$PG_LOG"],                  "format": "postgres"},
  {"name": "redis",        "files": ["$LOG_DIR/redis.log"],       "format": "redis"},
  {"name": "stack",        "files": ["$LOG_DIR/stack.log"],       "format": "plain"}
]}
EOF
  mv "$STATE/log-sources.json.new" "$STATE/log-sources.json"
}

# --- demo data (lands with issue 4) ----------------------------------------------------
# HOOK: when DEMO != 0 and this cluster has no demo data yet, run `opsplane demo` — only
# once the binary has that subcommand. swift-argument-parser answers `demo --help` with the
# top-level help and exit 0 while `demo` does not exist, so the usage line is checked too.
# The marker file lives beside the cluster and is removed by initdb; issue 4 may replace it
# with a query.
load_demo_data() {
  [ "$DEMO" != 0 ] || return 0
  [ ! -e "$PG_DIR/demo-loaded" ] || return 0
  case "$("$OPSPLANE_BIN" demo --help 2>/dev/null || true)" in
    *"USAGE: opsplane demo"*) ;;
    *) return 0 ;;
  esac
  say "loading demo data (DEMO=0 to start empty)"
  "$OPSPLANE_BIN" demo --if-empty >>"$LOG_DIR/stack.log" 2>&1 || { show_log_tail "$LOG_DIR/stack.log"; die "opsplane demo failed"; }
  date -u +%FT%TZ >"$PG_DIR/demo-loaded"
}

# --- health ----------------------------------------------------------------------------

health_code() {
  curl -s -o /dev/null -m 3 -w '%{http_code}' "http://127.0.0.1:$PORT/api/ops/healthz" 2>/dev/null || true
}

wait_healthy() {
  local code="" deadline=$((SECONDS + HEALTH_WAIT_S)) f
  while [ "$SECONDS" -lt "$deadline" ]; do
    code=$(health_code)
    [ "$code" = 200 ] && return 0
    sleep 0.25
  done
  for f in "$LOG_DIR"/fcgi-*.log "$LOG_DIR/nginx-error.log" "$PG_LOG"; do show_log_tail "$f" 10; done
  die "http://127.0.0.1:$PORT/api/ops/healthz did not answer 200 within ${HEALTH_WAIT_S}s (last: ${code:-no answer})"
}

# --- commands --------------------------------------------------------------------------

cmd_up() {
  local pg_port nginx_running="" pid
  check_settings
  require_binary
  set_paths create
  pg_find_bin
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$NGINX_DIR"
  chmod 755 "$RUN_DIR"
  FCGI_THREADS=${OPS_FCGI_THREADS:-4}

  # nginx port: ours when our nginx already listens there, else it must be free.
  pid=$(nginx_pid)
  if [ -n "$pid" ] && [ "$(cat "$RUN_DIR/nginx.port" 2>/dev/null)" = "$PORT" ]; then
    nginx_running=1
  elif port_in_use "$PORT"; then
    die "port $PORT on 127.0.0.1 is in use by another program ($(port_owner "$PORT")): choose another with PORT=..."
  elif [ -n "$pid" ]; then
    nginx_running=1   # ours, moving to the new PORT on reload
  fi

  # Postgres: keep a running cluster, else start it (initdb on the first up).
  if pg_running; then
    pg_port=$(cat "$PG_PORT_FILE")
    say "Postgres already running on 127.0.0.1:$pg_port (pid $(pg_pid))"
  else
    pg_init
    pg_port=$(pg_choose_port)
    pg_start_on "$pg_port"
  fi
  pg_ensure_app_db "$pg_port"
  OPS_DATABASE_URL=$(pg_url "$pg_port")
  export OPS_DATABASE_URL
  unset OPS_FCGI_SOCKET   # per worker, set in worker_start

  say "applying migrations"
  "$OPSPLANE_BIN" migrate >>"$LOG_DIR/stack.log" 2>&1 || { show_log_tail "$LOG_DIR/stack.log"; die "opsplane migrate failed"; }
  load_demo_data
  TICKER_PORT=$(ticker_choose_port)
  write_run_env "$pg_port"
  log_sources_render
  export OPS_LOG_SOURCES=$STATE/log-sources.json
  # The commit the binaries were built from, for GET /api/ops/context ("-dirty": local changes).
  if [ -z "${OPS_GIT_SHA:-}" ]; then
    OPS_GIT_SHA=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
    [ "$OPS_GIT_SHA" = unknown ] || git -C "$REPO" diff --quiet HEAD 2>/dev/null || OPS_GIT_SHA="$OPS_GIT_SHA-dirty"
    export OPS_GIT_SHA
  fi

  workers_up
  ticker_up "$TICKER_PORT"

  nginx_check_access
  nginx_render "$PORT" "$OPS_WORKERS"
  nginx_test
  # A reload closes idle keep-alive connections of clients, so only when something changed.
  if [ -z "$nginx_running" ]; then
    nginx_start "$PORT"
  elif [ -n "$NGINX_CHANGED" ]; then
    nginx_reload "$PORT"
  else
    say "nginx (pid $(nginx_pid)) keeps running: configuration unchanged"
  fi
  workers_stop_extra

  wait_healthy
  redis_up
  monitor_render_config "$TICKER_PORT" "$REDIS_PORT"
  monitor_up
  demo_live_up
  cat >&2 <<EOF

Opsplane is up.
  dashboard    http://127.0.0.1:$PORT/admin/ops/
  admin token  $(env_file_get "$RUN_ENV" OPS_ADMIN_TOKEN)
  run.env      $RUN_ENV
  logs         $LOG_DIR/
  stop with    $(stop_hint)
EOF
}

stop_hint() {
  if [ "$STATE" = "$REPO/.opsplane" ]; then echo "make stop"; else echo "STATE=$STATE make stop"; fi
}

cmd_down() {
  set_paths nocreate || { say "nothing to stop: $STATE does not exist"; return 0; }
  demo_live_stop
  monitor_stop
  redis_stop
  nginx_stop
  ticker_stop
  workers_stop_all
  pg_find_bin
  pg_stop
  say "stopped everything under $STATE"
}

cmd_status() {
  local all=0 pid n pg_port port code
  set_paths nocreate || { say "no stack: $STATE does not exist"; return 3; }
  pg_find_bin
  echo "state     $STATE"
  pg_port=$(cat "$PG_PORT_FILE" 2>/dev/null || echo '?')
  if pg_running; then echo "postgres  running  pid $(pg_pid)  127.0.0.1:$pg_port"; else echo "postgres  stopped"; all=3; fi
  for n in $(worker_numbers); do
    pid=$(worker_pid "$n")
    if [ -n "$pid" ]; then echo "fcgi-$n    running  pid $pid  $(worker_sock "$n")"; else echo "fcgi-$n    stopped"; all=3; fi
  done
  [ -n "$(worker_numbers)" ] || { echo "workers   none"; all=3; }
  pid=$(ticker_pid)
  if [ -n "$pid" ]; then echo "ticker    running  pid $pid  127.0.0.1:$(cat "$RUN_DIR/ticker.port" 2>/dev/null)"; else echo "ticker    stopped"; all=3; fi
  pid=$(monitor_pid)
  if [ -n "$pid" ]; then echo "monitor   running  pid $pid  $(monitor_config)"; elif [ "${MONITOR:-1}" != 0 ]; then echo "monitor   stopped"; all=3; fi
  pid=$(redis_pid)
  [ -z "$pid" ] || echo "redis     running  pid $pid  127.0.0.1:$(cat "$RUN_DIR/redis.port" 2>/dev/null)"
  pid=$(demo_pid)
  [ -z "$pid" ] || echo "demo      running  pid $pid  (live activity)"
  pid=$(nginx_pid)
  port=$(cat "$RUN_DIR/nginx.port" 2>/dev/null || echo "")
  if [ -n "$pid" ]; then
    echo "nginx     running  pid $pid  http://127.0.0.1:$port/"
    code=$(PORT=$port health_code)
    echo "healthz   ${code:-no answer}"
    [ "$code" = 200 ] || all=3
  else
    echo "nginx     stopped"
    all=3
  fi
  return "$all"
}

cmd_pg_stop() {
  set_paths nocreate || die "no stack in $STATE"
  pg_find_bin
  pg_stop
}

# Same port as before: the running workers have it in OPS_DATABASE_URL.
cmd_pg_start() {
  local port
  set_paths nocreate || die "no stack in $STATE"
  pg_find_bin
  pg_initialised || die "no Postgres cluster in $PG_DATA: run up first"
  if pg_running; then say "Postgres already running"; return 0; fi
  port=$(cat "$PG_PORT_FILE" 2>/dev/null) || die "no port recorded in $PG_PORT_FILE"
  ! port_in_use "$port" || die "Postgres port $port is now taken by another program: run up to pick a new one"
  pg_prepare_dirs
  pg_start_on "$port"
}

cmd_env() {
  set_paths nocreate || die "no stack in $STATE"
  [ -f "$RUN_ENV" ] || die "$RUN_ENV does not exist: run up first"
  echo "$RUN_ENV"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  pg-stop) cmd_pg_stop ;;
  pg-start) cmd_pg_start ;;
  env) cmd_env ;;
  *) sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
esac
