#!/usr/bin/env bash
# The activity ledger's benchmarks (issue 4, "Performance"): the summary / timeseries / top /
# overview reads and ingest throughput at two data sizes, in one run, against the hello-world ceiling
# of the same run. Prints one table (bench/README.md, "Activity ledger", explains it).
#
# It always starts its own stack (STATE=.opsplane-bench-act on a free port, DEMO=0) and stops
# it on exit, also on failure or Ctrl-C: it truncates the ledger tables and bulk-loads
# millions of rows, so it never runs against a stack someone uses.
#
# For each size N of BENCH_ACT_SIZES (default 10,000 and 1,000,000 runs today):
#   1. load with SQL: N runs today plus 30 days of history at N/10 a day, 2 LLM calls per run
#      (2N today, 4 providers, 10 models, ~3 % errors, ~13 % of costs unknown), messages, 40
#      agents, 2,000 users; VACUUM ANALYZE.
#   2. cold: time one request of summary, timeseries, top and overview right after emptying
#      the answer cache (what the cache hides), then cache each answer once.
#   3. reads: wrk -c32 on hello (GET /api/ops/ping, the FastCGI ceiling), auth (GET
#      /api/ops/whoami, the access gate every admin read pays), summary, timeseries, top and
#      overview (GET /api/v1/ops/overview?period=24h), interleaved rounds, medians.
#   4. ingest on top of that data: hello at the ingest's connection count (its ceiling),
#      then wrk + bench/ingest.lua POSTing NDJSON batches of 500 fresh records, twice: with
#      timestamps spread over today ("backfill") and within the last minutes ("live"); the rows of
#      ops.runs/llm_calls/messages are counted before and after, and every record of a 2xx
#      answer must be in the database. Meanwhile, every half second, the four reads are
#      requested and the age of the data in each cached answer is sampled (freshness).
#   5. steady writes (BENCH_ACT_FRESH_RATE records/s from one connection) with the same
#      freshness sampling: the condition the 5 s freshness target is judged in; then again
#      while a client also reads top agents over 7 and 30 days every 5 s (answers that take
#      seconds at 1M runs, refreshed in a lane of their own).
#
# Knobs (environment):
#   BENCH_ACT_SIZES            runs today per size, the first is the baseline ("10000 1000000")
#   BENCH_ACT_HISTORY_DAYS     days of history behind today's runs, at N/10 runs a day (30) and
#                              2 LLM calls a run
#   BENCH_ACT_DURATION         seconds per read run (10)
#   BENCH_ACT_ROUNDS           interleaved read rounds per size; medians over them (3)
#   BENCH_ACT_WARMUP           seconds of unrecorded load per read route first (2)
#   BENCH_ACT_THREADS / BENCH_ACT_CONNECTIONS   wrk -t / -c for the reads (2 / 32)
#   BENCH_ACT_COLD_ROUNDS      cold computations timed per route and size (3)
#   BENCH_ACT_INGEST_DURATION  seconds of ingest (20)
#   BENCH_ACT_INGEST_CONNECTIONS  wrk -c for ingest (12)
#   BENCH_ACT_BATCH            records per ingest request (500)
#   BENCH_ACT_LIVE_SPAN        seconds of the "live" ingest's timestamps (600; 0 skips it): the
#                              "backfill" ingest spreads them over the whole of today
#   BENCH_ACT_FRESH_RATE       records/s of the steady writes during which freshness is
#                              measured at a rate that leaves the host room (2000; 0 skips them)
#   BENCH_ACT_FRESH_DURATION   seconds of those steady writes (20)
#   BENCH_ACT_TIMEOUT          wrk --timeout in seconds (30): a slower answer is an error; wrk's
#                              default of 2 s would drop the requests that recompute an answer
#                              from the latencies instead of measuring them
#   BENCH_ACT_STATE / BENCH_ACT_PORT  the bench's stack (.opsplane-bench-act / a free port)
#   BENCH_ACT_KEEP=1           leave the stack running with the last size's data (EXPLAIN it)
# Stack variables (OPS_WORKERS, OPS_FCGI_THREADS, OPS_CACHE_MAX_AGE_MS, ...) reach the
# bench's stack as they reach `make run`'s.
# Output: the table on stdout, also in <state>/bench-activity.txt, raw numbers in
# <state>/bench-activity.jsonl. Exits 1 when a request failed or a record was lost.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$REPO/deploy/lib-common.sh"   # pick_free_port, env_file_get
T0=$SECONDS
START_EPOCH=$(date +%s)
say() { printf 'bench-activity [%3ds]: %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { printf 'bench-activity: error: %s\n' "$*" >&2; exit 1; }

SIZES=${BENCH_ACT_SIZES:-10000 1000000}
HISTORY_DAYS=${BENCH_ACT_HISTORY_DAYS:-30}
DURATION=${BENCH_ACT_DURATION:-10}
ROUNDS=${BENCH_ACT_ROUNDS:-3}
WARMUP=${BENCH_ACT_WARMUP:-2}
THREADS=${BENCH_ACT_THREADS:-2}
CONNECTIONS=${BENCH_ACT_CONNECTIONS:-32}
COLD_ROUNDS=${BENCH_ACT_COLD_ROUNDS:-3}
INGEST_DURATION=${BENCH_ACT_INGEST_DURATION:-20}
INGEST_CONNECTIONS=${BENCH_ACT_INGEST_CONNECTIONS:-12}
LIVE_SPAN=${BENCH_ACT_LIVE_SPAN:-600}
FRESH_RATE=${BENCH_ACT_FRESH_RATE:-2000}
FRESH_DURATION=${BENCH_ACT_FRESH_DURATION:-20}
BATCH=${BENCH_ACT_BATCH:-500}
TIMEOUT=${BENCH_ACT_TIMEOUT:-30}
for v in LIVE_SPAN FRESH_RATE FRESH_DURATION TIMEOUT HISTORY_DAYS DURATION ROUNDS WARMUP THREADS CONNECTIONS COLD_ROUNDS INGEST_DURATION INGEST_CONNECTIONS BATCH; do
  case "${!v}" in ''|*[!0-9]*) die "BENCH_ACT_$v=${!v}: expected a whole number" ;; esac
