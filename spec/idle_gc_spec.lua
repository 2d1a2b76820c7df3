-- spec/idle_gc_spec.lua: garbage collection while the loop idles
-- (csrc/bind/idle.c). After enough allocation and 50 ms with nothing to
-- do, the runtime finishes a collection cycle in slices and gives the
-- memory freed back to the system; a stopped collector is left alone.
local corio = require "corio"

-- Run fn in the collector mode given ("incremental", the library's
-- default, or "generational", the standalone lua5.4's), paced so lazily
-- that only the idle pass can have collected fn's garbage (a burst, then
-- quiet); the previous mode and pace come back afterwards.
local function lazy_gc(fn, mode)
  local prev = collectgarbage(mode or "incremental")
  local pause = collectgarbage("setpause", 1000)
  local ok, err = pcall(fn)
  collectgarbage("setpause", pause)
  collectgarbage(prev)
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

-- A live heap whose collection cycle takes ~50 ms, in many small objects
-- (one object's traversal is one indivisible step of the collector),
-- fully collected once so that only the burst after it is garbage.
local function big_live_heap()
  local live = {}
  for i = 1, 2000 do local t = {} for j = 1, 1000 do t[j] = { j } end live[i] = t end
  collectgarbage()
  return live
end

-- Wait (up to 5 s) for a pass to end after `passes` had: the sleeps are
-- longer than the 50 ms of quiet a pass waits for.
local function wait_for_pass(passes)
  local deadline = corio.now() + 5
  while corio.stats().idle_gc_passes == passes and corio.now() < deadline do
    corio.sleep(0.1)
  end
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

  it("collects in generational mode too, with one full collection", function()
    lazy_gc(function()
      corio.run(function()
        collectgarbage()
        local passes = corio.stats().idle_gc_passes
        local base = collectgarbage("count")
        burst(60000)
        corio.sleep(0.1)             -- young garbage, which a minor collection frees
        burst(60000)
        assert.is_true(collectgarbage("count") > base + 3000)
        corio.sleep(0.4)
        assert.is_true(corio.stats().idle_gc_passes > passes)
        assert.is_true(collectgarbage("count") < base + 1000)
        assert.equal("generational", collectgarbage("generational"))   -- the mode stays
      end)
    end, "generational")
  end)

  it("gives the slab's emptied memory back to the system", function()
    if corio.stats().allocator ~= "slab" then return end   -- ASan builds: libc
    lazy_gc(function()
      corio.run(function()
        local released = corio.stats().idle_released_bytes
        burst(100000)                -- ~10 MB of strings in slab runs
        corio.sleep(0.4)
        -- more than the io_uring receive ring (at most 4 MiB) could account for
        assert.is_true(corio.stats().idle_released_bytes >= released + (6 << 20))
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

  it("keeps timers on time while a pass runs", function()
    lazy_gc(function()
      corio.run(function()
        local live = big_live_heap()
        burst(60000)
        local passes = corio.stats().idle_gc_passes
        local worst = 0
        corio.spawn(function()
          for _ = 1, 20 do
            local t0 = corio.now()
            corio.sleep(0.06)
            worst = math.max(worst, corio.now() - t0 - 0.06)
          end
        end):join()
        -- an unsliced pass (two cycles at once) overshoots by 50 ms or more
        assert.is_true(worst < 0.04, ("a sleep overshot by %.3f s"):format(worst))
        wait_for_pass(passes)
        assert.is_true(corio.stats().idle_gc_passes > passes)
        assert.equal(2000, #live)
      end)
    end)
  end)

  it("finishes a pass begun incremental after a switch to generational mode", function()
    lazy_gc(function()
      corio.run(function()
        local live = big_live_heap()
        burst(60000)
        local passes = corio.stats().idle_gc_passes
        corio.sleep(0.055)            -- the pass starts, in slices
        collectgarbage("generational")
        local t0 = os.clock()
        wait_for_pass(passes)
        assert.is_true(corio.stats().idle_gc_passes > passes)
        -- one full collection, not a second of back-to-back minor steps
        assert.is_true(os.clock() - t0 < 0.5, ("the pass took %.2f s of CPU"):format(os.clock() - t0))
        assert.equal("generational", collectgarbage("incremental"))
        assert.equal(2000, #live)
      end)
    end)
  end)

  it("a pass that is due does not stop the loop polling I/O while tasks are ready", function()
    lazy_gc(function()
      corio.run(function()
        local ls = assert(corio.tcp.listen("127.0.0.1", 0))
        local acc = corio.spawn(function() return ls:accept() end)
        local c = assert(corio.tcp.connect("127.0.0.1", select(2, ls:addr())))
        local s = assert(acc:join())
        burst(60000)                   -- a pass is due from now on
        local spins, done = 0, false
        local spinner = corio.spawn(function()
          while not done do spins = spins + 1; corio.yield() end
        end)
        corio.yield()
        c:write("x")
        spins = 0
        assert.equal("x", s:read())    -- must not wait for the reaps of busy turns
        done = true
        spinner:join()
        assert.is_true(spins <= 3, spins .. " turns before the read completed")
        c:close(); s:close(); ls:close()
      end)
    end)
  end)
end)
