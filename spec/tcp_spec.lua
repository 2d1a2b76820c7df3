-- spec/tcp_spec.lua: corio.tcp.listen / connect, listeners and streams.
local corio = require "corio"
local S = require "spec.support"

-- A listener on a free port, a connected client and the accepted server end.
local function pair(host)
  host = host or "127.0.0.1"
  local ls = assert(corio.tcp.listen(host, 0))
  local _, port = ls:addr()
  local acc = corio.spawn(function() return ls:accept() end)
  local c = assert(corio.tcp.connect(host, port))
  local s = assert(acc:join())
  return ls, c, s, port
end

describe("corio.tcp.listen", function()
  it("picks a free port with port 0 and reports its address", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local host, port = ls:addr()
      assert.equal("127.0.0.1", host)
      assert.is_true(port > 0)
    end)
  end)

  it("accepts IPv6 literals and localhost", function()
    S.run(function()
      for _, host in ipairs({ "::1", "localhost" }) do
        local ls, c, s = pair(host)
        c:write("x")
        assert.equal("x", s:read(1))
        c:close(); s:close(); ls:close()
      end
    end)
  end)

  it("fails with EADDRINUSE without reuseport, works with it", function()
    S.run(function()
      local a <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = a:addr()
      local b, msg, code = corio.tcp.listen("127.0.0.1", port)
      assert.is_nil(b)
      assert.equal("EADDRINUSE", code)
      assert.is_string(msg)
      local r1 <close> = assert(corio.tcp.listen("127.0.0.1", 0, { reuseport = true }))
      local _, p2 = r1:addr()
      local r2 <close> = assert(corio.tcp.listen("127.0.0.1", p2, { reuseport = true, backlog = 16 }))
    end)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() corio.tcp.listen("127.0.0.1", "x") end)
    assert.has_error(function() corio.tcp.listen("127.0.0.1", 70000) end)
    assert.has_error(function() corio.tcp.listen("127.0.0.1", 0, 5) end)
    local ls, msg, code = corio.tcp.listen("no.such.host.invalid", 0)
    assert.is_nil(ls)
    assert.is_string(msg)
    assert.matches("^EAI_%u+$", code)   -- a resolver failure has its own name
  end)

  it("close twice returns nil, msg, EBADF; a closed listener raises on use", function()
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      assert.is_true(ls:close())
      assert.same({ nil, "listener is closed", "EBADF" }, { ls:close() })
      assert.has_error(function() ls:accept() end, "listener:accept: listener is closed")
      assert.has_error(function() ls:addr() end, "listener:addr: listener is closed")
    end)
  end)

  it("closing wakes a task blocked in accept", function()
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local t = corio.spawn(function() return ls:accept() end)
      corio.yield()
      ls:close()
      assert.same({ nil, "listener is closed", "EBADF" }, { t:join() })
    end)
  end)

  it("accept can be cancelled and timed out", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      assert.same({ false, "timeout" }, { corio.timeout(0.01, function() return ls:accept() end) })
      local t = corio.spawn(function() return ls:accept() end)
      corio.yield()
      t:cancel()
      assert.has_error(function() t:join() end)
      -- still usable afterwards
      local _, port = ls:addr()
      local acc = corio.spawn(function() return ls:accept() end)
      local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
      local s <close> = assert(acc:join())
    end)
  end)

  it("accept outside a task is an error", function()
    local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
    assert.has_error(function() ls:accept() end, "listener:accept: not inside a task")
  end)
end)

describe("corio.tcp.connect", function()
  it("returns nil, message, ECONNREFUSED on a closed port", function()
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      ls:close()
      local s, msg, code = corio.tcp.connect("127.0.0.1", port)
      assert.is_nil(s)
      assert.equal("ECONNREFUSED", code)
      assert.matches("refused", msg)
    end)
  end)

  it("reports peer and local addresses", function()
    S.run(function()
      local ls, c, s, port = pair()
      local ph, pp = c:peer()
      assert.same({ "127.0.0.1", port }, { ph, pp })
      local ah, ap = c:addr()
      assert.same({ ah, ap }, { s:peer() })
      c:close(); s:close(); ls:close()
    end)
  end)

  it("outside a task is an error", function()
    assert.has_error(function() corio.tcp.connect("127.0.0.1", 1) end, "corio.tcp.connect: not inside a task")
  end)
end)

