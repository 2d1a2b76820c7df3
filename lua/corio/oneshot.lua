-- corio.oneshot: a single value from one sender to one receiver.
local waitq = require "corio.waitq"
local check = require("corio.core").check   -- raises an expired deadline or pending cancel
local case = require "corio.select"

local Oneshot = {}
Oneshot.__index = Oneshot
Oneshot.__name = "corio.Oneshot"

-- corio.oneshot(): an empty oneshot.
local function new()
  return setmetatable({ q = waitq.new(), sent = false, taken = false, value = nil }, Oneshot)
end

-- o:send(v): deliver v (to the waiting receiver, or keep it for recv).
-- A second send, or sending nil, raises.
function Oneshot:send(v)
  if v == nil then error("oneshot:send: cannot send nil", 2) end
  if self.sent then error("oneshot:send: value already sent", 2) end
  self.sent = true
  if waitq.wake_first(self.q, v) then
    self.taken = true
  else
    self.value = v
  end
  return true
end

-- Receive without waiting: true, v when the value is there.
local function take(o, fname)
  if o.taken then error(fname .. ": value already received", 3) end
  if not o.sent then return false end
  local v = o.value
  o.value, o.taken = nil, true
  return true, v
end

-- o:recv(): the value, waiting until it is sent. Only one receiver.
function Oneshot:recv()
  check()
  local ok, v = take(self, "oneshot:recv")
  if ok then return v end
  if self.q.n > 0 then error("oneshot:recv: already has a receiver", 2) end
  return (waitq.park(self.q, "oneshot:recv"))
end

-- o:try_recv(): the value, or nil, "empty".
function Oneshot:try_recv()
  local ok, v = take(self, "oneshot:try_recv")
  if ok then return v end
  return nil, "empty"
end

-- o:is_sent()
function Oneshot:is_sent()
  return self.sent
end

local RecvCase = case.kind("oneshot:recv_case")

function RecvCase:try()
  return take(self.o, "oneshot:recv_case")
end

-- The sender marks the value taken when its wake succeeds.
function RecvCase:enlist(node)
  waitq.push(self.o.q, node)
end

-- o:recv_case(): in corio.select, yields the value.
function Oneshot:recv_case()
  return setmetatable({ o = self }, RecvCase)
end

return {
  new = new,
  install = function(corio) corio.oneshot = new end,
}
