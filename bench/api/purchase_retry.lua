-- POST /api/v1/purchases/ as purchase.lua, and one request in ten a client retry: the previous
-- request again, same receipt and body (answered by a replay: the insert meets the unique
-- constraint and the transaction rolls back).
local key = os.getenv("BENCH_KEY")
local first = tonumber(os.getenv("BENCH_MEMBER_FIRST"))
local count = tonumber(os.getenv("BENCH_MEMBER_COUNT"))
local run = os.getenv("BENCH_RUN") or tostring(os.time())
local currencies = {"USD", "AZN", "EUR", "GBP"}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Api-Key " .. key
end

function request()
  if last ~= nil and math.random(1, 10) == 1 then
    return last
  end
  n = n + 1
  local body = string.format(
    '{"member": %d, "amount": "%d.%02d", "currency": "%s", "external_id": "B-%s-%d-%d"}',
    first + math.random(0, count - 1), math.random(5, 300), math.random(0, 99),
    currencies[math.random(1, #currencies)], run, tid, n)
  last = wrk.format(nil, "/api/v1/purchases/", nil, body)
  return last
end
