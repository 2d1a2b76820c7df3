-- corio.sync: semaphore, mutex and notify, on FIFO wait queues.
--
-- A permit moves to a waiter only through a successful core.wake, so a
-- waiter that is cancelled or times out never holds (or leaks) one; a
-- waiter that leaves also lets the semaphore serve the ones behind it.
local core = require "corio.core"
local waitq = require "corio.waitq"
local case = require "corio.select"

local wake = core.wake
local check = core.check   -- raises an expired deadline or pending cancel

-- ---- permits (also the mutex guard) ----

local Permit = {}
Permit.__index = Permit
Permit.__name = "corio.Permit"

local serve

-- permit:release(): give the permits back; true the first time, false
-- after (so an explicit release and <close> can both run).
function Permit:release()
  if self.released then return false end
  self.released = true
  local s = self.sem
  s.avail = s.avail + self.k
  serve(s)
  return true
end
Permit.unlock = Permit.release
Permit.__close = Permit.release

-- ---- semaphore ----

local Semaphore = {}
Semaphore.__index = Semaphore
Semaphore.__name = "corio.Semaphore"

local function permit(s, k)
  s.avail = s.avail - k
  return setmetatable({ sem = s, k = k, released = false }, Permit)
end

-- Hand permits to the waiters at the head, in order, while they fit.
function serve(s)
  local q = s.q
  local node = q.head
  while node and node.data <= s.avail do
    waitq.remove(node)
    local p = permit(s, node.data)
    if not wake(node.task, node.tag, p) then p.released, s.avail = true, s.avail + node.data end
    node = q.head
  end
end

-- corio.semaphore(n): n permits (n >= 0; with 0, acquire waits until
-- sem:add gives some).
local function semaphore(n)
  if math.type(n) ~= "integer" or n < 0 then
    error("corio.semaphore: bad argument #1 (non-negative integer expected, got " .. tostring(n) .. ")", 2)
  end
  local s = setmetatable({ avail = n }, Semaphore)
  s.q = waitq.new(function() serve(s) end)
  return s
end

-- k (default 1) as a count of permits. A request for more permits than
-- the semaphore has waits, like any other, until sem:add makes them.
local function check_k(k, fname)
  k = k or 1
  if math.type(k) ~= "integer" or k < 1 then
    error(fname .. ": bad argument #1 (positive integer expected, got " .. tostring(k) .. ")", 3)
  end
  return k
end

-- Take k permits now if nobody waits before us.
local function try_take(s, k)
  if s.q.n == 0 and s.avail >= k then return permit(s, k) end
  return nil
end

-- k permits of s, waiting in FIFO order (the mutex's lock too).
local function acquire(s, k, fname)
  check()
  local p = try_take(s, k)
  if p then return p end
  return (waitq.park(s.q, fname, k))
end

-- s:acquire([k]): a permit for k (default 1) permits, waiting in FIFO
-- order; release it with permit:release() or a <close> variable.
function Semaphore:acquire(k)
  return acquire(self, check_k(k, "semaphore:acquire"), "semaphore:acquire")
end

-- s:try_acquire([k]): a permit, or nil when it would have to wait.
function Semaphore:try_acquire(k)
  k = check_k(k, "semaphore:try_acquire")
  return try_take(self, k)
end

-- s:add(n): n more permits (Tokio's add_permits), handed to the waiters
-- in order; true.
function Semaphore:add(n)
  check_k(n, "semaphore:add")
  self.avail = self.avail + n
  serve(self)
  return true
end

-- s:available(): permits not held.
function Semaphore:available()
  return self.avail
end

-- s:waiting(): tasks parked in acquire.
function Semaphore:waiting()
  return self.q.n
end

local AcquireCase = case.kind("semaphore:acquire_case")

function AcquireCase:try()
  local p = try_take(self.s, self.k)
  return p ~= nil, p
end

function AcquireCase:enlist(node)
  node.data = self.k
  waitq.push(self.s.q, node)
end

-- s:acquire_case([k]): in corio.select, yields a permit.
function Semaphore:acquire_case(k)
  k = check_k(k, "semaphore:acquire_case")
  return setmetatable({ s = self, k = k }, AcquireCase)
end

-- ---- mutex: a semaphore of one, whose permit is the guard ----

local Mutex = {}
Mutex.__index = Mutex
Mutex.__name = "corio.Mutex"

-- corio.mutex(): an unlocked mutex.
local function mutex()
  return setmetatable({ s = semaphore(1) }, Mutex)
end

-- m:lock(): a guard once the mutex is ours (FIFO); guard:unlock() or a
-- <close> variable unlocks it.
function Mutex:lock()
  return acquire(self.s, 1, "mutex:lock")
end

-- m:try_lock(): a guard, or nil when locked.
function Mutex:try_lock()
  return try_take(self.s, 1)
end

-- m:locked()
function Mutex:locked()
  return self.s.avail == 0
end

-- m:waiting(): tasks parked in lock.
function Mutex:waiting()
  return self.s.q.n
end

-- ---- notify ----

local Notify = {}
Notify.__index = Notify
Notify.__name = "corio.Notify"

-- corio.notify(): tasks wait until notified.
local function notify()
  return setmetatable({ q = waitq.new(), pending = false }, Notify)
end

-- n:wait(): wait for a notification (or consume the one notify_one
-- stored while nobody waited).
function Notify:wait()
  check()
  if self.pending then
    self.pending = false
    return
  end
  waitq.park(self.q, "notify:wait")
end

-- n:notify_one(): wake the first waiter; with none, store one
-- notification for the next wait (so a notify just before a wait is not
-- lost). True if a waiter was woken.
function Notify:notify_one()
  if waitq.wake_first(self.q) then return true end
  self.pending = true
  return false
end

-- n:notify_all(): wake every current waiter (stores nothing); returns
-- how many were woken.
function Notify:notify_all()
  return waitq.wake_all(self.q)
end

-- n:waiting(): tasks parked in wait.
function Notify:waiting()
  return self.q.n
end

return {
  semaphore = semaphore, mutex = mutex, notify = notify,
  install = function(corio)
    corio.semaphore, corio.mutex, corio.notify = semaphore, mutex, notify
  end,
}
