-- corio.signal: receive POSIX signals as values. The signals are blocked
-- and read from a signalfd the reactor watches: no Lua runs in an
-- asynchronous signal handler. Closing the listener (:close(), <close>,
-- GC) restores their default handling once nobody else listens.
--
-- While tasks wait, one helper task (the pump) polls the fd and hands
-- each signal to the first waiter, in FIFO order; a signal nobody takes
-- is kept for the next recv. The pump exists only while someone waits.
local core = require "corio.core"
local waitq = require "corio.waitq"
local check = core.check   -- raises an expired deadline or pending cancel
local case = require "corio.select"

local Listener = {}
Listener.__index = Listener
Listener.__name = "corio.Signal"

-- Detach the pump and cancel it (a new one may start before it ends).
local function stop_pump(l)
  local p = l.pump
  l.pump, l.token = nil, nil
  if p then p:cancel() end
end

-- corio.signal(name, ...): a listener for the named signals ("INT",
-- "TERM", "SIGUSR1", ...), or nil, msg, code.
local function new(...)
  local sfd, msg, code = core.signal_open(...)
  if not sfd then return nil, msg, code end
  local l = setmetatable({ sfd = sfd, pending = {}, ph = 1, pt = 0, pump = nil }, Listener)
  l.q = waitq.new(function(q) if q.n == 0 then stop_pump(l) end end)
  return l
end

local function check_open(l, fname)
  if not l.sfd:fd() then error(fname .. ": listener is closed", 3) end
end

-- A signal without waiting: true, name; or false.
local function take(l)
  local h = l.ph
  if h <= l.pt then
    local name = l.pending[h]
    l.pending[h] = nil
    l.ph = h + 1
    return true, name
  end
  local name, msg, code = l.sfd:read()
  if name or msg then return true, name, msg, code end
  return false
end

-- Hand name to the first waiter, or keep it.
local function deliver(l, name)
  if waitq.wake_first(l.q, name) then return end
  l.pt = l.pt + 1
  l.pending[l.pt] = name
end

-- The pump: read signals while anyone waits; ends when cancelled, when
-- the last waiter left, or on a read/poll failure (given to the waiters).
local function pump(l, token)
  while l.token == token and l.q.n > 0 do
    local name, msg, code = l.sfd:read()
    if name then
      deliver(l, name)
    elseif not msg then
      local ok
      ok, msg, code = core.poll(l.sfd:fd(), "r")
      if ok then msg = nil end
    end
    if msg then waitq.wake_all(l.q, nil, msg, code) end
  end
  if l.token == token then l.pump, l.token = nil, nil end
end

-- Start the pump with a token it can recognise itself by.
local function start_pump(l)
  if l.pump then return end
  local token = {}
  local t = core.spawn(function() pcall(pump, l, token) end)
  l.pump, l.token = t, token
end

-- l:recv(): the name of the next signal ("INT", ...), waiting for one;
-- nil, msg, code if reading fails; nil if the listener closes meanwhile.
function Listener:recv()
  check_open(self, "signal:recv")
  check()
  local ok, name, msg, code = take(self)
  if ok then return name, msg, code end
  start_pump(self)
  return waitq.park(self.q, "signal:recv")
end

-- l:try_recv(): the name of a pending signal, or nil.
function Listener:try_recv()
  check_open(self, "signal:try_recv")
  local _, name, msg, code = take(self)
  return name, msg, code
end

-- l:close(): stop listening; waiting tasks get nil. True the first time;
-- then nil, "signal listener is closed", "EBADF".
function Listener:close()
  stop_pump(self)
  waitq.wake_all(self.q, nil)
  return self.sfd:close()
end
Listener.__close = Listener.close

-- l:waiting(): tasks parked in recv.
function Listener:waiting()
  return self.q.n
end

local RecvCase = case.kind("signal:recv_case")

function RecvCase:try()
  check_open(self.l, "signal:recv_case")
  return take(self.l)
end

function RecvCase:enlist(node)
  waitq.push(self.l.q, node)
  start_pump(self.l)
end

-- l:recv_case(): in corio.select, yields the signal's name.
function Listener:recv_case()
  return setmetatable({ l = self }, RecvCase)
end

return {
  new = new,
  install = function(corio)
    corio.signal = new
    corio.getpid = core.getpid
  end,
}
