-- spec/support.lua: helpers shared by the specs.
local corio = require "corio"
local M = {}

-- Number of open fds of this process.
function M.fd_count()
  local p = io.popen("ls /proc/" .. M.pid() .. "/fd | wc -l")
  local n = tonumber(p:read("a"))
  p:close()
  return n - 1   -- the pipe of popen itself
end

-- Whether fd number n of this process is an open socket (the pipe of
-- popen, which may take a number just freed, is not).
function M.socket_open(n)
  local p = io.popen("readlink /proc/" .. M.pid() .. "/fd/" .. n .. " 2>/dev/null")
  local target = p:read("a")
  p:close()
  return target:match("^socket:") ~= nil
end

-- The fd number of a corio stream or listener (from its tostring).
function M.fd_of(obj)
  return tonumber(tostring(obj):match("fd (%d+)"))
end

-- This process's pid (the parent of the shell popen starts).
function M.pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = tonumber(f:read("a"):match("^(%d+)"))
  f:close()
  return pid
end

local waitq = require "corio.waitq"

-- corio.run(fn), then assert nothing is left: no task, timer, I/O waiter,
-- nor any task parked in a channel, semaphore, group... queue.
function M.run(fn, ...)
  local r = table.pack(corio.run(fn, ...))
  local st = corio.stats()
  assert(st.tasks == 0, "tasks left: " .. st.tasks)
  assert(st.timers == 0, "timers left: " .. st.timers)
  assert(st.io_waiting == 0, "I/O waiters left: " .. st.io_waiting)
  assert(waitq.count() == 0, "waiters left: " .. waitq.count())
  assert(st.channel_waiting == 0, "channel waiters left: " .. st.channel_waiting)
  return table.unpack(r, 1, r.n)
end

-- A listener on a free loopback port, a connected client and the accepted
-- server end: ls, c, s, port (inside a task).
function M.tcp_pair()
  local ls = assert(corio.tcp.listen("127.0.0.1", 0))
  local _, port = ls:addr()
  local acc = corio.spawn(function() return ls:accept() end)
  local c = assert(corio.tcp.connect("127.0.0.1", port))
  return ls, c, assert(acc:join()), port
end

-- Path of a Lua interpreter and env that finds this corio build.
M.env = "LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;'"

-- Run a shell command; returns ok, output.
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

return M
