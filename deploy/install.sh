#!/usr/bin/env bash
# Installs Opsplane from this checkout onto a Debian host: packages, binaries, a system user,
# /etc/opsplane/opsplane.env with generated secrets, the database, the nginx site, the systemd
# units, migrations and a first admin token. Running it again is an upgrade: settings and
# secrets are kept, binaries and files replaced, migrations applied, workers restarted one by
# one. deploy/OPERATIONS.md is the guide.
#
# usage (as root):
#   deploy/install.sh --server-name ops.example.com [options]
#
# Options:
#   --server-name NAME   DNS name of the site (repeat for more names; the first is canonical)
#   --bin-dir DIR        prebuilt `opsplane` and `opsctl` (default: swift build -c release)
#   --database-url URL   an existing database (managed Postgres); the role must own it.
#                        Default: role and database `opsplane` created in the local PostgreSQL
#                        with a generated password
#   --pg-admin CONNINFO  a superuser connection for creating them (default: the local socket
#                        as the `postgres` user)
#   --workers N          local worker sockets /run/opsplane/fcgi-1..N.sock (default 2); with 0
#                        and no --worker, no nginx site is installed (a worker-only host)
#   --worker HOST:PORT   add a remote worker (opsplane-fcgi-tcp@HOST:PORT there) to the upstream
#   --ticker HOST:PORT   add a remote ticker to the upstream (the local one is always listed)
#   --ticker-port PORT   the local ticker's port on 127.0.0.1 (default 8091)
#   --http-port PORT --https-port PORT --listen-addr ADDR   (default 80, 443, every address)
#   --tls-cert FILE --tls-key FILE   the certificate (with chain) and key; default: a
#                        self-signed one generated in /etc/opsplane/tls on the first install
#   --no-deps            do not run deploy/install-deps.sh
#   --no-start           install and migrate, but start no service
#   --root DIR           test mode: install everything below DIR (DIR/opt/opsplane,
#                        DIR/etc/opsplane, DIR/etc/nginx/sites-available, DIR/etc/systemd/system,
#                        DIR/var/log/opsplane, DIR/run/opsplane …) as the current user. No
#                        packages, no user, no systemctl, no nginx reload, nothing written outside
#                        DIR; the processes are not started (Tests/e2e/test_install.py starts
#                        them from the installed units' ExecStart lines).
#
# stdout gets one line, OPS_ADMIN_TOKEN=ops_… (only when a first admin token was created);
# everything else goes to stderr.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
say() { printf '%s\n' "install: $*" >&2; }
die() { printf '%s\n' "install: error: $*" >&2; exit 1; }

ROOT="" BIN_DIR="" DATABASE_URL="" PG_ADMIN="" WORKERS=2 NAMES="" NO_DEPS="" NO_START=""
REMOTE_WORKERS="" REMOTE_TICKERS="" TICKER_PORT=8091 HTTP_PORT=80 HTTPS_PORT=443 LISTEN_ADDR=""
TLS_CERT="" TLS_KEY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=$2; shift ;;
    --bin-dir) BIN_DIR=$2; shift ;;
    --database-url) DATABASE_URL=$2; shift ;;
    --pg-admin) PG_ADMIN=$2; shift ;;
    --workers) WORKERS=$2; shift ;;
    --worker) REMOTE_WORKERS+="${REMOTE_WORKERS:+ }$2"; shift ;;
    --ticker) REMOTE_TICKERS+="${REMOTE_TICKERS:+ }$2"; shift ;;
    --ticker-port) TICKER_PORT=$2; shift ;;
    --server-name) NAMES+="${NAMES:+ }$2"; shift ;;
    --http-port) HTTP_PORT=$2; shift ;;
    --https-port) HTTPS_PORT=$2; shift ;;
    --listen-addr) LISTEN_ADDR=$2; shift ;;
    --tls-cert) TLS_CERT=$2; shift ;;
    --tls-key) TLS_KEY=$2; shift ;;
    --no-deps) NO_DEPS=1 ;;
    --no-start) NO_START=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
  shift
