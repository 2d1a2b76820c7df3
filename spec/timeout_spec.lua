-- spec/timeout_spec.lua: corio.timeout deadlines.
local corio = require "corio"
local S = require "spec.support"

describe("corio.timeout", function()
  it("returns true and the results when fn finishes in time", function()
    S.run(function()
      assert.same({ n = 4, true, 1, nil, 3 }, table.pack(corio.timeout(1, function() corio.sleep(0.001); return 1, nil, 3 end)))
    end)
  end)

  it("returns false, 'timeout' when the deadline fires, after fn unwound", function()
    S.run(function()
      local closed = false
      local t0 = corio.now()
      local ok, msg = corio.timeout(0.03, function()
        local g <close> = setmetatable({}, { __close = function() closed = true end })
        corio.sleep(10)
      end)
      assert.same({ false, "timeout" }, { ok, msg })
      assert.is_true(closed)
      local dt = corio.now() - t0
      assert.is_true(dt >= 0.03 and dt < 5)
    end)
  end)

  it("zero and negative deadlines expire at once", function()
    S.run(function()
      local reached = false
      assert.same({ false, "timeout" }, { corio.timeout(0, function() corio.yield(); corio.sleep(0.001); reached = true end) })
      assert.same({ false, "timeout" }, { corio.timeout(-1, function() corio.sleep(0.001) end) })
      assert.is_false(reached)
    end)
  end)

  it("an expired deadline never lets the operation go on", function()
    S.run(function()
      local attempts = 0
      local ok = corio.timeout(0.01, function()
        for _ = 1, 5 do
          attempts = attempts + 1
          pcall(corio.sleep, 1)   -- swallow the timeout: the next sleep raises again
        end
      end)
      assert.is_false(ok)
      assert.equal(5, attempts)
    end)
  end)

  it("an error raised inside fn propagates unchanged", function()
    S.run(function()
      local e = { "mine" }
      local ok, err = pcall(corio.timeout, 1, function() error(e) end)
      assert.is_false(ok)
      assert.equal(e, err)
      local ok2, err2 = pcall(corio.timeout, 1, function() error("text", 0) end)
      assert.same({ false, "text" }, { ok2, err2 })
    end)
  end)

  it("nests: the nearest deadline wins", function()
    S.run(function()
      -- inner deadline first: the inner timeout reports, the outer goes on
      local ok, a, b = corio.timeout(1, function()
        local r1, r2 = corio.timeout(0.01, function() corio.sleep(1) end)
        return r1, r2
      end)
      assert.same({ true, false, "timeout" }, { ok, a, b })
      -- outer deadline first: the inner timeout passes it through
      local inner_saw
      local ok2, msg = corio.timeout(0.01, function()
        inner_saw = table.pack(corio.timeout(1, function() corio.sleep(1) end))
      end)
      assert.same({ false, "timeout" }, { ok2, msg })
      assert.is_nil(inner_saw)
    end)
  end)

  it("leaves no timer armed after finishing early", function()
    S.run(function()
      for _ = 1, 100 do corio.timeout(5, function() end) end
      assert.equal(0, corio.stats().timers)
    end)
  end)

  it("cancels a pending read and keeps the data for the next read", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local peer
      corio.spawn(function() peer = ls:accept() end)
      local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
      corio.sleep(0.01)
      assert.same({ false, "timeout" }, { corio.timeout(0.02, function() return c:read(10) end) })
      peer:write("late data")
      assert.equal("late data", c:read(100))
      peer:close()
    end)
  end)

  it("misuse: outside a task, bad arguments", function()
    assert.has_error(function() corio.timeout(1, function() end) end, "corio.timeout: not inside a task")
    S.run(function()
      assert.has_error(function() corio.timeout("1", function() end) end)
      assert.has_error(function() corio.timeout(1, "f") end)
    end)
  end)

  it("a cancelled task inside a timeout reports cancellation, not timeout", function()
    S.run(function()
      local t = corio.spawn(function() return corio.timeout(10, function() corio.sleep(10) end) end)
      corio.yield()
      t:cancel()
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
    end)
  end)

  it("a value handed over before the deadline interrupts is returned, never dropped", function()
    -- the sender wakes the receiver with the value, then hogs the loop past
    -- the deadline; ready tasks ahead make the loop fire timers before the
    -- receiver runs: the deadline fires but finds nothing left to interrupt
    S.run(function()
      local ch, stop = corio.channel(), false
      local r = corio.spawn(function() return corio.timeout(0.05, ch.recv, ch) end)
      local fillers = {}
      for i = 1, 100 do fillers[i] = corio.spawn(function() while not stop do corio.yield() end end) end
      corio.sleep(0.02)
      ch:send("V")
      local t0 = corio.now()
      while corio.now() - t0 < 0.08 do end   -- past the receiver's deadline
      corio.yield()
      local got = { r:join() }
      stop = true                                -- (before asserting: no hang on failure)
      for i = 1, 100 do fillers[i]:join() end
      assert.same({ true, "V" }, got)
      assert.equal(0, #ch)
    end)
  end)

  it("an expired deadline stops waiting operations that could finish at once", function()
    S.run(function()
      local ch = corio.channel()
      ch:send(1)
      assert.same({ false, "timeout" }, { corio.timeout(0, ch.recv, ch) })
      assert.equal(1, #ch)                                    -- still there
      assert.same({ false, "timeout" }, { corio.timeout(0, ch.send, ch, 2) })
      assert.equal(1, #ch)                                    -- not sent
      assert.same({ false, "timeout" }, { corio.timeout(-1, corio.select, ch:recv_case()) })
      assert.equal(1, #ch)
      local s = corio.semaphore(1)
      assert.same({ false, "timeout" }, { corio.timeout(0, s.acquire, s) })
      assert.equal(1, s:available())                          -- no permit taken
      local m = corio.mutex()
      assert.same({ false, "timeout" }, { corio.timeout(0, m.lock, m) })
      assert.is_false(m:locked())
      local n = corio.notify()
      n:notify_one()                                          -- stored
      assert.same({ false, "timeout" }, { corio.timeout(0, n.wait, n) })
      assert.same({ true }, { corio.timeout(1, n.wait, n) })  -- still stored
      local o = corio.oneshot()
      o:send("x")
      assert.same({ false, "timeout" }, { corio.timeout(0, o.recv, o) })
      assert.equal("x", o:recv())
      local w = corio.watch(1)
      local _, v0 = w:get()
      w:set(2)
      assert.same({ false, "timeout" }, { corio.timeout(0, w.changed, w, v0) })
      local g <close> = corio.group()
      g:spawn(function() return 1 end)
      corio.yield()
      assert.same({ false, "timeout" }, { corio.timeout(0, g.next, g) })
      assert.equal(1, select(3, g:next()))                    -- the result kept
      -- operations that never wait are not stopped
      assert.same({ true, 1 }, { corio.timeout(0, ch.try_recv, ch) })
      assert.same({ true, true }, { corio.timeout(0, ch.try_send, ch, 3) })
    end)
  end)
end)
