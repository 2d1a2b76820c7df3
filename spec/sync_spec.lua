-- spec/sync_spec.lua: corio.semaphore, corio.mutex, corio.notify.
local corio = require "corio"
local S = require "spec.support"

local run = S.run   -- also checks that no waiter is left in any queue

describe("corio.semaphore", function()
  it("hands out permits and takes them back", function()
    run(function()
      local s = corio.semaphore(3)
      local a = s:acquire()
      local b = s:acquire(2)
      assert.equal(0, s:available())
      assert.is_nil(s:try_acquire())
      assert.is_true(a:release())
      assert.is_false(a:release())
      do
        local p <close> = s:try_acquire()
        assert.equal(0, s:available())
      end
      assert.equal(1, s:available())
      b:release()
      assert.equal(3, s:available())
    end)
  end)

  it("serves waiters FIFO, a big request blocks later small ones", function()
    run(function()
      local s, order = corio.semaphore(2), {}
      local held = s:acquire(2)
      local function waiter(name, k)
        return corio.spawn(function()
          local p <close> = s:acquire(k)
          order[#order + 1] = name
          corio.sleep(0.001)
        end)
      end
      local ts = { waiter("a", 1), waiter("big", 2), waiter("c", 1) }
      corio.yield()
      assert.equal(3, s:waiting())
      assert.is_nil(s:try_acquire())   -- no barging past the queue
      held:release()
      for _, t in ipairs(ts) do t:join() end
      assert.same({ "a", "big", "c" }, order)
      assert.equal(2, s:available())
    end)
  end)

  it("a waiter cancelled or timed out never holds or leaks a permit", function()
    run(function()
      local s = corio.semaphore(1)
      local held = s:acquire()
      assert.same({ false, "timeout" }, { corio.timeout(0.01, s.acquire, s) })
      local t = corio.spawn(function() return s:acquire() end)
      corio.yield()
      t:cancel()
      corio.yield()
      assert.equal("cancelled", t:status())
      assert.equal(0, s:waiting())
      held:release()
      assert.equal(1, s:available())
    end)
  end)

  it("a cancelled head waiter lets the ones behind it through", function()
    run(function()
      local s = corio.semaphore(2)
      local held = s:acquire()
      local big = corio.spawn(function() return s:acquire(2) end)
      local small = corio.spawn(function() local p = s:acquire(); p:release(); return true end)
      corio.yield()
      assert.equal(2, s:waiting())
      big:cancel()
      assert.is_true(small:join())
      held:release()
      assert.equal(2, s:available())
    end)
  end)

  it("a permit handed to a task cancelled before it runs is still its own", function()
    run(function()
      local s = corio.semaphore(1)
      local held = s:acquire()
      local t = corio.spawn(function()
        local p <close> = s:acquire()
        corio.sleep(1)
      end)
      corio.yield()
      held:release()   -- t gets the permit
      t:cancel()       -- before t runs: t unwinds and its <close> returns it
      pcall(t.join, t)
      assert.equal(1, s:available())
    end)
  end)

  it("rejects misuse", function()
    run(function()
      local s = corio.semaphore(2)
      assert.has_error(function() s:acquire(0) end, "semaphore:acquire: bad argument #1 (positive integer expected, got 0)")
      assert.is_nil(s:try_acquire(3))   -- more than it has: acquire(3) would wait
      assert.has_error(function() s:try_acquire("x") end)
      assert.has_error(function() corio.semaphore(-1) end)
    end)
    local s = corio.semaphore(1)
    local p = s:try_acquire()
    assert.has_error(function() s:acquire() end, "semaphore:acquire: not inside a task")
    p:release()
  end)
end)

describe("corio.mutex", function()
  it("lets one task in at a time, FIFO", function()
    run(function()
      local m, inside, max, order = corio.mutex(), 0, 0, {}
      local ts = {}
      for i = 1, 5 do
        ts[i] = corio.spawn(function()
          local g <close> = m:lock()
          inside = inside + 1
          max = math.max(max, inside)
          order[#order + 1] = i
          corio.sleep(0.001)
          inside = inside - 1
        end)
      end
      for _, t in ipairs(ts) do t:join() end
      assert.equal(1, max)
      assert.same({ 1, 2, 3, 4, 5 }, order)
      assert.is_false(m:locked())
    end)
  end)

  it("try_lock, unlock, and waiters leaving on cancel or timeout", function()
    run(function()
      local m = corio.mutex()
      local g = assert(m:try_lock())
      assert.is_true(m:locked())
      assert.is_nil(m:try_lock())
      assert.same({ false, "timeout" }, { corio.timeout(0.01, m.lock, m) })
      local t = corio.spawn(function() return m:lock() end)
      corio.yield()
      t:cancel()
      corio.yield()
      assert.equal(0, m:waiting())
      assert.is_true(g:unlock())
      assert.is_false(m:locked())
    end)
  end)
end)

describe("corio.notify", function()
  it("notify_one wakes the first waiter; notify_all every one", function()
    run(function()
      local n, woke = corio.notify(), {}
      for i = 1, 3 do corio.spawn(function() n:wait(); woke[#woke + 1] = i end) end
      corio.yield()
      assert.is_true(n:notify_one())
      corio.yield()
      assert.same({ 1 }, woke)
      assert.equal(2, n:notify_all())
      corio.yield()
      assert.same({ 1, 2, 3 }, woke)
    end)
  end)

  it("notify_one without a waiter is kept for the next wait; notify_all is not", function()
    run(function()
      local n = corio.notify()
      assert.equal(0, n:notify_all())
      assert.is_false(n:notify_one())
      n:wait()   -- returns at once
      assert.same({ false, "timeout" }, { corio.timeout(0.01, n.wait, n) })
    end)
  end)

  it("a cancelled waiter leaves; the notification goes to the next", function()
    run(function()
      local n = corio.notify()
      local a = corio.spawn(function() n:wait(); return "a" end)
      local b = corio.spawn(function() n:wait(); return "b" end)
      corio.yield()
      a:cancel()
      corio.yield()
      assert.equal(1, n:waiting())
      assert.is_true(n:notify_one())
      assert.equal("b", b:join())
    end)
    assert.has_error(function() corio.notify():wait() end, "notify:wait: not inside a task")
  end)
end)
