-- corio.channel: FIFO channels between tasks, bounded (send waits while
-- full) or unbounded, with select cases.
--
-- Invariants: receivers wait only while the buffer is empty, senders only
-- while it is full; a value moves from a sender to the buffer or to a
-- receiver only through a successful core.wake, so a value is never lost
-- or duplicated, whoever gets cancelled.
local waitq = require "corio.waitq"
local case = require "corio.select"

local push, park, wake_first = waitq.push, waitq.park, waitq.wake_first
local error, type, tostring = error, type, tostring

local Channel = {}
Channel.__index = Channel
Channel.__name = "corio.Channel"

-- Marks a sender woken by close: its value was not delivered.
local CLOSED = setmetatable({}, { __tostring = function() return "closed" end })

-- corio.channel([n]): a channel holding up to n values (n >= 0; 0 makes
-- every send wait for a receiver), unbounded without n.
local function new(n)
  if n ~= nil and (math.type(n) ~= "integer" or n < 0) then
    error("corio.channel: bad argument #1 (non-negative integer expected, got " .. tostring(n) .. ")", 2)
  end
  return setmetatable({
    cap = n or math.huge, buf = {}, head = 1, tail = 0, closed = false,
    recvq = waitq.new(), sendq = waitq.new(),
  }, Channel)
end

local function count(ch)
  return ch.tail - ch.head + 1
end

local function append(ch, v)
  local t = ch.tail + 1
  ch.tail = t
  ch.buf[t] = v
end

-- Move waiting senders' values into the buffer while there is room.
local function refill(ch)
  while count(ch) < ch.cap do
    local node = wake_first(ch.sendq)
    if not node then return end
    append(ch, node.data)
  end
end

-- Take the oldest buffered value (the buffer is not empty).
local function shift(ch)
  local h, buf = ch.head, ch.buf
  local v = buf[h]
  buf[h] = nil
  if h == ch.tail then ch.head, ch.tail = 1, 0 else ch.head = h + 1 end
  refill(ch)
  return v
end

-- Receive without waiting: true, v (v nil once closed and drained), or
-- false when a receiver would have to wait.
local function take(ch)
  if ch.tail >= ch.head then return true, shift(ch) end
  local node = wake_first(ch.sendq)   -- unbuffered: straight from a sender
  if node then return true, node.data end
  if ch.closed then return true, nil end
  return false
end

-- Send without waiting: true if v went to a receiver or the buffer.
local function give(ch, v)
  if wake_first(ch.recvq, v) then return true end
  if count(ch) < ch.cap then
    append(ch, v)
    return true
  end
  return false
end

local function check_send(ch, v, fname)
  if getmetatable(ch) ~= Channel then error(fname .. ": not a channel", 3) end
  if v == nil then error(fname .. ": cannot send nil", 3) end
  if ch.closed then error(fname .. ": channel is closed", 3) end
end

-- ch:send(v): put v in the channel, waiting while it is full; true.
-- Raises if v is nil or the channel is (or gets) closed.
function Channel:send(v)
  check_send(self, v, "channel:send")
  if give(self, v) then return true end
  if park(self.sendq, "channel:send", v) == CLOSED then
    error("channel:send: channel is closed", 2)
  end
  return true
end

-- ch:try_send(v): true if sent now, false, "full" otherwise.
function Channel:try_send(v)
  check_send(self, v, "channel:try_send")
  if give(self, v) then return true end
  return false, "full"
end

-- ch:recv(): the next value, waiting for one; nil once closed and drained.
function Channel:recv()
  local ok, v = take(self)
  if ok then return v end
  return (park(self.recvq, "channel:recv"))
end

-- ch:try_recv(): the next value, or nil, "empty" | "closed".
function Channel:try_recv()
  local ok, v = take(self)
  if ok and v ~= nil then return v end
  return nil, ok and "closed" or "empty"
end

-- ch:close(): no more sends; buffered values stay receivable, waiting
-- receivers get nil, waiting senders raise. True the first time.
function Channel:close()
  if self.closed then return false end
  self.closed = true
  waitq.wake_all(self.recvq, nil)
  waitq.wake_all(self.sendq, CLOSED)
  return true
end

-- ch:is_closed()
function Channel:is_closed()
  return self.closed
end

-- #ch: the number of buffered values.
function Channel:__len()
  return count(self)
end

-- for v in ch:iter() do ... end: receive until closed and drained.
function Channel:iter()
  return Channel.recv, self
end

-- ch:waiting(): senders and receivers parked on the channel.
function Channel:waiting()
  return self.sendq.n + self.recvq.n
end

function Channel:__tostring()
  return ("corio.Channel (%d/%s%s)"):format(count(self), tostring(self.cap),
                                            self.closed and ", closed" or "")
end

-- ---- select cases ----

local RecvCase = case.kind("channel:recv_case")

-- A receive that can proceed now: true, v.
function RecvCase:try()
  return take(self.ch)
end

function RecvCase:enlist(node)
  push(self.ch.recvq, node)
end

-- ch:recv_case(): in corio.select, yields the received value (nil once
-- the channel is closed and drained).
function Channel:recv_case()
  return setmetatable({ ch = self }, RecvCase)
end

local SendCase = case.kind("channel:send_case")

function SendCase:try()
  if self.ch.closed then error("channel:send_case: channel is closed", 0) end
  return give(self.ch, self.value)
end

function SendCase:enlist(node)
  node.data = self.value
  push(self.ch.sendq, node)
end

-- Woken by close rather than by a receiver: the value was not sent.
function SendCase:finish(v)
  if v == CLOSED then error("channel:send_case: channel is closed", 0) end
end

-- ch:send_case(v): in corio.select, sends v (no values).
function Channel:send_case(v)
  check_send(self, v, "channel:send_case")
  return setmetatable({ ch = self, value = v }, SendCase)
end

local M = { new = new, Channel = Channel }

function M.install(corio)
  corio.channel = new
end

return M
