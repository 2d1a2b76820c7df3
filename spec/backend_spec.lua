-- spec/backend_spec.lua: backend choice. io_uring when it can be set up,
-- else epoll silently; CORIO_BACKEND forces one. The fallback is shown for
-- real: a child process runs under a seccomp filter that makes
-- io_uring_setup fail with EPERM, as Docker's default profile does.
local corio = require "corio"
local S = require "spec.support"

local SCRIPT = [[-e '
  local corio = require "corio"
  print("backend " .. corio.backend())
  corio.run(function()
    local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0))
    local _, port = ls:addr()
    corio.spawn(function()
      local s <close> = assert(ls:accept())
      s:write(s:readline():upper(), "\n")
    end)
    local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
    c:write("echo\n")
    print("reply " .. c:readline())
    print(corio.timeout(0.01, corio.sleep, 1))
  end)']]

local function no_uring(env)
  local ok, out = S.sh("mkdir -p spec/c/bin && gcc -Wall -Wextra -Werror -o spec/c/bin/no_uring spec/c/no_uring.c")
  assert(ok, out)
  return S.sh((env or "") .. " " .. S.env .. " spec/c/bin/no_uring lua5.4 " .. SCRIPT)
end

describe("backend selection", function()
  it("corio.backend() names the backend in use", function()
    assert.is_true(corio.backend() == "io_uring" or corio.backend() == "epoll")
  end)

  it("falls back to epoll silently when io_uring_setup is forbidden", function()
    local ok, out = no_uring("CORIO_BACKEND=")
    assert.is_true(ok, out)
    assert.matches("backend epoll", out)
    assert.matches("reply ECHO", out)
    assert.matches("false\ttimeout", out)
    assert.not_matches("io_uring", out)
  end)

  it("forcing io_uring where it is forbidden is a clear error naming the reason", function()
    local ok, out = no_uring("CORIO_BACKEND=io_uring")
    assert.is_falsy(ok)
    assert.matches("io_uring", out)
    assert.matches("Operation not permitted", out)
  end)

  it("CORIO_BACKEND=epoll forces epoll; an unknown name is an error", function()
    local ok, out = S.sh("CORIO_BACKEND=epoll " .. S.env .. " lua5.4 " .. SCRIPT)
    assert.is_true(ok, out)
    assert.matches("backend epoll", out)
    local ok2, out2 = S.sh("CORIO_BACKEND=kqueue " .. S.env .. " lua5.4 -e 'require \"corio\"'")
    assert.is_falsy(ok2)
    assert.matches("unknown backend 'kqueue'", out2)
  end)

  it("io_uring is used by default where the kernel allows it", function()
    local ok, out = S.sh("CORIO_BACKEND= " .. S.env .. " lua5.4 " .. SCRIPT)
    assert.is_true(ok, out)
    local f = io.open("/proc/sys/kernel/io_uring_disabled")
    local disabled = f and tonumber(f:read("a")) or 0
    if f then f:close() end
    if disabled == 0 then assert.matches("backend io_uring", out) end
    assert.matches("reply ECHO", out)
  end)
end)
