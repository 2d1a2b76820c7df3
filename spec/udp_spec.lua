-- spec/udp_spec.lua: corio.udp: datagram sockets.
local corio = require "corio"
local S = require "spec.support"

-- Two sockets bound on loopback (IPv4 unless host says otherwise).
local function pair(host)
  host = host or "127.0.0.1"
  local a = assert(corio.udp.bind(host, 0))
  local b = assert(corio.udp.bind(host, 0))
  return a, b, select(2, a:addr())
end

describe("corio.udp.bind", function()
  it("picks a free port with port 0 and reports its address, IPv4 and IPv6", function()
    S.run(function()
      for _, host in ipairs({ "127.0.0.1", "::1" }) do
        local s <close> = assert(corio.udp.bind(host, 0))
        local h, port = s:addr()
        assert.equal(host, h)
        assert.is_true(port > 0)
        assert.matches("^corio.UdpSocket %(fd %d+%)$", tostring(s))
      end
    end)
  end)

  it("takes reuseaddr, reuseport and broadcast options", function()
    S.run(function()
      local a <close> = assert(corio.udp.bind("127.0.0.1", 0, { reuseport = true }))
      local _, port = a:addr()
      local b <close> = assert(corio.udp.bind("127.0.0.1", port, { reuseport = true, reuseaddr = true }))
      local c <close> = assert(corio.udp.bind("127.0.0.1", 0, { broadcast = true }))
      local d, msg, code = corio.udp.bind("127.0.0.1", port)   -- no reuseport: taken
      assert.is_nil(d)
      assert.is_string(msg)
      assert.equal("EADDRINUSE", code)
    end)
  end)

  it("rejects bad arguments naming the function", function()
    assert.has_error(function() corio.udp.bind("127.0.0.1", "x") end,
      "corio.udp.bind: bad argument #2 (port number expected, got string)")
    assert.has_error(function() corio.udp.bind("127.0.0.1", 70000) end,
      "corio.udp.bind: bad argument #2 (port out of range 0-65535)")
    assert.has_error(function() corio.udp.bind("127.0.0.1", -1) end)
    assert.has_error(function() corio.udp.bind("", 0) end, "corio.udp.bind: bad argument #1 (empty host)")
    assert.has_error(function() corio.udp.bind({}, 0) end)
    assert.has_error(function() corio.udp.bind("127.0.0.1", 0, 5) end)
    assert.has_error(function() corio.udp.connect(nil, 53) end)
    assert.has_error(function() corio.udp.connect("127.0.0.1", 65536) end,
      "corio.udp.connect: bad argument #2 (port out of range 0-65535)")
    local s, msg, code = corio.udp.bind("no.such.host.invalid", 0)
    assert.is_nil(s)
    assert.is_string(msg)
    assert.matches("^EAI_", code)
  end)
end)

