-- luarocks --lua-version=5.4 make rockspec/corio-scm-1.rockspec
rockspec_format = "3.0"
package = "corio"
version = "scm-1"
source = {
  url = "git+file:///corio",   -- builds from the checkout with `luarocks make`
}
description = {
  summary = "Async runtime for Lua 5.4: tasks on io_uring (or epoll), timers, TCP, channels",
  detailed = [[
corio runs Lua coroutines as tasks on a C scheduler over an io_uring reactor
(with an epoll fallback), with a hierarchical timer wheel, TCP streams,
cancellation, deadlines and structured concurrency.]],
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  LIBURING = { header = "liburing.h", library = "uring" },
}
build = {
  type = "make",
  build_target = "module",
  build_variables = {
    CFLAGS = "$(CFLAGS)",
    LUA_INC = "$(LUA_INCDIR)",
    LIBURING_INC = "$(LIBURING_INCDIR)",
    LIBURING_LIB = "$(LIBURING_LIBDIR)",
  },
  install_target = "install",
  install_variables = {
    INST_LIBDIR = "$(LIBDIR)",
    INST_LUADIR = "$(LUADIR)",
  },
}