done
for n in $SIZES; do
  case "$n" in ''|*[!0-9]*) die "BENCH_ACT_SIZES=$SIZES: expected whole numbers (runs today per size)" ;; esac
  [ "$n" -ge 10 ] || die "BENCH_ACT_SIZES: $n is too small (at least 10 runs)"
done
[ -n "$SIZES" ] || die "BENCH_ACT_SIZES is empty"
[ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ] && [ "$COLD_ROUNDS" -ge 1 ] && [ "$INGEST_DURATION" -ge 1 ] \
  || die "BENCH_ACT_ROUNDS, _DURATION, _COLD_ROUNDS and _INGEST_DURATION must be at least 1"
[ "$BATCH" -ge 50 ] && [ "$BATCH" -le 5000 ] || die "BENCH_ACT_BATCH=$BATCH: expected 50 to 5000 records"
[ "$THREADS" -le "$CONNECTIONS" ] && [ "$THREADS" -le "$INGEST_CONNECTIONS" ] \
  || die "BENCH_ACT_THREADS must not exceed the connection counts"

for tool in wrk psql curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (deploy/install-deps.sh as root installs it)"
done

# --- the bench's own stack ------------------------------------------------------------------

export STATE=${BENCH_ACT_STATE:-$REPO/.opsplane-bench-act}
export PORT=${BENCH_ACT_PORT:-$(pick_free_port)}
export DEMO=0
stack_started=0
cleanup() {
  [ "$stack_started" = 1 ] || return 0
  if [ "${BENCH_ACT_KEEP:-0}" = 1 ]; then
    say "BENCH_ACT_KEEP=1: the stack keeps running with the last size's data (psql \"\$(sed -n 's/^OPS_DATABASE_URL=//p' $STATE/run.env)\"); stop it with STATE=$STATE deploy/stack.sh down"
    return 0
  fi
  say "stopping the bench stack"
  "$REPO/deploy/stack.sh" down >/dev/null 2>&1 || say "warning: deploy/stack.sh down failed for STATE=$STATE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a stack: STATE=$STATE PORT=$PORT"
mkdir -p "$STATE"
# One run writes ~1 GB of access and worker logs (every request is logged): start them afresh,
# so the bench's state keeps only the last run's.
for f in "$STATE"/logs/access.log "$STATE"/logs/fcgi-*.log "$STATE"/logs/nginx-error.log; do
  [ ! -f "$f" ] || : >"$f"
done
stack_started=1
"$REPO/deploy/stack.sh" up 2>"$STATE/bench-activity-up.log" \
  || { cat "$STATE/bench-activity-up.log" >&2; die "deploy/stack.sh up failed"; }
run_env=$STATE/run.env
url=$(env_file_get "$run_env" OPS_URL)
db_url=$(env_file_get "$run_env" OPS_DATABASE_URL)
admin_token=$(env_file_get "$run_env" OPS_ADMIN_TOKEN)
ingest_token=$(env_file_get "$run_env" OPS_INGEST_TOKEN)
[ -n "$url" ] && [ -n "$db_url" ] && [ -n "$admin_token" ] && [ -n "$ingest_token" ] \
  || die "$run_env lacks OPS_URL, OPS_DATABASE_URL or a token"
auth="Authorization: Bearer $admin_token"

jsonl=$STATE/bench-activity.jsonl
: >"$jsonl"
record() { printf '%s\n' "$1" >>"$jsonl"; }

# psql on the bench's database; -At: bare values, one row a line, | between columns.
q() { psql "$db_url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

num() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }        # 1000000 -> 1,000,000
label() {                                                  # 1000000 -> 1M, 10000 -> 10k
  if [ $(($1 % 1000000)) = 0 ]; then echo "$(($1 / 1000000))M"
  elif [ $(($1 % 1000)) = 0 ]; then echo "$(($1 / 1000))k"
  else echo "$1"; fi
}

# --- the secondary indexes of ops.runs and ops.llm_calls ------------------------------------
# Bulk loads drop them and build them again afterwards (5x faster than maintaining eight
# B-trees row by row). The definitions come from the catalog, so they are exactly the
# migrations'; they are saved first, and a run interrupted mid-load (the marker file says
# so) is repaired by the next. Without the marker the saved file is only history: restoring it
# would bring back indexes a later migration dropped. (The file keeps its name from when it
# held ops.runs' alone, so that an older run's marker is still found.)
index_file=$STATE/bench-activity-runs-indexes.sql
indexed_tables="'ops.runs'::regclass, 'ops.llm_calls'::regclass"
restore_indexes() {
  [ -s "$index_file" ] && [ -e "$index_file.dropped" ] || return 0
  { echo "SET maintenance_work_mem = '256MB'; SET client_min_messages = warning;"
    sed 's/^CREATE INDEX /CREATE INDEX IF NOT EXISTS /; s/$/;/' "$index_file"; } | q -f - >/dev/null
  rm -f "$index_file.dropped"
}
restore_indexes
q -c "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN ($indexed_tables) AND NOT indisprimary
      ORDER BY indexrelid" >"$index_file.new"
grep -q ' ON ops\.runs ' "$index_file.new" || die "ops.runs has no secondary indexes: is the migration applied?"
mv "$index_file.new" "$index_file"
drop_indexes() {
  : >"$index_file.dropped"
  q -c "SELECT 'DROP INDEX ops.' || quote_ident(c.relname) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid IN ($indexed_tables) AND NOT i.indisprimary" | sed 's/$/;/' | q -f - >/dev/null
}

# 40 agents, 12 of them scheduled; the ledger tables empty.
reset_ledger() {
  q <<'SQL' >/dev/null
TRUNCATE ops.runs, ops.messages, ops.llm_calls, ops.events, ops.agents, ops.api_cache;
INSERT INTO ops.agents (agent_id, name, owner_email, owner_id, schedule, created_at, updated_at)
SELECT 'agent-' || lpad(a::text, 2, '0'), 'Agent ' || a, 'owner' || (a % 9) || '@example.com', 'owner-' || (a % 9),
       CASE WHEN a % 10 IN (1, 4, 7) THEN '*/' || (5 * (1 + a % 6)) || ' * * * *' END,
       now() - interval '90 days', now() - interval '1 day'
FROM generate_series(1, 40) a;
SELECT nextval('ops.data_version');
SQL
}

# Inserts n runs whose start times are spread evenly over [t0, t1): ids <prefix>000000001..,
# 40 agents and 2,000 users with skewed popularity, ~6 % failed, 1 % canceled, 0.5 % still
# running, lognormal durations (median ~4 s, capped at 10 min), tokens by model, ~8 % of costs
# unknown (NULL).
load_runs() { # prefix n t0 t1
  q -v prefix="$1" -v n="$2" -v t0="$3" -v t1="$4" <<'SQL' >/dev/null
INSERT INTO ops.runs (run_id, agent_id, user_id, status, created_at, started_at, finished_at, duration_ms,
                      model, prompt_tokens, completion_tokens, cost_usd, error)
SELECT :'prefix' || lpad(i::text, 9, '0'),
       'agent-' || lpad((1 + floor(40 * ra ^ 2))::int::text, 2, '0'),
       'u-' || lpad((1 + floor(2000 * ru ^ 1.5))::int::text, 4, '0'),
       st,
       t - make_interval(secs => rq * 3),
       t,
       CASE WHEN st <> 'running' THEN t + make_interval(secs => dur / 1000.0) END,
       CASE WHEN st <> 'running' THEN dur END,
       (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'claude-haiku-4', 'gemini-2.5-flash'])[1 + floor(rm * 5)::int],
       pt, ct,
       CASE WHEN st = 'running' OR rc < 0.08 THEN NULL
            ELSE round(((pt * 2.5 + ct * 10.0) / 1e6 * (0.2 + rm))::numeric, 6) END,
       CASE WHEN st = 'failed'
            THEN (ARRAY['timeout', 'rate_limited', 'tool_error: http 502', 'context_length_exceeded'])[1 + floor(rc * 4)::int] END
FROM (
  SELECT i,
         :'t0'::timestamptz + (:'t1'::timestamptz - :'t0'::timestamptz) * ((i - 1 + random()) / :n) AS t,
         random() AS ra, random() AS ru, random() AS rq, random() AS rm, random() AS rc,
         CASE WHEN rs < 0.06 THEN 'failed' WHEN rs < 0.07 THEN 'canceled' WHEN rs < 0.075 THEN 'running'
              ELSE 'success' END AS st,
         least(600000, greatest(50, round(exp(8.3 + 0.9 * sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2)))))::bigint AS dur,
         (200 + floor(random() * 4000))::bigint AS pt, (20 + floor(random() * 800))::bigint AS ct
  FROM (SELECT i, random() AS rs, random() AS u1, random() AS u2 FROM generate_series(1, :n) i) g
) x;
SQL
}

