-- spec/idle_gc_spec.lua: garbage collection while the loop idles
-- (csrc/bind/idle.c). After enough allocation and 50 ms with nothing to
-- do, the runtime finishes a collection cycle in slices and gives the
-- memory freed back to the system; a stopped collector is left alone.
local corio = require "corio"

-- Run fn with the collector paced so lazily that only the idle pass can
-- have collected what fn's garbage (a burst, then quiet).
local function lazy_gc(fn)
  local pause = collectgarbage("setpause", 1000)
  local ok, err = pcall(fn)
  collectgarbage("setpause", pause)
  collectgarbage("restart")
  assert(ok, err)
end

-- n strings of ~70 bytes, live until the burst ends, then all garbage at
-- once (so no collection during the burst can have recycled them).
local function burst(n)
  local t = {}
  for i = 1, n do t[i] = ("x"):rep(64) .. i end
  return #t
end

describe("idle garbage collection", function()
  it("collects a burst's garbage once the loop is quiet", function()
    lazy_gc(function()
      corio.run(function()
        collectgarbage()
        local passes = corio.stats().idle_gc_passes
        local base = collectgarbage("count")
        burst(60000)                 -- ~6 MB of strings
        local after_burst = collectgarbage("count")
        assert.is_true(after_burst > base + 3000)
        corio.sleep(0.4)
        assert.is_true(corio.stats().idle_gc_passes > passes)
        assert.is_true(collectgarbage("count") < base + 1000,
          ("heap %.0f kB after idling, %.0f before the burst"):format(collectgarbage("count"), base))
      end)
    end)
  end)

  it("gives the slab's emptied memory back to the system", function()
    if corio.stats().allocator ~= "slab" then return end   -- ASan builds: libc
    lazy_gc(function()
      corio.run(function()
        local released = corio.stats().idle_released_bytes
        burst(60000)
        corio.sleep(0.4)
        assert.is_true(corio.stats().idle_released_bytes >= released + (1 << 20))
      end)
    end)
  end)

  it("does nothing without enough allocation", function()
    corio.run(function()
      corio.sleep(0.2)   -- a pass may follow what earlier specs made
      local passes = corio.stats().idle_gc_passes
      corio.sleep(0.2)
      assert.equal(passes, corio.stats().idle_gc_passes)
    end)
  end)

  it("leaves a stopped collector alone", function()
    lazy_gc(function()
      corio.run(function()
        collectgarbage()
        collectgarbage("stop")
        local passes = corio.stats().idle_gc_passes
        local base = collectgarbage("count")
        burst(30000)
        corio.sleep(0.3)
        assert.equal(passes, corio.stats().idle_gc_passes)
        assert.is_true(collectgarbage("count") > base + 1500)
        assert.is_false(collectgarbage("isrunning"))
      end)
    end)
  end)

  it("lets a timer that comes due in the middle of a pass fire", function()
    lazy_gc(function()
      corio.run(function()
        local live = {}
        for i = 1, 200000 do live[i] = { i } end   -- a heap that takes several slices
        burst(60000)
        local passes = corio.stats().idle_gc_passes
        local woke = 0
        corio.spawn(function()
          for _ = 1, 20 do corio.sleep(0.06); woke = woke + 1 end
        end):join()
        assert.equal(20, woke)
        corio.sleep(0.3)
        assert.is_true(corio.stats().idle_gc_passes > passes)
        assert.equal(200000, #live)
      end)
    end)
  end)
end)
