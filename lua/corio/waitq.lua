-- corio.waitq: FIFO queues of parked tasks, the mechanism under
-- semaphores, mutexes, notify, groups, signals, oneshot, broadcast, watch
-- and select. (Channels keep their queues in C, csrc/bind/channel.c, and
-- their select cases withdraw their nodes themselves; the count below does
-- not include those, which corio.stats().channel_waiting counts.)
--
-- A waiter is a node { task = t, tag = i, data = d }: tag is 1 for a
-- plain wait and the case index inside corio.select; data is what the
-- waiter brings (a value to send, a permit count...). Whoever completes a wait pops the
-- node and calls core.wake(node.task, node.tag, values...): a true result
-- commits the hand-over (the task will get the values even if cancelled
-- afterwards); false means the task is gone (woken by another select case,
-- cancelled, timed out) and the node is simply dropped. A task that is
-- interrupted removes its own nodes before re-raising, so no waiter is
-- ever left behind.
local core = require "corio.core"

local suspend, wake, current = core.suspend, core.wake, core.current
local pcall, error = pcall, error

local waitq = {}
local live = 0   -- nodes queued in all queues, for leak checks

-- waitq.new([on_cancel]): an empty queue; on_cancel(q) runs after a
-- waiter left it without being served (so the owner can serve the next).
function waitq.new(on_cancel)
  return { n = 0, head = nil, tail = nil, on_cancel = on_cancel }
end

-- A new node, built with all its fields at once (no rehash as they are
-- set later: this is on the hot path of every wait).
function waitq.node(task, tag, data)
  return { task = task, tag = tag, data = data, q = false, prev = false, next = false }
end

-- Append node at the tail.
function waitq.push(q, node)
  node.q, node.prev, node.next = q, q.tail or false, false
  if q.tail then q.tail.next = node else q.head = node end
  q.tail = node
  q.n = q.n + 1
  live = live + 1
end

-- Unlink node if it is still queued; returns whether it was.
function waitq.remove(node)
  local q = node.q
  if not q then return false end
  local p, n = node.prev, node.next
  if p then p.next = n else q.head = n or nil end
  if n then n.prev = p else q.tail = p or nil end
  node.q, node.prev, node.next = false, false, false
  q.n = q.n - 1
  live = live - 1
  return true
end

-- Remove and return the head node, or nil.
function waitq.pop(q)
  local node = q.head
  if node then waitq.remove(node) end
  return node
end

-- A waiter leaves without being served: remove it and let the owner
-- react (a semaphore may now serve the waiter behind it).
function waitq.cancel(node)
  local q = node.q
  if waitq.remove(node) and q.on_cancel then q.on_cancel(q) end
end

-- Hand values to the first waiter still parked; returns its node, or nil
-- when nobody took them.
function waitq.wake_first(q, ...)
  local node = q.head
  while node do
    -- woken first, unqueued after: should the wake fail (no memory for the
    -- values), the waiter is still queued for the next try
    local woke = wake(node.task, node.tag, ...)
    waitq.remove(node)
    if woke then return node end
    node = q.head
  end
  return nil
end

-- Wake every waiter with the same values; returns how many took them.
function waitq.wake_all(q, ...)
  local count, node = 0, waitq.pop(q)
  while node do
    if wake(node.task, node.tag, ...) then count = count + 1 end
    node = waitq.pop(q)
  end
  return count
end

-- The current task, or an error naming fname.
function waitq.task(fname)
  local t = current()
  if not t then error(fname .. ": not inside a task", 0) end
  return t
end

-- A task is in at most one plain wait at a time, and its node is out of
-- every queue once park returns: reuse one node per task (allocating one
-- per wait costs more than the rest of the wait, in GC).
local plain = setmetatable({}, { __mode = "k" })   -- task -> its plain-wait node

-- Return the wake values without the tag, or clean up and re-raise.
local function plain_finish(node, ok, tag, ...)
  if ok then return ... end
  waitq.cancel(node)
  error(tag, 0)
end

-- waitq.park(q, fname[, data[, shield]]): park the current task in q
-- until a wake; returns the wake values without the tag. On cancel or
-- timeout the node is removed and the same error object re-raised.
-- Shielded, cancels and deadlines do not end the wait (they stay pending
-- for the next suspension). (The hot path of every semaphore, mutex and
-- notify wait: push and finish are inlined.)
function waitq.park(q, fname, data, shield)
  local t = current()
  local node = plain[t]
  if not node then
    node = waitq.node(waitq.task(fname), 1, data)
    plain[t] = node
  else
    node.data = data
  end
  local tail = q.tail
  node.q, node.prev, node.next = q, tail or false, false
  if tail then tail.next = node else q.head = node end
  q.tail = node
  q.n = q.n + 1
  live = live + 1
  return plain_finish(node, pcall(suspend, shield))
end

-- Number of nodes queued anywhere (0 when nothing waits).
function waitq.count()
  return live
end

return waitq
