-- spec/scale_spec.lua: a corio server process holds 10,000 concurrent
-- connections opened by a corio client in another process. Each process
-- raises its soft open-file limit to the hard one; these machines cap it at
-- 20,000 per process, which 10,000 connections (+ a few fds) fit in.
local S = require "spec.support"

local N = 10000

describe("scale", function()
  it("a server holds 10,000 concurrent connections from another process", function()
    local ok, hard = S.sh("ulimit -Hn")
    hard = tonumber(hard) or 0
    assert(hard == 0 or hard >= N + 100,
      ("needs an open-file hard limit of at least %d, this machine allows %d"):format(N + 100, hard))
    local pre = "ulimit -n $(ulimit -Hn); " .. S.env .. " lua5.4 "
    local server = io.popen(pre .. "spec/fixtures/scale_server.lua " .. N .. " 2>&1", "r")
    local port = server:read("l"):match("port (%d+)")
    assert(port, "server did not start")
    local cok, cout = S.sh(pre .. "spec/fixtures/scale_client.lua " .. port .. " " .. N)
    local sout = server:read("a")
    local sok = server:close()
    assert.is_true(cok, cout)
    assert.is_true(sok, sout)
    assert.matches("held " .. N, cout)
    assert.matches(("served %d peak %d"):format(N, N), sout)
  end)
end)
