# shellcheck shell=bash
# The embedded Postgres cluster: initdb in STATE/pg/data, no system service, listening on
# 127.0.0.1 on a free port (kept in STATE/pg/port) and on a unix socket in STATE/pg/run.
# Sourced by stack.sh after lib-common.sh; uses STATE and the PG_* paths set there.
#
# initdb and postgres refuse to run as root, so as root every Postgres binary runs as the
# `postgres` user (runuser) and STATE/pg belongs to it.

PG_SUPERUSER=postgres   # cluster superuser; reachable only over the local socket (trust)
PG_APP_ROLE=opsplane    # owns database opsplane; password auth (scram) over TCP
PG_APP_DB=opsplane

pg_find_bin() {
  local d
  if [ -n "${OPS_PG_BIN:-}" ]; then
    [ -x "$OPS_PG_BIN/pg_ctl" ] || die "OPS_PG_BIN=$OPS_PG_BIN has no pg_ctl"
    PG_BIN=$OPS_PG_BIN
    return
  fi
  # Newest installed major version first.
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n | tail -n1 || true)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] || die "no Postgres server found under /usr/lib/postgresql/*/bin: run deploy/install-deps.sh"
  PG_BIN=$d
}

# Runs a Postgres binary as the cluster owner, from / so the caller's cwd does not matter.
pg_as() { # binary args...
  local bin=$PG_BIN/$1
  shift
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$bin" "$@")
  else
    (cd / && "$bin" "$@")
  fi
}

pg_initialised() { [ -s "$PG_DATA/PG_VERSION" ]; }

pg_running() { pg_initialised && pg_as pg_ctl -D "$PG_DATA" status >/dev/null 2>&1; }

pg_pid() { head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null || true; }

# Makes STATE/pg usable by the cluster owner (the postgres user when we are root).
pg_prepare_dirs() {
  mkdir -p "$PG_DATA" "$PG_RUN"
  # The socket dir is private too: local connections are trusted.
  chmod 700 "$PG_DATA" "$PG_RUN"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist: install the postgresql package (deploy/install-deps.sh)"
    check_reachable_by postgres "$PG_DIR" "Postgres cluster"
    chown postgres: "$PG_DIR" "$PG_DATA" "$PG_RUN"
    # Log file in STATE/logs (root's): created here and handed to postgres.
    touch "$PG_LOG"
    chown postgres: "$PG_LOG"
  else
    touch "$PG_LOG"
  fi
}

# C.UTF-8 (byte order, but UTF-8 aware upper/lower) where the system has it.
pg_locale() {
  case "$(locale -a 2>/dev/null | tr 'A-Z' 'a-z')" in
    *c.utf8*|*c.utf-8*) echo C.UTF-8 ;;
    *) echo C ;;
  esac
}

