-- spec/task_spec.lua: corio.run, spawn, join, cancel, status, current,
-- yield, sleep, now, on_error; suspension rules.
local corio = require "corio"
local S = require "spec.support"

describe("corio.run", function()
  it("returns the main function's results", function()
    assert.same({ 3, "x" }, { S.run(function(a, b) return a + b, "x" end, 1, 2) })
  end)

  it("waits for every spawned task", function()
    local done = 0
    S.run(function()
      for i = 1, 10 do corio.spawn(function() corio.sleep(0.001 * i); done = done + 1 end) end
    end)
    assert.equal(10, done)
  end)

  it("raises the main task's error with its traceback", function()
    local ok, err = pcall(corio.run, function() error("boom") end)
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.matches("stack traceback", err)
  end)

  it("raises non-string errors unchanged", function()
    local e = { code = 42 }
    local ok, err = pcall(corio.run, function() error(e) end)
    assert.is_false(ok)
    assert.equal(e, err)
  end)

  it("rejects a non-function", function()
    assert.has_error(function() corio.run(42) end)
  end)

  it("cannot be nested", function()
    local ok, err = pcall(S.run, function() return corio.run(function() end) end)
    assert.is_false(ok)
    assert.matches("already running", err)
  end)

  it("breaks a deadlock instead of hanging", function()
    local ok, err = pcall(corio.run, function()
      corio._core.suspend()   -- nobody will ever wake this task
    end)
    assert.is_false(ok)
    assert.matches("deadlock", err)
    assert.equal(0, corio.stats().tasks)
  end)

  it("stays usable after run raises before it starts", function()
    local args = {}
    for i = 1, 600000 do args[i] = i end   -- more values than a stack takes
    local ok, err = pcall(corio.run, function() end, table.unpack(args))
    assert.is_false(ok)
    assert.matches("too many", err)
    assert.equal(42, corio.run(function() return 42 end))
  end)

  it("cancels every task of a deadlock, however many (anchored in many chunks)", function()
    local cancelled = 0
    local ok, err = pcall(corio.run, function()
      local ch = corio.channel()
      for i = 1, 1000 do   -- slots freed by the first batch are reused
        corio.spawn(function() end)
        if i % 100 == 0 then corio.yield() end
      end
      for _ = 1, 3000 do
        corio.spawn(function()
          local ok2, e = pcall(ch.recv, ch)
          if not ok2 and corio.is_cancelled(e) then cancelled = cancelled + 1 end
          error(e, 0)
        end)
      end
      collectgarbage()   -- a task overwritten in its anchor slot would be collected
      ch:recv()
    end)
    assert.is_false(ok)
    assert.matches("deadlock", err)
    assert.equal(3000, cancelled)
    assert.equal(0, corio.stats().tasks)
  end)
end)

