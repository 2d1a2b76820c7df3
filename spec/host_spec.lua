-- spec/host_spec.lua: host-driven mode: corio.step, corio.pollfd,
-- corio.next_timeout, corio.backend, and the C host in examples/embed.
local corio = require "corio"
local S = require "spec.support"

describe("host-driven mode", function()
  it("spawn outside run queues the task; step runs it and returns live tasks", function()
    local ran = false
    local t = corio.spawn(function() ran = true; corio.sleep(0.02); return "r" end)
    assert.is_false(ran)
    assert.equal(1, corio.step())
    assert.is_true(ran)
    local deadline = corio.now() + 2
    while corio.step(0.05) > 0 and corio.now() < deadline do end
    assert.equal("done", t:status())
    assert.equal("r", t:join())
  end)

  it("step(timeout) waits at most the timeout", function()
    local t0 = corio.now()
    assert.equal(0, corio.step(0.03))
    local dt = corio.now() - t0
    assert.is_true(dt >= 0.025 and dt < 1, dt)
  end)

  it("step waits for I/O and timers once", function()
    local t = corio.spawn(function() corio.sleep(0.01) end)
    corio.step()
    local t0 = corio.now()
    repeat corio.step(1) until t:status() == "done" or corio.now() - t0 > 2
    local dt = corio.now() - t0   -- woken by the timer, not after 1 s
    assert.is_true(dt < 0.5 and dt > 0.005, dt)
    assert.equal("done", t:status())
  end)

  it("next_timeout tells how long the host may sleep", function()
    assert.is_nil(corio.next_timeout())
    local t = corio.spawn(function() corio.sleep(0.05) end)
    assert.equal(0, corio.next_timeout())   -- ready to run
    corio.step()
    local nt = corio.next_timeout()
    assert.is_true(nt > 0 and nt <= 0.051, tostring(nt))
    t:cancel()
    corio.step()
    assert.equal("cancelled", t:status())
  end)

  it("pollfd is an fd that polls readable when I/O completes", function()
    local fd = corio.pollfd()
    assert.is_true(math.type(fd) == "integer" and fd >= 0)
    assert.equal(fd, corio.pollfd())
  end)

  it("step cannot be called from a task", function()
    S.run(function()
      assert.has_error(function() corio.step() end)
    end)
    assert.has_error(function() corio.step("x") end)
  end)

  it("backend names the backend in use", function()
    local b = corio.backend()
    assert.is_true(b == "io_uring" or b == "epoll")
    if os.getenv("CORIO_BACKEND") and os.getenv("CORIO_BACKEND") ~= "" then
      assert.equal(os.getenv("CORIO_BACKEND"), b)
    end
  end)

  it("a C host drives tasks from its own poll() loop", function()
    local ok, out = S.sh("mkdir -p spec/c/bin && gcc -Wall -Wextra -Werror -Icsrc -I/usr/include/lua5.4 "
      .. "examples/embed/host.c -llua5.4 -o spec/c/bin/embed_host")
    assert.is_true(ok, out)
    local ok2, out2 = S.sh(S.env .. " spec/c/bin/embed_host examples/embed/tasks.lua")
    assert.is_true(ok2, out2)
    assert.matches("result: hello 1,hello 2,hello 3", out2)
  end)

  it("a state closed with tasks still sleeping, reading and queued frees them all", function()
    -- the interpreter closes its state at exit; sleep timers live outside the
    -- task objects, so the runtime must free them (ASan's leak check and
    -- valgrind see it when it does not)
    local ok, out = S.sh(S.env .. [[ lua5.4 -e '
      local c = require "corio"
      local ls = assert(c.tcp.listen("127.0.0.1", 0))
      local _, port = ls:addr()
      for i = 1, 200 do c.spawn(function() c.sleep(100 + i) end) end
      c.spawn(function() local s = ls:accept() s:read() end)
      c.spawn(function() local s = c.tcp.connect("127.0.0.1", port) s:read() end)
      for _ = 1, 10 do c.step(0.01) end
      print("live", c.stats().tasks, c.stats().timers)
      for i = 1, 10 do c.spawn(function() end) end']])
    assert.is_true(ok, out)
    assert.matches("live\t202\t200", out)
  end)
end)
