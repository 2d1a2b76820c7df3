-- examples/graceful_shutdown.lua: a TCP server with a pool of workers
-- that shuts down gracefully on SIGINT or SIGTERM.
--
-- A client sends lines "work <seconds>"; a worker "works" that long and
-- the server answers "done <seconds>". On a signal a watch tells everyone
-- to stop: the listener closes, idle connections are dropped, busy ones
-- get the answer to the request in flight, then workers finish the jobs
-- left, and the process exits 0 once all are done, or 1 if that takes
-- longer than the deadline.
--
--   lua5.4 examples/graceful_shutdown.lua [port] [deadline-seconds]
local corio = require "corio"

local PORT = tonumber(arg[1]) or 0
local DEADLINE = tonumber(arg[2]) or 5
local WORKERS = 4

-- A worker: do jobs until the channel is closed and drained (after the
-- last connection ended); each job answers through its oneshot.
local function worker(jobs)
  for job in jobs:iter() do
    corio.sleep(job.seconds)
    job.reply:send("done " .. job.seconds)
  end
end

-- Connections waiting for their next request (task -> true): on stop
-- they are cancelled, busy ones finish their request first.
local idle = {}

-- One connection: serve requests until the client leaves or we stop
-- (the request in flight is always answered).
local function connection(sock, jobs, stop)
  local s <close> = sock
  local me = corio.current()
  while stop:get() ~= "stop" do
    idle[me] = true
    local line = s:readline()
    idle[me] = nil
    if not line then return end
    local seconds = tonumber(line:match("^work%s+([%d.]+)"))
    if not seconds then
      s:write("error: expected 'work <seconds>'\n")
    else
      local reply = corio.oneshot()
      jobs:send({ seconds = seconds, reply = reply })
      s:write(reply:recv(), "\n")
    end
  end
end

-- Accept until the listener closes (on stop).
local function acceptor(ls, conns, jobs, stop)
  while true do
    local sock = ls:accept()
    if not sock then return end
    conns:spawn(connection, sock, jobs, stop)
  end
end

-- Wait for a signal, then tell everyone to stop, close the listener and
-- drop the idle connections.
local function on_signal(sig, ls, stop)
  local name = sig:recv()
  print("received " .. tostring(name) .. ", shutting down")
  io.stdout:flush()
  stop:set("stop")
  ls:close()
  for t in pairs(idle) do t:cancel() end
end

local function main()
  local stop = corio.watch("run")
  local jobs = corio.channel(16)
  local sig <close> = assert(corio.signal("INT", "TERM"))
  local ls = assert(corio.tcp.listen("127.0.0.1", PORT))
  local _, port = ls:addr()
  print("listening on " .. port)
  io.stdout:flush()

  local workers <close> = corio.group()
  for _ = 1, WORKERS do workers:spawn(worker, jobs) end
  local conns <close> = corio.group()
  local control <close> = corio.group()
  control:spawn(on_signal, sig, ls, stop)
  control:spawn(acceptor, ls, conns, jobs, stop)

  control:wait()   -- until a signal arrived and the listener closed
  -- Connections first (their jobs still need workers), then workers.
  local ok = corio.timeout(DEADLINE, function()
    conns:wait()
    jobs:close()
    workers:wait()
  end)
  print(ok and "all done, bye" or "deadline passed, giving up")
  return ok
end

local ok = corio.run(main)
os.exit(ok and 0 or 1)
