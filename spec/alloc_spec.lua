-- spec/alloc_spec.lua: the slab allocator corio installs on the Lua state
-- (csrc/bind/alloc.c): on by default (off in ASan builds), CORIO_ALLOC=libc
-- turns it off, objects made before `require "corio"` keep working, and
-- lua_close tears it down (the standalone interpreter closes its state at
-- exit, so a clean exit status is the check).
local corio = require "corio"
local S = require "spec.support"

-- Objects of every size class and beyond, made before and after require,
-- grown across the slab limit, shrunk, collected, checked.
local CHILD = [[
  local before = {}
  for i = 1, 2000 do before[i] = { ("x"):rep(i % 300), i } end
  local old_big = {}
  for i = 1, 500 do old_big[i] = i end
  local corio = require "corio"
  print("allocator " .. corio.stats().allocator)
  for i = 1, 2000 do
    local t = before[i]
    assert(t[1] == ("x"):rep(i % 300) and t[2] == i)
    for k = 3, 3 + i % 100 do t[k] = k end        -- grows small tables
  end
  for i = 501, 5000 do old_big[i] = i end         -- grows a big one
  for i = 1, 5000 do assert(old_big[i] == i) end
  local keep = {}
  corio.run(function()
    for i = 1, 3000 do
      keep[i] = corio.spawn(function(n) corio.sleep(0) return ("y"):rep(n) end, i % 700)
    end
    for i = 1, 3000 do assert(keep[i]:join() == ("y"):rep(i % 700)) end
  end)
  keep, before = nil, nil
  collectgarbage(); collectgarbage()
  for i = 1, 2000 do old_big[i] = nil end
  collectgarbage()
  print("ok")
]]

local function child(env)
  return S.sh(env .. " " .. S.env .. " lua5.4 -e '" .. CHILD .. "'")
end

describe("allocator", function()
  it("is the slab by default, libc in ASan builds or with CORIO_ALLOC=libc", function()
    local want = os.getenv("CORIO_ASAN") and "libc" or "slab"
    if (os.getenv("CORIO_ALLOC") or "") ~= "" then
      want = os.getenv("CORIO_ALLOC") == "libc" and "libc" or "slab"
    end
    assert.equal(want, corio.stats().allocator)
  end)

  it("serves objects made before and after it, and closes cleanly", function()
    local ok, out = child("CORIO_ALLOC=slab")
    assert.is_true(ok, out)
    assert.matches("allocator slab", out)
    assert.matches("ok\n$", out)
  end)

  it("stays out of the way with CORIO_ALLOC=libc", function()
    local ok, out = child("CORIO_ALLOC=libc")
    assert.is_true(ok, out)
    assert.matches("allocator libc", out)
    assert.matches("ok\n$", out)
  end)

  it("stats() counts the bytes in live slab blocks", function()
    if corio.stats().allocator ~= "slab" then return end
    collectgarbage(); collectgarbage()
    local b0 = corio.stats().slab_bytes
    local t = {}
    for i = 1, 10000 do t[i] = { i } end
    local b1 = corio.stats().slab_bytes
    assert.is_true(b1 - b0 >= 10000 * 56, ("grew by %d"):format(b1 - b0))
    t = nil
    collectgarbage(); collectgarbage()
    assert.is_true(corio.stats().slab_bytes < b1 - 10000 * 56)
  end)

  it("is 0 slab bytes with the libc allocator", function()
    local ok, out = S.sh("CORIO_ALLOC=libc " .. S.env ..
      [[ lua5.4 -e 'local s = require("corio").stats() print(s.allocator, s.slab_bytes)']])
    assert.is_true(ok, out)
    assert.equal("libc\t0\n", out)
  end)
end)
