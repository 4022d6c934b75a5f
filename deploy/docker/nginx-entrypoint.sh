#!/usr/bin/env bash
# nginx container: a self-signed certificate on the first start when the tls volume holds none,
# the site rendered from /etc/opsplane/nginx.env plus OPS_SERVER_NAME from the environment, then
# nginx in the foreground.
set -euo pipefail
: "${OPS_SERVER_NAME:?set OPS_SERVER_NAME (the site's DNS name)}"
share=/opt/opsplane/share/opsplane/deploy
if [ ! -f /etc/opsplane/tls/cert.pem ]; then
  # shellcheck disable=SC2086 # one argument per name
  "$share/gen-selfsigned-cert.sh" /etc/opsplane/tls/cert.pem /etc/opsplane/tls/key.pem $OPS_SERVER_NAME
fi
mkdir -p /var/lib/opsplane/acme
settings=$(mktemp)
{ cat /etc/opsplane/nginx.env; echo "OPS_SERVER_NAME=$OPS_SERVER_NAME"; } >"$settings"
"$share/render-nginx.sh" "$settings"
rm -f "$settings"
nginx -t -q
exec env TZ=UTC nginx -g 'daemon off;'
