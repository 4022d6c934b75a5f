-- wrk script for bench/activity.sh: POST /api/ops/ingest with NDJSON batches.
--
-- Every request is a fresh batch of INGEST_BATCH (default 500) records: of every 50, 40 runs
-- in their final state (success / failed / canceled, ~6 % failed, lognormal durations, costs
-- with ~10 % unknown), 6 LLM calls (~30 % without a cost, priced by the server when it can)
-- and 4 thread messages. Timestamps are spread over today (UTC) up to a few minutes ago.
-- Ids are unique per request: <nonce>-<wrk thread>-<request counter>-<line>, so no record
-- is a replay and each one must add a row.
--
-- Environment: OPS_INGEST_TOKEN (required), INGEST_BATCH, INGEST_NONCE (id prefix; default
-- the start time, so reruns against the same database do not collide), INGEST_SPAN_S (the
-- timestamps' span back from now, "live"), INGEST_DELAY_MS (a pause before each request on a
-- connection: a steady write rate instead of as fast as the server answers).
--
-- The `done` hook prints one line `BENCH_JSON {...}`: wrk's numbers (as bench/report.lua)
-- plus what the threads counted: requests sent, 2xx / other responses, the server's
-- accepted / rejected totals, and records sent per kind (runs, llm_calls, messages) both in
-- all requests and in the 2xx ones.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local token = os.getenv("OPS_INGEST_TOKEN")
local batch = tonumber(os.getenv("INGEST_BATCH") or "500")
local nonce = os.getenv("INGEST_NONCE") or tostring(os.time())

-- What this thread has counted (read back by `done` through thread:get).
sent_requests, ok_requests, bad_requests, accepted, rejected = 0, 0, 0, 0, 0
first_error = ""

local now, day0, span
local agents, users = 40, 2000
local models = {
  {"openai", "gpt-4o", 2.5, 10.0}, {"openai", "gpt-4o-mini", 0.15, 0.6},
  {"anthropic", "claude-sonnet-4", 3.0, 15.0}, {"anthropic", "claude-haiku-4", 0.8, 4.0},
  {"google", "gemini-2.5-flash", 0.3, 2.5},
}
local errors = {"timeout", "rate_limited", "tool_error: http 502", "context_length_exceeded"}

-- Records per kind in one batch (same for every request).
local per_kind = {runs = 0, llm_calls = 0, messages = 0}
for j = 1, batch do
  local k = j % 50
  if k < 40 then per_kind.runs = per_kind.runs + 1
  elseif k < 46 then per_kind.llm_calls = per_kind.llm_calls + 1
  else per_kind.messages = per_kind.messages + 1 end
end

function init(args)
  if not token or token == "" then error("ingest.lua: OPS_INGEST_TOKEN is not set") end
  math.randomseed(os.time() * 1000 + (tid or 0))
  now = os.time()
  day0 = now - now % 86400
  -- Up to 11 minutes ago (the longest run lasts 10), at least the first minute of the day.
  span = math.max(60, now - day0 - 660)
  local live = tonumber(os.getenv("INGEST_SPAN_S") or "")
  if live and live > 0 and live < span then day0 = now - 660 - live; span = live end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-ndjson"
  wrk.headers["Authorization"] = "Bearer " .. token
end

local function iso(t)
  local s = math.floor(t)
  return string.format("%s.%03dZ", os.date("!%Y-%m-%dT%H:%M:%S", s), math.floor((t - s) * 1000))
end

-- Lognormal run duration in ms: median ~4 s, long tail, capped at 10 min.
local function duration_ms()
  local z = math.sqrt(-2 * math.log(1 - math.random())) * math.cos(2 * math.pi * math.random())
  return math.max(50, math.min(600000, math.floor(math.exp(8.3 + 0.9 * z))))
end

local function skewed(n, power) return 1 + math.floor(n * math.random() ^ power) end

