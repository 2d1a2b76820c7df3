-- stream:sendfile(file [, offset [, count]]): a file's bytes to a stream
-- by the kernel, on both backends.
local corio = require "corio"
local support = require "spec.support"

local path
before_each(function()
  path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  local t = {}
  for i = 1, 300000 do t[i] = string.char(i % 251) end
  f:write(table.concat(t):rep(10))   -- 3 MB, more than a socket holds
  f:close()
end)
after_each(function() os.remove(path) end)

local function whole()
  local f = assert(io.open(path, "rb"))
  local d = f:read("a")
  f:close()
  return d
end

-- A connected pair whose server end collects everything until EOF.
local function collecting_pair()
  local ls = assert(corio.tcp.listen("127.0.0.1", 0))
  local _, port = ls:addr()
  local got = corio.spawn(function()
    local c = ls:accept()
    local parts = {}
    corio.sleep(0.05)   -- let the socket fill first
    while true do
      local d = c:read()
      if not d then break end
      parts[#parts + 1] = d
    end
    c:close()
    return table.concat(parts)
  end)
  local s = assert(corio.tcp.connect("127.0.0.1", port))
  return s, got, ls
end

describe("stream:sendfile", function()
  it("sends a whole file, a range, and what is left past the end", function()
    support.run(function()
      local s, got, ls = collecting_pair()
      local f <close> = assert(corio.fs.open(path))
      assert.equal(3000000, s:sendfile(f))
      assert.equal(20, s:sendfile(f, 10, 20))
      assert.equal(10, s:sendfile(f, 2999990, 100))
      assert.equal(0, s:sendfile(f, 5000000))
      assert.equal(0, f:seek())   -- the file's position did not move
      s:close()
      local d, w = got:join(), whole()
      assert.equal(#w + 30, #d)
      assert.is_true(d == w .. w:sub(11, 30) .. w:sub(2999991))
      ls:close()
    end)
  end)

  it("is cancellable and timeable while the socket is full", function()
    support.run(function()
      local ls = assert(corio.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      local peer
      corio.spawn(function() peer = ls:accept() end)   -- never reads
      local s = assert(corio.tcp.connect("127.0.0.1", port))
      local big = path .. ".big"
      assert(os.execute("truncate -s 1G " .. big))   -- sparse: more than any socket holds
      local f <close> = assert(corio.fs.open(big))
      local ok = corio.timeout(0.2, s.sendfile, s, f)
      os.remove(big)
      assert.is_false(ok)
      s:close()
      peer:close()
      ls:close()
    end)
  end)

  it("fails on closed files and peers that went away, and raises on bad arguments", function()
    support.run(function()
      local s, got, ls = collecting_pair()
      local f = assert(corio.fs.open(path))
      assert.error_matches(function() s:sendfile("x") end, "stream:sendfile: bad argument #1")
      assert.error_matches(function() s:sendfile(f, -1) end, "bad argument #2")
      assert.error_matches(function() s:sendfile(f, 0, -5) end, "bad argument #3")
      f:close()
      assert.same({ nil, "file is closed", "EBADF" }, { s:sendfile(f) })
      s:close()
      got:join()
      ls:close()
    end)
  end)
end)
