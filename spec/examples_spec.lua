-- spec/examples_spec.lua: the examples of the core runtime run and work.
local S = require "spec.support"

local LUA = S.env .. " lua5.4 "

describe("examples", function()
  it("echo_server and echo_client talk to each other", function()
    local server = io.popen(LUA .. "examples/echo_server.lua 127.0.0.1 0 & echo pid $!", "r")
    local pid = server:read("l"):match("pid (%d+)")
    local port = server:read("l"):match("listening on 127.0.0.1:(%d+)")
    local ok, out = S.sh(LUA .. "examples/echo_client.lua 127.0.0.1 " .. port .. " 20 50")
    os.execute("kill " .. pid)
    server:close()
    assert.is_true(ok, out)
    assert.matches("1000 echoes over 20 connections", out)
  end)

  it("udp_echo and udp_client exchange datagrams", function()
    local server = io.popen(LUA .. "examples/udp_echo.lua 127.0.0.1 0 & echo pid $!", "r")
    local pid = server:read("l"):match("pid (%d+)")
    local port = server:read("l"):match("listening on 127.0.0.1:(%d+)")
    local ok, out = S.sh(LUA .. "examples/udp_client.lua 127.0.0.1 " .. port .. " 10 50")
    os.execute("kill " .. pid)
    server:close()
    assert.is_true(ok, out)
    assert.matches("500 echoes over 10 sockets, 0 lost", out)
  end)

  it("unix_echo echoes lines and passes its listener", function()
    local path = ("/tmp/corio-example-%d.sock"):format(S.pid())
    local server = io.popen(LUA .. "examples/unix_echo.lua " .. path .. " & echo pid $!", "r")
    local pid = server:read("l"):match("pid (%d+)")
    assert.equal("listening on " .. path, server:read("l"))
    local ok, out = S.sh(LUA .. [[-e '
      local corio = require "corio"
      corio.run(function()
        local s <close> = assert(corio.unix.connect("]] .. path .. [["))
        s:write("hello\nLISTENER\n")
        print(s:readline())
        local fd, data = s:recv_fd()
        local ls <close> = assert(corio.adopt(fd))
        print(data, ls:addr())
      end)']])
    os.execute("kill " .. pid)
    server:close()
    assert.is_true(ok, out)
    assert.equal("hello\nhere it is\t" .. path .. "\n", out)
  end)

  it("http_server answers keep-alive requests", function()
    local server = io.popen(LUA .. "examples/http_server.lua 127.0.0.1 0 & echo pid $!", "r")
    local pid = server:read("l"):match("pid (%d+)")
    local port = server:read("l"):match("listening on 127.0.0.1:(%d+)")
    local ok, out = S.sh(LUA .. [[-e '
      local corio = require "corio"
      corio.run(function()
        local s <close> = assert(corio.tcp.connect("127.0.0.1", ]] .. port .. [[))
        for i = 1, 3 do
          s:write("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
          local status = s:readline()
          local len
          repeat local h = s:readline(); len = len or tonumber(h:match("Content%-Length: (%d+)")) until h == ""
          print(status, s:read_exact(len))
        end
      end)']])
    os.execute("kill " .. pid)
    server:close()
    assert.is_true(ok, out)
    local _, n = out:gsub("HTTP/1.1 200 OK\tHello, World!", "")
    assert.equal(3, n, out)
  end)

  it("demo runs clients through a semaphore and reports latency", function()
    local ok, out = S.sh(LUA .. "examples/demo.lua 500 50 3")
    assert.is_true(ok, out)
    assert.matches("500 clients, 1500 exchanges", out)
    assert.matches("latency ms: p50", out)
  end)
end)
