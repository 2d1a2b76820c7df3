-- spec/signal_spec.lua: corio.signal listeners over signalfd.
local corio = require "corio"
local S = require "spec.support"

local run = S.run   -- also checks that no waiter is left in any queue

-- Signals blocked in this process, as the hex mask of /proc/self/status.
local function blocked()
  local f = assert(io.open("/proc/self/status"))
  local mask = f:read("a"):match("SigBlk:%s*(%x+)")
  f:close()
  return tonumber(mask, 16)
end

-- Open signalfds of this process (a count of all fds races with popen).
local function signalfds()
  local p = io.popen("ls -l /proc/" .. corio.getpid() .. "/fd 2>/dev/null | grep -c signalfd")
  local n = tonumber(p:read("a"))
  p:close()
  return n
end

local function kill(sig)
  os.execute("kill -" .. sig .. " " .. corio.getpid())
end

describe("corio.signal", function()
  local mask0, fds0
  before_each(function() collectgarbage(); mask0, fds0 = blocked(), signalfds() end)
  after_each(function()
    collectgarbage()
    assert.equal(mask0, blocked(), "a signal was left blocked")
    assert.equal(fds0, signalfds(), "an fd was left open")
  end)

  it("recv waits for the next signal and returns its name", function()
    run(function()
      local l <close> = assert(corio.signal("USR1", "SIGUSR2"))
      corio.spawn(function() corio.sleep(0.005); kill("USR2") end)
      assert.equal("USR2", l:recv())
      kill("USR1")
      assert.equal("USR1", l:recv())
      assert.is_nil(l:try_recv())
    end)
  end)

  it("blocks the signals while listening and restores them on close", function()
    run(function()
      local l = assert(corio.signal("USR1"))
      assert.are_not.equal(mask0, blocked())
      kill("USR1")   -- pending, not delivered: the process survives
      assert.is_true(l:close())
      assert.same({ nil, "signal listener is closed", "EBADF" }, { l:close() })
      assert.equal(mask0, blocked())
      assert.has_error(function() l:recv() end, "signal:recv: listener is closed")
    end)
  end)

  it("restores default handling when the listener is collected", function()
    run(function()
      local l = assert(corio.signal("USR2"))
      assert.are_not.equal(mask0, blocked())
      l = nil
      collectgarbage(); collectgarbage()
      assert.equal(mask0, blocked())
    end)
  end)

  it("keeps a signal blocked until its last listener closes", function()
    run(function()
      local a = assert(corio.signal("USR1"))
      local b = assert(corio.signal("USR1"))
      a:close()
      assert.are_not.equal(mask0, blocked())
      kill("USR1")
      assert.equal("USR1", b:recv())
      b:close()
    end)
  end)

  it("serves waiting tasks in FIFO order", function()
    run(function()
      local l <close> = assert(corio.signal("USR1"))
      local got = {}
      local ts = {}
      for i = 1, 2 do ts[i] = corio.spawn(function() local v = l:recv(); got[#got + 1] = i .. v end) end
      corio.yield()
      kill("USR1")
      corio.sleep(0.005)
      kill("USR1")
      for _, t in ipairs(ts) do t:join() end
      assert.same({ "1USR1", "2USR1" }, got)
    end)
  end)

  it("works in select and loses no signal to a case not chosen", function()
    run(function()
      local l <close> = assert(corio.signal("USR1"))
      assert.same({ 2 }, { corio.select(l:recv_case(), corio.after(0.005)) })
      corio.spawn(function() corio.sleep(0.005); kill("USR1") end)
      assert.same({ 1, "USR1" }, { corio.select(l:recv_case(), corio.after(1)) })
    end)
  end)

  it("recv can be cancelled and timed out, leaving no waiter or helper task", function()
    run(function()
      local l <close> = assert(corio.signal("USR1"))
      assert.same({ false, "timeout" }, { corio.timeout(0.005, l.recv, l) })
      local t = corio.spawn(function() return l:recv() end)
      corio.yield()
      t:cancel()
      corio.sleep(0.001)
      assert.equal(0, l:waiting())
      assert.equal(1, corio.stats().tasks)   -- only this one
      kill("USR1")
      assert.equal("USR1", l:recv())
    end)
  end)

  it("close wakes waiting tasks with nil", function()
    run(function()
      local l = assert(corio.signal("USR1"))
      local t = corio.spawn(function() return l:recv() end)
      corio.yield()
      l:close()
      assert.is_nil(t:join())
    end)
  end)

  it("rejects unknown and uncatchable signals", function()
    assert.has_error(function() corio.signal("NOPE") end, "corio.signal: unknown or uncatchable signal 'NOPE'")
    assert.has_error(function() corio.signal("KILL") end)
    assert.has_error(function() corio.signal() end, "corio.signal: no signal given")
  end)
end)
