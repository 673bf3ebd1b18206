-- POST /bench/floor/: three TPC-B-like statements on a random account.
local count = tonumber(os.getenv("BENCH_MEMBER_COUNT"))
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
end

function init(args)
  math.randomseed(os.time() * 100 + tid)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local body = string.format('{"account": %d, "delta": %d}', math.random(1, count), math.random(1, 100))
  return wrk.format(nil, "/bench/floor/", nil, body)
end
