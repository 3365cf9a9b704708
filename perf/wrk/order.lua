-- wrk script of perf/compare.sh: every request is the README's demo order, exactly as the curl
-- that `omnigate run` prints (same body and headers), so the upstream alone, nginx and omnigate
-- all receive the same bytes.
wrk.method = "POST"
wrk.path = "/back-office/orders"
wrk.body = '{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"123456789"}'
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer demo-token"
wrk.headers["dw-client-app-key"] = "demo-app-key"

-- Each wrk thread runs this script in a Lua state of its own: `non2xx` is that thread's count,
-- and done() (in the main state) adds them up through the threads setup() saw. wrk's own
-- status-error count would miss 1xx and 3xx answers; this hook measured no slower at 200k
-- requests per second.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

non2xx = 0

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
end

-- One machine-readable line for compare.sh; latencies in microseconds. Socket errors are
-- wrk's connect, read, write and timeout counts.
function done(summary, latency, requests)
   local answered_badly = 0
   for _, thread in ipairs(threads) do
      answered_badly = answered_badly + thread:get("non2xx")
   end
   local e = summary.errors
   io.write(string.format(
      "COMPARE requests=%d duration_us=%d p50=%d p99=%d p999=%d max=%d " ..
      "non2xx=%d socket_errors=%d\n",
      summary.requests, summary.duration,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
      answered_badly, e.connect + e.read + e.write + e.timeout))
end
