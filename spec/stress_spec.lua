-- spec/stress_spec.lua: many tasks over channels, semaphores and groups,
-- and nothing left behind afterwards.
local corio = require "corio"
local S = require "spec.support"
local waitq = require "corio.waitq"

describe("stress", function()
  it("100,000 tasks pass values over channels and leave nothing behind", function()
    local N = 100000
    local sum, max_in = 0, 0
    local sem
    S.run(function()
      local input, output = corio.channel(16), corio.channel(16)
      sem = corio.semaphore(100)
      local g <close> = corio.group()
      local inside = 0
      for _ = 1, N do
        g:spawn(function()
          local v = input:recv()
          local p <close> = sem:acquire()
          inside = inside + 1
          if inside > max_in then max_in = inside end
          if v % 7 == 0 then corio.yield() end
          inside = inside - 1
          output:send(v * 2)
        end)
      end
      local feeder = corio.spawn(function()
        for i = 1, N do input:send(i) end
      end)
      for _ = 1, N do sum = sum + output:recv() end
      feeder:join()
      g:wait()
      assert.equal(0, #input)
      assert.equal(0, input:waiting() + output:waiting())
    end)
    assert.equal(N * (N + 1), sum)
    assert.is_true(max_in <= 100)
    assert.equal(100, sem:available())
    assert.equal(0, sem:waiting())
    assert.equal(0, waitq.count())
    assert.equal(0, corio.stats().tasks)
  end)

  it("cancelling thousands of waiters leaves no waiter and loses no value", function()
    local got, sent = 0, 0
    S.run(function()
      local ch = corio.channel(0)
      local g = corio.group()
      for i = 1, 5000 do
        g:spawn(function()
          if i % 2 == 0 then
            ch:send(i)
            sent = sent + 1
          else
            local ok = corio.select(ch:recv_case(), corio.after(0.001 * (i % 5)))
            if ok == 1 then got = got + 1 end
          end
        end)
      end
      corio.sleep(0.02)
      g:close()   -- cancels everyone still waiting
      assert.equal(0, ch:waiting())
    end)
    assert.equal(sent, got)
    assert.equal(0, waitq.count())
  end)
end)