done

[ -n "$NAMES" ] || die "--server-name is required (the site's DNS name)"
[[ "$WORKERS" =~ ^[0-9]+$ ]] && [ "$WORKERS" -le 64 ] || die "--workers: 0 to 64"
[[ "$TICKER_PORT" =~ ^[0-9]+$ ]] || die "--ticker-port: not a port"

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  case "$ROOT" in /|*[!A-Za-z0-9._/+-]*) die "--root must be a directory path of letters, digits and ._/+-" ;; esac
  NO_DEPS=1
else
  [ "$(id -u)" -eq 0 ] || die "run as root (or use --root DIR for a test install)"
fi

# Every installed path, below ROOT in test mode. The unit files name the real paths; they are
# rewritten with the same prefix when installed.
PREFIX=$ROOT/opt/opsplane
SHARE=$PREFIX/share/opsplane
ETC=$ROOT/etc/opsplane
ENV_FILE=$ETC/opsplane.env
LOG_DIR=$ROOT/var/log/opsplane
RUN_DIR=$ROOT/run/opsplane
ACME_ROOT=$ROOT/var/lib/opsplane/acme
NGINX_AVAILABLE=$ROOT/etc/nginx/sites-available
NGINX_ENABLED=$ROOT/etc/nginx/sites-enabled
NGINX_LOG_DIR=$ROOT/var/log/nginx
UNIT_DIR=$ROOT/etc/systemd/system
TMPFILES_DIR=$ROOT/etc/tmpfiles.d
LOGROTATE_DIR=$ROOT/etc/logrotate.d
OPSPLANE=$PREFIX/bin/opsplane

# Runs a command with the settings of opsplane.env (KEY=VALUE lines as systemd reads them; our
# values never need quotes) and nothing else of this script's environment but PATH.
with_env() {
  local args=() line
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    args+=("$line")
  done <"$ENV_FILE"
  env -i PATH=/usr/local/bin:/usr/bin:/bin "${args[@]}" "$@"
}

# --- 1. packages and binaries -------------------------------------------------------------
if [ -z "$NO_DEPS" ]; then
  say "Debian packages (deploy/install-deps.sh, runtime profile)"
  INSTALL_DEPS_PROFILE=runtime "$REPO/deploy/install-deps.sh"
fi
if [ -z "$BIN_DIR" ]; then
  say "building opsplane and opsctl (swift build -c release)"
  (cd "$REPO" && swift build -c release --product opsplane && swift build -c release --product opsctl) >&2
  BIN_DIR=$REPO/.build/release
fi
for b in opsplane opsctl; do [ -x "$BIN_DIR/$b" ] || die "$BIN_DIR/$b not found or not executable"; done
# install-deps.sh keeps the packages' services from starting while it installs them.
if [ -z "$ROOT" ] && [ -z "$NO_START" ]; then
  [ -n "$DATABASE_URL" ] || [ -n "$PG_ADMIN" ] || systemctl enable --now postgresql.service
  systemctl enable --now nginx.service
fi

# --- 2. user and directories -----------------------------------------------------------------
if [ -z "$ROOT" ] && ! id opsplane >/dev/null 2>&1; then
  say "creating the system user opsplane"
  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin opsplane
fi
mkdir -p "$PREFIX/bin" "$SHARE" "$ETC/tls" "$LOG_DIR" "$RUN_DIR" "$ACME_ROOT" "$NGINX_AVAILABLE" \
  "$NGINX_ENABLED" "$NGINX_LOG_DIR" "$UNIT_DIR" "$TMPFILES_DIR" "$LOGROTATE_DIR"
chmod 755 "$RUN_DIR" "$PREFIX" "$PREFIX/bin"
chmod 750 "$ETC" "$ETC/tls"
chmod 2750 "$LOG_DIR"
if [ -z "$ROOT" ]; then
  chown root:opsplane "$ETC" "$ETC/tls"
  chown opsplane:opsplane "$RUN_DIR" "$LOG_DIR"
