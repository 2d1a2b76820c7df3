-- corio.group: structured concurrency. A group owns the tasks spawned
-- through it; leaving the group's scope (<close>) cancels and waits for
-- every child still running, so no child outlives its group.
local core = require "corio.core"
local waitq = require "corio.waitq"

local spawn, supervise, on_exit = core.spawn, core.supervise, core.on_exit
local check = core.check

local Group = {}
Group.__index = Group
Group.__name = "corio.Group"

-- corio.group(): an empty group.
local function new()
  return setmetatable({
    running = {}, nrunning = 0,        -- children still running
    done = {}, dhead = 1, dtail = 0,   -- finished, not yet collected
    q = waitq.new(), closed = false,
  }, Group)
end

-- A child finished (called by the scheduler): keep it for next/wait and
-- wake the first of them. Safe when memory runs out: keeping it allocates
-- nothing (its slot in done was made at spawn), and the scheduler calls
-- a hook that failed for lack of memory a second time, which then only
-- redoes the wake-up (waitq.wake_first unqueues a waiter once woken).
local function child_exit(g, t)
  if g.running[t] then
    g.dtail = g.dtail + 1
    g.done[g.dtail] = t
    g.running[t] = nil
    g.nrunning = g.nrunning - 1
  end
  waitq.wake_first(g.q)
end

-- g:spawn(fn, ...): start fn(...) as a child; returns its task.
function Group:spawn(fn, ...)
  if self.closed then error("group:spawn: group is closed", 2) end
  if type(fn) ~= "function" then
    error("group:spawn: bad argument #1 (function expected, got " .. type(fn) .. ")", 2)
  end
  -- Everything that may fail for lack of memory happens before the child
  -- counts, and a child that cannot be counted is cancelled: the group
  -- never waits for a child it does not know, nor misses one it does.
  local hook = function(task) child_exit(self, task) end
  local slot = self.dtail + self.nrunning + 1   -- the highest child_exit may fill
  if self.done[slot] == nil then self.done[slot] = false end
  local t = spawn(fn, ...)
  supervise(t, true)
  local ok, err = pcall(function()
    on_exit(t, hook)
    self.running[t] = true
  end)
  if not ok then
    t:cancel()
    error(err, 0)
  end
  self.nrunning = self.nrunning + 1
  return t
end

-- The next finished child (waiting for one, shielded from cancels and
-- deadlines if asked), or nil when none is left.
local function next_done(g, fname, shield)
  while true do
    if not shield then check() end   -- an expired deadline never lets it go on
    local h = g.dhead
    if h <= g.dtail then
      local t = g.done[h]
      g.done[h] = nil
      g.dhead = h + 1
      return t
    end
    if g.nrunning == 0 then return nil end
    waitq.park(g.q, fname, nil, shield)   -- woken when a child is kept in done
  end
end

-- g:next(): wait for the next child to finish; returns task, ok, ...
-- (its results, or false and its error), or nil when the group is empty.
function Group:next()
  local t = next_done(self, "group:next")
  if not t then return nil end
  return t, pcall(t.join, t)
end

-- g:cancel(): cancel every running child; returns how many.
-- (Allocates nothing, so it works when memory has run out: a cancelled
-- child leaves running only later, from its exit hook.)
function Group:cancel()
  local n = 0
  for t in pairs(self.running) do
    if t:cancel() then n = n + 1 end
  end
  return n
end

-- The error of a finished child, or nil if it did not fail.
local function failure(t)
  if t:status() ~= "failed" then return nil end
  local _, err = pcall(t.join, t)
  return err
end

-- Collect every child, waiting whatever happens to the waiting task: the
-- wait is shielded, so a cancel or an expired deadline stays pending and
-- is raised at the task's next suspension. Returns the first failure
-- among the children collected.
local function drain(g, fname)
  local failed
  while #g > 0 do
    local t = next_done(g, fname, true)
    if failed == nil then failed = failure(t) end
  end
  return failed
end

-- g:wait(): wait for every child. When one fails, cancel the others,
-- wait for them and raise the first error. If the waiting task is
-- cancelled or times out, the children are cancelled and waited for too.
function Group:wait()
  local err
  while true do
    local ok, t = pcall(next_done, self, "group:wait")
    if not ok then
      self:cancel()
      drain(self, "group:wait")
      error(t, 0)
    end
    if not t then break end
    if err == nil then
      err = failure(t)
      if err ~= nil then self:cancel() end
    end
  end
  if err ~= nil then error(err, 0) end
end

-- g:close([err]): cancel every running child and wait for all of them
-- (also __close, err being the error leaving the scope). Without such an
-- error, raises the first error of a child nobody collected.
function Group:close(err)
  if self.closed then return nil, "group is closed", "EBADF" end
  self.closed = true
  self:cancel()
  local failed = drain(self, "group:close")
  if err == nil and failed ~= nil then error(failed, 0) end
  return true
end
Group.__close = Group.close

-- #g: children not yet collected (running or finished).
function Group:__len()
  return self.nrunning + self.dtail - self.dhead + 1
end

-- g:waiting(): tasks parked in next/wait.
function Group:waiting()
  return self.q.n
end

return {
  new = new,
  install = function(corio) corio.group = new end,
}
