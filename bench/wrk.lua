-- wrk script for bench/perf.py: the identical or the varied regime, bodies checked, and a
-- JSON summary at the end.
--
--   WRK_METHOD=POST WRK_BODY_FILE=body.json WRK_HEADERS=$'content-type: application/json\nauthorization: Bearer …' \
--     wrk -t2 -c16 -d10s --latency -s bench/wrk.lua http://127.0.0.1:8000/graphql
--
-- Identical regime (WRK_BODY_FILE): one request, set up at load time (no request()
-- function), so wrk sends it pre-formatted and the load generator costs as little as it can.
-- Varied regime (WRK_BODIES_FILE): one request body per line, drawn from the benchmark's
-- database beforehand; each thread walks the list from its own offset, a body per request.
--
-- Bodies checked during timing: one response in WRK_CHECK_EVERY (default 10) is checked,
-- and one whose status is not 200, or whose body is not a JSON object holding "data" and
-- no "errors" member, counts as a failure ("bad_bodies"). A string check, not a parse:
-- wrk's LuaJIT has no JSON decoder; the answers were compared in full before timing.

wrk.method = os.getenv("WRK_METHOD") or "GET"

for line in string.gmatch(os.getenv("WRK_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  wrk.body = read(body_file)
end

local bodies_file = os.getenv("WRK_BODIES_FILE")
local bodies = {}
if bodies_file and bodies_file ~= "" then
  for line in string.gmatch(read(bodies_file), "[^\n]+") do
    bodies[#bodies + 1] = line
  end
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function init(args)
  checked, bad_bodies, sample = 0, 0, ""
  every = tonumber(os.getenv("WRK_CHECK_EVERY") or "10")
  seen = 0
  next_body = (id * 7919) % math.max(#bodies, 1)
end

if #bodies > 0 then
  function request()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
end

function response(status, headers, body)
  seen = seen + 1
  if seen % every ~= 0 then
    return
  end
  checked = checked + 1
  local ok = status == 200
    and string.match(body, "^%s*{") ~= nil
    and string.find(body, '"data"%s*:') ~= nil
    and string.find(body, '"errors"%s*:') == nil
  if not ok then
    bad_bodies = bad_bodies + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body, 1, 200)
    end
  end
end

function done(summary, latency, requests)
  local checked_all, bad_all, sample_any = 0, 0, ""
  for _, thread in ipairs(threads) do
    checked_all = checked_all + (thread:get("checked") or 0)
    bad_all = bad_all + (thread:get("bad_bodies") or 0)
    local s = thread:get("sample") or ""
    if sample_any == "" then
      sample_any = s
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "mean_us": %.1f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "checked": %d, "bad_bodies": %d, "variants": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, checked_all, bad_all, #bodies))
  if sample_any ~= "" then
    io.write("WRK_BAD_SAMPLE " .. string.gsub(sample_any, "\n", " ") .. "\n")
  end
end