local function run_line(id)
  local started = day0 + math.random() * span
  local created = started - math.random() * 3
  local d = duration_ms()
  local r = math.random()
  local status = (r < 0.06 and "failed") or (r < 0.07 and "canceled") or "success"
  local m = models[math.random(#models)]
  local pt, ct = 200 + math.random(0, 4000), 20 + math.random(0, 800)
  local cost = "null"
  if math.random() >= 0.10 then cost = string.format("%.6f", (pt * m[3] + ct * m[4]) / 1e6) end
  local err = "null"
  if status == "failed" then err = '"' .. errors[math.random(#errors)] .. '"' end
  return string.format(
    '{"kind":"run","run_id":"%s","agent_id":"agent-%02d","user_id":"u-%04d","status":"%s",' ..
    '"created_at":"%s","started_at":"%s","finished_at":"%s","duration_ms":%d,"model":"%s",' ..
    '"prompt_tokens":%d,"completion_tokens":%d,"cost_usd":%s,"error":%s}',
    id, skewed(agents, 2), skewed(users, 1.5), status, iso(created), iso(started), iso(started + d / 1000),
    d, m[2], pt, ct, cost, err)
end

local function llm_line(id)
  local m = models[math.random(#models)]
  local pt, ct = 100 + math.random(0, 6000), 10 + math.random(0, 1200)
  local cost = "null"
  if math.random() >= 0.30 then cost = string.format("%.6f", (pt * m[3] + ct * m[4]) / 1e6) end
  local ok = math.random() >= 0.03
  return string.format(
    '{"kind":"llm_call","id":"%s","ts":"%s","provider":"%s","model":"%s","prompt_tokens":%d,' ..
    '"completion_tokens":%d,"latency_ms":%d,"status":"%s","cost_usd":%s}',
    id, iso(day0 + math.random() * span), m[1], m[2], pt, ct, 200 + math.random(0, 8000),
    ok and "ok" or "error", cost)
end

local function message_line(id)
  return string.format('{"kind":"message","message_id":"%s","thread_id":"th-%s-%d","user_id":"u-%04d","created_at":"%s"}',
    id, nonce, math.random(1, 20000), skewed(users, 1.5), iso(day0 + math.random() * span))
end

local pause = tonumber(os.getenv("INGEST_DELAY_MS") or "")
if pause and pause > 0 then
  function delay() return pause end
end

function request()
  counter = counter + 1
  sent_requests = sent_requests + 1
  local lines = {}
  for j = 1, batch do
    local id = string.format("b%s-%d-%d-%d", nonce, tid, counter, j)
    local k = j % 50
    if k < 40 then lines[j] = run_line(id)
    elseif k < 46 then lines[j] = llm_line(id)
    else lines[j] = message_line(id) end
  end
  return wrk.format(nil, nil, nil, table.concat(lines, "\n") .. "\n")
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok_requests = ok_requests + 1
    accepted = accepted + (tonumber(body:match('"accepted"%s*:%s*(%d+)')) or 0)
    rejected = rejected + (tonumber(body:match('"rejected"%s*:%s*(%d+)')) or 0)
  else
    bad_requests = bad_requests + 1
  end
  if (status < 200 or status >= 300 or not body:match('"rejected"%s*:%s*0[^%d]')) and first_error == "" then
    first_error = string.format("HTTP %d %s", status, body:sub(1, 300))
  end
end

done = function(summary, latency, requests)
  local t = {sent = 0, ok = 0, bad = 0, accepted = 0, rejected = 0}
  local first = ""
  for _, thread in ipairs(threads) do
    t.sent = t.sent + thread:get("sent_requests")
    t.ok = t.ok + thread:get("ok_requests")
    t.bad = t.bad + thread:get("bad_requests")
    t.accepted = t.accepted + thread:get("accepted")
    t.rejected = t.rejected + thread:get("rejected")
    if first == "" then first = thread:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"rps":%.2f,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,' ..
    '"batch":%d,"sent_requests":%d,"ok_requests":%d,"bad_requests":%d,"accepted":%d,"rejected":%d,' ..
    '"per_batch":{"runs":%d,"llm_calls":%d,"messages":%d},"first_error":"%s"}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.timeout, e.status,
    batch, t.sent, t.ok, t.bad, t.accepted, t.rejected,
    per_kind.runs, per_kind.llm_calls, per_kind.messages,
    (first:gsub('[%c"\\]', "?"))))
end
