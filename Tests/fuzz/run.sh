#!/usr/bin/env bash
# Fuzz the running stack with schemathesis against deploy/openapi.yaml: every answer must be
# no 5xx (not_a_server_error), a status the spec documents for the operation
# (status_code_conformance), and a body that fits its documented schema
# (response_schema_conformance). Positive and negative cases, in the examples, coverage and
# fuzzing phases.
#
# The stack comes from the environment (OPS_URL, OPS_ADMIN_TOKEN, OPS_INGEST_TOKEN: run.env)
# or from $STATE/run.env. Two passes: the admin token for every operation except the ingest
# ones, then the ingest token for POST /api/ops/ingest and /api/ops/budget/check (an admin
# would only ever see 403 there). Left out on purpose:
#   POST /api/ops/tokens/{id}/revoke  would revoke the very tokens the fuzz (and the stack) uses
#   POST /api/ops/login               nginx rate-limits sign-in per address (brute force), so
#                                     the run would mostly see 429 and lock out later sign-ins
#   GET  /api/ws                      the ticker's WebSocket (not a request/response route)
#
# Environment: FUZZ_EXAMPLES (cases per operation and phase, default 15), FUZZ_SEED (default:
# random, printed so a run can be repeated), FUZZ_WORKERS (default 1), FUZZ_REPORT_DIR
# (default <repo>/.schemathesis/report: JUnit XML per pass).
# Exit status: schemathesis' own (0 when no check failed).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [ -z "${OPS_URL:-}" ] && [ -n "${STATE:-}" ] && [ -f "$STATE/run.env" ]; then
  set -a; . "$STATE/run.env"; set +a
fi
: "${OPS_URL:?OPS_URL is not set: start a stack and export its run.env (or set STATE)}"
: "${OPS_ADMIN_TOKEN:?OPS_ADMIN_TOKEN is not set}"
: "${OPS_INGEST_TOKEN:?OPS_INGEST_TOKEN is not set}"

EXAMPLES=${FUZZ_EXAMPLES:-15}
SEED=${FUZZ_SEED:-$((RANDOM * 32768 + RANDOM))}
WORKERS=${FUZZ_WORKERS:-1}
REPORT_DIR=${FUZZ_REPORT_DIR:-$REPO/.schemathesis/report}
SPEC=$REPO/deploy/openapi.yaml
mkdir -p "$REPORT_DIR"
# schemathesis and hypothesis keep their files (.hypothesis/) in the current directory.
cd "$REPO/.schemathesis" 2>/dev/null || { mkdir -p "$REPO/.schemathesis"; cd "$REPO/.schemathesis"; }

INGEST_ONLY=(--include-path /api/ops/ingest --include-path /api/ops/budget/check)
common=(
  "$SPEC" --url "$OPS_URL"
  --checks not_a_server_error,status_code_conformance,response_schema_conformance
  --phases examples,coverage,fuzzing
  --max-examples "$EXAMPLES" --seed "$SEED" --workers "$WORKERS"
  --generation-database none --request-timeout 30 --no-color
  --exclude-path /api/ops/tokens/{id}/revoke --exclude-path /api/ops/login --exclude-path /api/ws
)

echo "fuzz: $OPS_URL, $EXAMPLES examples per operation, seed $SEED (FUZZ_SEED=$SEED repeats it), reports in $REPORT_DIR" >&2
status=0
start=$(date +%s)
schemathesis run "${common[@]}" -H "Authorization: Bearer $OPS_ADMIN_TOKEN" \
  --exclude-path /api/ops/ingest --exclude-path /api/ops/budget/check \
  --report junit --report-junit-path "$REPORT_DIR/admin.xml" \
  || status=$?
schemathesis run "${common[@]}" -H "Authorization: Bearer $OPS_INGEST_TOKEN" "${INGEST_ONLY[@]}" \
  --report junit --report-junit-path "$REPORT_DIR/ingest.xml" \
  || { rc=$?; [ "$status" -ne 0 ] || status=$rc; }
echo "fuzz: done in $(( $(date +%s) - start )) s, exit $status (seed $SEED)" >&2
exit "$status"
