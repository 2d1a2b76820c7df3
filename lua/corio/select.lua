-- corio.select: wait for the first of several operations that can
-- proceed, and perform only that one.
--
-- A case is a table whose metatable was made by kind(); it has
--   case:try()        -> true, values... when the operation was done now,
--                        false (doing nothing) otherwise;
--   case:enlist(node) -> queue node ({ task, tag = case index }) where the
--                        operation's owner completes it with
--                        core.wake(task, tag, values...);
--   case:withdraw(node) -> take the node back if still queued (by default
--                        a waitq node: waitq.cancel);
--   case:finish(...)  -> optional: turns the woken values into results.
-- corio.after cases carry a deadline (`at`) instead: select parks under a
-- core.deadline, whose firing means the timer case won.
local core = require "corio.core"
local waitq = require "corio.waitq"

local suspend, now, deadline = core.suspend, core.now, core.deadline
local pcall, error, getmetatable, setmetatable = pcall, error, getmetatable, setmetatable
local sel = select
local check_pending = core.check   -- raises an expired deadline or pending cancel

local M = {}

local function withdraw_node(_, node) waitq.cancel(node) end

-- M.kind(name): a new case metatable (methods go in it).
function M.kind(name)
  local k = { __case = true, __name = name, withdraw = withdraw_node }
  k.__index = k
  return k
end

local After = M.kind("corio.after")

-- An after case is ready once its time has come; it yields no value.
function After:try()
  return now() >= self.at
end

-- corio.after(seconds): a case that becomes ready `seconds` from now
-- (measured from this call, so a reused case is one overall deadline).
function M.after(seconds)
  if type(seconds) ~= "number" then
    error("corio.after: bad argument #1 (number expected, got " .. type(seconds) .. ")", 2)
  end
  if seconds ~= seconds then error("corio.after: bad argument #1 (not a number: NaN)", 2) end
  return setmetatable({ at = now() + seconds }, After)
end

local try_from

local function tried(cases, i, n, ok, ...)
  if ok then return i, ... end
  return try_from(cases, i + 1, n)
end

-- The first case (in argument order) that proceeds now: i, values...
function try_from(cases, i, n)
  if i > n then return nil end
  return tried(cases, i, n, cases[i]:try())
end

-- Withdraw the nodes still queued (nodes[i] for the non-timer cases).
local function withdraw(cases, nodes, n)
  for i = 1, n do
    local node = nodes[i]
    if node then cases[i]:withdraw(node) end
  end
end

-- Queue a node for every waiting case into nodes; returns the earliest
-- timer case.
local function enlist_all(cases, n, task, nodes)
  local at, at_i
  for i = 1, n do
    local c = cases[i]
    if c.at then
      if not at or c.at < at then at, at_i = c.at, i end
    else
      local node = waitq.node(task, i)
      nodes[i] = node
      c:enlist(node)
    end
  end
  return at, at_i
end

-- enlist_all, and if a case fails to enlist, withdraw the nodes queued
-- before it and raise its error.
local function enlist(cases, n, task)
  local nodes = {}
  local ok, at, at_i = pcall(enlist_all, cases, n, task, nodes)
  if not ok then
    withdraw(cases, nodes, n)
    error(at, 0)
  end
  return nodes, at, at_i
end

local function chosen(cases, i, ...)
  local finish = cases[i].finish
  if finish then return i, finish(cases[i], ...) end
  return i, ...
end

-- After the park: withdraw every other node, then report the winner.
local function settle(cases, n, nodes, d, at_i, ok, ...)
  withdraw(cases, nodes, n)
  if d then d:close() end
  if ok then return chosen(cases, ...) end
  local err = ...
  if d and err == d then return at_i end
  error(err, 0)
end

local function check(cases, n)
  if n == 0 then error("corio.select: no cases given", 3) end
  for i = 1, n do
    local mt = getmetatable(cases[i])
    if type(mt) ~= "table" or not mt.__case then
      error(("corio.select: bad argument #%d (case expected, got %s)"):format(i, type(cases[i])), 3)
    end
  end
end

-- A case was ready: its results; else park on every case.
local function ready_or_wait(cases, n, i, ...)
  if i then return i, ... end
  local task = waitq.task("corio.select")
  local nodes, at, at_i = enlist(cases, n, task)
  local d = at and deadline(at - now())
  return settle(cases, n, nodes, d, at_i, pcall(suspend))
end

-- corio.select(case, ...): index of the case that proceeded, then its
-- values. Cases ready now win in argument order; otherwise the first one
-- to become ready wins and the others have no effect.
function M.select(...)
  local n = sel("#", ...)
  local cases = { ... }
  check(cases, n)
  check_pending()
  return ready_or_wait(cases, n, try_from(cases, 1, n))
end

-- ---- task:join_case() ----

local finished = { done = true, failed = true, cancelled = true }
local joinqs = setmetatable({}, { __mode = "k" })   -- task -> waitq of join cases

local JoinCase = M.kind("task:join_case")

-- A finished task: true, ok, results... (ok false with its error).
function JoinCase:try()
  local t = self.task
  if finished[t:status()] then return true, pcall(t.join, t) end
  return false
end

-- The first join case on a task installs one exit hook that wakes every
-- case queued on it at that time. A task waited on this way counts as
-- observed: its failure is not reported as an unjoined error.
function JoinCase:enlist(node)
  local t = self.task
  local q = joinqs[t]
  if not q then
    q = waitq.new()
    joinqs[t] = q
    core.supervise(t, true)
    core.on_exit(t, function(task)
      joinqs[task] = nil
      local r = table.pack(pcall(task.join, task))
      waitq.wake_all(q, table.unpack(r, 1, r.n))
    end)
  end
  waitq.push(q, node)
end

-- task:join_case(): in corio.select, yields ok, results... (or false,
-- err) once the task finished, like group:next.
function core.Task.join_case(task)
  return setmetatable({ task = task }, JoinCase)
end

function M.install(corio)
  corio.select = M.select
  corio.after = M.after
end

return M
