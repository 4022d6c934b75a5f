#!/usr/bin/env bash
# `make fuzz`: brings up a stack of its own (like deploy/test.sh: its own STATE, cluster and
# free port, demo data so that answers carry real figures), runs Tests/fuzz/run.sh against it
# with more cases per operation, and always takes the stack down again.
#
# Environment: FUZZ_STATE (default <repo>/.opsplane-fuzz), FUZZ_PORT (default: a free port),
# DEMO (default 1), FUZZ_EXAMPLES (default 200 here), and run.sh's FUZZ_SEED, FUZZ_WORKERS,
# FUZZ_REPORT_DIR. The stack's logs stay in FUZZ_STATE/logs.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
. "$REPO/deploy/lib-common.sh"
cd "$REPO"

export STATE=${FUZZ_STATE:-$REPO/.opsplane-fuzz}
export PORT=${FUZZ_PORT:-$(pick_free_port)}
export DEMO=${DEMO:-1}
export FUZZ_EXAMPLES=${FUZZ_EXAMPLES:-200}
own_stack_up "make fuzz"
"$REPO/Tests/fuzz/run.sh"
