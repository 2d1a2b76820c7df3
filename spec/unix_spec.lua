-- spec/unix_spec.lua: corio.unix (listen, connect), Unix streams
-- (peercred, fd passing), corio.socketpair and corio.adopt.
local corio = require "corio"
local S = require "spec.support"

local function tmp_path(name)
  return ("/tmp/corio-spec-%d-%s.sock"):format(S.pid(), name)
end

local function exists(path)
  return os.execute("test -e " .. path) == true
end

-- A Unix listener on path, a connected client and the accepted end.
local function pair(path)
  local ls = assert(corio.unix.listen(path))
  local acc = corio.spawn(function() return ls:accept() end)
  local c = assert(corio.unix.connect(path))
  return ls, c, assert(acc:join())
end

describe("corio.unix.listen and connect", function()
  it("accept and connect give streams; addr is the path; close removes the file", function()
    local path = tmp_path("basic")
    S.run(function()
      local ls, c, s = pair(path)
      assert.equal(path, (ls:addr()))
      assert.equal(path, (s:addr()))
      assert.equal(path, (c:peer()))
      c:write("hello\n")
      assert.equal("hello", s:readline())
      s:write("back")
      assert.equal("back", c:read())
      c:close(); s:close()
      assert.is_true(exists(path))
      assert.is_true(ls:close())
      assert.is_false(exists(path))
      assert.same({ nil, "listener is closed", "EBADF" }, { ls:close() })
    end)
  end)

  it("sets the socket file's permissions from opts.perm (octal string or integer)", function()
    local path = tmp_path("perm")
    S.run(function()
      local ls = assert(corio.unix.listen(path, { perm = "0640", backlog = 8 }))
      local ok, out = S.sh("stat -c %a " .. path)
      assert.is_true(ok)
      assert.equal("640", out:match("%d+"))
      ls:close()
      ls = assert(corio.unix.listen(path, { perm = 384 }))   -- 0600
      assert.equal("600", select(2, S.sh("stat -c %a " .. path)):match("%d+"))
      ls:close()
      assert.has_error(function() corio.unix.listen(path, { perm = "rw" }) end)
    end)
  end)

  it("replaces a stale socket file, refuses a live one, and keeps it with unlink = false", function()
    local path = tmp_path("stale")
    -- a process that listens and exits without closing: its file stays, stale
    assert.is_true(os.execute(S.env .. " lua5.4 -e 'local corio = require \"corio\"; "
      .. "assert(corio.unix.listen(\"" .. path .. "\")); os.exit(0, false)'"))
    assert.is_true(exists(path))
    S.run(function()
      local r = { corio.unix.listen(path, { unlink = false }) }
      assert.is_nil(r[1])
      assert.equal("EADDRINUSE", r[3])
      local ls = assert(corio.unix.listen(path))   -- stale: replaced
      local live = { corio.unix.listen(path) }
      assert.is_nil(live[1])
      assert.equal("EADDRINUSE", live[3])
      assert.is_true(exists(path))                -- the live one's file is untouched
      ls:close()
    end)
  end)

  it("listens on an abstract name (@name) with no file", function()
    local name = "@corio-spec-" .. S.pid()
    S.run(function()
      local ls, c, s = pair(name)
      assert.equal(name, (ls:addr()))
      c:write("abstract")
      assert.equal("abstract", s:read())
      c:close(); s:close(); ls:close()
    end)
  end)

  it("fails cleanly: no such path, a path too long, bad arguments", function()
    S.run(function()
      local r = { corio.unix.connect(tmp_path("nobody")) }
      assert.is_nil(r[1])
      assert.equal("ENOENT", r[3])
      r = { corio.unix.listen("/tmp/" .. ("x"):rep(200)) }
      assert.is_nil(r[1])
      assert.equal("ENAMETOOLONG", r[3])
      assert.has_error(function() corio.unix.connect("") end,
        "corio.unix.connect: bad argument #1 (empty path or path with a NUL)")
      assert.has_error(function() corio.unix.listen(42) end,
        "corio.unix.listen: bad argument #1 (path string expected, got number)")
      assert.has_error(function() corio.unix.listen(tmp_path("o"), 5) end)
      assert.has_error(function() corio.unix.listen(tmp_path("o"), { backlog = "x" }) end)
    end)
    assert.has_error(function() corio.unix.connect(tmp_path("x")) end,
      "corio.unix.connect: not inside a task")
  end)

  it("peercred gives this process's pid, uid and gid", function()
    local path = tmp_path("cred")
    S.run(function()
      local ls, c, s = pair(path)
      local pid, uid, gid = s:peercred()
      assert.equal(S.pid(), pid)
      local _, id = S.sh("id -u; id -g")
      local u, g = id:match("(%d+)%s+(%d+)")
      assert.equal(tonumber(u), uid)
      assert.equal(tonumber(g), gid)
      c:close(); s:close(); ls:close()
    end)
  end)

  it("a peer vanishing mid-stream ends reads and breaks writes", function()
    local path = tmp_path("vanish")
    S.run(function()
      local ls, c, s = pair(path)
      c:write("partial")
      c:close()
      assert.equal("partial", s:read())
      assert.is_nil(s:read())
      local r
      for _ = 1, 10 do
        r = { s:write(("z"):rep(65536)) }
        if not r[1] then break end
      end
      assert.is_nil(r[1])
      assert.equal("EPIPE", r[3])
      s:close(); ls:close()
    end)
  end)
end)

