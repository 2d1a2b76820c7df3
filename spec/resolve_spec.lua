-- corio.resolve, the worker pool under it, and names in tcp.connect /
-- udp.connect / sendto. Lookups of names outside /etc/hosts never leave
-- the machine: they run in a private mount and network namespace
-- (unshare -m -n) whose /etc/hosts and /etc/resolv.conf are the test's
-- own and whose DNS server (127.0.0.1:53) is the test's own socket.
local corio = require "corio"
local support = require "spec.support"

local function run(fn) return support.run(fn) end

-- The namespace runner: a child lua5.4 running code with hosts and
-- resolv.conf bind-mounted; returns ok, output.
local ns_ok = support.sh("unshare -m -n true") and support.sh("command -v ip")

local function tmpfile(text)
  local name = os.tmpname()
  local f = assert(io.open(name, "w"))
  f:write(text)
  f:close()
  return name
end

local function in_ns(code, hosts, resolv, env)
  local h = tmpfile(hosts or "127.0.0.1 localhost\n")
  local r = tmpfile(resolv or "nameserver 127.0.0.1\noptions timeout:2 attempts:1\n")
  local s = tmpfile(code)
  local sh = tmpfile(table.concat({
    "ip link set lo up || exit 97",
    "mount --bind " .. h .. " /etc/hosts || exit 98",
    "mount --bind " .. r .. " /etc/resolv.conf || exit 98",
    "export " .. support.env .. " " .. (env or ""),
    "exec lua5.4 " .. s,
  }, "\n"))
  local ok, out = support.sh("unshare -m -n sh " .. sh)
  for _, f in ipairs({ h, r, s, sh }) do os.remove(f) end
  return ok, out
end

-- Hosts of the namespace.
local HOSTS = [[
127.0.0.1 localhost
192.0.2.7 v4only.test
2001:db8::7 v6only.test
127.0.0.1 dual.test
::1 dual.test
]]

