-- wrk script of every bench/run scenario. bench/run sets the environment; wrk runs one copy of
-- this file per thread (plus one for setup/done), so everything below is per thread except
-- `setup` and `done`.
--
--   BENCH_MODE      get | login | checkout | mix
--   BENCH_DATA      directory with login_emails.txt, checkout_tokens.txt, cart_tokens.txt,
--                   items.txt (written by bench/run)
--   BENCH_THREADS   wrk's -t (accounts are split between threads so no two threads share one)
--   BENCH_NONCE     unique per wrk run: part of every Idempotency-Key
--   BENCH_NET       0-255, second octet of the X-Forwarded-For addresses of this run's logins
--   BENCH_LAG       checkout: how many add/order pairs an account's order trails its cart add
--   BENCH_PATHS     get: comma-separated paths, requested in turn (one path: wrk's URL path)
--   BENCH_DELAY_MS  pause of each connection before its next request (rate-limited runs)
--   BENCH_PASSWORD  the login accounts' password
--
-- done() prints one line `WRKJSON {...}` with the counts and latency percentiles (µs) that
-- bench/run parses.

local mode = os.getenv("BENCH_MODE") or "get"
local data = os.getenv("BENCH_DATA") or "."
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())
local net = tonumber(os.getenv("BENCH_NET") or "0") % 256
local lag = tonumber(os.getenv("BENCH_LAG") or "64")
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
local password = os.getenv("BENCH_PASSWORD") or ""

local threads_made = 0
function setup(thread)
  thread:set("id", threads_made)
  threads_made = threads_made + 1
end

local function read_lines(name)
  local t = {}
  for line in io.lines(data .. "/" .. name) do
    if line ~= "" then t[#t + 1] = line end
  end
  return t
end

-- This thread's share of a list (every nthreads-th entry).
local function mine(all)
  local t = {}
  for i, v in ipairs(all) do
    if (i - 1) % nthreads == id then t[#t + 1] = v end
  end
  return t
end

local function words(s)
  local t = {}
  for w in s:gmatch("%S+") do t[#t + 1] = w end
  return t
end

local emails, checkout_tokens, cart_tokens, items
local logins, adds, orders, cart_adds, gets, step = 0, 0, 0, 0, 0, 0
local paths = {}
for p in (os.getenv("BENCH_PATHS") or "/"):gmatch("[^,]+") do paths[#paths + 1] = p end

function init(args)
  if mode == "login" or mode == "mix" then
    emails = mine(read_lines("login_emails.txt"))
    -- Start each run somewhere else in the list, so the per-account limit (10 in 15 min)
    -- is spread over every account.
    logins = (net * 7919) % #emails
  end
  if mode == "checkout" or mode == "mix" then
    checkout_tokens = mine(read_lines("checkout_tokens.txt"))
    items = {}
    for _, line in ipairs(read_lines("items.txt")) do items[#items + 1] = words(line) end
  end
  if mode == "mix" then
    cart_tokens = mine(read_lines("cart_tokens.txt"))
  end
end

local function get()
  gets = gets + 1
  return wrk.format("GET", paths[(gets % #paths) + 1])
end

local function login()
  logins = logins + 1
  local email = emails[(logins % #emails) + 1]
  -- One address per login, so the per-IP limit (30 in 10 min) sees many clients.
  local ip = string.format("10.%d.%d.%d", net, (id * 64 + math.floor(logins / 256)) % 256, logins % 256)
  return wrk.format("POST", "/api/v1/auth/login",
    { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = ip },
    '{"email":"' .. email .. '","password":"' .. password .. '"}')
end

local function add_item(token, n)
  local item = items[(n % #items) + 1]
  return wrk.format("POST", "/api/v1/cart/items",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token },
    '{"plan_id":"' .. item[1] .. '","location_id":' .. item[2] ..
    ',"validity_months":' .. item[3] .. ',"quantity":1}')
end

-- The checkout's cart add: account k (in turn).
local function checkout_add()
  local token = checkout_tokens[(adds % #checkout_tokens) + 1]
  local r = add_item(token, adds)
  adds = adds + 1
  return r
end

-- The checkout's order: the account whose cart add was `lag` adds ago, long finished (bench/run
-- also leaves one line in every checkout account's cart first, so the first `lag` orders have
-- a cart too).
local function checkout_order()
  local token = checkout_tokens[((orders - lag) % #checkout_tokens) + 1]
  orders = orders + 1
  return wrk.format("POST", "/api/v1/orders",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token,
      ["Idempotency-Key"] = nonce .. "-" .. id .. "-" .. orders },
    "{}")
end

-- The mix, per 100 requests: 40 GET /api/v1/plans, 40 GET /rdp (browsing, 80 %); 15 cart adds
-- (11 by shoppers who do not check out, 4 by the customers who do); 4 checkouts and 1 login
-- (5 %). Spread evenly through the hundred.
local MIX = {}
do
  local counts = { plans = 40, rdp = 40, cart = 11, add = 4, order = 4, login = 1 }
  local kinds = { "plans", "rdp", "cart", "add", "order", "login" }
  for slot = 0, 99 do
    -- The kind furthest behind its share at this slot goes next (a smooth interleaving).
    local best, best_gap = nil, -1
    for _, k in ipairs(kinds) do
      local done_so_far = 0
      for _, m in ipairs(MIX) do if m == k then done_so_far = done_so_far + 1 end end
      local gap = counts[k] * (slot + 1) / 100 - done_so_far
      if gap > best_gap then best, best_gap = k, gap end
    end
    MIX[#MIX + 1] = best
  end
end

local function mix()
  local kind = MIX[(step % 100) + 1]
  step = step + 1
  if kind == "plans" then
    return wrk.format("GET", "/api/v1/plans")
  elseif kind == "rdp" then
    return wrk.format("GET", "/rdp")
  elseif kind == "cart" then
    cart_adds = cart_adds + 1
    return add_item(cart_tokens[(cart_adds % #cart_tokens) + 1], cart_adds)
  elseif kind == "add" then
    return checkout_add()
  elseif kind == "order" then
    return checkout_order()
  else
    return login()
  end
end

if mode == "get" then
  if #paths > 1 then request = get end
elseif mode == "login" then
  request = login
elseif mode == "checkout" then
  -- Alternately a cart add and an order: one checkout (cart -> order) per two requests.
  request = function()
    step = step + 1
    if step % 2 == 1 then return checkout_add() else return checkout_order() end
  end
elseif mode == "mix" then
  request = mix
end

if delay_ms > 0 then
  delay = function() return delay_ms end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
