-- GET a rotating list of paths with one API key, for wrk:
--
--   wrk -t1 -c1 -d5s --latency -s bench/wrk/get_paths.lua http://127.0.0.1:PORT -- <file>
--
-- The file's first line is the API key, every further line a path with its query, e.g.
-- /v1/payouts?status=paid&limit=50&cursor=... (bench/growth.py writes it).

local paths, auth, i = {}, nil, 0

function init(args)
  for line in io.lines(args[1]) do
    if auth == nil then
      auth = "Bearer " .. line
    elseif #line > 0 then
      paths[#paths + 1] = line
    end
  end
  assert(auth ~= nil and #paths > 0, "no key or no paths in " .. args[1])
end

function request()
  i = i + 1
  return wrk.format("GET", paths[i % #paths + 1], {["Authorization"] = auth})
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
