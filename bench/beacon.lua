-- wrk script for bench/beacon.sh: POST /api/ops/frontend-log with sendBeacon-style bodies
-- (text/plain JSON, ~1.2 KB: a message, a 6-frame stack, 5 breadcrumbs) spread over
-- BEACON_ROUTES page routes (default 50) and 20 error kinds, so the ring buffer, the
-- per-route counters and the fingerprint budget rows all see realistic contention.
-- `done` prints BENCH_JSON like report.lua plus the count of 204 answers.

local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

ok_requests, other_requests = 0, 0
local routes = tonumber(os.getenv("BEACON_ROUTES") or "50")
local n = 0

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
end

function request()
  n = n + 1
  local r = math.random(routes)
  local kind = math.random(20)
  local frames = {}
  for i = 1, 6 do
    frames[i] = string.format("    at fn%d_%d (https://app.example.com/assets/app.3f9a12bc.js:%d:%d)", kind, i, math.random(9999), math.random(80))
  end
  local body = string.format(
    '{"message":"TypeError: Cannot read properties of undefined (reading \'item%d\') in view %d",' ..
    '"stack":"%s","type":"TypeError","source":"onerror","route":"/bench/page%d/%d",' ..
    '"build_hash":"bench-build","browser":"Chrome 120","ws_state":1,"ts":%d000,' ..
    '"breadcrumbs":[{"t":"load","to":"/bench"},{"t":"click","el":"button#save"},{"t":"nav","to":"/bench/page%d"},' ..
    '{"t":"fetch","url":"/api/items","status":500},{"t":"click","el":"a#next"}]}',
    kind, r, table.concat(frames, "\\n"), r, math.random(100000), os.time(), r)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 204 then ok_requests = ok_requests + 1 else other_requests = other_requests + 1 end
end

done = function(summary, latency, requests)
  local ok, other = 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok_requests")
    other = other + t:get("other_requests")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"rps":%.2f,"p50_us":%d,"p99_us":%d,' ..
    '"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"status_errors":%d,' ..
    '"ok":%d,"other":%d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status, ok, other))
end
