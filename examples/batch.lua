-- examples/batch.lua: process a batch of items concurrently through a
-- task group, collecting every result and every error as they finish.
local corio = require "corio"

-- Pretend work: takes a little time; items divisible by 7 fail.
local function process(item)
  corio.sleep(0.001 * (item % 5))
  if item % 7 == 0 then error(("item %d is bad"):format(item), 0) end
  return item * item
end

corio.run(function()
  local g <close> = corio.group()
  local items = {}
  for i = 1, 20 do
    items[g:spawn(process, i)] = i
  end

  local results, errors = {}, {}
  while true do
    local task, ok, value = g:next()   -- nil once every child is collected
    if not task then break end
    if ok then results[items[task]] = value else errors[#errors + 1] = value end
  end

  local n = 0
  for _ in pairs(results) do n = n + 1 end
  print(("ok: %d, failed: %d"):format(n, #errors))
  for _, err in ipairs(errors) do print("  " .. err) end
  print("square of 12: " .. results[12])
end)
