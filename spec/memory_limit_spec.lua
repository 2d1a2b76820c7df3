-- spec/memory_limit_spec.lua: corio.memory_limit: past the limit an
-- allocation fails in the task that makes it (a stream's buffer: ENOMEM on
-- its read), and the loop and the other tasks go on.
local corio = require "corio"
local S = require "spec.support"

describe("corio.memory_limit", function()
  it("sets, reports and lifts the limit; Lua allocations past it fail in their task", function()
    S.run(function()
      local base = corio.stats().memory_bytes
      assert.is_true(base > 0)
      assert.is_nil(corio.memory_limit(base + 8 * 1024 * 1024))
      local t = corio.spawn(function()
        local hog = {}
        for i = 1, 1e7 do hog[i] = ("x"):rep(64) .. i end
      end)
      local ok, err = pcall(t.join, t)
      assert.is_false(ok)
      assert.matches("not enough memory", tostring(err))
      assert.equal(base + 8 * 1024 * 1024, corio.memory_limit(nil))
      assert.is_nil(corio.memory_limit())
      collectgarbage()
      local hog = {}
      for i = 1, 1e5 do hog[i] = i end   -- lifted: fine again
    end)
  end)

  it("rejects bad limits", function()
    assert.has_error(function() corio.memory_limit(0) end,
      "corio.memory_limit: bad argument #1 (positive integer or nil expected)")
    assert.has_error(function() corio.memory_limit("lots") end)
    assert.has_error(function() corio.memory_limit(1.5) end)
  end)

  it("500 connections buffering until the limit are dropped; a well-behaved client is served", function()
    local codes, served = {}, 0
    local out = os.tmpname()
    S.run(function()
      collectgarbage()
      local limit = corio.stats().memory_bytes + 48 * 1024 * 1024
      corio.memory_limit(limit)
      local ls = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 1024 }))
      local _, port = ls:addr()
      local g = corio.group()
      local server = corio.spawn(function()
        while true do
          local s = ls:accept()
          if not s then return end
          g:spawn(function()
            local ok = pcall(function()
              while true do
                local line, _, code = s:readline(64 * 1024 * 1024)
                if not line then codes[code or "EOF"] = (codes[code or "EOF"] or 0) + 1; return end
                if line == "ping" then served = served + 1; s:write("pong\n") end
              end
            end)
            if not ok then codes.error = (codes.error or 0) + 1 end
            s:close()
          end)
        end
      end)
      os.execute(("%s lua5.4 spec/fixtures/flood_clients.lua %d 500 > %s 2>&1 &"):format(S.env, port, out))
      local deadline = corio.now() + 60
      repeat
        corio.sleep(0.2)
        assert.is_true(corio.stats().memory_bytes <= limit)
        local f = io.open(out)
        local text = f and f:read("a") or ""
        if f then f:close() end
      until text:match("good=") or corio.now() > deadline
      ls:close()
      server:join()
      g:close()
      corio.memory_limit(nil)
    end)
    local f = assert(io.open(out))
    local text = f:read("a")
    f:close()
    os.remove(out)
    assert.matches("good=20/20", text)
    assert.is_true((codes.ENOMEM or 0) > 0, "no connection hit the limit")
    assert.equal(20, served)
  end)
end)