fi

# --- 3. files ----------------------------------------------------------------------------------
say "installing binaries and files into $PREFIX"
for b in opsplane opsctl; do
  install -m 755 "$BIN_DIR/$b" "$PREFIX/bin/$b.new"
  mv -f "$PREFIX/bin/$b.new" "$PREFIX/bin/$b"   # a running process keeps its old file
done
rm -rf "$SHARE/frontend.new"
cp -R "$REPO/frontend" "$SHARE/frontend.new"
rm -rf "$SHARE/frontend" && mv "$SHARE/frontend.new" "$SHARE/frontend"
rm -rf "$SHARE/nginx" "$SHARE/deploy"
mkdir -p "$SHARE/nginx" "$SHARE/deploy"
cp -R "$REPO/nginx/." "$SHARE/nginx/"
cp "$REPO/deploy/render-nginx.sh" "$REPO/deploy/lib-common.sh" "$REPO/deploy/lib-nginx.sh" \
  "$REPO/deploy/gen-selfsigned-cert.sh" "$SHARE/deploy/"
cp "$REPO/deploy/OPERATIONS.md" "$SHARE/"
chmod -R u=rwX,go=rX "$SHARE"
GIT_SHA=$(git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown)
[ "$GIT_SHA" = unknown ] || git -C "$REPO" diff --quiet HEAD 2>/dev/null || GIT_SHA="$GIT_SHA-dirty"

# --- 4. database ---------------------------------------------------------------------------------
FIRST_INSTALL=""
[ -f "$ENV_FILE" ] || FIRST_INSTALL=1
pg_admin_psql() {
  if [ -n "$PG_ADMIN" ]; then
    psql "$PG_ADMIN" -X -q -v ON_ERROR_STOP=1 "$@"
  elif [ -z "$ROOT" ]; then
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@")
  else
    die "--root needs --database-url or --pg-admin"
  fi
}
if [ -n "$FIRST_INSTALL" ] && [ -z "$DATABASE_URL" ]; then
  say "creating role and database opsplane"
  pw=$(random_hex 24)
  # The password goes through stdin (psql variables), never on a command line.
  pg_admin_psql -v pw="$pw" >/dev/null <<'EOF'
