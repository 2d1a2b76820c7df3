-- spec/faults/proc.lua: what the fault harnesses (echo.lua, sweep.lua)
-- read of their own process. Loaded with dofile from the tree's top.
local M = {}

-- The process's open fds (the listing's own pipe included, always).
function M.nfds(pid)
  local n = 0
  local p = io.popen("ls /proc/" .. pid .. "/fd")
  for _ in p:lines() do n = n + 1 end
  p:close()
  return n
end

return M
