-- corio.broadcast: every subscriber sees every value sent after it
-- subscribed. Sending never waits: the last n values are kept, and a
-- subscriber that falls further behind is told how many it lost.
local core = require "corio.core"
local waitq = require "corio.waitq"
local case = require "corio.select"

local wake = core.wake
local check = core.check   -- raises an expired deadline or pending cancel

local Broadcast = {}
Broadcast.__index = Broadcast
Broadcast.__name = "corio.Broadcast"

local Receiver = {}
Receiver.__index = Receiver
Receiver.__name = "corio.BroadcastReceiver"

-- corio.broadcast(n): a broadcast keeping the last n values (n >= 1).
local function new(n)
  if math.type(n) ~= "integer" or n < 1 then
    error("corio.broadcast: bad argument #1 (positive integer expected, got " .. tostring(n) .. ")", 2)
  end
  return setmetatable({ cap = n, buf = {}, seq = 0, closed = false, q = waitq.new() }, Broadcast)
end

-- Read for subscriber r without waiting: true, v | true, nil, "lagged",
-- count | true, nil, "closed" once closed and caught up | false.
local function take(r)
  local b, want = r.b, r.next
  local oldest = b.seq - b.cap + 1
  if want < oldest then
    r.next = oldest
    return true, nil, "lagged", oldest - want
  end
  if want <= b.seq then
    r.next = want + 1
    return true, b.buf[want]
  end
  if b.closed then return true, nil, "closed" end
  return false
end

-- b:send(v): append v and hand it to every waiting subscriber; returns
-- the number of subscribers woken.
function Broadcast:send(v)
  if v == nil then error("broadcast:send: cannot send nil", 2) end
  if self.closed then error("broadcast:send: broadcast is closed", 2) end
  local seq = self.seq + 1
  self.seq = seq
  self.buf[seq] = v
  self.buf[seq - self.cap] = nil
  local woken, node = 0, waitq.pop(self.q)
  while node do   -- a waiting subscriber had caught up: v is its next value
    if wake(node.task, node.tag, v) then
      node.data.next = seq + 1
      woken = woken + 1
    end
    node = waitq.pop(self.q)
  end
  return woken
end

-- b:close(): no more sends; subscribers get nil once caught up. True;
-- then nil, "broadcast is closed", "EBADF" (every object's second close).
function Broadcast:close()
  if self.closed then return nil, "broadcast is closed", "EBADF" end
  self.closed = true
  waitq.wake_all(self.q, nil, "closed")
  return true
end

-- b:subscribe(): a receiver of the values sent from now on.
function Broadcast:subscribe()
  return setmetatable({ b = self, next = self.seq + 1 }, Receiver)
end

-- b:waiting(): subscribers parked in recv.
function Broadcast:waiting()
  return self.q.n
end

-- r:recv(): the next value; nil, "lagged", count once after falling more
-- than n behind; nil, "closed" once the broadcast is closed and r caught
-- up.
function Receiver:recv()
  check()
  local ok, v, why, count = take(self)
  if ok then return v, why, count end
  return waitq.park(self.b.q, "broadcast:recv", self)
end

-- r:try_recv(): like recv, or nil, "empty" when nothing is new.
function Receiver:try_recv()
  local ok, v, why, count = take(self)
  if ok then return v, why, count end
  return nil, "empty"
end

local RecvCase = case.kind("broadcast:recv_case")

function RecvCase:try()
  return take(self.r)
end

function RecvCase:enlist(node)
  node.data = self.r
  waitq.push(self.r.b.q, node)
end

-- r:recv_case(): in corio.select, yields what recv would return.
function Receiver:recv_case()
  return setmetatable({ r = self }, RecvCase)
end

return {
  new = new,
  install = function(corio) corio.broadcast = new end,
}
