-- POST /v1/payouts for wrk: auto-approved crypto payouts from the merchant's own balance.
--
--   wrk -t2 -c32 -d20s --latency -s bench/wrk/payouts.lua http://127.0.0.1:PORT \
--       -- <data file> <run tag> [<payouts per thread, 0: unlimited>]
--
-- The data file (written by bench/common.py) has lines "K <api key>" and
-- "T <currency> <network> <amount> <address>". Each wrk thread has its own Lua state and
-- its own counter, and setup() numbers the threads, so an order_id
-- "<run tag>-<thread>-<counter>" is unique across threads and across the connections
-- of a thread (they share the thread's counter). Requests rotate over merchants' keys
-- and, independently, over currencies/networks and recipients.
--
-- With a quota, a thread sends that many distinct order_ids and then repeats its last one
-- (payoutd answers a repeated order_id with 200 and creates nothing), and stops once it
-- has an answer for each of its distinct ones: the e2e benchmark creates an exact number
-- of payouts this way. wrk itself runs until the driver interrupts it.

local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

local keys, targets = {}, {}
local tag, quota = "bench", 0
local n, sent, answered = 0, 0, 0
local last, verifying

function init(args)
  local path = args[1]
  tag = args[2] or tag
  quota = tonumber(args[3] or "0")
  for line in io.lines(path) do
    local kind, a, b, c, d = line:match("^(%S+) (%S+) ?(%S*) ?(%S*) ?(%S*)$")
    if kind == "K" then
      keys[#keys + 1] = "Bearer " .. a
    elseif kind == "T" then
      targets[#targets + 1] = string.format(
        '{"amount":"%s","currency":"%s","network":"%s","address":"%s","order_id":"',
        c, a, b, d)
    end
  end
  assert(#keys > 0 and #targets > 0, "no keys or targets in " .. path)
  if quota > 0 then
    -- defined only with a quota: without it wrk need not call into Lua per answer
    response = function(status, hdrs, body)
      if status ~= 200 then  -- 201: created; anything else: refused (counted by wrk)
        answered = answered + 1
        if answered >= quota then
          wrk.thread:stop()
        end
      end
    end
  end
  -- different threads start at different merchants
  n = (tid - 1) * 7919
  -- wrk calls request() once on the first thread's state right after init, to check the
  -- request, and never sends what it returns: that call must not use up an order_id
  verifying = tid == 1
end

local headers = {["Content-Type"] = "application/json"}

function request()
  if verifying then
    verifying = false
    return wrk.format("POST", "/v1/payouts", headers, "{}")
  end
  if quota > 0 and sent >= quota then
    return last
  end
  sent = sent + 1
  n = n + 1
  headers["Authorization"] = keys[n % #keys + 1]
  local target = targets[math.floor(n / #keys) % #targets + 1]
  local body = string.format('%s%s-%d-%d"}', target, tag, tid, n)
  last = wrk.format("POST", "/v1/payouts", headers, body)
  return last
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
