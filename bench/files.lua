-- bench/files.lua MODE ...: corio's side of bench/files.sh.
--   big PATH CHUNK   read PATH in CHUNK-byte reads; prints "bytes seconds"
--   small DIR N      read DIR/0 .. DIR/(N-1) all at once, one task each
--                    (corio.fs.readfile); prints "files seconds"
local corio = require "corio"
local mode = arg[1]

corio.run(function()
  if mode == "big" then
    local chunk = tonumber(arg[3])
    local f <close> = assert(corio.fs.open(arg[2]))
    local t0, total = corio.now(), 0
    while true do
      local d = f:read(chunk)
      if not d then break end
      total = total + #d
    end
    print(total, corio.now() - t0)
  elseif mode == "small" then
    local dir, n = arg[2], tonumber(arg[3])
    local t0 = corio.now()
    local tasks = {}
    for i = 1, n do
      tasks[i] = corio.spawn(function() return #assert(corio.fs.readfile(dir .. "/" .. (i - 1))) end)
    end
    local bytes = 0
    for i = 1, n do bytes = bytes + tasks[i]:join() end
    assert(bytes == n * 4096, "short reads")
    print(n, corio.now() - t0)
  else
    error("usage: files.lua big PATH CHUNK | small DIR N")
  end
end)
