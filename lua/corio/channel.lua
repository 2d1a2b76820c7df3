-- corio.channel: FIFO channels between tasks, bounded (send waits while
-- full) or unbounded, with select cases.
--
-- The channel itself is C (csrc/bind/channel.c: buffer, waiting senders
-- and receivers, hand-over); this module adds the constructor's checks,
-- iteration, printing and the select cases, whose nodes the C queues hold
-- beside plain waiters, in arrival order.
local core = require "corio.core"
local case = require "corio.select"

local error, tostring, setmetatable = error, tostring, setmetatable

local Channel = core.Channel
local new_channel = core.channel
local chan_detach = core.chan_detach

-- corio.channel([n]): a channel holding up to n values (n >= 0; 0 makes
-- every send wait for a receiver), unbounded without n.
local function new(n)
  if n ~= nil and (math.type(n) ~= "integer" or n < 0) then
    error("corio.channel: bad argument #1 (non-negative integer expected, got " .. tostring(n) .. ")", 2)
  end
  return new_channel(n or -1)
end

-- for v in ch:iter() do ... end: receive until closed and drained.
function Channel:iter()
  return Channel.recv, self
end

function Channel:__tostring()
  return ("corio.Channel (%d/%s%s)"):format(#self, tostring(self:capacity() or math.huge),
                                            self:is_closed() and ", closed" or "")
end

-- ---- select cases ----

local RecvCase = case.kind("channel:recv_case")

-- A receive that can proceed now: true, v.
function RecvCase:try()
  return self.ch:_take()
end

function RecvCase:enlist(node)
  self.ch:_enlist(node, false)
end

-- The channel queues select nodes in C (marked by node.centry).
local function withdraw_node(_, node) chan_detach(node) end
RecvCase.withdraw = withdraw_node

-- ch:recv_case(): in corio.select, yields the received value (nil once
-- the channel is closed and drained).
function Channel:recv_case()
  return setmetatable({ ch = self }, RecvCase)
end

local SendCase = case.kind("channel:send_case")

function SendCase:try()
  return self.ch:_give(self.value)
end

function SendCase:enlist(node)
  node.data = self.value
  self.ch:_enlist(node, true)
end

SendCase.withdraw = withdraw_node

-- Woken by close (false) rather than by a receiver (nothing): the value
-- was not sent.
function SendCase:finish(v)
  if v == false then error("channel:send_case: channel is closed", 0) end
end

-- ch:send_case(v): in corio.select, sends v (no values).
function Channel:send_case(v)
  if getmetatable(self) ~= Channel then error("channel:send_case: not a channel", 2) end
  if v == nil then error("channel:send_case: cannot send nil", 2) end
  if self:is_closed() then error("channel:send_case: channel is closed", 2) end
  return setmetatable({ ch = self, value = v }, SendCase)
end

local M = { new = new, Channel = Channel }

function M.install(corio)
  corio.channel = new
end

return M
