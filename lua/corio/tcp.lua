-- corio.tcp.connect: names resolved on the worker pool (corio.resolve),
-- and a name with several addresses raced as RFC 8305 ("happy eyeballs")
-- says: the families interleaved starting with the first one
-- getaddrinfo gave (IPv6 when the host has it), the next attempt started
-- 250 ms after the previous one or at once when it fails, the first
-- connection wins and the others are cancelled or closed. opts.timeout
-- bounds the whole connect, the lookup included.
local core = require "corio.core"

local M = {}

local ATTEMPT_DELAY = 0.25   -- RFC 8305's "Connection Attempt Delay"

local function fail_args(fname, host, port, opts)
  if host ~= nil and type(host) ~= "string" then
    error(("%s: bad argument #1 (string expected, got %s)"):format(fname, type(host)), 3)
  end
  if math.type(port) ~= "integer" then
    error(("%s: bad argument #2 (port number expected, got %s)"):format(fname, math.type(port) or type(port)), 3)
  end
  if port < 0 or port > 65535 then
    error(("%s: bad argument #2 (port out of range 0-65535)"):format(fname), 3)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("%s: bad argument #3 (table expected, got %s)"):format(fname, type(opts)), 3)
  end
end

-- The addresses in the order to try them: alternating families, starting
-- with the family of the first.
local function interleave(addrs)
  local first = addrs[1]:find(":", 1, true) ~= nil
  local same, other = {}, {}
  for _, a in ipairs(addrs) do
    local v6 = a:find(":", 1, true) ~= nil
    local list = v6 == first and same or other
    list[#list + 1] = a
  end
  local out, i = {}, 1
  while same[i] or other[i] do
    out[#out + 1] = same[i]
    out[#out + 1] = other[i]
    i = i + 1
  end
  return out
end

-- Race connections to addrs; the winner, or the last failure.
local function race(corio, addrs, port, opts)
  local results = corio.channel()
  local tasks, state = {}, { over = false }
  local function attempt(a)
    local s, msg, code = core.tcp_connect(a, port, opts)
    if s and state.over then s:close() return end
    results:send({ s, msg, code })
  end
  -- Whatever ends the race (a winner, a failure, a cancel or timeout of
  -- the caller), no attempt outlives it and no stream but the winner stays.
  local cleanup <close> = setmetatable({}, { __close = function()
    state.over = true
    for _, t in ipairs(tasks) do t:cancel() end
    results:close()
    for r in results:iter() do
      if r[1] and r[1] ~= state.winner then r[1]:close() end
    end
  end })
  local started, pending, last = 0, 0, nil
  local function start()
    started, pending = started + 1, pending + 1
    tasks[started] = corio.spawn(attempt, addrs[started])
  end
  start()
  while true do
    local r
    if started < #addrs then
      local ok, v = corio.timeout(ATTEMPT_DELAY, results.recv, results)
      r = ok and v or nil
    else
      r = results:recv()
    end
    if not r then
      start()
    else
      pending = pending - 1
      if r[1] then
        state.winner = r[1]
        return r[1]
      end
      last = r
      if started < #addrs then start()
      elseif pending == 0 then return nil, last[2], last[3] end
    end
  end
end

local function connect(corio, host, port, opts)
  if host == nil or host == "*" then host = "127.0.0.1" end
  local addrs, msg, code = core.resolve(host)
  if not addrs then return nil, msg, code end
  if #addrs == 1 then return core.tcp_connect(addrs[1], port, opts) end
  return race(corio, interleave(addrs), port, opts)
end

function M.install(corio)
  -- corio.tcp.connect(host, port [, opts]) -> stream | nil, msg, code
  function corio.tcp.connect(host, port, opts)
    fail_args("corio.tcp.connect", host, port, opts)
    local timeout = opts and opts.timeout
    if timeout == nil then return connect(corio, host, port, opts) end
    if type(timeout) ~= "number" or timeout ~= timeout then
      error("corio.tcp.connect: bad option 'timeout' (number expected)", 2)
    end
    local res = table.pack(corio.timeout(timeout, connect, corio, host, port, opts))
    if not res[1] then return nil, "timed out", "ETIMEDOUT" end
    return table.unpack(res, 2, res.n)
  end
end

return M