describe("fd passing", function()
  it("sends a listener to a child lua5.4 process, which accepts on it", function()
    local path = tmp_path("child")
    S.run(function()
      local tcp = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = tcp:addr()
      local ux = assert(corio.unix.listen(path))
      local child = io.popen(S.env .. " lua5.4 spec/fixtures/fd_child.lua " .. path .. " 2>&1")
      local u = assert(ux:accept())
      assert.is_true(u:send_fd(tcp, "the listener"))
      tcp:close()                    -- ours goes; the child's copy stays open
      local c = assert(corio.tcp.connect("127.0.0.1", port))
      c:write("ping\n")
      assert.equal("child echoes ping", c:readline())
      assert.equal("child done with the listener", u:readline())
      c:close(); u:close(); ux:close()
      assert.equal("", child:read("a"))
      assert.is_true(child:close())
    end)
  end)

  it("an fd arriving while a readline reads ahead is neither lost nor closed", function()
    S.run(function()
      local a, b = corio.socketpair()
      local x, y = corio.socketpair()   -- the object whose fd travels
      local reader = corio.spawn(function()
        local first = b:readline()
        local second = b:readline()       -- reads past the fd's message
        local fd, data = b:recv_fd()
        return first, second, fd, data
      end)
      corio.yield()
      a:write("one\n")
      a:send_fd(x, "F")
      a:write("two\n")
      local first, second, fd, data = reader:join()
      assert.equal("one", first)
      assert.equal("Ftwo", second)       -- the fd's own byte is part of the stream
      assert.is_true(fd >= 0)
      assert.equal("", data)             -- already read past
      local passed = assert(corio.adopt(fd))
      passed:write("through the passed fd")
      assert.equal("through the passed fd", y:read())
      passed:close(); a:close(); b:close(); x:close(); y:close()
    end)
  end)

  it("recv_fd waits for the next fd and returns the bytes of its message", function()
    S.run(function()
      local a, b = corio.socketpair()
      local x, y = corio.socketpair()
      local t = corio.spawn(function() return b:recv_fd() end)
      corio.yield()
      assert.equal("suspended", t:status())
      assert.is_true(a:send_fd(x, "with data"))
      local fd, data = t:join()
      assert.equal("with data", data)
      local got = assert(corio.adopt(fd))
      y:write("ok")
      assert.equal("ok", got:read())
      assert.is_true(a:send_fd(x))       -- default data: one byte
      local fd2, d2 = b:recv_fd()
      assert.equal(1, #d2)
      local again = assert(corio.adopt(fd2))
      again:close(); got:close(); a:close(); b:close(); x:close(); y:close()
    end)
  end)

  it("passes UDP sockets and integer fds; adopt makes the matching object", function()
    S.run(function()
      local a, b = corio.socketpair()
      local u = assert(corio.udp.bind("127.0.0.1", 0))
      local _, port = u:addr()
      a:send_fd(u)
      local fd = b:recv_fd()
      local u2 = assert(corio.adopt(fd))
      assert.matches("UdpSocket", tostring(u2))
      local c = assert(corio.udp.bind("127.0.0.1", 0))
      c:sendto("dgram", "127.0.0.1", port)
      assert.equal("dgram", (u2:recvfrom()))
      a:send_fd(S.fd_of(c))              -- an integer fd
      local fd3 = b:recv_fd()
      local c2 = assert(corio.adopt(fd3))
      c2:close(); u2:close(); u:close(); c:close(); a:close(); b:close()
    end)
  end)

  it("closing a stream closes the fds still queued on it", function()
    S.run(function()
      local a, b = corio.socketpair()
      local x, y = corio.socketpair()
      a:send_fd(x, "1")
      assert.equal("1", b:read(1))       -- received (queued), never taken
      local before = S.fd_count()
      b:close()
      corio.yield()
      assert.is_true(S.fd_count() <= before - 2, "the stream and its queued fd")
      a:close(); x:close(); y:close()
    end)
  end)

  it("misuse raises; adopt of a non-socket fails with a code", function()
    S.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local acc = corio.spawn(function() return ls:accept() end)
      local c = assert(corio.tcp.connect("127.0.0.1", select(2, ls:addr())))
      local s = acc:join()
      assert.has_error(function() c:recv_fd() end, "stream:recv_fd: not a Unix stream")
      assert.has_error(function() c:send_fd(1) end, "stream:send_fd: not a Unix stream")
      assert.has_error(function() c:peercred() end, "stream:peercred: not a Unix stream")
      local a, b = corio.socketpair()
      assert.has_error(function() a:send_fd("x") end)
      assert.has_error(function() a:send_fd({}) end)
      b:close()
      assert.has_error(function() a:send_fd(b) end)
      local r = { corio.adopt(0) }        -- stdin: not a socket here
      if r[1] == nil then assert.equal("ENOTSOCK", r[3]) else r[1]:close() end
      assert.has_error(function() corio.adopt(-1) end)
      a:close(); c:close(); s:close(); ls:close()
    end)
  end)

  it("socketpair streams talk both ways; their address is empty", function()
    S.run(function()
      local a, b = corio.socketpair()
      a:write("ab")
      b:write("ba")
      assert.equal("ab", b:read())
      assert.equal("ba", a:read())
      assert.equal("", (a:addr()))
      a:close(); b:close()
    end)
  end)
end)
