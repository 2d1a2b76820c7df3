-- spec/hardening_spec.lua: the defects a hostile probe found, one spec
-- (or a few) named after each.
local corio = require "corio"
local S = require "spec.support"

-- Run the EMFILE fixture in a child process under `ulimit -Sn 32`;
-- returns its report as a table of numbers (and codes).
local function emfile_run(mode)
  local ok, out = S.sh(("%s sh -c 'ulimit -Sn 32; exec timeout 60 lua5.4 spec/fixtures/emfile_server.lua %s'")
    :format(S.env, mode))
  assert(ok, out)
  local r = {}
  for k, v in out:gmatch("(%w+)=([%w%.,]+)") do r[k] = tonumber(v) or v end
  assert(r.errors, out)
  return r
end

describe("io_uring spins at 100 % CPU while accept hits EMFILE", function()
  it("a looping acceptor gets EMFILE once, the loop idles while starved and recovers", function()
    local r = emfile_run("loop")
    assert.equal(1, r.errors)
    assert.equal("EMFILE", r.codes)
    assert.is_true(r.cpu < 0.2, "CPU while starved: " .. r.cpu .. " s in 1 s")
    assert.is_true(r.held > 5 and r.held < 32)
    assert.equal(100, r.accepted)
  end)

  it("with no task accepting the listener backs off too, and a later accept recovers", function()
    local r = emfile_run("once")
    assert.equal(1, r.errors)
    assert.is_true(r.cpu < 0.2, "CPU while starved: " .. r.cpu .. " s in 1 s")
    assert.equal(100, r.accepted)
  end)
end)

describe("a closed object's fd outlives corio.run", function()
  it("a listener that has accepted once is closed when run returns", function()
    local port
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      port = select(2, ls:addr())
      local acc = corio.spawn(function() return ls:accept() end)
      local c = assert(corio.tcp.connect("127.0.0.1", port))
      local s = assert(acc:join())
      s:close(); c:close(); ls:close()
    end)
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", port))
      ls:close()
    end)
  end)

  it("streams closed after a read, or during one, leave no fd behind", function()
    local before = S.fd_count()
    local fin, fds
    S.run(function()
      local ls, c, s, port = S.tcp_pair()
      c:write("hello")
      assert.equal("hello", s:read())
      local reader = corio.spawn(function() return c:read() end)
      corio.yield()
      fds = { S.fd_of(c), S.fd_of(ls) }
      c:close()                  -- closed while its read is pending
      assert.same({ nil, "stream is closed", "EBADF" }, { reader:join() })
      fin = s                    -- the peer of a closed stream
      ls:close()
    end)
    assert.is_false(S.socket_open(fds[1]))
    assert.is_false(S.socket_open(fds[2]))
    -- the server end saw the FIN of c: its read ends at once
    S.run(function() assert.is_nil(fin:read()); fin:close() end)
    assert.equal(before, S.fd_count())
  end)

  it("corio.step finishes pending closes before it returns", function()
    local before = S.fd_count()
    local ls = assert(corio.tcp.listen("127.0.0.1", 0))
    local t = corio.spawn(function()
      local acc = corio.spawn(function() return ls:accept() end)
      corio.sleep(0.01)          -- the close comes after the step's poll
      ls:close()
      acc:join()
    end)
    corio.step()                 -- t starts and sleeps, acc arms the accept
    local deadline = corio.now() + 5
    while t:status() ~= "done" and corio.now() < deadline do corio.step(1) end
    assert.equal("done", t:status())
    assert.equal(before, S.fd_count())
  end)

  it("a listener closed outside run is closed at once", function()
    local before = S.fd_count()
    local ls = assert(corio.tcp.listen("127.0.0.1", 0))
    S.run(function()             -- the listener accepts once: its accept stays armed
      local acc = corio.spawn(function() return ls:accept() end)
      local c = assert(corio.tcp.connect("127.0.0.1", select(2, ls:addr())))
      assert(acc:join()):close()
      c:close()
    end)
    assert.is_true(ls:close())
    assert.equal(before, S.fd_count())
  end)