SELECT 'CREATE ROLE opsplane LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'opsplane') \gexec
ALTER ROLE opsplane LOGIN PASSWORD :'pw';
SELECT 'CREATE DATABASE opsplane OWNER opsplane' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'opsplane') \gexec
GRANT pg_monitor TO opsplane;
EOF
  # pg_stat_statements (slow statements in /api/monitoring/database) when the server loads it.
  conninfo=${PG_ADMIN:-}
  if [ -n "$conninfo" ]; then
    psql "$conninfo dbname=opsplane" -X -q -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null 2>&1 || true
    pg_port=$(psql "$PG_ADMIN" -X -A -t -c "SHOW port")
  else
    (cd / && runuser -u postgres -- psql -X -q -d opsplane -c 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements') >/dev/null 2>&1 || true
    pg_port=$(pg_admin_psql -A -t -c "SHOW port")
  fi
  DATABASE_URL="postgresql://opsplane:$pw@127.0.0.1:${pg_port}/opsplane"
fi

# --- 5. settings ---------------------------------------------------------------------------------
primary=${NAMES%% *}
dashboard="https://$primary"
[ "$HTTPS_PORT" = 443 ] || dashboard="$dashboard:$HTTPS_PORT"
if [ -n "$FIRST_INSTALL" ]; then
  say "writing $ENV_FILE (secrets generated here; mode 640)"
  (
    umask 027
    cat >"$ENV_FILE.new" <<EOF
# Opsplane settings, read by every unit (EnvironmentFile=) and by deploy/install.sh.
# KEY=VALUE lines, no quotes. README.md "Configuration" lists every variable.
# Written by deploy/install.sh on $(date -u +%FT%TZ); an upgrade keeps this file.
OPS_DATABASE_URL=$DATABASE_URL
# HMAC key of dashboard session cookies; changing it signs everybody out.
OPS_SESSION_SECRET=$(random_hex 32)
OPS_FCGI_THREADS=4
OPS_TICKER_HOST=127.0.0.1
OPS_TICKER_PORT=$TICKER_PORT
OPS_MONITOR_CONFIG=$ETC/monitor.json
OPS_LOG_SOURCES=$ETC/log-sources.json
OPS_DASHBOARD_URL=$dashboard/admin/ops/
OPS_LOG_LEVEL=info
OPS_GIT_SHA=$GIT_SHA
# TCP workers only (opsplane-fcgi-tcp@): the nginx hosts allowed to connect, comma-separated.
#FCGI_WEB_SERVER_ADDRS=10.0.0.2
# The host app's HS256 JWTs (>= 32 characters), and the cookie that may carry one.
#OPS_JWT_HS256_SECRET=
#OPS_JWT_COOKIE=
#DISCORD_WEBHOOK_URL=
#DISCORD_ENABLE_ALERTS=true
EOF
  )
  mv "$ENV_FILE.new" "$ENV_FILE"
else
  say "keeping $ENV_FILE (upgrade); updating OPS_GIT_SHA"
  sed -i "s|^OPS_GIT_SHA=.*|OPS_GIT_SHA=$GIT_SHA|" "$ENV_FILE"
fi
[ -n "$ROOT" ] || chown root:opsplane "$ENV_FILE"
chmod 640 "$ENV_FILE"
DATABASE_URL=$(env_file_get "$ENV_FILE" OPS_DATABASE_URL)
TICKER_PORT=$(env_file_get "$ENV_FILE" OPS_TICKER_PORT)

# The monitor's services: this database, the site's health check, the ticker, the workers'
# heartbeats; disk of the logs (and Postgres when local); nginx's access log.
if [ ! -f "$ETC/monitor.json" ]; then
  pgdata=""
  [ ! -d /var/lib/postgresql ] || [ -n "$ROOT" ] || pgdata='{"name": "postgres", "path": "/var/lib/postgresql"},
    '
  health_host=${LISTEN_ADDR:-127.0.0.1}
  (
    umask 027
    cat >"$ETC/monitor.json" <<EOF
{
  "services": [
    {"name": "postgres", "kind": "postgres", "target": "$DATABASE_URL", "interval_s": 15, "timeout_ms": 2000},
    {"name": "api", "kind": "http", "target": "http://$health_host:$HTTP_PORT/api/ops/healthz", "interval_s": 15, "timeout_ms": 2000},
    {"name": "ticker", "kind": "tcp", "target": "127.0.0.1:$TICKER_PORT", "interval_s": 15, "timeout_ms": 1000},
    {"name": "workers", "kind": "heartbeat", "target": "worker", "interval_s": 30, "timeout_ms": 1000}
  ],
  "data_directories": [
    $pgdata{"name": "logs", "path": "$LOG_DIR"}
  ],
  "access_log": {"path": "$NGINX_LOG_DIR/opsplane.access.log"}
}
EOF
  )
fi
if [ ! -f "$ETC/log-sources.json" ]; then
  cat >"$ETC/log-sources.json" <<EOF
{"services": [
  {"name": "workers",      "files": ["$LOG_DIR/fcgi-*.log"],                "format": "json"},
  {"name": "ticker",       "files": ["$LOG_DIR/ticker.log"],                "format": "json"},
  {"name": "monitor",      "files": ["$LOG_DIR/monitor.log"],               "format": "json"},
  {"name": "migrate",      "files": ["$LOG_DIR/migrate.log"],               "format": "auto"},
  {"name": "nginx-access", "files": ["$NGINX_LOG_DIR/opsplane.access.log"], "format": "nginx_access"},
  {"name": "nginx-error",  "files": ["$NGINX_LOG_DIR/opsplane.error.log"],  "format": "nginx_error"},
  {"name": "postgres",     "files": ["$ROOT/var/log/postgresql/postgresql-*.log"], "format": "postgres"}
]}
EOF
fi
[ -n "$ROOT" ] || chown root:opsplane "$ETC/monitor.json" "$ETC/log-sources.json"
chmod 640 "$ETC/monitor.json" "$ETC/log-sources.json"
with_env "$OPSPLANE" monitor --check >&2 || die "the monitor configuration $ETC/monitor.json is not valid"

# --- 6. TLS and nginx ----------------------------------------------------------------------------
if [ -z "$TLS_CERT" ]; then
  TLS_CERT=$ETC/tls/cert.pem TLS_KEY=$ETC/tls/key.pem
  if [ ! -f "$TLS_CERT" ]; then
    say "no --tls-cert: generating a self-signed certificate for $NAMES (replace it: OPERATIONS.md)"
    # shellcheck disable=SC2086 # one argument per name
    "$REPO/deploy/gen-selfsigned-cert.sh" "$TLS_CERT" "$TLS_KEY" $NAMES
  fi
fi
[ -r "$TLS_CERT" ] && [ -r "$TLS_KEY" ] || die "cannot read $TLS_CERT / $TLS_KEY"
# Local sockets and remote workers interleaved: a request that cannot connect to one is retried
# on the next server of the list (every server is tried once), which is then on the other host.
fcgi="" i=1
read -r -a remote <<<"$REMOTE_WORKERS"
while [ "$i" -le "$WORKERS" ] || [ "$i" -le "${#remote[@]}" ]; do
  [ "$i" -gt "$WORKERS" ] || fcgi+="${fcgi:+ }unix:$RUN_DIR/fcgi-$i.sock"
  [ "$i" -gt "${#remote[@]}" ] || fcgi+="${fcgi:+ }${remote[$((i - 1))]}"
  i=$((i + 1))
done
cat >"$ETC/nginx.env" <<EOF
# Settings of the nginx site; after a change run:
#   $SHARE/deploy/render-nginx.sh $ETC/nginx.env && nginx -t && systemctl reload nginx
OPS_NGINX_CONF_DIR=$ETC/nginx
OPS_NGINX_SITE=$NGINX_AVAILABLE/opsplane.conf
OPS_FRONTEND_DIR=$SHARE/frontend
OPS_SERVER_NAME=$NAMES
OPS_LISTEN_ADDR=$LISTEN_ADDR
OPS_HTTP_PORT=$HTTP_PORT
OPS_HTTPS_PORT=$HTTPS_PORT
OPS_TLS_CERT=$TLS_CERT
OPS_TLS_KEY=$TLS_KEY
OPS_TLS_OCSP=auto
OPS_FCGI_UPSTREAMS=$fcgi
OPS_TICKER_UPSTREAMS=127.0.0.1:$TICKER_PORT${REMOTE_TICKERS:+ }$REMOTE_TICKERS
OPS_ACCESS_LOG=$NGINX_LOG_DIR/opsplane.access.log
OPS_ERROR_LOG=$NGINX_LOG_DIR/opsplane.error.log
OPS_ACME_ROOT=$ACME_ROOT
EOF
SITE_INSTALLED=""
if [ -n "$fcgi" ]; then
  "$SHARE/deploy/render-nginx.sh" "$ETC/nginx.env"
  chmod -R go+rX "$ETC/nginx"
  ln -sfn "$NGINX_AVAILABLE/opsplane.conf" "$NGINX_ENABLED/opsplane.conf"
  SITE_INSTALLED=1
else
  say "no workers for this host's nginx (--workers 0, no --worker): nginx site not installed"
fi
# Debian's stock site also answers port 80 as the default server; ours must get plain-HTTP
# requests by address (the monitor's health probe, the redirect).
if [ -z "$ROOT" ] && [ -n "$SITE_INSTALLED" ] && [ "$(readlink "$NGINX_ENABLED/default" 2>/dev/null)" = /etc/nginx/sites-available/default ]; then
  say "disabling Debian's default nginx site (rm /etc/nginx/sites-enabled/default; the file stays in sites-available)"
  rm -f "$NGINX_ENABLED/default"
fi

# --- 7. systemd units, tmpfiles, logrotate ----------------------------------------------------
install_rendered() { # source destination
  sed -e "s|/opt/opsplane|$PREFIX|g" -e "s|/etc/opsplane|$ETC|g" -e "s|/var/log/opsplane|$LOG_DIR|g" \
    -e "s|/run/opsplane|$RUN_DIR|g" "$1" >"$2.new"
  chmod 644 "$2.new"
  mv "$2.new" "$2"
}
for u in "$REPO"/deploy/systemd/*.service; do install_rendered "$u" "$UNIT_DIR/${u##*/}"; done
install_rendered "$REPO/deploy/systemd/opsplane.tmpfiles" "$TMPFILES_DIR/opsplane.conf"
install_rendered "$REPO/deploy/logrotate/opsplane" "$LOGROTATE_DIR/opsplane"
# Test mode: the files belong to the current user, not to opsplane.
[ -z "$ROOT" ] || sed -i "s|^\( *\)su opsplane opsplane\$|\1su $(id -un) $(id -gn)|" "$LOGROTATE_DIR/opsplane"

