-- corio: the Lua facade over the C runtime (corio.core).
local core = require "corio.core"

local corio = {}

-- Internal primitives other Lua modules of corio build on.
local internal = {
  suspend = true, wake = true, deadline = true, is_deadline = true,
  supervise = true, tcp_listen = true, tcp_connect = true, poll = true,
  on_exit = true, Task = true, signal_open = true, getpid = true,
  check = true, channel = true, chan_detach = true, Channel = true,
  buf_scanned = true, udp_bind = true, udp_connect = true,
  unix_listen = true, unix_connect = true,
}
for name, fn in pairs(core) do
  if not internal[name] and not name:match("^fs_") then corio[name] = fn end
end
corio._core = core

corio.tcp = { listen = core.tcp_listen, connect = core.tcp_connect }
corio.udp = { bind = core.udp_bind, connect = core.udp_connect }
corio.unix = { listen = core.unix_listen, connect = core.unix_connect }

local function argerror(fname, n, expected, v)
  error(("%s: bad argument #%d (%s expected, got %s)"):format(fname, n, expected, type(v)), 3)
end

-- fn returned: its results, unless the deadline interrupted it (and fn
-- swallowed that); an operation that completed before the deadline could
-- interrupt it keeps its result, so a value received is never dropped.
local function finish_timeout(d, ok, ...)
  local _, raised = d:close()
  if ok then
    if raised then return false, "timeout" end
    return true, ...
  end
  local err = ...
  if err == d then return false, "timeout" end
  error(err, 0)
end

-- corio.timeout(seconds, fn, ...): true, fn's results when fn finishes
-- without being interrupted; false, "timeout" once the deadline fired
-- and interrupted it, after the pending operation was cancelled and fn
-- unwound. Errors from fn pass unchanged.
function corio.timeout(seconds, fn, ...)
  if type(seconds) ~= "number" then argerror("corio.timeout", 1, "number", seconds) end
  if seconds ~= seconds then error("corio.timeout: bad argument #1 (not a number: NaN)", 2) end
  if type(fn) ~= "function" then argerror("corio.timeout", 2, "function", fn) end
  local d = core.deadline(seconds)
  return finish_timeout(d, pcall(fn, ...))
end

for _, m in ipairs({ "group", "channel", "oneshot", "broadcast", "watch", "sync", "select", "signal", "tcp", "fs" }) do
  require("corio." .. m).install(corio)
end

return corio