end)

describe("corio.run hangs silently when the main function raises while another task is blocked", function()
  it("cancels the other tasks, runs their <close> handlers and raises the main error", function()
    local closed, watchdog_fired = {}, false
    local ok, err = pcall(corio.run, function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local reader = corio.spawn(function()
        local _ <close> = setmetatable({}, { __close = function() closed.reader = true end })
        local c = assert(corio.tcp.connect("127.0.0.1", port))
        c:read()                  -- never answered
      end)
      local sleeper = corio.spawn(function()
        local _ <close> = setmetatable({}, { __close = function() closed.sleeper = true end })
        corio.sleep(3600)
      end)
      corio.spawn(function()      -- only fires if run fails to cancel it
        corio.sleep(5)
        watchdog_fired = true
        reader:cancel(); sleeper:cancel()
      end)
      local acc = corio.spawn(function() return ls:accept() end)
      acc:join()
      corio.sleep(0.01)
      error("main failed")
    end)
    assert.is_false(ok)
    assert.matches("main failed", err)
    assert.matches("traceback", err)
    assert.is_false(watchdog_fired)
    assert.is_true(closed.reader)
    assert.is_true(closed.sleeper)
    assert.equal(0, corio.stats().tasks)
    assert.equal(7, corio.run(function() return 7 end))
  end)
end)

