-- spec/errors_spec.lua: one error convention across the API: a second
-- close() behaves the same on every object, resolver failures carry their
-- EAI_* name, calls with no result give true or nil, message, CODE.
local corio = require "corio"
local S = require "spec.support"

describe("a second close", function()
  it("returns nil, '<object> is closed', 'EBADF' on every object", function()
    S.run(function()
      local a, b = corio.socketpair()
      local objects = {
        stream = a,
        listener = assert(corio.tcp.listen("127.0.0.1", 0)),
        socket = assert(corio.udp.bind("127.0.0.1", 0)),
        channel = corio.channel(),
        broadcast = corio.broadcast(2),
        ["signal listener"] = corio.signal("USR2"),
        group = corio.group(),
      }
      for what, obj in pairs(objects) do
        assert.is_true(obj:close(), what)
        assert.same({ nil, what .. " is closed", "EBADF" }, { obj:close() }, what)
      end
      b:close()
    end)
  end)
end)

describe("calls with no result to give", function()
  it("return true, or nil, message, CODE", function()
    S.run(function()
      local a, b = corio.socketpair()
      assert.is_true(a:send_fd(b))
      local fd = b:recv_fd()
      assert.is_true(corio.adopt(fd):close())
      local u <close> = assert(corio.udp.bind("127.0.0.1", 0))
      assert.is_true(u:setoption("ttl", 3))
      assert.is_true(u:join("239.255.0.1", "127.0.0.1"))
      assert.is_true(u:leave("239.255.0.1", "127.0.0.1"))
      local r = { u:leave("239.255.0.1", "127.0.0.1") }
      assert.same({ nil, "string", "EADDRNOTAVAIL" }, { r[1], type(r[2]), r[3] })
      local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
      local acc = corio.spawn(function() return ls:accept() end)
      local c <close> = assert(corio.tcp.connect("127.0.0.1", select(2, ls:addr())))
      local s <close> = acc:join()
      assert.is_true(c:setoption("nodelay", true))
      r = { a:setoption("nodelay", true) }      -- not a TCP socket
      assert.is_nil(r[1])
      assert.matches("^E%u+$", r[3])
      a:close(); b:close()
    end)
  end)

  it("resolver failures carry their EAI_* name", function()
    S.run(function()
      for _, call in ipairs({
        function() return corio.tcp.connect("no.such.host.invalid", 80) end,
        function() return corio.udp.connect("no.such.host.invalid", 53) end,
        function() return corio.tcp.listen("no.such.host.invalid", 0) end,
      }) do
        local r = { call() }
        assert.is_nil(r[1])
        assert.matches("^EAI_%u+$", r[3])
      end
    end)
  end)
end)