# Inserts n LLM calls whose times are spread evenly over [t0, t1), as load_runs spreads runs:
# ids <prefix>000000001.., call i belongs to run <run_prefix>(i+1)/2 (2 calls a run, in its
# slot of time); 10 models of 4 providers with skewed popularity, 7 orgs, lognormal latencies
# (median ~0.9 s, capped at 2 min), ~3 % status 'error' (no completion, no cost), ~10 % of the
# other costs unknown (NULL), the known ones 'reported' or (a fifth) 'priced'.
load_llm_calls() { # prefix run_prefix n t0 t1
  q -v prefix="$1" -v run_prefix="$2" -v n="$3" -v t0="$4" -v t1="$5" <<'SQL' >/dev/null
INSERT INTO ops.llm_calls (id, ts, org_id, run_id, provider, model, prompt_tokens, completion_tokens, latency_ms,
                           status, error_code, cost_usd, cost_source)
SELECT :'prefix' || lpad(i::text, 9, '0'),
       t,
       'org-' || (1 + floor(7 * ro ^ 1.5))::int,
       :'run_prefix' || lpad(((i + 1) / 2)::text, 9, '0'),
       m.provider, m.model,
       pt,
       CASE WHEN err THEN 0 ELSE ct END,
       lat,
       CASE WHEN err THEN 'error' ELSE 'ok' END,
       CASE WHEN err THEN (ARRAY['rate_limited', 'timeout', 'provider_error', 'context_length_exceeded'])[1 + floor(rc * 4)::int] END,
       CASE WHEN err OR rc < 0.10 THEN NULL ELSE round((pt * m.usd_prompt + ct * m.usd_completion) / 1e6, 6) END,
       CASE WHEN err OR rc < 0.10 THEN NULL WHEN rc < 0.28 THEN 'priced' ELSE 'reported' END
FROM (
  SELECT i,
         :'t0'::timestamptz + (:'t1'::timestamptz - :'t0'::timestamptz) * ((i - 1 + random()) / :n) AS t,
         random() AS ro, random() AS rc, random() < 0.03 AS err,
         1 + floor(10 * random() ^ 1.4)::int AS mk,
         (100 + floor(random() * 6000))::bigint AS pt, (10 + floor(random() * 1200))::bigint AS ct,
         least(120000, greatest(80, round(exp(6.8 + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))))::bigint AS lat
  FROM generate_series(1, :n) i
) x
JOIN (VALUES (1, 'openai', 'gpt-4o-mini', 0.15, 0.6), (2, 'anthropic', 'claude-sonnet-4', 3.0, 15.0),
             (3, 'openai', 'gpt-4o', 2.5, 10.0), (4, 'google', 'gemini-2.5-flash', 0.3, 2.5),
             (5, 'anthropic', 'claude-haiku-4', 0.8, 4.0), (6, 'mistral', 'mistral-small', 0.2, 0.6),
             (7, 'openai', 'o3-mini', 1.1, 4.4), (8, 'google', 'gemini-2.5-pro', 1.25, 10.0),
             (9, 'mistral', 'mistral-large', 2.0, 6.0), (10, 'anthropic', 'claude-opus-4', 15.0, 75.0))
     AS m(k, provider, model, usd_prompt, usd_completion) ON m.k = x.mk;
SQL
}