# --- 8. migrations, first admin token, services ---------------------------------------------------
say "applying migrations"
if [ -z "$ROOT" ] && [ -z "$NO_START" ]; then
  systemd-tmpfiles --create "$TMPFILES_DIR/opsplane.conf"
  systemctl daemon-reload
  systemctl start opsplane-migrate.service || { tail -n 20 "$LOG_DIR/migrate.log" >&2; die "migrations failed (log: $LOG_DIR/migrate.log)"; }
else
  with_env "$OPSPLANE" migrate >>"$LOG_DIR/migrate.log" 2>&1 || { tail -n 20 "$LOG_DIR/migrate.log" >&2; die "migrations failed"; }
fi

# Live admin tokens: not revoked (token list leaves those out) and not expired.
admins=$(with_env "$OPSPLANE" token list --json | python3 -c '
import json, sys
from datetime import datetime, timezone
now = datetime.now(timezone.utc)
def live(t):
    exp = t.get("expires_at")
    return not exp or datetime.fromisoformat(exp.replace("Z", "+00:00")) > now
print(sum(1 for t in json.load(sys.stdin) if t.get("role") == "admin" and not t.get("revoked_at") and live(t)))')
if [ "$admins" -eq 0 ]; then
  token=$(with_env "$OPSPLANE" token create --role admin --name "admin-initial-$(date -u +%Y%m%d)")
  [[ "$token" =~ ^ops_[A-Za-z0-9_-]+$ ]] || die "opsplane token create printed something unexpected"
  printf 'OPS_ADMIN_TOKEN=%s\n' "$token"
  say "first admin token printed above (shown once; stored only as its hash)"
else
  say "$admins admin token(s) exist: no new one (opsplane token create --role admin --name NAME)"
fi

if [ -n "$ROOT" ] || [ -n "$NO_START" ]; then
  say "installed below ${ROOT:-/} (services not started)"
  exit 0
fi
units="opsplane-ticker.service opsplane-monitor.service"
for i in $(seq 1 "$WORKERS"); do units="opsplane-fcgi@$i.service $units"; done
# shellcheck disable=SC2086
systemctl enable opsplane-migrate.service $units >&2
# One at a time: a running worker stops gracefully while the others keep serving.
for u in $units; do
  say "restarting $u"
  systemctl restart "$u"
done
[ -z "$SITE_INSTALLED" ] || { nginx -t && systemctl reload-or-restart nginx.service; }
say "done: https://$primary$([ "$HTTPS_PORT" = 443 ] || echo ":$HTTPS_PORT")/admin/ops/  (guide: $SHARE/OPERATIONS.md)"
