-- bench/luv_files.lua DIR N: luv's side of bench/files.sh: open, read 4 KiB
-- and close DIR/0 .. DIR/(N-1), all at once, each step a request on libuv's
-- thread pool (uv.fs_open / fs_read / fs_close with callbacks); prints
-- "files seconds".
local uv = require "luv"
local dir, n = arg[1], tonumber(arg[2])
local done, bytes = 0, 0
local t0 = uv.hrtime()
for i = 1, n do
  uv.fs_open(dir .. "/" .. (i - 1), "r", 0, function(err, fd)
    assert(not err, err)
    uv.fs_read(fd, 4096, 0, function(rerr, data)
      assert(not rerr, rerr)
      bytes = bytes + #data
      uv.fs_close(fd, function() done = done + 1 end)
    end)
  end)
end
uv.run()
assert(done == n and bytes == n * 4096, "short reads")
print(n, (uv.hrtime() - t0) / 1e9)