load_messages() { # prefix n t0 t1
  q -v prefix="$1" -v n="$2" -v t0="$3" -v t1="$4" <<'SQL' >/dev/null
INSERT INTO ops.messages (message_id, thread_id, user_id, created_at)
SELECT :'prefix' || lpad(i::text, 9, '0'), 'th-' || :'prefix' || (i / 6),
       'u-' || lpad((1 + floor(2000 * random() ^ 1.5))::int::text, 4, '0'),
       :'t0'::timestamptz + (:'t1'::timestamptz - :'t0'::timestamptz) * ((i - 1 + random()) / :n)
FROM generate_series(1, :n) i;
SQL
}

step_start=0
step() { step_start=$SECONDS; printf 'bench-activity [%3ds]: %s… ' "$((SECONDS - T0))" "$*" >&2; }
step_done() { printf '%d s\n' "$((SECONDS - step_start))" >&2; }

load_size() { # n
  local n=$1 per_day=$(($1 / 10)) now_s day0_s day0 t_end chunk=10 d from to
  now_s=$(date -u +%s); day0_s=$((now_s / 86400 * 86400))
  iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
  day0=$(iso "$day0_s")
  # Today's runs start up to 11 minutes ago, so that they have finished by now (10 min max);
  # in the day's first minutes, up to now.
  t_end=$(iso $((now_s - 660 > day0_s ? now_s - 660 : now_s)))
  step "size $(label "$n"): emptying the ledger"; reset_ledger; drop_indexes; step_done
  for ((d = HISTORY_DAYS; d > 0; d -= chunk)); do
    from=$d; to=$((d > chunk ? d - chunk : 0))
    step "size $(label "$n"): loading $(num $((per_day * (from - to)))) history runs and $(num $((2 * per_day * (from - to)))) LLM calls (days -$from..-$((to + 1)), $(num "$per_day") runs a day)"
    load_runs "h$from-" $((per_day * (from - to))) "$(iso $((day0_s - from * 86400)))" "$(iso $((day0_s - to * 86400)))"
    load_llm_calls "ch$from-" "h$from-" $((2 * per_day * (from - to))) "$(iso $((day0_s - from * 86400)))" "$(iso $((day0_s - to * 86400)))"
    step_done
  done
  step "size $(label "$n"): loading $(num "$n") runs and $(num $((2 * n))) LLM calls today"
  load_runs "rt-" "$n" "$day0" "$t_end"
  load_llm_calls "ct-" "rt-" $((2 * n)) "$day0" "$t_end"; step_done
  step "size $(label "$n"): building the $(wc -l <"$index_file") secondary indexes of ops.runs and ops.llm_calls"; restore_indexes; step_done
  step "size $(label "$n"): loading $(num $((n / 10))) messages today and $(num $((n / 100 * HISTORY_DAYS))) before"
  [ $((n / 100 * HISTORY_DAYS)) = 0 ] || load_messages "mh-" $((n / 100 * HISTORY_DAYS)) \
    "$(iso $((day0_s - HISTORY_DAYS * 86400)))" "$day0"
  load_messages "mt-" $((n / 10)) "$day0" "$t_end"; step_done
  step "size $(label "$n"): VACUUM ANALYZE"
  q -c "VACUUM ANALYZE ops.runs" -c "VACUUM ANALYZE ops.llm_calls" -c "VACUUM ANALYZE ops.messages" \
    -c "VACUUM ANALYZE ops.agents"; step_done
}

