# shellcheck shell=bash
# nginx for the embedded stack: renders nginx/*.conf into STATE/nginx and runs one master
# process whose pid file is STATE/run/nginx.pid. Sourced by stack.sh after lib-common.sh.
#
# Templates use @NAME@ placeholders replaced with sed (envsubst would also eat nginx's own
# $variables). Paths are checked by stack.sh to hold no characters special to sed or nginx.

NGINX_BIN=${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}

nginx_pid() { pidfile_pid "$RUN_DIR/nginx.pid" "$NGINX_DIR"; }

# Renders the configuration for `workers` worker sockets listening on `port`. Sets
# NGINX_CHANGED=1 when a rendered file differs from the one already there.
nginx_render() { # port workers
  local port=$1 workers=$2 i upstreams="" f
  NGINX_CHANGED=""
  for i in $(seq 1 "$workers"); do
    upstreams="$upstreams        server unix:$RUN_DIR/fcgi-$i.sock max_fails=0;\\n"
  done
  mkdir -p "$NGINX_DIR/tmp"
  # Every nginx/*.conf (the included pieces); the template becomes nginx.conf below.
  for f in "$REPO"/nginx/*.conf; do
    # OPS_BEACON_RATE (benchmarks only): the beacon endpoint's per-client limit instead of 20r/s.
    nginx_subst "$f" "$NGINX_DIR/${f##*/}" "s|@FRONTEND@|$FRONTEND_DIR|g" "s|@TICKER_PORT@|$TICKER_PORT|g" \
      "s|zone=ops_beacon:2m rate=20r/s|zone=ops_beacon:2m rate=${OPS_BEACON_RATE:-20r/s}|"
  done
  nginx_subst "$REPO/nginx/embedded.conf.template" "$NGINX_CONF" \
    "s|@PORT@|$port|g" "s|^@UPSTREAMS@\$|${upstreams%\\n}|"
  # Comment lines keep their placeholders (they document them); any other is a bug.
  if grep -n '^[^#]*@[A-Z_]*@' "$NGINX_DIR"/*.conf >&2; then
    die "unreplaced placeholders in the rendered nginx configuration (above)"
  fi
}

# sed over the lines that are not comments; the output is replaced only when it changes.
nginx_subst() { # template output sed-expression...
  local in=$1 out=$2 e script=""
  shift 2
  for e in "s|@STATE@|$STATE|g" "s|@CONF_DIR@|$NGINX_DIR|g" "$@"; do
    script+="/^[[:space:]]*#/!$e"$'\n'
  done
  sed -e "$script" "$in" >"$out.new"
  if cmp -s "$out.new" "$out"; then
    rm -f "$out.new"
  else
    mv "$out.new" "$out"
    # shellcheck disable=SC2034 # read by stack.sh
    NGINX_CHANGED=1
  fi
}

nginx_args() { printf '%s\n' -p "$NGINX_DIR" -c "$NGINX_CONF" -e "$LOG_DIR/nginx-error.log"; }

nginx_test() {
  local out
  mapfile -t args < <(nginx_args)
  out=$("$NGINX_BIN" -t -q "${args[@]}" 2>&1) || { printf '%s\n' "$out" >&2; die "nginx -t rejected $NGINX_CONF"; }
}

# Started as root, nginx's workers run as nobody: they read frontend/ and connect to the
# worker sockets, so both paths must be reachable by that user.
nginx_check_access() {
  [ "$(id -u)" -eq 0 ] || return 0
  check_reachable_by nobody "$FRONTEND_DIR" "nginx (workers run as nobody)"
  runuser -u nobody -- test -r "$FRONTEND_DIR/index.html" \
    || die "nginx workers (user nobody) cannot read $FRONTEND_DIR/index.html: chmod -R o+rX '$FRONTEND_DIR'"
  check_reachable_by nobody "$RUN_DIR" "nginx (workers run as nobody)"
}

nginx_start() { # port
  local pid
  mapfile -t args < <(nginx_args)
  say "starting nginx on 127.0.0.1:$1"
  # TZ=UTC: $time_iso8601 in the access log is UTC like every other timestamp.
  if ! TZ=UTC "$NGINX_BIN" "${args[@]}" 2>>"$LOG_DIR/nginx-error.log"; then
    show_log_tail "$LOG_DIR/nginx-error.log"
    die "nginx did not start"
  fi
  for _ in $(seq 1 50); do
    pid=$(nginx_pid)
    [ -z "$pid" ] || break
    sleep 0.1
  done
  [ -n "$pid" ] || { show_log_tail "$LOG_DIR/nginx-error.log"; die "nginx wrote no pid file"; }
  echo "$1" >"$RUN_DIR/nginx.port"
}

# Graceful reload of a running master: new config, same pid. Returns when the old worker
# processes have exited, so every request after this sees the new configuration.
nginx_reload() { # port
  local pid old p deadline
  pid=$(nginx_pid)
  old=$(ps -o pid= --ppid "$pid" | tr -d ' ' | tr '\n' ' ')
  say "reloading nginx (pid $pid) on 127.0.0.1:$1"
  kill -s HUP "$pid"
  deadline=$((SECONDS + 15))
  for p in $old; do
    # Old workers finish their requests in flight, then exit.
    while pid_alive "$p" && [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$pid" ]; do
      [ "$SECONDS" -lt "$deadline" ] || { say "warning: old nginx workers still finishing requests"; break 2; }
      sleep 0.1
    done
  done
  echo "$1" >"$RUN_DIR/nginx.port"
}

nginx_stop() {
  local pid
  pid=$(nginx_pid)
  if [ -n "$pid" ]; then
    say "stopping nginx (pid $pid)"
    # QUIT lets workers finish requests in flight; TERM (then KILL) if that takes too long.
    kill -s QUIT "$pid" 2>/dev/null || true
    wait_pid_gone "$pid" 10 || stop_pid "$pid" nginx TERM 5
  fi
  rm -f "$RUN_DIR/nginx.pid" "$RUN_DIR/nginx.port"
}
