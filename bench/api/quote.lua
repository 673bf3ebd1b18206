-- POST /api/v1/purchases/quote/ for a random member and amount.
local key = os.getenv("BENCH_KEY")
local first = tonumber(os.getenv("BENCH_MEMBER_FIRST"))
local count = tonumber(os.getenv("BENCH_MEMBER_COUNT"))
local currencies = {"USD", "AZN", "EUR", "GBP"}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Api-Key " .. key
end

function request()
  local body = string.format('{"member": %d, "amount": "%d.%02d", "currency": "%s"}',
    first + math.random(0, count - 1), math.random(5, 300), math.random(0, 99),
    currencies[math.random(1, #currencies)])
  return wrk.format(nil, "/api/v1/purchases/quote/", nil, body)
end
