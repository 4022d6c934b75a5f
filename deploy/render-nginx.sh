#!/usr/bin/env bash
# Renders the production nginx site (nginx/production/) and the shared pieces it includes
# (nginx/opsplane-http.conf, opsplane-server.conf, fastcgi*.conf) from KEY=VALUE settings.
# install.sh runs it and keeps the settings in /etc/opsplane/nginx.env; after changing that
# file (more workers, another host, a new certificate path) run it again, then
# `nginx -t && systemctl reload nginx`:
#
#   /opt/opsplane/share/opsplane/deploy/render-nginx.sh /etc/opsplane/nginx.env
#
# Settings (environment, or the file given as the only argument; the file wins):
#   OPS_NGINX_CONF_DIR    where the shared pieces go (default /etc/opsplane/nginx)
#   OPS_NGINX_SITE        the site file (default /etc/nginx/sites-available/opsplane.conf)
#   OPS_FRONTEND_DIR      the dashboard's files (default /opt/opsplane/share/opsplane/frontend)
#   OPS_SERVER_NAME       space-separated names; the first is the HTTP redirect's target
#   OPS_LISTEN_ADDR       empty: all IPv4 and IPv6 addresses; else one address (127.0.0.1)
#   OPS_HTTP_PORT         default 80;  OPS_HTTPS_PORT  default 443
#   OPS_TLS_CERT          certificate with its chain (PEM); OPS_TLS_KEY its key
#   OPS_TLS_CHAIN         issuer chain for OCSP stapling (default: OPS_TLS_CERT)
#   OPS_TLS_OCSP          auto (default: on when the certificate names an OCSP responder), on, off
#   OPS_RESOLVER          DNS servers for OCSP (default: the nameservers of /etc/resolv.conf)
#   OPS_FCGI_UPSTREAMS    space-separated workers: unix:/run/opsplane/fcgi-1.sock or HOST:PORT
#   OPS_TICKER_UPSTREAMS  space-separated tickers, HOST:PORT (default 127.0.0.1:8091)
#   OPS_ACCESS_LOG        default /var/log/nginx/opsplane.access.log (the monitor tails it)
#   OPS_ERROR_LOG         default /var/log/nginx/opsplane.error.log
#   OPS_ACME_ROOT         default /var/lib/opsplane/acme
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
. "$REPO/deploy/lib-nginx.sh"
say() { printf '%s\n' "render-nginx: $*" >&2; }
die() { printf '%s\n' "render-nginx: error: $*" >&2; exit 1; }

# KEY=VALUE lines (no quoting, # comments), read without sourcing.
if [ $# -ge 1 ]; then
  [ -f "$1" ] || die "no settings file $1"
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    key=${line%%=*}
    [[ "$key" =~ ^OPS_[A-Z_]+$ ]] || die "$1: not a KEY=VALUE line: $line"
    printf -v "$key" '%s' "${line#*=}"
  done <"$1"
fi

CONF_DIR=${OPS_NGINX_CONF_DIR:-/etc/opsplane/nginx}
SITE=${OPS_NGINX_SITE:-/etc/nginx/sites-available/opsplane.conf}
FRONTEND=${OPS_FRONTEND_DIR:-/opt/opsplane/share/opsplane/frontend}
NAMES=${OPS_SERVER_NAME:-}
LISTEN_ADDR=${OPS_LISTEN_ADDR:-}
HTTP_PORT=${OPS_HTTP_PORT:-80}
HTTPS_PORT=${OPS_HTTPS_PORT:-443}
CERT=${OPS_TLS_CERT:-}
KEY=${OPS_TLS_KEY:-}
CHAIN=${OPS_TLS_CHAIN:-$CERT}
OCSP=${OPS_TLS_OCSP:-auto}
FCGI=${OPS_FCGI_UPSTREAMS:-unix:/run/opsplane/fcgi-1.sock}
TICKERS=${OPS_TICKER_UPSTREAMS:-127.0.0.1:8091}
ACCESS_LOG=${OPS_ACCESS_LOG:-/var/log/nginx/opsplane.access.log}
ERROR_LOG=${OPS_ERROR_LOG:-/var/log/nginx/opsplane.error.log}
ACME_ROOT=${OPS_ACME_ROOT:-/var/lib/opsplane/acme}

[ -n "$NAMES" ] || die "OPS_SERVER_NAME is not set (the site's DNS name, e.g. ops.example.com)"
[ -n "$CERT" ] && [ -n "$KEY" ] || die "OPS_TLS_CERT and OPS_TLS_KEY must name the certificate and key (deploy/gen-selfsigned-cert.sh makes a first one)"
# Values go into sed expressions and nginx directives unquoted.
for v in "$CONF_DIR" "$SITE" "$FRONTEND" "$NAMES" "$LISTEN_ADDR" "$CERT" "$KEY" "$CHAIN" "$FCGI" "$TICKERS" "$ACCESS_LOG" "$ERROR_LOG" "$ACME_ROOT"; do
  case "$v" in *[!A-Za-z0-9._/:+*\ \[\]-]*) die "a setting holds a character not allowed here: '$v'" ;; esac