describe("streams", function()
  it("read returns up to n bytes and nil at end of stream", function()
    S.run(function()
      local ls, c, s = pair()
      c:write("hello", " ", "world")
      c:shutdown()
      local got = {}
      while true do
        local d = s:read(3)
        if not d then break end
        assert.is_true(#d <= 3)
        got[#got + 1] = d
      end
      assert.equal("hello world", table.concat(got))
      assert.is_nil(s:read())
      c:close(); s:close(); ls:close()
    end)
  end)

  it("read_exact waits for n bytes; a premature end is reported", function()
    S.run(function()
      local ls, c, s = pair()
      corio.spawn(function() for i = 1, 5 do c:write(tostring(i)); corio.sleep(0.001) end; c:shutdown() end)
      assert.equal("123", s:read_exact(3))
      assert.equal("", s:read_exact(0))
      assert.same({ nil, "unexpected end of stream", "EOF" }, { s:read_exact(10) })
      assert.equal("45", s:read(10))   -- the bytes were kept
      c:close(); s:close(); ls:close()
    end)
  end)

  it("readline strips \\n and \\r\\n, returns the last partial line, then nil", function()
    S.run(function()
      local ls, c, s = pair()
      c:write("one\r\ntwo\n\nthree")
      c:shutdown()
      assert.equal("one", s:readline())
      assert.equal("two", s:readline())
      assert.equal("", s:readline())
      assert.equal("three", s:readline())
      assert.is_nil(s:readline())
      c:close(); s:close(); ls:close()
    end)
  end)

  it("readline returns nil, 'line too long', 'EMSGSIZE' past the maximum", function()
    S.run(function()
      local ls, c, s = pair()
      c:write(("x"):rep(100), "\n", ("y"):rep(70000), "\n")
      assert.same({ nil, "line too long", "EMSGSIZE" }, { s:readline(50) })
      assert.equal(("x"):rep(100), s:readline(100))
      assert.same({ nil, "line too long", "EMSGSIZE" }, { s:readline() })
      c:close(); s:close(); ls:close()
    end)
  end)

  it("write sends every byte of a large transfer in both directions", function()
    S.run(function()
      local ls, c, s = pair()
      local blob = {}
      for i = 1, 4096 do blob[i] = string.format("%07d\n", i) end
      blob = table.concat(blob):rep(32)   -- 1 MiB
      local w = corio.spawn(function() assert(c:write(blob, blob)); c:shutdown() end)
      local got = {}
      while true do local d = s:read(); if not d then break end; got[#got + 1] = d end
      w:join()
      assert.equal(#blob * 2, #table.concat(got))
      assert.is_true(table.concat(got) == blob .. blob)
      c:close(); s:close(); ls:close()
    end)
  end)

  it("write accepts numbers and many pieces", function()
    S.run(function()
      local ls, c, s = pair()
      local parts = {}
      for i = 1, 40 do parts[i] = i end
      assert.is_true(c:write(table.unpack(parts)))
      assert.is_true(c:write())
      c:shutdown()
      local all = {}
      while true do local d = s:read(); if not d then break end; all[#all + 1] = d end
      assert.equal(table.concat(parts), table.concat(all))
      assert.has_error(function() c:write({}) end)
      c:close(); s:close(); ls:close()
    end)
  end)

  it("write to a reset peer returns nil, message, code", function()
    S.run(function()
      local ls, c, s = pair()
      s:close()
      local ok, _, code
      for _ = 1, 50 do
        ok, _, code = c:write(("z"):rep(65536))
        if not ok then break end
        corio.sleep(0.001)
      end
      assert.is_nil(ok)
      assert.is_true(code == "EPIPE" or code == "ECONNRESET", code)
      c:close(); ls:close()
    end)
  end)

  it("misuse raises with the function's name", function()
    S.run(function()
      local ls, c, s = pair()
      c:close()
      assert.same({ nil, "stream is closed", "EBADF" }, { c:close() })
      for _, m in ipairs({ "read", "readline", "write", "shutdown", "peer", "addr" }) do
        assert.has_error(function() c[m](c, 1) end, "stream:" .. m .. ": stream is closed")
      end
      assert.has_error(function() s:read(0) end)
      assert.has_error(function() s:read("x") end)
      assert.has_error(function() s:setoption("bogus", true) end)
      assert.has_error(function() s.read(42) end)
      s:close(); ls:close()
    end)
    local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
  end)

  it("reading outside a task is an error", function()
    local s
    S.run(function()
      local ls, c
      ls, c, s = pair()
      c:close(); ls:close()
    end)
    assert.has_error(function() s:read(1) end, "stream:read: not inside a task")
    s:close()
  end)

  it("setoption sets nodelay and keepalive", function()
    S.run(function()
      local ls, c, s = pair()
      assert.is_true(c:setoption("nodelay", true))
      assert.is_true(c:setoption("keepalive", true))
      assert.is_true(c:setoption("sndbuf", 65536))
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a cancelled read keeps data for the next read", function()
    S.run(function()
      local ls, c, s = pair()
      local r = corio.spawn(function() return s:read(10) end)
      corio.yield()
      r:cancel()
      assert.has_error(function() r:join() end)
      c:write("kept")
      assert.equal("kept", s:read(10))
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a cancelled write wakes only when the kernel is done with the data", function()
    S.run(function()
      local ls, c, s = pair()
      local big = ("w"):rep(8 * 1024 * 1024)
      local w = corio.spawn(function() return c:write(big) end)
      corio.sleep(0.01)
      w:cancel()
      local ok, err = pcall(w.join, w)
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
      c:close(); s:close(); ls:close()
    end)
  end)

  it("closing wakes a task blocked in read with 'stream is closed'", function()
    S.run(function()
      local ls, c, s = pair()
      local r = corio.spawn(function() return s:read(10) end)
      corio.yield()
      s:close()
      assert.same({ nil, "stream is closed", "EBADF" }, { r:join() })
      c:close(); ls:close()
    end)
  end)

  it("two tasks reading one stream is a clear error", function()
    S.run(function()
      local ls, c, s = pair()
      local r = corio.spawn(function() return s:read(10) end)
      corio.yield()
      assert.has_error(function() s:read(10) end, "stream:read: another task is reading this stream")
      c:write("x")
      assert.equal("x", r:join())
      c:close(); s:close(); ls:close()
    end)
  end)

  it("to-be-closed and garbage-collected streams release their fds", function()
    collectgarbage(); collectgarbage()
    S.run(function() corio.sleep(0.01) end)
    local before = S.fd_count()
    S.run(function()
      for _ = 1, 20 do
        local ls, c, s = pair()
        local a <close> = ls
        local b <close> = c
        local d <close> = s
      end
      for _ = 1, 20 do pair() end   -- forgotten: the GC closes them
    end)
    local now
    for _ = 1, 5 do   -- finalizers may need a few cycles (task -> stream chains)
      collectgarbage(); collectgarbage()
      S.run(function() corio.sleep(0.01) end)   -- let cancelled ops finish
      now = S.fd_count()
      if now == before then break end
    end
    assert.equal(before, now)
  end)

  it("tostring names the type", function()
    S.run(function()
      local ls, c, s = pair()
      assert.matches("corio.Stream", tostring(c))
      assert.matches("corio.Listener", tostring(ls))
      c:close(); s:close(); ls:close()
      assert.matches("closed", tostring(c))
    end)
  end)
end)

describe("regressions", function()
  -- Spin without yielding, so that what becomes due meanwhile lands in one loop turn.
  local function spin(seconds)
    local t0 = corio.now()
    while corio.now() - t0 < seconds do end
  end

  -- A peer in another process that sends `data` after `delay` seconds.
  local function late_peer(port, delay, data)
    return io.popen(("bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; sleep %s; printf %s >&3; sleep 2' 2>/dev/null &")
      :format(port, delay, data))
  end

  it("several tasks accept on one listener, served in order", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local order = {}
      local acceptors = {}
      for i = 1, 3 do
        acceptors[i] = corio.spawn(function()
          local s <close> = assert(ls:accept())
          order[#order + 1] = i
          return s:read(10)
        end)
      end
      corio.yield()
      local sleeper = corio.spawn(function() corio.sleep(0.05); return "slept" end)
      local cs = {}
      for i = 1, 3 do
        cs[i] = assert(corio.tcp.connect("127.0.0.1", port))
        cs[i]:write("c" .. i)
      end
      local got = {}
      for i = 1, 3 do got[i] = acceptors[i]:join() end
      table.sort(got)
      assert.same({ "c1", "c2", "c3" }, got)
      assert.same({ 1, 2, 3 }, order)
      assert.equal("slept", sleeper:join())   -- nobody else was woken by accepts
      for i = 1, 3 do cs[i]:close() end
    end)
  end)

  it("a cancelled acceptor leaves the queue; the others still get connections", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local a = corio.spawn(function() return ls:accept() end)
      local b = corio.spawn(function() return ls:accept() end)
      corio.yield()
      a:cancel()
      local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
      local s <close> = assert(b:join())
      assert.has_error(function() a:join() end)
    end)
  end)

  it("a deadline that fires in the turn data arrives is not lost by readline", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local p = late_peer(port, 0.05, "abc")
      local s <close> = assert(ls:accept())
      corio.spawn(function() corio.sleep(0.01); spin(0.3) end)
      local t0 = corio.now()
      assert.same({ false, "timeout" }, { corio.timeout(0.1, function() return s:readline() end) })
      assert.is_true(corio.now() - t0 < 1.5)
      p:close()
    end)
  end)

  it("a cancel that arrives after a wake is raised at the next wait", function()
    S.run(function()
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local p = late_peer(port, 0.05, "abc")
      local s <close> = assert(ls:accept())
      local reader = corio.spawn(function() return s:readline() end)
      corio.spawn(function() corio.sleep(0.01); spin(0.2); reader:cancel() end)
      local t0 = corio.now()
      local ok, err = pcall(reader.join, reader)
      assert.is_false(ok)
      assert.is_true(corio.is_cancelled(err))
      assert.is_true(corio.now() - t0 < 1.5)
      assert.equal("abc", s:read(10))   -- the data was kept
      p:close()
    end)
  end)

  it("spawn with many arguments", function()
    S.run(function()
      local args = {}
      for i = 1, 200 do args[i] = i end
      local t = corio.spawn(function(...) return select("#", ...), select(200, ...) end, table.unpack(args))
      assert.same({ 200, 200 }, { t:join() })
    end)
  end)

  it("an error object whose __tostring raises does not wedge the loop", function()
    local bad = setmetatable({}, { __tostring = function() error("boom in __tostring") end })
    local old = corio.on_error(function() error(bad) end)
    S.run(function() corio.spawn(function() error(bad) end) end)
    corio.on_error(old)
    assert.equal(1, S.run(function() return 1 end))
  end)

  it("readline's maximum counts the line without its ending", function()
    S.run(function()
      local ls, c, s = pair()
      c:write("12345\r\n123456\n12345")
      c:shutdown()
      assert.equal("12345", s:readline(5))
      assert.same({ nil, "line too long", "EMSGSIZE" }, { s:readline(5) })
      assert.equal("123456", s:readline(6))
      assert.equal("12345", s:readline(5))
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a reader yielding for its budget keeps the stream: a second reader gets an error", function()
    -- a reader that keeps finding data buffered yields after its budget;
    -- meanwhile it still owns the read, so another task cannot slip in,
    -- register itself and then be lost (it used to hang there)
    S.run(function()
      local ls, c, s = pair()
      c:write(("x"):rep(300))
      assert.equal("x", s:read_exact(1))
      corio.sleep(0.05)                           -- 299 bytes buffered
      local second
      local b = corio.spawn(function()
        local got = 0
        for _ = 1, 299 do got = got + #s:read(1) end
        return got
      end)
      local a = corio.spawn(function()
        second = { pcall(s.read_exact, s, 1000) }
      end)
      assert.equal(299, b:join())
      a:join()
      assert.is_false(second[1])
      assert.matches("another task is reading this stream", second[2])
      c:write("y")
      assert.same({ true, "y" }, { corio.timeout(2, s.read, s) })
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a cancelled reader gives the stream up at once", function()
    S.run(function()
      local ls, c, s = pair()
      local a = corio.spawn(function() return s:read() end)
      corio.yield()
      a:cancel()
      local b = corio.spawn(function() return s:read() end)   -- before a resumes
      corio.yield()
      c:write("z")
      assert.same({ true, "z" }, { corio.timeout(2, b.join, b) })
      assert.has_error(function() a:join() end)
      assert.equal("cancelled", a:status())
      c:close(); s:close(); ls:close()
    end)
  end)
end)

describe("listener max_connections", function()
  it("beyond n open accepted streams, connections wait in the backlog until one closes", function()
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0, { max_connections = 2 }))
      local _, port = ls:addr()
      local clients = {}
      for i = 1, 3 do clients[i] = assert(corio.tcp.connect("127.0.0.1", port)) end
      local a = assert(ls:accept())
      local b = assert(ls:accept())
      -- the third connection is in the kernel's backlog: accept waits
      assert.same({ false, "timeout" }, { corio.timeout(0.1, function() return ls:accept() end) })
      local third = corio.spawn(function() return ls:accept() end)
      corio.sleep(0.02)
      assert.equal("suspended", third:status())
      a:close()                         -- a place frees up
      local c = assert(third:join())
      clients[3]:write("hi")
      assert.equal("hi", c:read())
      b:close(); c:close()
      for _, cl in ipairs(clients) do cl:close() end
      ls:close()
    end)
  end)

  it("counts streams freed by the collector, and applies to Unix listeners", function()
    local path = ("/tmp/corio-spec-max-%d.sock"):format(S.pid())
    S.run(function()
      local ls = assert(corio.unix.listen(path, { max_connections = 1 }))
      local c1 = assert(corio.unix.connect(path))
      local c2 = assert(corio.unix.connect(path))
      do local s = assert(ls:accept()) end   -- dropped without close
      local t = corio.spawn(function() return ls:accept() end)
      corio.sleep(0.02)
      assert.equal("suspended", t:status())
      collectgarbage(); collectgarbage()    -- the dropped stream closes
      local s2 = assert(t:join())
      s2:close(); c1:close(); c2:close(); ls:close()
    end)
  end)

  it("rejects a bad max_connections", function()
    assert.has_error(function() corio.tcp.listen("127.0.0.1", 0, { max_connections = "x" }) end,
      "corio.tcp.listen: bad option 'max_connections' (integer expected, got string)")
    assert.has_error(function() corio.tcp.listen("127.0.0.1", 0, { max_connections = -1 }) end)
  end)
end)