# --- requests ---------------------------------------------------------------------------------

READS="summary|/api/ops/summary
timeseries|/api/ops/timeseries?metric=runs_by_hour&window=today
top|/api/ops/top?kind=agents&window=today&limit=5
overview|/api/v1/ops/overview?period=24h"
# Interleaved in every round: the two references first (hello = FastCGI ceiling, auth = the
# access gate every admin read pays), then the four cached reads. A read's name is the first
# part of its key in ops.api_cache (CachedAnswer.key): cold_once finds its compute_ms by it.
ROUTES="hello|/api/ops/ping
auth|/api/ops/whoami
$READS"

header_for() { [ "$1" = hello ] || printf '%s' "$auth"; }

check_get() { # path [header]
  local code
  code=$(curl -s -o "$STATE/bench-activity-last.json" -m 60 -w '%{http_code}' ${2:+-H "$2"} "$url$1" || true)
  [ "$code" = 200 ] || die "GET $url$1 answers ${code:-nothing}, not 200: $(head -c 300 "$STATE/bench-activity-last.json" 2>/dev/null)"
}

wrk_get() { # path seconds connections [header] -> the BENCH_JSON line
  wrk -t"$THREADS" -c"$3" -d"${2}s" --timeout "${TIMEOUT}s" --latency -s "$REPO/bench/report.lua" ${4:+-H "$4"} "$url$1" 2>&1 \
    | sed -n 's/^BENCH_JSON //p'
}

ingest_wrk() { # seconds nonce [span_s] [delay_ms] -> the BENCH_JSON line
  # A delay means one steady writer (one thread, one connection) instead of the saturating ones.
  local t=$THREADS c=$INGEST_CONNECTIONS
  [ -z "${4:-}" ] || { t=1; c=1; }
  OPS_INGEST_TOKEN=$ingest_token INGEST_BATCH=$BATCH INGEST_NONCE=$2 INGEST_SPAN_S=${3:-} INGEST_DELAY_MS=${4:-} \
    wrk -t"$t" -c"$c" -d"${1}s" --timeout "${TIMEOUT}s" --latency -s "$REPO/bench/ingest.lua" \
      "$url/api/ops/ingest" 2>&1 \
    | sed -n 's/^BENCH_JSON //p'
}

