#!/usr/bin/env bash
# A self-signed certificate for a first install, before a real one (ACME, your CA) replaces it.
# Browsers will warn; opsctl and curl need --cacert CERT. ECDSA P-256, valid 397 days, with the
# names as subjectAltName (DNS names, and IP addresses where a name is one).
#
# usage: deploy/gen-selfsigned-cert.sh CERT_FILE KEY_FILE NAME [NAME...]
# Writes KEY_FILE with mode 600 and CERT_FILE with mode 644; refuses to overwrite either.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 CERT_FILE KEY_FILE NAME [NAME...]" >&2; exit 2; }
cert=$1 key=$2
shift 2
for f in "$cert" "$key"; do
  [ ! -e "$f" ] || { echo "gen-selfsigned-cert: $f exists; not overwriting it" >&2; exit 1; }
done
san=""
for n in "$@"; do
  [[ "$n" =~ ^[A-Za-z0-9.*:-]+$ ]] || { echo "gen-selfsigned-cert: not a host name or address: $n" >&2; exit 2; }
  if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then san+="${san:+,}IP:$n"; else san+="${san:+,}DNS:$n"; fi
done
mkdir -p "$(dirname "$cert")" "$(dirname "$key")"
(
  umask 077
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 397 \
    -subj "/CN=$1" -addext "subjectAltName=$san" \
    -keyout "$key" -out "$cert" 2>/dev/null
)
chmod 600 "$key"
chmod 644 "$cert"
echo "gen-selfsigned-cert: wrote $cert and $key for $* ($(openssl x509 -in "$cert" -noout -enddate))" >&2
