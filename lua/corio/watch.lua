-- corio.watch: a value that changes over time; readers get the latest
-- value or wait for the next change.
local waitq = require "corio.waitq"
local check = require("corio.core").check   -- raises an expired deadline or pending cancel
local case = require "corio.select"

local Watch = {}
Watch.__index = Watch
Watch.__name = "corio.Watch"

-- corio.watch([v]): a watch holding v (version 0).
local function new(v)
  return setmetatable({ value = v, version = 0, q = waitq.new() }, Watch)
end

-- w:get(): the current value and its version (a count of sets).
function Watch:get()
  return self.value, self.version
end

-- w:set(v): store v and wake every task waiting in changed(); returns
-- the new version.
function Watch:set(v)
  self.value = v
  self.version = self.version + 1
  waitq.wake_all(self.q, v, self.version)
  return self.version
end

local function check_since(since, fname)
  if since ~= nil and math.type(since) ~= "integer" then
    error(fname .. ": bad argument #1 (version number expected, got " .. type(since) .. ")", 3)
  end
end

-- w:changed([since]): wait for the next set and return value, version.
-- With a version from get(), return at once if the watch moved past it
-- (so a change between get and changed is never missed).
function Watch:changed(since)
  check_since(since, "watch:changed")
  check()
  if since and self.version > since then return self.value, self.version end
  return waitq.park(self.q, "watch:changed")
end

-- w:waiting(): tasks parked in changed().
function Watch:waiting()
  return self.q.n
end

local ChangedCase = case.kind("watch:changed_case")

function ChangedCase:try()
  local w = self.w
  if self.since and w.version > self.since then return true, w.value, w.version end
  return false
end

function ChangedCase:enlist(node)
  waitq.push(self.w.q, node)
end

-- w:changed_case([since]): in corio.select, yields value, version.
function Watch:changed_case(since)
  check_since(since, "watch:changed_case")
  return setmetatable({ w = self, since = since }, ChangedCase)
end

return {
  new = new,
  install = function(corio) corio.watch = new end,
}