# Rows in the three tables ingest writes to: "runs llm_calls messages".
ledger_counts() {
  q -F ' ' -c "SELECT (SELECT count(*) FROM ops.runs), (SELECT count(*) FROM ops.llm_calls), (SELECT count(*) FROM ops.messages)"
}

# One cold computation: the answer cache emptied and the data version bumped, as after a
# write, then one request; the worker's own measurement is read back from ops.api_cache.
cold_once() { # name path
  local out key_ms
  q -c "TRUNCATE ops.api_cache" -c "SELECT nextval('ops.data_version')" >/dev/null
  out=$(curl -s -o "$STATE/bench-activity-last.json" -m 120 -w '%{http_code} %{time_total}' -H "$auth" "$url$2" || true)
  [ "${out%% *}" = 200 ] || die "cold GET $2 answered ${out%% *}: $(head -c 300 "$STATE/bench-activity-last.json")"
  key_ms=$(q -c "SELECT round(compute_ms::numeric, 2) FROM ops.api_cache WHERE key LIKE '$1:%'")
  printf '{"curl_ms":%s,"compute_ms":%s}' "$(awk -v t="${out#* }" 'BEGIN { printf "%.2f", t * 1000 }')" "${key_ms:-null}"
}

# The age of the data in each read's answer while an ingest runs, every half second: what a
# dashboard reading it then would see. The four reads are requested first, as a dashboard
# would (a cheap answer is recomputed by the read itself, an expensive one is not: the
# background refresher keeps it fresh), then ops.api_cache says for each answer how old its
# data is: now - (computed_at - compute_ms), the moment its computation started reading. An
# answer computed before the ingest began is stale only since then (the data had not changed).
freshness_probe() { # seconds mode n -> records one "freshness" row
  local until=$((SECONDS + $1)) samples="" line name path t0
  t0=$(date +%s.%N)
  while [ "$SECONDS" -lt "$until" ]; do
    while IFS='|' read -r name path; do curl -s -o /dev/null -m 30 -H "$auth" "$url$path" || true; done <<<"$READS"
    line=$(q -c "SELECT string_agg(split_part(key, ':', 1) || '=' || round(least(
                   extract(epoch FROM clock_timestamp() - computed_at) * 1000 + compute_ms,
                   (extract(epoch FROM clock_timestamp()) - $t0) * 1000)), ' ')
                 FROM ops.api_cache
                 WHERE key LIKE 'summary:%' OR key LIKE 'timeseries:runs_by_hour:today:%' OR key LIKE 'top:agents:today:5:%'
                    OR key = 'overview:24h'" || true)
    samples="$samples${samples:+;}$line"
    sleep 0.5
  done
  record "{\"row\":\"freshness\",\"mode\":\"$2\",\"size\":$3,\"samples\":\"$samples\"}"
}

# One ingest measurement on top of size n's data: wrk for INGEST_DURATION, the rows of the three
# tables counted before and after (every acknowledged record must be there).
#   backfill: timestamps spread over the whole of today, so inserts land anywhere in the time
#             indexes (a producer catching up, or a day's import);
#   live:     timestamps within the last span_s seconds, as a running platform reports them.
ingest_measure() { # n mode span_s
  local n=$1 mode=$2 span=$3 line before after now_counts b_runs b_llm b_msg a_runs a_llm a_msg
  sleep 1
  before=$(ledger_counts)
  say "size $L: ingest ($mode), batches of $BATCH records, $INGEST_CONNECTIONS connections, ${INGEST_DURATION}s"
  freshness_probe "$INGEST_DURATION" "$mode" "$n" &
  local probe=$!
  line=$(ingest_wrk "$INGEST_DURATION" "$mode$nonce$n" "$span")
  wait "$probe" || die "the freshness probe failed during the ingest ($mode)"
  [ -n "$line" ] || die "wrk produced no result for the ingest ($mode)"
  # Requests in flight when wrk stopped may still commit: wait until the counts settle.
  after=$(ledger_counts)
  for _ in $(seq 1 40); do
    sleep 0.5; now_counts=$(ledger_counts); [ "$now_counts" != "$after" ] || break; after=$now_counts
  done
  read -r b_runs b_llm b_msg <<<"$before"
  read -r a_runs a_llm a_msg <<<"$after"
  record "{\"row\":\"ingest\",\"mode\":\"$mode\",\"size\":$n,\"connections\":$INGEST_CONNECTIONS,\"result\":$line,\"db\":{\"runs\":$((a_runs - b_runs)),\"llm_calls\":$((a_llm - b_llm)),\"messages\":$((a_msg - b_msg))}}"
  say "size $L: ingest ($mode): $(sed 's/.*"ok_requests":\([0-9]*\).*/\1/' <<<"$line") batches acknowledged, $(num $((a_runs + a_llm + a_msg - b_runs - b_llm - b_msg))) rows stored"
}

