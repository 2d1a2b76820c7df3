-- corio.fs: files and the file system without blocking the loop. Every
-- operation is a request of the C core (csrc/core/fs.c: a ring op on
-- io_uring where the kernel has it, else a job on the worker pool) that
-- the calling task waits for like a socket read: cancellable, timeable.
-- This file builds Lua's io-style files on those requests: a read-ahead
-- buffer for lines, a position of our own (reads and writes go to an
-- offset, so no request depends on the kernel's file position), and the
-- whole-file helpers.
local core = require "corio.core"

local M = {}
local O = core.fs_flags()
local READ_AHEAD = 64 * 1024   -- bytes a line read asks for at a time
local MAX_REQ = 1 << 30        -- bytes one request moves at most

local File = {}
File.__index = File
File.__name = "corio.File"

local function raise(fname, n, what, v)
  error(("%s: bad argument #%d (%s expected, got %s)"):format(fname, n, what, type(v)), 3)
end

local function check_path(fname, n, p)
  if type(p) ~= "string" then raise(fname, n, "path string", p) end
  if p:find("\0", 1, true) then
    error(("%s: bad argument #%d (path contains a NUL byte)"):format(fname, n), 3)
  end
end

-- perm: an octal string ("0644") or an integer; def when absent.
local function check_perm(fname, n, perm, def)
  if perm == nil then return def end
  local v = math.type(perm) == "integer" and perm
    or type(perm) == "string" and perm:match("^0?[0-7]+$") and tonumber(perm, 8)
  if not v or v < 0 or v > 4095 then
    error(("%s: bad argument #%d (permissions: an octal string like \"0644\" or an integer 0-4095)")
      :format(fname, n), 3)
  end
  return v
end

-- Lua's io.open modes: "r", "w", "a", each with an optional "+", then
-- any number of "b".
local MODES = {
  r = O.RDONLY, w = O.WRONLY | O.CREAT | O.TRUNC, a = O.WRONLY | O.CREAT | O.APPEND,
  ["r+"] = O.RDWR, ["w+"] = O.RDWR | O.CREAT | O.TRUNC, ["a+"] = O.RDWR | O.CREAT | O.APPEND,
}

local function parse_mode(mode)
  local base = type(mode) == "string" and mode:match("^([rwa]%+?)b*$")
  if not base then error("corio.fs.open: bad argument #2 (invalid mode)", 3) end
  return MODES[base], base
end

local function closed() return nil, "file is closed", "EBADF" end

-- The file's handle, or nil when closed.
local function handle(f)
  local h = f.h
  if not h then return nil end
  return h
end

-- ---- reading ----

-- Read up to n bytes at the position (the read-ahead first); "" at the end.
local function fill(f, n)
  local data, msg, code = core.fs_read(f.h, n, f.seekable and f.pos or -1)
  if not data and code == "ESPIPE" and f.seekable then   -- a pipe or a device
    f.seekable = false
    data, msg, code = core.fs_read(f.h, n, -1)
  end
  return data, msg, code
end

-- Buffered bytes not yet read.
local function buffered(f) return #f.rbuf - f.rpos + 1 end

local function take(f, n)
  local s = f.rbuf:sub(f.rpos, f.rpos + n - 1)
  f.rpos = f.rpos + #s
  f.pos = f.pos + #s
  if f.rpos > #f.rbuf then f.rbuf, f.rpos = "", 1 end
  return s
end

-- fill, at the position past what is buffered.
local function fill_at(f, n)
  local pos = f.pos
  f.pos = f.pos + buffered(f)
  local data, msg, code = fill(f, n)
  f.pos = pos
  return data, msg, code
end

-- More bytes into the read-ahead (n at least): true, false at the end,
-- or nil, msg, code.
local function more(f, n)
  local data, msg, code = fill_at(f, math.max(n, READ_AHEAD))
  if not data then return nil, msg, code end
  if data == "" then return false end
  f.rbuf = f.rbuf:sub(f.rpos) .. data
  f.rpos = 1
  return true
end

local function read_n(f, n)
  if buffered(f) >= n and buffered(f) > 0 then return take(f, n) end
  if buffered(f) > 0 then return take(f, buffered(f)) end
  local data, msg, code = fill(f, math.min(n == 0 and 1 or n, MAX_REQ))
  if not data then return nil, msg, code end
  if data == "" then return nil end
  if n == 0 then   -- read(0): "" unless at the end; the byte stays buffered
    f.rbuf, f.rpos = data, 1
    return ""
  end
  f.pos = f.pos + #data
  return data
end

local function read_line(f, keep)
  local from = f.rpos
  while true do
    local i = f.rbuf:find("\n", from, true)
    if i then
      local line = take(f, i - f.rpos + 1)
      return keep and line or line:sub(1, -2)
    end
    from = #f.rbuf + 1
    local ok, msg, code = more(f, READ_AHEAD)
    if ok == nil then return nil, msg, code end
    if not ok then
      if buffered(f) == 0 then return nil end
      return take(f, buffered(f))
    end
    from = from - (f.rpos - 1)
  end
end

-- read("n"): a numeral after any white space, as Lua's io reads one
-- (at most 200 characters); nil if none. What follows stays unread.
local function read_number(f)
  while true do
    local at = f.rbuf:find("%S", f.rpos)
    if at then
      take(f, at - f.rpos)
      break
    end
    take(f, buffered(f))
    local ok, msg, code = more(f, READ_AHEAD)
    if ok == nil then return nil, msg, code end
    if not ok then return nil end
  end
  while buffered(f) < 200 do   -- the numeral may go on in the next block
    local ok, msg, code = more(f, READ_AHEAD)
    if ok == nil then return nil, msg, code end
    if not ok then break end
  end
  local s = f.rbuf:match("^[%+%-]?[%w%.]*", f.rpos):sub(1, 200)
  s = s:match("^[%+%-]?0[xX][%x%.]*[pP]?[%+%-]?%x*") or s:match("^[%+%-]?[%d%.]*[eE]?[%+%-]?%d*")
  take(f, #s)
  return tonumber(s)
end

local function read_all(f)
  local parts = { take(f, buffered(f)) }
  local st = f.seekable and core.fs_fstat(f.h)
  local want = st and st.size > f.pos and st.size - f.pos or READ_AHEAD
  while true do
    local data, msg, code = fill(f, math.min(math.max(want, READ_AHEAD), MAX_REQ))
    if not data then return nil, msg, code end
    if data == "" then break end
    parts[#parts + 1] = data
    f.pos = f.pos + #data
    want = READ_AHEAD
  end
  return table.concat(parts)
end

local function read1(f, fmt)
  if math.type(fmt) == "integer" then
    if fmt < 0 then error("file:read: bad argument (negative count)", 3) end
    return read_n(f, fmt)
  end
  if type(fmt) ~= "string" then error("file:read: bad argument (invalid format)", 3) end
  local c = fmt:match("^%*?([alnL])")
  if c == "l" then return read_line(f, false) end
  if c == "L" then return read_line(f, true) end
  if c == "a" then return read_all(f) end
  if c == "n" then return read_number(f) end
  error("file:read: bad argument (invalid format)", 3)
end

-- file:read(...): Lua's formats ("l", "L", "a", "n", a count); one value
-- per format, nil at the end; nil, msg, code on a failure.
function File:read(...)
  if not handle(self) then return closed() end
  if not self.readable then return nil, "file not open for reading", "EBADF" end
  local n = select("#", ...)
  if n == 0 then return read1(self, "l") end
  if n == 1 then return read1(self, ...) end
  local out = {}
  for i = 1, n do
    local v, msg, code = read1(self, (select(i, ...)))
    if v == nil then
      if msg then return nil, msg, code end
      return table.unpack(out, 1, i)
    end
    out[i] = v
  end
  return table.unpack(out, 1, n)
end

-- file:lines(...): an iterator over read(...) (default "l").
function File:lines(...)
  local fmts = table.pack(...)
  if fmts.n == 0 then fmts = { "l", n = 1 } end
  return function()
    local r = table.pack(self:read(table.unpack(fmts, 1, fmts.n)))
    if r[1] == nil and r[2] and fmts.n == 1 then error(r[2], 2) end
    return table.unpack(r, 1, r.n)
  end
end

-- ---- writing ----

local function write_at(f, off, data)
  local done = 0
  while done < #data do
    local chunk = done == 0 and #data <= MAX_REQ and data or data:sub(done + 1, done + MAX_REQ)
    local n, msg, code = core.fs_write(f.h, chunk, off < 0 and -1 or off + done)
    if not n and code == "ESPIPE" and off >= 0 then
      f.seekable, off = false, -1
      n, msg, code = core.fs_write(f.h, chunk, -1)
    end
    if not n then return nil, msg, code end
    done = done + n
  end
  return done
end

-- file:write(...): strings and numbers, at the position (at the end in
-- "a" modes): true, or nil, msg, code.
function File:write(...)
  if not handle(self) then return closed() end
  if not self.writable then return nil, "file not open for writing", "EBADF" end
  local n = select("#", ...)
  local parts = { ... }
  for i = 1, n do
    local v = parts[i]
    if type(v) == "number" then parts[i] = tostring(v)
    elseif type(v) ~= "string" then raise("file:write", i, "string", v) end
  end
  local data = table.concat(parts, "", 1, n)
  local pos = self.pos
  if self.rpos <= #self.rbuf then   -- writing over what was read ahead
    self.rbuf, self.rpos = "", 1
  end
  local off = (self.append or not self.seekable) and -1 or pos
  local w, msg, code = write_at(self, off, data)
  if not w then return nil, msg, code end
  if self.append then
    self.pos = nil   -- at the end: found on demand (seek)
  else
    self.pos = pos + w
  end
  return true
end

-- ---- positioned I/O, seek, and the rest ----

-- file:read_at(offset, n): up to n bytes at offset, nil at the end; the
-- position does not move.
function File:read_at(offset, n)
  if math.type(offset) ~= "integer" or offset < 0 then raise("file:read_at", 1, "offset >= 0", offset) end
  if math.type(n) ~= "integer" or n < 0 then raise("file:read_at", 2, "count >= 0", n) end
  if not handle(self) then return closed() end
  if not self.readable then return nil, "file not open for reading", "EBADF" end
  local data, msg, code = core.fs_read(self.h, math.min(n, MAX_REQ), offset)
  if not data then return nil, msg, code end
  if data == "" and n > 0 then return nil end
  return data
end

-- file:write_at(offset, data): true; the position does not move.
function File:write_at(offset, data)
  if math.type(offset) ~= "integer" or offset < 0 then raise("file:write_at", 1, "offset >= 0", offset) end
  if type(data) ~= "string" then raise("file:write_at", 2, "string", data) end
  if not handle(self) then return closed() end
  if not self.writable then return nil, "file not open for writing", "EBADF" end
  self.rbuf, self.rpos = "", 1   -- it may overwrite what was read ahead
  local w, msg, code = write_at(self, offset, data)
  if not w then return nil, msg, code end
  return true
end

local WHENCE = { set = true, cur = true, ["end"] = true }

-- file:seek([whence [, offset]]): the new position from the start.
function File:seek(whence, offset)
  whence = whence == nil and "cur" or whence
  offset = offset == nil and 0 or offset
  if not WHENCE[whence] then error("file:seek: bad argument #1 (invalid option '" .. tostring(whence) .. "')", 2) end
  if math.type(offset) ~= "integer" then raise("file:seek", 2, "integer", offset) end
  if not handle(self) then return closed() end
  if self.seekable and not self.kind then   -- a fifo or a socket has no offsets
    local st = core.fs_fstat(self.h)
    self.kind = st and st.type
    if self.kind == "fifo" or self.kind == "socket" then self.seekable = false end
  end
  if not self.seekable then return nil, "Illegal seek", "ESPIPE" end
  local base
  if whence == "set" then base = 0
  elseif whence == "cur" and self.pos then base = self.pos
  else
    local st, msg, code = core.fs_fstat(self.h)
    if not st then return nil, msg, code end
    base = st.size
    if whence == "cur" then self.pos = st.size end   -- after an append
    if whence == "cur" then base = self.pos end
  end
  local to = base + offset
  if to < 0 then return nil, "Invalid argument", "EINVAL" end
  self.pos = to
  self.rbuf, self.rpos = "", 1
  return to
end

function File:sync()
  if not handle(self) then return closed() end
  return core.fs_fsync(self.h)
end

function File:stat()
  if not handle(self) then return closed() end
  return core.fs_fstat(self.h)
end

-- file:close(): true; a second close: nil, msg, "EBADF".
function File:close()
  local h = handle(self)
  if not h then return closed() end
  self.h = nil
  return core.fs_close(h)
end

function File:__close()
  local h = self.h
  self.h = nil
  if h then core.fs_close_now(h) end
end

function File:__tostring()
  return self.h and ("corio.File (%s)"):format(self.path) or "corio.File (closed)"
end

-- The handle of a file, for other parts of corio (process stdio).
function M.handle_of(f)
  return getmetatable(f) == File and f.h or nil
end

-- ---- corio.fs ----

-- corio.fs.open(path [, mode [, perm]]) -> file | nil, msg, code
function M.open(path, mode, perm)
  check_path("corio.fs.open", 1, path)
  local flags, base = parse_mode(mode == nil and "r" or mode)
  perm = check_perm("corio.fs.open", 3, perm, 438)   -- 0666, less the umask
  local h, msg, code = core.fs_open(path, flags, perm)
  if not h then return nil, msg, code end
  return setmetatable({
    h = h, path = path, pos = 0, rbuf = "", rpos = 1, seekable = true,
    readable = base ~= "w" and base ~= "a", writable = base ~= "r",
    append = base:sub(1, 1) == "a",
  }, File)
end

local function path_fn(name, prim, nargs)
  return function(...)
    for i = 1, nargs do check_path("corio.fs." .. name, i, (select(i, ...))) end
    return prim(...)
  end
end

M.stat = path_fn("stat", core.fs_stat, 1)
M.lstat = path_fn("lstat", core.fs_lstat, 1)
M.rename = path_fn("rename", core.fs_rename, 2)
M.unlink = path_fn("unlink", core.fs_unlink, 1)
M.rmdir = path_fn("rmdir", core.fs_rmdir, 1)
M.readdir = path_fn("readdir", core.fs_readdir, 1)
M.symlink = path_fn("symlink", core.fs_symlink, 2)
M.readlink = path_fn("readlink", core.fs_readlink, 1)

function M.chmod(path, perm)
  check_path("corio.fs.chmod", 1, path)
  if perm == nil then raise("corio.fs.chmod", 2, "permissions", perm) end
  return core.fs_chmod(path, check_perm("corio.fs.chmod", 2, perm))
end

-- corio.fs.mkdir(path [, perm [, parents]]): with parents, the missing
-- directories above it too, and an existing directory is no failure.
function M.mkdir(path, perm, parents)
  check_path("corio.fs.mkdir", 1, path)
  perm = check_perm("corio.fs.mkdir", 2, perm, 511)   -- 0777, less the umask
  if not parents then return core.fs_mkdir(path, perm) end
  local at = path:sub(1, 1) == "/" and "/" or ""
  local ok, msg, code = true, nil, nil
  for part in path:gmatch("[^/]+") do
    at = at .. part
    ok, msg, code = core.fs_mkdir(at, perm)
    if not ok and code == "EEXIST" then
      local st = core.fs_stat(at)
      if st and st.type == "directory" then ok = true end
    end
    if not ok then return nil, msg, code end
    at = at .. "/"
  end
  return true
end

-- corio.fs.readfile(path) -> the whole file | nil, msg, code: one
-- request (open, read to the end, close on a worker), the way to read
-- many small files.
function M.readfile(path)
  check_path("corio.fs.readfile", 1, path)
  return core.fs_readfile(path)
end

local seq = 0

-- corio.fs.writefile(path, data) -> true | nil, msg, code: the data goes
-- to a new file beside path, is synced, then renamed over path, so path
-- is never half written; a failure or a cancel removes the new file.
function M.writefile(path, data)
  check_path("corio.fs.writefile", 1, path)
  if type(data) ~= "string" then raise("corio.fs.writefile", 2, "string", data) end
  local dir, base = path:match("^(.*/)([^/]*)$")
  dir, base = dir or "", base or path
  if base == "" then return nil, "Is a directory", "EISDIR" end
  seq = seq + 1
  local tmp = ("%s.%s.%d.%d.tmp"):format(dir, base, core.getpid(), seq)
  local st = core.fs_stat(path)
  local f, msg, code = core.fs_open(tmp, O.WRONLY | O.CREAT | O.EXCL, st and st.mode or 438)
  if not f then return nil, msg, code end
  local done = false
  local guard <close> = setmetatable({}, { __close = function()
    if f then core.fs_close_now(f) end
    if not done then os.remove(tmp) end
  end })
  local file = setmetatable({ h = f, pos = 0, seekable = true, rbuf = "", rpos = 1 }, File)
  local ok
  ok, msg, code = write_at(file, 0, data)
  if ok then ok, msg, code = core.fs_fsync(f) end
  if ok then
    local h = f
    f = nil
    ok, msg, code = core.fs_close(h)
  end
  if ok then ok, msg, code = core.fs_rename(tmp, path) end
  if not ok then return nil, msg, code end
  done = true
  return true
end

function M.install(corio)
  corio.fs = {
    open = M.open, stat = M.stat, lstat = M.lstat, readfile = M.readfile,
    writefile = M.writefile, rename = M.rename, unlink = M.unlink, mkdir = M.mkdir,
    rmdir = M.rmdir, readdir = M.readdir, symlink = M.symlink, readlink = M.readlink,
    chmod = M.chmod,
  }
end

return M