describe("udp sockets", function()
  it("sendto and recvfrom carry data and the sender's address", function()
    S.run(function()
      local a, b, port = pair()
      assert.is_true(b:sendto("hello", "127.0.0.1", port))
      local data, host, from_port, trunc = a:recvfrom()
      assert.equal("hello", data)
      assert.equal("127.0.0.1", host)
      assert.equal(select(2, b:addr()), from_port)
      assert.is_nil(trunc)
      assert.is_true(a:sendto("", host, from_port))   -- an empty datagram is one too
      assert.same({ "", "127.0.0.1", port }, { b:recvfrom() })
      a:close(); b:close()
    end)
  end)

  it("works over IPv6", function()
    S.run(function()
      local a, b, port = pair("::1")
      assert.is_true(b:sendto("six", "::1", port))
      local data, host = a:recvfrom()
      assert.equal("six", data)
      assert.equal("::1", host)
      a:close(); b:close()
    end)
  end)

  it("a datagram longer than max arrives cut, with true as fourth value", function()
    S.run(function()
      local a, b, port = pair()
      b:sendto(("x"):rep(100), "127.0.0.1", port)
      local data, _, _, trunc = a:recvfrom(10)
      assert.equal(("x"):rep(10), data)
      assert.is_true(trunc)
      a:close(); b:close()
    end)
  end)

  it("a datagram of the IPv4 maximum (65,507 bytes) arrives whole", function()
    S.run(function()
      local a, b, port = pair()
      a:setoption("rcvbuf", 1 << 20)
      local big = ("0123456789"):rep(6551):sub(1, 65507)
      assert.is_true(b:sendto(big, "127.0.0.1", port))
      local data, _, _, trunc = a:recvfrom()
      assert.is_true(data == big)
      assert.is_nil(trunc)
      a:close(); b:close()
    end)
  end)

  it("a datagram over the protocol's maximum is EMSGSIZE, IPv4 and IPv6", function()
    S.run(function()
      local a, b, port = pair()
      local r = { b:sendto(("x"):rep(65508), "127.0.0.1", port) }
      assert.is_nil(r[1])
      assert.equal("EMSGSIZE", r[3])
      a:close(); b:close()
      local c, d, port6 = pair("::1")
      c:setoption("rcvbuf", 1 << 20)
      assert.is_true(d:sendto(("y"):rep(65527), "::1", port6))
      assert.equal(65527, #c:recvfrom())
      r = { d:sendto(("y"):rep(65528), "::1", port6) }
      assert.equal("EMSGSIZE", r[3])
      c:close(); d:close()
    end)
  end)

  it("several tasks waiting on one socket are served in order", function()
    S.run(function()
      local a, b, port = pair()
      local got = {}
      local g <close> = corio.group()
      for i = 1, 3 do
        g:spawn(function()
          local d = a:recvfrom()
          got[#got + 1] = i .. ":" .. d
        end)
      end
      corio.yield()
      for _, m in ipairs({ "one", "two", "three" }) do b:sendto(m, "127.0.0.1", port) end
      g:wait()
      assert.same({ "1:one", "2:two", "3:three" }, got)
      a:close(); b:close()
    end)
  end)

  it("a waiting recvfrom can be cancelled or timed out; its turn is not lost", function()
    S.run(function()
      local a, b, port = pair()
      assert.same({ false, "timeout" }, { corio.timeout(0.02, function() return a:recvfrom() end) })
      local first = corio.spawn(function() return a:recvfrom() end)
      local second = corio.spawn(function() return a:recvfrom() end)
      corio.yield()
      b:sendto("for whoever waits", "127.0.0.1", port)
      first:cancel()                 -- woken for the datagram, or still queued
      assert.is_false(pcall(first.join, first))
      assert.equal("for whoever waits", (second:join()))
      a:close(); b:close()
    end)
  end)

  it("a waiter that times out while others wait leaves the queue intact", function()
    S.run(function()
      local s = assert(corio.udp.bind("127.0.0.1", 0))
      local a = corio.spawn(function() return s:recvfrom() end)
      local b = corio.spawn(function()
        return corio.timeout(0.01, function() return s:recvfrom() end)
      end)
      assert.same({ false, "timeout" }, { b:join() })
      s:close()                          -- used to spin forever
      assert.same({ nil, "socket is closed", "EBADF" }, { a:join() })
    end)
  end)

  it("cancels among many waiters lose no datagram and corrupt nothing", function()
    S.run(function()
      local srv, cli, port = pair()
      local got, waiters = 0, {}
      for i = 1, 30 do
        waiters[i] = corio.spawn(function()
          while true do
            local ok, d = corio.timeout(0.005 * (i % 4 + 1), function() return srv:recvfrom() end)
            if ok and d then got = got + 1 end
            if ok and not d then return end
          end
        end)
      end
      for i = 1, 200 do
        cli:sendto("d" .. i, "127.0.0.1", port)
        if i % 10 == 0 then corio.sleep(0.002) end
        if i % 7 == 0 then waiters[i % 30 + 1]:cancel() end
      end
      local deadline = corio.now() + 2
      while got < 200 and corio.now() < deadline do corio.sleep(0.01) end
      srv:close()
      for _, w in ipairs(waiters) do pcall(w.join, w) end
      assert.equal(200, got)
      cli:close()
    end)
  end)

  it("a connected socket sends and receives; sendto on it is EISCONN", function()
    S.run(function()
      local a = assert(corio.udp.bind("127.0.0.1", 0))
      local _, port = a:addr()
      local c = assert(corio.udp.connect("127.0.0.1", port))
      assert.same({ "127.0.0.1", port }, { c:peer() })
      assert.is_true(c:send("ping"))
      local data, host, cport = a:recvfrom()
      assert.equal("ping", data)
      assert.is_true(a:sendto("pong", host, cport))
      assert.equal("pong", c:recv())
      local r = { c:sendto("x", "127.0.0.1", port) }
      assert.is_nil(r[1])
      assert.equal("EISCONN", r[3])
      a:close(); c:close()
    end)
  end)

  it("an ICMP error on a connected socket arrives as ECONNREFUSED on the next call", function()
    S.run(function()
      local probe = assert(corio.udp.bind("127.0.0.1", 0))
      local _, port = probe:addr()
      probe:close()                  -- nobody listens on port now
      local c = assert(corio.udp.connect("127.0.0.1", port))
      assert.is_true(c:send("anyone?"))
      local r = { corio.timeout(2, function() return c:recv() end) }
      assert.is_true(r[1])
      assert.is_nil(r[2])
      assert.equal("ECONNREFUSED", r[4])
      c:close()
    end)
  end)

  it("IPv4 multicast on loopback: join, receive, leave", function()
    S.run(function()
      local group = "239.255.42.99"
      local r = assert(corio.udp.bind("0.0.0.0", 0, { reuseaddr = true }))
      local _, port = r:addr()
      assert.is_true(r:join(group, "127.0.0.1"))
      local s = assert(corio.udp.bind("127.0.0.1", 0))
      assert.is_true(s:setoption("multicast_if", "127.0.0.1"))
      assert.is_true(s:setoption("multicast_loop", true))
      assert.is_true(s:setoption("multicast_ttl", 1))
      assert.is_true(s:sendto("to the group", group, port))
      assert.same({ true, "to the group" }, { corio.timeout(2, function() return (r:recvfrom()) end) })
      assert.is_true(r:leave(group, "127.0.0.1"))
      local again = { r:leave(group, "127.0.0.1") }   -- not a member any more
      assert.is_nil(again[1])
      assert.equal("EADDRNOTAVAIL", again[3])
      r:close(); s:close()
    end)
  end)

  it("IPv6 multicast joins on loopback, or fails with an errno (no route here)", function()
    S.run(function()
      local r = assert(corio.udp.bind("::", 0))
      local ok, msg, code = r:join("ff02::1:3", "lo")
      if ok then
        assert.is_true(r:leave("ff02::1:3", "lo"))
      else
        assert.is_string(msg)
        assert.matches("^E%u+", code)
      end
      r:close()
    end)
  end)

  it("setoption sets the documented options and rejects others", function()
    S.run(function()
      local s <close> = assert(corio.udp.bind("127.0.0.1", 0))
      for _, o in ipairs({ { "broadcast", true }, { "rcvbuf", 65536 }, { "sndbuf", 65536 },
                          { "ttl", 32 }, { "multicast_ttl", 4 }, { "multicast_loop", false } }) do
        assert.is_true(s:setoption(o[1], o[2]), o[1])
      end
      assert.has_error(function() s:setoption("nosuch", 1) end)
      assert.has_error(function() s:setoption("rcvbuf", "big") end)
      assert.has_error(function() s:join("not a group") end)
      assert.has_error(function() s:recvfrom(0) end, "udp:recvfrom: bad argument #2 (size 1-65535 expected)")
      assert.has_error(function() s:sendto(nil, "127.0.0.1", 1) end)
      assert.has_error(function() s:sendto("x", "", 1) end, "udp:sendto: bad argument #3 (empty host)")
      assert.has_error(function() s:sendto("x", "127.0.0.1", 99999) end)
      assert.same({ nil, "No such device", "ENODEV" }, { s:join("239.1.1.1", "bogus0") })
      assert.equal("ENODEV", select(3, s:setoption("multicast_if", "bogus0")))
      assert.has_error(function() s:setoption("rcvbuf", 1 << 40) end)
      assert.has_error(function() corio.udp.bind("127.0.0.1\0junk", 0) end,
        "corio.udp.bind: bad argument #1 (host with a NUL)")
      local v6 <close> = assert(corio.udp.bind("::1", 0))
      assert.is_true(v6:setoption("ttl", 9))
      assert.is_true(v6:setoption("multicast_loop", true))
    end)
  end)

  it("close: twice is EBADF, methods raise, a waiting recvfrom wakes, the fd goes", function()
    S.run(function()
      local a = assert(corio.udp.bind("127.0.0.1", 0))
      local fd = S.fd_of(a)
      local t = corio.spawn(function() return a:recvfrom() end)
      corio.yield()
      assert.is_true(a:close())
      assert.same({ nil, "socket is closed", "EBADF" }, { t:join() })
      assert.same({ nil, "socket is closed", "EBADF" }, { a:close() })
      assert.has_error(function() a:recvfrom() end, "udp:recvfrom: socket is closed")
      assert.has_error(function() a:sendto("x", "127.0.0.1", 9) end, "udp:sendto: socket is closed")
      assert.equal("corio.UdpSocket (closed)", tostring(a))
      corio.yield()
      assert.is_false(S.socket_open(fd))
    end)
  end)

  it("receiving and sending outside a task raise", function()
    local s = assert(corio.udp.bind("127.0.0.1", 0))
    assert.has_error(function() s:recvfrom() end, "udp:recvfrom: not inside a task")
    assert.has_error(function() s:sendto("x", "127.0.0.1", 9) end, "udp:sendto: not inside a task")
    s:close()
  end)

  it("echoes many datagrams between two tasks (ping-pong)", function()
    S.run(function()
      local srv, cli, port = pair()
      local echo = corio.spawn(function()
        for _ = 1, 2000 do
          local d, h, p = srv:recvfrom()
          srv:sendto(d, h, p)
        end
      end)
      for i = 1, 2000 do
        cli:sendto("m" .. i, "127.0.0.1", port)
        assert.equal("m" .. i, (cli:recvfrom()))
      end
      echo:join()
      srv:close(); cli:close()
    end)
  end)
end)