# initdb once; the password of the app role is generated here and kept in STATE/pg/password.
pg_init() {
  pg_prepare_dirs
  pg_initialised && return 0
  say "initialising a Postgres cluster in $PG_DATA"
  if [ -n "$(ls -A "$PG_DATA")" ]; then
    die "$PG_DATA is not empty but holds no cluster: remove it and run up again"
  fi
  pg_as initdb -D "$PG_DATA" -U "$PG_SUPERUSER" -E UTF8 --locale="$(pg_locale)" \
    --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 \
    || { show_log_tail "$PG_LOG"; die "initdb failed"; }
  # Local socket: trust (the directory is private to the cluster owner); TCP: password only.
  cat >"$PG_DATA/pg_hba.conf" <<'EOF'
# Written by deploy/stack.sh.
local all all                trust
host  all all 127.0.0.1/32   scram-sha-256
host  all all ::1/128        scram-sha-256
EOF
  printf "\n# Settings of the embedded stack (deploy/stack.sh rewrites this file on each start).\ninclude_if_exists 'opsplane.conf'\n" >>"$PG_DATA/postgresql.conf"
  [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_DATA/pg_hba.conf"
  rm -f "$PG_PASSWORD_FILE" "$PG_DIR/demo-loaded"
  # shellcheck disable=SC2034 # read by stack.sh (token_for)
  PG_FRESH=1
}

pg_password() {
  if [ ! -s "$PG_PASSWORD_FILE" ]; then
    (umask 077 && random_hex 24 >"$PG_PASSWORD_FILE")
  fi
  chmod 600 "$PG_PASSWORD_FILE"
  cat "$PG_PASSWORD_FILE"
}

# The port of this cluster: the remembered one while it is free (or ours), else a new one.
pg_choose_port() {
  local port
  port=$(cat "$PG_PORT_FILE" 2>/dev/null || true)
  if [ -n "$port" ] && ! port_in_use "$port"; then
    echo "$port"
    return
  fi
  [ -z "$port" ] || say "Postgres port $port is taken by another program: picking a new one"
  pick_free_port
}

pg_write_conf() { # port
  local conf=$PG_DATA/opsplane.conf
  cat >"$conf" <<EOF
# Written by deploy/stack.sh on each start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = $1
unix_socket_directories = '$PG_RUN'
timezone = 'UTC'
log_timezone = 'UTC'
password_encryption = 'scram-sha-256'
log_line_prefix = '%m [%p] %q%u@%d '
# The default 128MB keeps only a fraction of the runs indexes in memory once the ledger
# holds millions of rows (ingest then waits on index page reads); the aggregates sort
# hundreds of thousands of values, which spill to disk at the default 4MB.
shared_buffers = '${OPS_PG_SHARED_BUFFERS:-512MB}'
work_mem = '32MB'
# Ingest at 1M runs a day writes ~25 MB of WAL a second; at the default max_wal_size (1GB) a
# checkpoint came every ~40 s, and the first change of each index page after it logs the whole
# 8 kB page (measured: 3.4 MB of WAL per 500-record batch right after a checkpoint, 0.5 MB
# between). Fewer checkpoints and compressed page images cut the WAL written ~4x; a crash
# replays at most this much WAL.
max_wal_size = '${OPS_PG_MAX_WAL_SIZE:-2GB}'
checkpoint_timeout = '15min'
wal_compression = 'lz4'
# Statement statistics for /api/monitoring/database (slow statements, average time).
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = 'top'
EOF
  [ "$(id -u)" -ne 0 ] || chown postgres: "$conf"
}

# Starts the cluster on `port` and waits until it accepts connections.
pg_start_on() { # port
  local port=$1
  pg_write_conf "$port"
  say "starting Postgres on 127.0.0.1:$port"
  if ! pg_as pg_ctl -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null; then
    show_log_tail "$PG_LOG"
    die "Postgres did not start"
  fi
  echo "$port" >"$PG_PORT_FILE"
}

pg_stop() {
  pg_running || return 0
  say "stopping Postgres (pid $(pg_pid))"
  pg_as pg_ctl -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null \
    || { show_log_tail "$PG_LOG"; die "pg_ctl stop failed"; }
}

# Role and database for the app. Runs on every up: the password always matches the file.
# CREATEDB: `swift test` makes throw-away databases next to OPS_DATABASE_URL's (make test).
pg_ensure_app_db() { # port
  local pw sql
  pw=$(pg_password)
  # The password goes through stdin, never on a command line.
  sql="SELECT 'CREATE ROLE $PG_APP_ROLE LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_APP_ROLE') \\gexec
ALTER ROLE $PG_APP_ROLE LOGIN CREATEDB PASSWORD '$pw';
SELECT 'CREATE DATABASE $PG_APP_DB OWNER $PG_APP_ROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$PG_APP_DB') \\gexec
GRANT pg_monitor TO $PG_APP_ROLE;
\\connect $PG_APP_DB
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
  printf '%s\n' "$sql" | pg_as psql -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$1" -U "$PG_SUPERUSER" -d postgres >/dev/null \
    || die "could not create role/database $PG_APP_ROLE in the cluster (see above)"
}

pg_url() { # port
  printf 'postgresql://%s:%s@127.0.0.1:%s/%s\n' "$PG_APP_ROLE" "$(pg_password)" "$1" "$PG_APP_DB"
}