describe("corio.resolve", function()
  it("answers literals and localhost at once, without the pool", function()
    local threads = corio.stats().pool_threads
    run(function()
      assert.same({ "192.0.2.1" }, corio.resolve("192.0.2.1"))
      assert.same({ "2001:db8::1" }, corio.resolve("2001:0db8:0::1"))
      assert.same({ "127.0.0.1", "::1" }, corio.resolve("localhost"))
      assert.same({ "127.0.0.1" }, corio.resolve("LocalHost", { family = "inet" }))
      assert.same({ "::1" }, corio.resolve("localhost", { family = "inet6" }))
      assert.equal(threads, corio.stats().pool_threads)
    end)
    -- no task needed for them either
    assert.same({ "10.0.0.1" }, corio.resolve("10.0.0.1"))
  end)

  it("reports a literal of the other family as EAI_ADDRFAMILY", function()
    run(function()
      local r, msg, code = corio.resolve("127.0.0.1", { family = "inet6" })
      assert.is_nil(r)
      assert.is_string(msg)
      assert.equal("EAI_ADDRFAMILY", code)
      assert.equal("EAI_ADDRFAMILY", select(3, corio.resolve("::1", { family = "inet" })))
    end)
  end)

  it("raises on bad arguments, naming the function", function()
    run(function()
      assert.has_error(function() corio.resolve() end)
      assert.has_error(function() corio.resolve(42) end)
      assert.error_matches(function() corio.resolve("") end, "corio.resolve.*empty host")
      assert.error_matches(function() corio.resolve("a\0b") end, "corio.resolve.*NUL")
      assert.error_matches(function() corio.resolve("x.test", { family = "ipx" }) end,
        "corio.resolve: bad option 'family'")
      assert.error_matches(function() corio.resolve("x.test", 5) end, "table expected")
    end)
  end)

  it("needs a task for a name", function()
    assert.error_matches(function() corio.resolve("some.name.test") end, "not inside a task")
  end)

  it("looks names up on the pool, counted in stats", function()
    run(function()
      -- a name the machine knows without DNS: its own hostname, if any
      local f = io.open("/etc/hostname")
      local name = f and f:read("l")
      if f then f:close() end
      if not name or name == "" then return end
      local r = corio.resolve(name)
      if r then
        assert.is_true(#r >= 1)
        assert.is_true(corio.stats().pool_threads >= 1)
      end
      assert.equal(0, corio.stats().pool_queued)
    end)
  end)

  local nsit = ns_ok and it or pending
  nsit("resolves names from /etc/hosts in getaddrinfo's order, filtered by family", function()
    local ok, out = in_ns([[
      local corio = require "corio"
      corio.run(function()
        local function show(...) print(table.concat(assert(...), ",")) end
        show(corio.resolve("v4only.test"))
        show(corio.resolve("v6only.test"))
        show(corio.resolve("dual.test", { family = "inet" }))
        show(corio.resolve("dual.test", { family = "inet6" }))
        local all = assert(corio.resolve("dual.test"))
        print(#all)
        print(select(3, corio.resolve("v4only.test", { family = "inet6" })))
        print(select(3, corio.resolve("missing.test")))
      end)
    ]], HOSTS, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    assert.is_true(ok, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("192.0.2.7", lines[1])
    assert.equal("2001:db8::7", lines[2])
    assert.equal("127.0.0.1", lines[3])
    assert.equal("::1", lines[4])
    assert.equal("2", lines[5])
    assert.matches("^EAI_", lines[6])
    assert.matches("^EAI_", lines[7])
  end)

  nsit("never blocks the loop: timers fire on time during a 2 s lookup", function()
    local ok, out = in_ns([[
      local corio = require "corio"
      corio.run(function()
        local dns = assert(corio.udp.bind("127.0.0.1", 53))   -- hears, never answers
        local heard = 0
        corio.spawn(function() while dns:recvfrom() do heard = heard + 1 end end)
        local look = corio.spawn(function()
          local r, msg, code = corio.resolve("silent.test")
          return r, code
        end)
        -- 150 sleeps of 10 ms while it blocks a worker for 2 s
        local worst, before = 0, corio.now()
        for i = 1, 150 do
          corio.sleep(0.01)
          local now = corio.now()
          worst = math.max(worst, now - before - 0.01)
          before = now
          if i == 50 then
            local st = corio.stats()
            print("running", st.pool_running, "threads", st.pool_threads)
          end
        end
        print("worst", worst)
        local r, code = look:join()
        print("result", r, code)
        print("heard", heard > 0)
        dns:close()
      end)
    ]])
    assert.is_true(ok, out)
    assert.matches("running\t1\tthreads\t1", out)
    local worst = tonumber(out:match("worst\t(%S+)"))
    assert.is_true(worst < 0.05, "a timer was late by " .. tostring(worst) .. " s")
    assert.matches("result\tnil\tEAI_", out)
    assert.matches("heard\ttrue", out)
  end)

  nsit("gives a cancelled lookup up at once; the loop does not wait for the worker", function()
    local ok, out = in_ns([[
      local corio = require "corio"
      local t0
      corio.run(function()
        local dns = assert(corio.udp.bind("127.0.0.1", 53))
        t0 = corio.now()
        print("timeout", corio.timeout(0.2, corio.resolve, "silent.test"))
        local t = corio.spawn(corio.resolve, "silent2.test")
        corio.sleep(0.05)
        t:cancel()
        print("cancelled", pcall(t.join, t))
        print("queued", corio.stats().pool_queued, "running", corio.stats().pool_running)
        dns:close()
      end)
      print("elapsed", corio.now() - t0)
      print("still running", corio.stats().pool_running)
    ]])
    assert.is_true(ok, out)
    assert.matches("timeout\tfalse\ttimeout", out)
    assert.matches("cancelled\tfalse", out)
    local elapsed = tonumber(out:match("elapsed\t(%S+)"))
    assert.is_true(elapsed < 1.0, "run took " .. elapsed .. " s")
    assert.matches("still running\t[12]", out)
  end)

  nsit("lets lookups hold at most half the threads (CORIO_THREADS)", function()
    local ok, out = in_ns([[
      local corio = require "corio"
      corio.run(function()
        local dns = assert(corio.udp.bind("127.0.0.1", 53))
        local ts = {}
        for i = 1, 10 do ts[i] = corio.spawn(corio.resolve, "silent" .. i .. ".test") end
        corio.sleep(0.1)
        local st = corio.stats()
        print("threads", st.pool_threads, "running", st.pool_running, "queued", st.pool_queued)
        for _, t in ipairs(ts) do t:cancel() end
        corio.sleep(0)
        print("after cancel queued", corio.stats().pool_queued)
        dns:close()
      end)
      os.exit(0)   -- without waiting for the two blocked workers
    ]], nil, nil, "CORIO_THREADS=4")
    assert.is_true(ok, out)
    assert.matches("threads\t[1-4]\trunning\t2\tqueued\t8", out)
    assert.matches("after cancel queued\t0", out)
  end)

  nsit("connects to names, racing both families (RFC 8305)", function()
    local ok, out = in_ns([[
      local corio = require "corio"
      corio.run(function()
        -- a server on one family only: the other address fails, the next wins at once
        for _, host in ipairs({ "127.0.0.1", "::1" }) do
          local ls = assert(corio.tcp.listen(host, 0))
          local _, port = ls:addr()
          corio.spawn(function() local c = ls:accept() c:write("hi") c:close() end)
          local t0 = corio.now()
          local s = assert(corio.tcp.connect("dual.test", port))
          print(host, (s:peer()), s:read(), corio.now() - t0 < 0.2)
          s:close() ls:close()
        end
        -- nothing listening on either: the last failure
        print("refused", select(3, corio.tcp.connect("dual.test", 1)))
        -- a name the resolver never answers, bounded by opts.timeout
        local dns = assert(corio.udp.bind("127.0.0.1", 53))
        local t0 = corio.now()
        print("timeout", corio.tcp.connect("silent.test", 80, { timeout = 0.3 }))
        print("took", corio.now() - t0)
        -- udp.connect and sendto look names up too
        local u = assert(corio.udp.bind("127.0.0.1", 0))
        local _, up = u:addr()
        local c = assert(corio.udp.connect("dual.test", up, nil))
        print("udp peer", (c:peer()))
        local v = assert(corio.udp.bind("127.0.0.1", 0))
        assert(v:sendto("x", "dual.test", up))   -- the IPv4 address of the two
        print("sendto", u:recvfrom())
        dns:close()
      end)
      os.exit(0)
    ]], HOSTS)
    assert.is_true(ok, out)
    assert.matches("127.0.0.1\t127.0.0.1\thi\ttrue", out)
    assert.matches("::1\t::1\thi\ttrue", out)
    assert.matches("refused\tECONNREFUSED", out)
    assert.matches("timeout\tnil\ttimed out\tETIMEDOUT", out)
    assert.matches("udp peer\t::1", out)
    assert.matches("sendto\tx\t127.0.0.1", out)
    local took = tonumber(out:match("took\t(%S+)"))
    assert.is_true(took >= 0.29 and took < 1, "took " .. took)
  end)
end)

describe("corio.tcp.connect with a name", function()
  it("checks its arguments, naming the function", function()
    run(function()
      assert.error_matches(function() corio.tcp.connect(1, 80) end, "corio.tcp.connect: bad argument #1")
      assert.error_matches(function() corio.tcp.connect("x", "80") end, "corio.tcp.connect: bad argument #2")
      assert.error_matches(function() corio.tcp.connect("x", 70000) end, "out of range")
      assert.error_matches(function() corio.tcp.connect("x", 80, 1) end, "bad argument #3")
      assert.error_matches(function() corio.tcp.connect("x", 80, { timeout = "1" }) end,
        "bad option 'timeout'")
    end)
  end)

  it("connects to localhost whichever family listens", function()
    run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      corio.spawn(function() ls:accept():close() end)
      local s = assert(corio.tcp.connect("localhost", port, { timeout = 2 }))
      assert.equal("127.0.0.1", (s:peer()))
      s:close()
      ls:close()
    end)
  end)

  it("returns the last failure when every address fails, leaving nothing behind", function()
    run(function()
      local before = support.fd_count()
      local s, msg, code = corio.tcp.connect("localhost", 1)
      assert.is_nil(s)
      assert.is_string(msg)
      assert.equal("ECONNREFUSED", code)
      assert.equal(before, support.fd_count())
    end)
  end)
end)
