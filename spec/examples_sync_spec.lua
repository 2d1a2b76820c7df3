-- spec/examples_sync_spec.lua: the examples of groups, channels,
-- semaphores and signals run and do what they say.
local corio = require "corio"
local S = require "spec.support"

local function example(name, args)
  return S.sh(S.env .. " timeout 60 lua5.4 examples/" .. name .. " " .. (args or ""))
end

local function slurp(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- Poll (from a task) until path has content matching pattern.
local function wait_file(path, pattern, seconds)
  local t0 = corio.now()
  while corio.now() - t0 < seconds do
    local s = slurp(path)
    if s and s:match(pattern) then return s:match(pattern) end
    corio.sleep(0.02)
  end
  error("timed out waiting for " .. path)
end

describe("examples", function()
  it("batch.lua collects results and errors through a group", function()
    local ok, out = example("batch.lua")
    assert.is_true(ok, out)
    assert.matches("ok: 18", out)
    assert.matches("failed: 2", out)
  end)

  it("pipeline.lua moves every item through bounded stages", function()
    local ok, out = example("pipeline.lua")
    assert.is_true(ok, out)
    assert.matches("sink got 50 items", out)
    assert.matches("producer waited", out)
  end)

  it("rate_limit.lua keeps at most 100 fetches in flight", function()
    local ok, out = example("rate_limit.lua", "2000")
    assert.is_true(ok, out)
    assert.matches("2000 fetches", out)
    local max = tonumber(out:match("max in flight: (%d+)"))
    assert.is_true(max and max <= 100 and max > 1, out)
  end)

  it("graceful_shutdown.lua finishes in-flight requests on SIGTERM and exits 0", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir " .. dir))
    local cmd = ("( sh -c 'echo $$ > %s/pid; exec env %s lua5.4 examples/graceful_shutdown.lua 0 3' > %s/out 2>&1; echo $? > %s/rc ) &")
      :format(dir, S.env:gsub("'", "\""), dir, dir)
    assert(os.execute(cmd))
    local reply, elapsed
    S.run(function()
      local port = tonumber(wait_file(dir .. "/out", "listening on (%d+)", 10))
      local pid = wait_file(dir .. "/pid", "(%d+)", 10)
      local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
      local idle <close> = assert(corio.tcp.connect("127.0.0.1", port))
      assert(c:write("work 0.3\n"))
      corio.sleep(0.1)   -- the request is in flight
      local t0 = corio.now()
      os.execute("kill -TERM " .. pid)
      reply = c:readline()
      assert.is_nil(idle:readline())   -- idle connections are closed
      wait_file(dir .. "/rc", "(%d+)", 10)
      elapsed = corio.now() - t0
    end)
    local out, rc = slurp(dir .. "/out"), slurp(dir .. "/rc")
    os.execute("rm -rf " .. dir)
    assert.equal("done 0.3", reply)
    assert.equal("0", rc:match("%d+"), out)
    assert.matches("received TERM", out)
    assert.matches("all done", out)
    assert.is_true(elapsed < 2, "took " .. elapsed)
  end)
end)