done
for p in "$HTTP_PORT" "$HTTPS_PORT"; do
  [[ "$p" =~ ^[0-9]{1,5}$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "not a port: $p"
done

listen_lines() { # port extra
  if [ -n "$LISTEN_ADDR" ]; then
    printf '    listen %s:%s%s;\\n' "$LISTEN_ADDR" "$1" "$2"
  else
    printf '    listen %s%s;\\n    listen [::]:%s%s;\\n' "$1" "$2" "$1" "$2"
  fi
}

fcgi_lines="" tickers_lines=""
for s in $FCGI; do
  case "$s" in
    unix:/*) fcgi_lines+="    server $s max_fails=0;\\n" ;;
    *:[0-9]*) fcgi_lines+="    server $s max_fails=1 fail_timeout=10s;\\n" ;;
    *) die "OPS_FCGI_UPSTREAMS: '$s' is neither unix:/ABSOLUTE/PATH nor HOST:PORT" ;;
  esac
done
for s in $TICKERS; do
  [[ "$s" =~ ^[^/]+:[0-9]+$ ]] || die "OPS_TICKER_UPSTREAMS: '$s' is not HOST:PORT"
  tickers_lines+="    server $s max_fails=1 fail_timeout=5s;\\n"
done
[ -n "$fcgi_lines" ] || die "OPS_FCGI_UPSTREAMS names no worker"
[ -n "$tickers_lines" ] || die "OPS_TICKER_UPSTREAMS names no ticker"

primary=${NAMES%% *}
redirect_base="https://$primary"
[ "$HTTPS_PORT" = 443 ] || redirect_base="$redirect_base:$HTTPS_PORT"

# OCSP stapling only where a responder exists (see nginx/production/ocsp-stapling.conf).
ocsp_line="    # OCSP stapling off"
case "$OCSP" in
  on) ocsp_line="    include $CONF_DIR/production/ocsp-stapling.conf;" ;;
  off) ocsp_line="    # OCSP stapling off (OPS_TLS_OCSP=off)" ;;
  auto)
    if [ -r "$CERT" ] && [ -n "$(openssl x509 -in "$CERT" -noout -ocsp_uri 2>/dev/null)" ]; then
      ocsp_line="    include $CONF_DIR/production/ocsp-stapling.conf;"
    else
      ocsp_line="    # OCSP stapling off: the certificate names no OCSP responder (self-signed, or a CA without OCSP)"
    fi ;;
  *) die "OPS_TLS_OCSP=$OCSP: expected auto, on or off" ;;
esac
resolver=${OPS_RESOLVER:-$(awk '$1 == "nameserver" { printf "%s%s", sep, $2; sep = " " }' /etc/resolv.conf 2>/dev/null || true)}
resolver=${resolver:-127.0.0.1}
case "$resolver" in *[!A-Za-z0-9.:\[\]\ ]*) die "OPS_RESOLVER holds a character not allowed here: '$resolver'" ;; esac

http_listen=$(listen_lines "$HTTP_PORT" "")
https_listen=$(listen_lines "$HTTPS_PORT" " ssl http2")

mkdir -p "$CONF_DIR/production" "$(dirname "$SITE")"
# For nginx_subst (lib-nginx.sh): @CONF_DIR@ is NGINX_DIR; @STATE@ is not used by these files.
NGINX_DIR=$CONF_DIR
STATE=$CONF_DIR
for f in "$REPO"/nginx/*.conf; do
  # The shared server file proxies /api/ws to one local ticker port; here it is the upstream.
  # The embedded stack tries 2 workers (all it has); here a request that cannot connect tries
  # every server of the upstream once (0 = no limit but their number), so a whole host can be
  # down without one failed request.
  nginx_subst "$f" "$CONF_DIR/${f##*/}" "s|http://127.0.0.1:@TICKER_PORT@|http://opsplane_ticker|g" \
    "s|^fastcgi_next_upstream_tries 2;|fastcgi_next_upstream_tries 0;|" "s|@FRONTEND@|$FRONTEND|g"
done
for f in "$REPO"/nginx/production/*.conf; do
  nginx_subst "$f" "$CONF_DIR/production/${f##*/}" "s|@FRONTEND@|$FRONTEND|g" \
    "s|@TLS_CHAIN@|$CHAIN|g" "s|@RESOLVER@|$resolver|g"
done
nginx_subst "$REPO/nginx/production/opsplane-site.conf.template" "$SITE" \
  "s|^@FCGI_SERVERS@\$|${fcgi_lines%\\n}|" "s|^@TICKER_SERVERS@\$|${tickers_lines%\\n}|" \
  "s|^@HTTP_LISTEN@\$|${http_listen%\\n}|" "s|^@HTTPS_LISTEN@\$|${https_listen%\\n}|" \
  "s|^@OCSP@\$|$ocsp_line|" "s|@SERVER_NAMES@|$NAMES|g" "s|@REDIRECT_BASE@|$redirect_base|g" \
  "s|@TLS_CERT@|$CERT|g" "s|@TLS_KEY@|$KEY|g" "s|@ACCESS_LOG@|$ACCESS_LOG|g" "s|@ERROR_LOG@|$ERROR_LOG|g" "s|@ACME_ROOT@|$ACME_ROOT|g"
if grep -n '^[^#]*@[A-Z_]*@' "$SITE" "$CONF_DIR"/*.conf "$CONF_DIR"/production/*.conf >&2; then
  die "unreplaced placeholders in the rendered configuration (above)"
fi
grep -q '^[[:space:]]*proxy_pass http://opsplane_ticker;' "$CONF_DIR/opsplane-server.conf" \
  || die "$CONF_DIR/opsplane-server.conf: its /api/ws proxy_pass is not the opsplane_ticker upstream (nginx/opsplane-server.conf changed?)"
grep -q '^fastcgi_next_upstream_tries 0;' "$CONF_DIR/opsplane-fastcgi.conf" \
  || die "$CONF_DIR/opsplane-fastcgi.conf: fastcgi_next_upstream_tries was not rendered to 0 (nginx/opsplane-fastcgi.conf changed?)"
say "rendered $SITE and $CONF_DIR/ ($([ -n "${NGINX_CHANGED:-}" ] && echo changed || echo unchanged))"