# Freshness at a steady write rate (FRESH_RATE records/s from one connection, live timestamps)
# while a dashboard reads: the saturating ingests above leave the refresher a thin share of
# the CPU, this is a busy platform that still leaves the host some room (1M runs a day is
# about 12 a second; the default is 170 times that).
# Mode "slowreader": the same writes while a client (an agent polling opsctl) also reads top
# agents over 7 and 30 days every 5 s, answers that take seconds at 1M runs (their p95 sorts the
# window's durations): the four reads' freshness then shows whether those hold up the others.
steady_measure() { # n [mode]
  local n=$1 mode=${2:-steady} line delay_ms span=$LIVE_SPAN slow=""
  delay_ms=$((BATCH * 1000 / FRESH_RATE))
  [ "$span" != 0 ] || span=600
  sleep 1
  say "size $L: steady writes, $(num "$FRESH_RATE") records/s (a batch of $BATCH every $delay_ms ms) for ${FRESH_DURATION}s, freshness sampled${2:+, top agents 7d/30d read every 5 s}"
  freshness_probe "$FRESH_DURATION" "$mode" "$n" &
  local probe=$!
  if [ "$mode" = slowreader ]; then
    ( until=$((SECONDS + FRESH_DURATION))
      while [ "$SECONDS" -lt "$until" ]; do
        for w in 7d 30d; do curl -s -o /dev/null -m 30 -H "$auth" "$url/api/ops/top?kind=agents&window=$w&limit=5" & done
        sleep 5
      done
      wait ) &
    slow=$!
  fi
  line=$(ingest_wrk "$FRESH_DURATION" "s$mode$nonce$n" "$span" "$delay_ms")
  wait "$probe" || die "the freshness probe failed during the steady writes"
  [ -z "$slow" ] || wait "$slow" || true
  [ -n "$line" ] || die "wrk produced no result for the steady writes"
  local slow_ms="{}"   # what the slow reads last took to compute
  [ -z "$slow" ] || slow_ms=$(q -c "SELECT coalesce(json_object_agg(split_part(key, ':', 3), round(compute_ms)), '{}')
                                    FROM ops.api_cache WHERE key LIKE 'top:agents:7d:5:%' OR key LIKE 'top:agents:30d:5:%'")
  record "{\"row\":\"steady\",\"mode\":\"$mode\",\"size\":$n,\"rate\":$FRESH_RATE,\"slow_compute_ms\":$slow_ms,\"result\":$line}"
}

check_get /api/ops/ping
check_get /api/ops/whoami "$auth"
check_get /api/ops/summary "$auth"
check_get "/api/v1/ops/overview?period=24h" "$auth"
nonce=$(date +%s)
access_log=$(env_file_get "$run_env" OPS_ACCESS_LOG)
access_offset=$(stat -c %s "$access_log" 2>/dev/null || echo 0)

for n in $SIZES; do
  L=$(label "$n")
  # --- load ---
  load_start=$SECONDS
  load_size "$n"
  load_s=$((SECONDS - load_start))
  counts=$(q -F ' ' -c "SELECT count(*) FILTER (WHERE started_at >= date_trunc('day', now())), count(*),
                               (SELECT count(*) FROM ops.messages), (SELECT count(*) FROM ops.agents),
                               (SELECT count(*) FROM ops.agents WHERE schedule IS NOT NULL),
                               count(DISTINCT user_id) FILTER (WHERE started_at >= date_trunc('day', now())),
                               (SELECT count(*) FILTER (WHERE ts >= date_trunc('day', now())) FROM ops.llm_calls),
                               (SELECT count(*) FROM ops.llm_calls),
                               current_date FROM ops.runs")
  read -r c_today c_all c_msg c_agents c_sched c_users c_llm_today c_llm c_date <<<"$counts"
  [ "$c_today" = "$n" ] || die "size $L: ops.runs holds $c_today runs today after the load, not $n"
  [ "$c_llm_today" = $((2 * n)) ] || die "size $L: ops.llm_calls holds $c_llm_today calls today after the load, not $((2 * n))"
  record "{\"row\":\"data\",\"size\":$n,\"runs_today\":$c_today,\"runs_total\":$c_all,\"llm_calls_today\":$c_llm_today,\"llm_calls_total\":$c_llm,\"messages\":$c_msg,\"agents\":$c_agents,\"scheduled\":$c_sched,\"users_today\":$c_users,\"date\":\"$c_date\",\"load_s\":$load_s}"

  # --- cold computations, then every answer cached once (one request at a time: an empty
  # key under 32 clients makes every one of them compute it) ---
  say "size $L: timing $COLD_ROUNDS cold computations per route"
  while IFS='|' read -r name path; do
    for r in $(seq 1 "$COLD_ROUNDS"); do
      record "{\"row\":\"cold\",\"route\":\"$name\",\"size\":$n,\"round\":$r,\"result\":$(cold_once "$name" "$path")}"
    done
  done <<<"$READS"
  while IFS='|' read -r name path; do check_get "$path" "$auth"; done <<<"$READS"

  # --- reads ---
  if [ "$WARMUP" -gt 0 ]; then
    say "size $L: warming up (${WARMUP}s per route)"
    while IFS='|' read -r name path; do
      wrk_get "$path" "$WARMUP" "$CONNECTIONS" "$(header_for "$name")" >/dev/null
    done <<<"$ROUTES"
  fi
  say "size $L: measuring $ROUNDS interleaved rounds x $(wc -l <<<"$ROUTES") routes x ${DURATION}s (about $((ROUNDS * $(wc -l <<<"$ROUTES") * DURATION))s)"
  for round in $(seq 1 "$ROUNDS"); do
    while IFS='|' read -r name path; do
      t_start=$(date +%s.%N)
      line=$(wrk_get "$path" "$DURATION" "$CONNECTIONS" "$(header_for "$name")")
      [ -n "$line" ] || die "wrk produced no result for $path (size $L, round $round)"
      record "{\"row\":\"$name\",\"size\":$n,\"round\":$round,\"connections\":$CONNECTIONS,\"path\":\"${path%%\?*}\",\"t0\":$t_start,\"t1\":$(date +%s.%N),\"result\":$line}"
      say "size $L round $round $name: $(sed 's/.*"rps":\([0-9]*\).*"p99_us":\([0-9]*\).*/\1 req\/s, p99 \2 us/' <<<"$line")"
    done <<<"$ROUTES"
  done

  # --- ingest on top of this size's data (it adds rows, so it comes after the reads) ---
  say "size $L: hello at $INGEST_CONNECTIONS connections, the ingest's ceiling (${DURATION}s)"
  [ "$WARMUP" = 0 ] || wrk_get /api/ops/ping "$WARMUP" "$INGEST_CONNECTIONS" >/dev/null
  line=$(wrk_get /api/ops/ping "$DURATION" "$INGEST_CONNECTIONS")
  [ -n "$line" ] || die "wrk produced no result for /api/ops/ping"
  record "{\"row\":\"hello_ingest\",\"size\":$n,\"connections\":$INGEST_CONNECTIONS,\"result\":$line}"
  if [ "$WARMUP" -gt 0 ]; then
    line=$(ingest_wrk "$WARMUP" "w$nonce$n")
    [ -n "$line" ] || die "wrk produced no result for the ingest warm-up"
  fi
  ingest_measure "$n" backfill ""
  [ "$LIVE_SPAN" = 0 ] || ingest_measure "$n" live "$LIVE_SPAN"
  [ "$FRESH_RATE" = 0 ] || { steady_measure "$n"; steady_measure "$n" slowreader; }

  end_date=$(q -c "SELECT current_date")
  [ "$end_date" = "$c_date" ] || record "{\"row\":\"midnight\",\"size\":$n,\"from\":\"$c_date\",\"to\":\"$end_date\"}"
done

# --- the table ----------------------------------------------------------------------------------

workers=$(env_file_get "$run_env" OPS_WORKERS); threads=$(env_file_get "$run_env" OPS_FCGI_THREADS)
header="Opsplane activity bench $(date -u +%Y-%m-%dT%H:%M:%SZ)  $url  host: $(nproc) CPUs, load avg $(cut -d' ' -f1-3 /proc/loadavg)  workers: ${workers:-?} x ${threads:-?} threads  took $((SECONDS - T0)) s
reads: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --timeout ${TIMEOUT}s --latency, medians of $ROUNDS interleaved rounds (hello, auth, summary, timeseries, top, overview) after ${WARMUP}s warm-ups
ingest: wrk -t$THREADS -c$INGEST_CONNECTIONS -d${INGEST_DURATION}s, $BATCH fresh records a request (bench/ingest.lua), on top of each size's data, after its reads"

status=0
python3 "$REPO/bench/activity_report.py" "$jsonl" "$header" "${OPS_CACHE_MAX_AGE_MS:-2000}" "${OPS_CACHE_CHEAP_MS:-25}" \
  "$START_EPOCH" "$access_log" "$(env_file_get "$run_env" OPS_LOG_DIR)" "$access_offset" \
  >"$STATE/bench-activity.txt" || status=$?
cat "$STATE/bench-activity.txt"
say "table saved to $STATE/bench-activity.txt, raw numbers in $jsonl"
[ "$status" = 0 ] || exit 1