describe("readline(max) grows faster than the line for lines over 256 KiB", function()
  -- A reader woken with no new bytes (backpressure stop and re-arm) must
  -- not search the line again from its start: the bytes searched for "\n"
  -- stay within a small factor of the line's length.
  it("searches each byte of a 16 MiB line about once", function()
    local n = 16 * 1024 * 1024
    S.run(function()
      local ls, c, s, port = S.tcp_pair()
      local chunk = ("x"):rep(65536)
      local w = corio.spawn(function()
        for _ = 1, n // #chunk do assert(c:write(chunk)) end
        assert(c:write("\n"))
      end)
      local before = corio._core.buf_scanned()
      local line = assert(s:readline(n))
      local scanned = corio._core.buf_scanned() - before
      assert.equal(n, #line)
      assert.is_true(scanned < 2 * n, ("%d bytes searched for a line of %d"):format(scanned, n))
      w:join()
      c:close(); s:close(); ls:close()
    end)
  end)
end)

describe("a deadlock that cancelling cannot clear leaves the runtime unusable", function()
  it("run raises, reports the leftover tasks, and the next run works", function()
    local ok, err = pcall(corio.run, function()
      local g <close> = corio.group()
      g:spawn(function() g:wait() end)   -- a child waiting for its own group
      g:wait()
    end)
    assert.is_false(ok)
    assert.matches("deadlock", err)
    assert.matches("2 tasks? left", err)
    assert.equal(0, corio.stats().tasks)
    assert.equal(0, require("corio.waitq").count())
    assert.equal(42, S.run(function() return 42 end))
  end)

  it("names at most 8 leftover tasks and counts them all", function()
    local ok, err = pcall(corio.run, function()
      local g <close> = corio.group()
      for _ = 1, 20 do g:spawn(function() g:wait() end) end
      g:wait()
    end)
    assert.is_false(ok)
    assert.matches("21 tasks left after cancelling", err)
    local _, named = err:gsub("corio%.Task 0x%x+", "")
    assert.equal(8, named)
    assert.matches(", %.%.%.%)$", err)
    assert.equal(0, corio.stats().tasks)
  end)
end)

describe("smaller defects", function()
  it("corio.semaphore(0) is legal: acquire waits until sem:add(n) adds permits", function()
    S.run(function()
      local s = corio.semaphore(0)
      assert.equal(0, s:available())
      assert.is_nil(s:try_acquire())
      local got = {}
      local t = corio.spawn(function()
        local p <close> = s:acquire(2)
        got[#got + 1] = "two"
      end)
      corio.yield()
      assert.equal(1, s:waiting())
      assert.is_true(s:add(1))
      corio.yield()
      assert.same({}, got)
      s:add(1)
      t:join()
      assert.same({ "two" }, got)
      assert.equal(2, s:available())
      assert.has_error(function() s:add(0) end, "semaphore:add: bad argument #1 (positive integer expected, got 0)")
      assert.has_error(function() s:add("x") end)
    end)
  end)

  it("readline's 'line too long' carries the code EMSGSIZE", function()
    S.run(function()
      local ls, c, s, port = S.tcp_pair()
      c:write("0123456789\n")
      assert.same({ nil, "line too long", "EMSGSIZE" }, { s:readline(5) })
      c:close(); s:close(); ls:close()
    end)
  end)

  it("sleep, timeout and after with NaN raise a clear error", function()
    local nan = 0 / 0
    S.run(function()
      assert.has_error(function() corio.sleep(nan) end, "corio.sleep: bad argument #1 (not a number: NaN)")
      assert.has_error(function() corio.timeout(nan, function() end) end,
        "corio.timeout: bad argument #1 (not a number: NaN)")
      assert.has_error(function() corio.after(nan) end, "corio.after: bad argument #1 (not a number: NaN)")
    end)
  end)

  it("a non-number backlog names the option", function()
    assert.has_error(function() corio.tcp.listen("127.0.0.1", 0, { backlog = "x" }) end,
      "corio.tcp.listen: bad option 'backlog' (integer expected, got string)")
  end)

  it("a write interrupted after part of its bytes went out breaks later writes with EPIPE", function()
    S.run(function()
      local ls, c, s, port = S.tcp_pair()   -- never reads: the write blocks part way
      local big = ("z"):rep(32 * 1024 * 1024)
      assert.same({ false, "timeout" }, { corio.timeout(0.2, function() return c:write(big) end) })
      assert.same({ nil, "an earlier write was interrupted", "EPIPE" }, { c:write("x") })
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a write interrupted before any byte went out leaves the stream usable", function()
    S.run(function()
      local ls, c, s, port = S.tcp_pair()
      local w = corio.spawn(function() return c:write("abc") end)
      w:cancel()                     -- before it ran: nothing was sent
      pcall(w.join, w)
      assert.is_true(c:write("def"))
      assert.equal("def", s:read())
      c:close(); s:close(); ls:close()
    end)
  end)
end)

describe("defects the API fuzzer found (spec/fuzz/api_fuzz.lua)", function()
  it("join on a task cancelled before it started, before the loop popped it, raises the cancellation", function()
    S.run(function()
      local t = corio.spawn(function(...) return ... end, "a", "b", "c")
      assert.is_true(t:cancel())
      assert.equal("cancelled", t:status())
      local ok, err = pcall(t.join, t)     -- crashed: its arguments were read as results
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
      local u = corio.spawn(function() end)
      u:cancel()
      local i, jok, jerr = corio.select(u:join_case())
      assert.equal(1, i)
      assert.is_false(jok)
      assert.is_true(corio.is_cancelled(jerr))
    end)
  end)

  it("run raises the main task's error even when another task swallows its cancel and blocks", function()
    local ok, err = pcall(corio.run, function()
      corio.spawn(function()
        pcall(corio.sleep, 10)            -- swallows the cancellation run sends
        corio.channel():recv()            -- then waits for good: a deadlock
      end)
      corio.yield()
      error("main failed")
    end)
    assert.is_false(ok)
    assert.matches("main failed", err)    -- was "corio.run: deadlock: ..."
    assert.equal(0, corio.stats().tasks)
    assert.equal(7, S.run(function() return 7 end))
  end)
end)
