#!/usr/bin/env bash
# Installs the Debian packages Opsplane needs to build, run and test, then the Python
# packages of the end-to-end tests (Tests/e2e/requirements.txt).
# As root it runs apt-get; otherwise it prints the exact command to run.
# This file is the single source of truth for system dependencies.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build: C libraries behind the Swift system-library targets.
BUILD_PKGS="libfcgi-dev libpq-dev libjansson-dev libssl-dev zlib1g-dev libcurl4-openssl-dev pkg-config"
# Run: the embedded stack (a local Postgres cluster and nginx).
# logrotate: deploy/install.sh ships /etc/logrotate.d/opsplane (Tests/e2e/test_install.py runs it).
RUN_PKGS="postgresql postgresql-contrib nginx redis-server curl jq logrotate"
# Test and bench: load generator and the end-to-end test runner.
TEST_PKGS="wrk python3 procps iproute2 chromium chromium-driver systemd-journal-remote nodejs"
# pip from Debian only when the python3 on PATH has none (a pyenv python brings its own).
if ! python3 -m pip --version >/dev/null 2>&1; then
  TEST_PKGS="$TEST_PKGS python3-pip"
fi

# INSTALL_DEPS_PROFILE=runtime (deploy/install.sh on a production host): build and run packages
# only, no browser, load generator or Python test packages.
if [ "${INSTALL_DEPS_PROFILE:-}" = runtime ]; then
  TEST_PKGS=""
fi
want="$BUILD_PKGS $RUN_PKGS $TEST_PKGS ${EXTRA_PKGS:-}"
missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -n "$missing" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "install-deps: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    # policy-rc.d keeps the packages' own system services (postgresql, nginx) from starting:
    # the stack runs its own. Added only for this install when the image has none.
    own_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod 755 /usr/sbin/policy-rc.d
      own_policy=1
    fi
    trap '[ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d' EXIT
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "install-deps: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y$missing" >&2
    exit 1
  fi
fi

# Python packages of the end-to-end tests, when any is missing.
req=$REPO/Tests/e2e/requirements.txt
if [ -f "$req" ] && [ "${INSTALL_DEPS_PROFILE:-}" != runtime ]; then
  # Exit 1 when a distribution named in the file is not installed (versions not checked).
  if ! python3 - "$req" <<'EOF'
import re, sys
from importlib import metadata
missing = []
for line in open(sys.argv[1]):
    name = re.split(r"[\s<>=!~;\[#]", line.strip(), maxsplit=1)[0]
    if not name:
        continue
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        missing.append(name)
if missing:
    print("install-deps: missing Python packages:", " ".join(missing), file=sys.stderr)
    sys.exit(1)
EOF
  then
    # Debian's own python3 is "externally managed" (PEP 668): on a root CI machine that
    # exists only for the tests, installing next to it is what we want.
    if [ "$(id -u)" -eq 0 ]; then export PIP_BREAK_SYSTEM_PACKAGES=1; fi
    python3 -m pip install -q --disable-pip-version-check -r "$req"
  fi
fi