describe("tasks", function()
  it("join returns results and status becomes done", function()
    S.run(function()
      local t = corio.spawn(function(x) corio.sleep(0.01); return x, x * 2 end, 21)
      assert.equal("ready", t:status())
      corio.yield()
      assert.equal("suspended", t:status())
      local a, b = t:join()
      assert.same({ 21, 42 }, { a, b })
      assert.equal("done", t:status())
      assert.same({ 21, 42 }, { t:join() })   -- joining again is fine
    end)
  end)

  it("join raises the task's error and status is failed", function()
    S.run(function()
      local t = corio.spawn(function() corio.yield(); error({ "mine" }) end)
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.same({ "mine" }, err)
      assert.equal("failed", t:status())
      assert.matches("stack traceback", t:traceback())
    end)
  end)

  it("several tasks can join the same task", function()
    S.run(function()
      local t = corio.spawn(function() corio.sleep(0.01); return "v" end)
      local js = {}
      for i = 1, 3 do js[i] = corio.spawn(function() return t:join() end) end
      for i = 1, 3 do assert.equal("v", js[i]:join()) end
    end)
  end)

  it("a task cannot join itself", function()
    S.run(function()
      local ok, err = pcall(function() return corio.current():join() end)
      assert.is_false(ok)
      assert.matches("cannot join itself", err)
    end)
  end)

  it("current() is the running task, nil outside", function()
    assert.is_nil(corio.current())
    S.run(function()
      local t
      t = corio.spawn(function() return corio.current() == t end)
      assert.is_true(t:join())
    end)
  end)

  it("one task's error does not stop the others and is reported", function()
    local reported = {}
    local old = corio.on_error(function(msg, task, err) reported[#reported + 1] = { msg, task, err } end)
    local other_done = false
    S.run(function()
      corio.spawn(function() error("lost?") end)
      corio.spawn(function() corio.sleep(0.01); other_done = true end)
    end)
    corio.on_error(old)
    assert.is_true(other_done)
    assert.equal(1, #reported)
    assert.matches("lost%?", reported[1][1])
    assert.matches("stack traceback", reported[1][1])
    assert.equal("failed", reported[1][2]:status())
    assert.matches("lost%?", reported[1][3])
  end)

  it("reports unjoined errors on stderr by default", function()
    local ok, out = S.sh(S.env .. [[ lua5.4 -e 'local c = require "corio"
      c.run(function() c.spawn(function() error("to stderr") end) end) print("after")']])
    assert.is_true(ok)
    assert.matches("to stderr", out)
    assert.matches("stack traceback", out)
    assert.matches("after", out)
  end)

  it("on_error rejects a non-function", function()
    assert.has_error(function() corio.on_error(42) end)
  end)

  it("spawn rejects a non-function", function()
    assert.has_error(function() corio.spawn("nope") end)
  end)

  it("a bare coroutine.yield() in a task acts like corio.yield()", function()
    S.run(function()
      local order = {}
      local a = corio.spawn(function() order[#order + 1] = "a1"; coroutine.yield(); order[#order + 1] = "a2" end)
      local b = corio.spawn(function() order[#order + 1] = "b1" end)
      a:join(); b:join()
      assert.same({ "a1", "b1", "a2" }, order)
    end)
  end)
end)

describe("suspension rules", function()
  it("suspending outside a task is a clear error", function()
    assert.has_error(function() corio.sleep(0.01) end, "corio.sleep: not inside a task")
    assert.has_error(function() corio.yield() end, "corio.yield: not inside a task")
  end)

  it("suspending in a coroutine corio does not manage is a clear error", function()
    S.run(function()
      local co = coroutine.wrap(function() corio.sleep(0.01) end)
      local ok, err = pcall(co)
      assert.is_false(ok)
      assert.matches("coroutine that corio does not manage", err)
    end)
  end)

  it("suspending in a non-yieldable C call is a clear error", function()
    S.run(function()
      local ok, err = pcall(table.sort, { 3, 2, 1 }, function(a, b) corio.yield(); return a < b end)
      assert.is_false(ok)
      assert.matches("cannot suspend here", err)
    end)
  end)

  it("works inside pcall, metamethods and iterators", function()
    S.run(function()
      local ok, v = pcall(function() corio.sleep(0.001); return "p" end)
      assert.same({ true, "p" }, { ok, v })
      local t = setmetatable({}, { __index = function(_, k) corio.sleep(0.001); return k .. "!" end })
      assert.equal("x!", t.x)
      local function iter(_, i) corio.yield(); if i < 3 then return i + 1 end end
      local seen = {}
      for i in iter, nil, 0 do seen[#seen + 1] = i end
      assert.same({ 1, 2, 3 }, seen)
    end)
  end)
end)

describe("corio.sleep / now / yield", function()
  it("sleeps at least the given time", function()
    S.run(function()
      local t0 = corio.now()
      corio.sleep(0.05)
      assert.is_true(corio.now() - t0 >= 0.05)
    end)
  end)

  it("zero and negative sleeps just yield", function()
    S.run(function() corio.sleep(0); corio.sleep(-1) end)
  end)

  it("rejects a non-number", function()
    S.run(function()
      assert.has_error(function() corio.sleep("x") end)
    end)
  end)

  it("now is monotonic", function()
    local a = corio.now()
    local b = corio.now()
    assert.is_true(b >= a)
    assert.equal("number", math.type(a) and "number")
  end)

  it("yield lets other ready tasks run", function()
    S.run(function()
      local flag = false
      corio.spawn(function() flag = true end)
      corio.yield()
      assert.is_true(flag)
    end)
  end)
end)

describe("cancellation", function()
  it("a sleeping task is cancelled, runs <close> and pcall handlers, join raises", function()
    S.run(function()
      local closed, handled = false, false
      local t = corio.spawn(function()
        local guard <close> = setmetatable({}, { __close = function() closed = true end })
        local ok, err = pcall(corio.sleep, 10)
        handled = not ok and corio.is_cancelled(err)
        error(err, 0)
      end)
      corio.yield()
      assert.is_true(t:cancel())
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
      assert.equal("cancelled", tostring(err))
      assert.is_true(closed)
      assert.is_true(handled)
      assert.equal("cancelled", t:status())
    end)
  end)

  it("a task cancelled before it starts never runs", function()
    S.run(function()
      local ran = false
      local t = corio.spawn(function() ran = true end)
      assert.is_true(t:cancel())
      assert.equal("cancelled", t:status())
      assert.is_false(ran)
      assert.has_error(function() t:join() end)
    end)
  end)

  it("a task cancelled before it starts can be dropped at once (regression)", function()
    S.run(function()
      for _ = 1, 100 do corio.spawn(function() end):cancel() end
      collectgarbage(); collectgarbage()
      corio.yield()
    end)
  end)

  it("cancelling a finished task has no effect", function()
    S.run(function()
      local t = corio.spawn(function() return 1 end)
      t:join()
      assert.is_false(t:cancel())
      assert.equal("done", t:status())
    end)
  end)

  it("a task that catches the cancel can finish normally", function()
    S.run(function()
      local t = corio.spawn(function()
        local ok = pcall(corio.sleep, 10)
        return ok and "slept" or "caught"
      end)
      corio.yield()
      t:cancel()
      assert.equal("caught", t:join())
    end)
  end)

  it("a task can cancel itself: the next suspension raises", function()
    S.run(function()
      local t = corio.spawn(function()
        corio.current():cancel()
        corio.sleep(1)
        return "not reached"
      end)
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
    end)
  end)

  it("cancels a task waiting in join without affecting the joined task", function()
    S.run(function()
      local target = corio.spawn(function() corio.sleep(0.02); return "t" end)
      local joiner = corio.spawn(function() return target:join() end)
      corio.yield()
      joiner:cancel()
      assert.has_error(function() joiner:join() end)
      assert.equal("t", target:join())
    end)
  end)

  it("is_cancelled is false for other values", function()
    assert.is_false(corio.is_cancelled("cancelled"))
    assert.is_false(corio.is_cancelled(nil))
    assert.is_false(corio.is_cancelled({}))
  end)
end)
