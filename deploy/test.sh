#!/usr/bin/env bash
# `make test`: brings up an isolated stack (its own STATE, cluster and free port), runs
# `swift test` and the end-to-end tests against it, and always takes it down again, also
# when a test fails or the run is interrupted. Exits with the first failure's status.
#
# Environment: TEST_STATE (default <repo>/.opsplane-test) and TEST_PORT (default: a free
# port); STATE and PORT are not read, so a `make run` stack configured through them is
# never touched. DEMO (default 0: tests start from an empty database). KEEP_STATE=1 keeps
# the previous test cluster instead of starting from a fresh one. Logs stay in
# TEST_STATE/logs afterwards.
#
# Host-app JWTs are on for the test stack: a throw-away OPS_JWT_HS256_SECRET made for this
# run, OPS_JWT_COOKIE=host_jwt and the default admin claim. They are exported, so the
# workers (through stack.sh) and pytest (which signs test JWTs with the secret) both see
# them; they are not written to run.env. `make run` keeps JWTs off unless you set them.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"
cd "$REPO"

export STATE=${TEST_STATE:-$REPO/.opsplane-test}
export PORT=${TEST_PORT:-$(pick_free_port)}
export DEMO=${DEMO:-0}
OPS_JWT_HS256_SECRET=test-jwt-secret-$(random_hex 24)
export OPS_JWT_HS256_SECRET
export OPS_JWT_COOKIE=host_jwt
export OPS_JWT_ADMIN_CLAIM=is_admin
# Stack left over stopped, fresh cluster, up, run.env exported, always torn down.
own_stack_up "make test"

status=0
say "swift test"
swift test || status=$?

# The dashboard libraries' pure logic (formatting, gauge, sparkline, ticker list): Node's own
# test runner, no packages.
say "dashboard JavaScript unit tests (node --test Tests/js/)"
node --test Tests/js/ || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }

if [ -d Tests/e2e ]; then
  say "end-to-end tests against $OPS_URL"
  python3 -m pytest -q Tests/e2e || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi

# A short fuzz of the API against deploy/openapi.yaml (FUZZ_EXAMPLES, default 15 per
# operation); `make fuzz` runs a long one on a stack of its own.
if [ -x Tests/fuzz/run.sh ]; then
  say "fuzz (schemathesis) against $OPS_URL"
  Tests/fuzz/run.sh || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
fi

exit "$status"
