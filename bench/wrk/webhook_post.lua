-- POST a webhook-sized body (about what payoutd sends for payout.created) to a receiver,
-- with Standard Webhooks headers, for wrk: the receiver's own ceiling.

local body = '{"data":{"payout":{' .. string.rep('"field":"value-value-value",', 45) ..
  '"id":"x"}},"id":"evt","type":"payout.created"}'
local n = 0

function request()
  n = n + 1
  return wrk.format("POST", "/hook", {
    ["Content-Type"] = "application/json",
    ["webhook-id"] = "ceiling-" .. n,
    ["webhook-timestamp"] = "1700000000",
    ["webhook-signature"] = "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }, body)
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
