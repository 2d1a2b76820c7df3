# corio: make (build), make test, make demo, make deps, make bench, make soak
LUA      ?= lua5.4
LUA_INC  ?= /usr/include/lua5.4
BUSTED   ?= busted --lua=$(LUA)
CC       ?= gcc
OPT      ?= -O2 -g
WARN      = -Wall -Wextra -Werror
CFLAGS   += -std=gnu11 -fPIC $(OPT) $(WARN) $(SAN)
LDLIBS    = -luring

CORE_SRC := $(sort $(wildcard csrc/core/*.c))
BIND_SRC := $(sort $(wildcard csrc/bind/*.c))
HEADERS  := $(wildcard csrc/core/*.h csrc/bind/*.h csrc/*.h)
MODULE    = lua/corio/core.so
CTESTS   := $(patsubst spec/c/%.c,spec/c/bin/%,$(wildcard spec/c/*_test.c))

DEB_PKGS  = lua5.4 liblua5.4-dev liburing-dev lua-busted luarocks gcc make libc6-dev valgrind

.PHONY: all module deps test spec ctest demo bench soak asan valgrind layers install clean

all: layers $(MODULE)

module: $(MODULE)

# luarocks passes where liburing lives (external dependency LIBURING)
LIBURING_INC ?= /usr/include
LIBURING_LIB ?= /usr/lib

$(MODULE): $(CORE_SRC) $(BIND_SRC) $(HEADERS)
	$(CC) $(CFLAGS) -I$(LUA_INC) -I$(LIBURING_INC) -shared -o $@ $(CORE_SRC) $(BIND_SRC) \
	  $(LDFLAGS) -L$(LIBURING_LIB) $(LDLIBS)

# Used by the rockspec: luarocks sets INST_LIBDIR and INST_LUADIR.
INST_LIBDIR ?= /usr/local/lib/lua/5.4
INST_LUADIR ?= /usr/local/share/lua/5.4
install: $(MODULE)
	install -d $(INST_LIBDIR)/corio $(INST_LUADIR)/corio
	install -m 644 $(MODULE) $(INST_LIBDIR)/corio/core.so
	install -m 644 lua/corio/*.lua $(INST_LUADIR)/corio/

# The core must not know Lua: only csrc/bind may include lua.h.
layers:
	@! grep -n 'lua\.h\|lauxlib\.h\|lualib\.h' csrc/core/* || \
	  { echo "csrc/core must not include Lua headers"; exit 1; }

# Install the Debian packages that are missing (needs root or sudo).
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

spec/c/bin/%: spec/c/%.c spec/c/check.h $(CORE_SRC) $(HEADERS)
	@mkdir -p spec/c/bin
	$(CC) $(CFLAGS) -Icsrc/core -o $@ $< $(filter-out csrc/core/backend%.c,$(CORE_SRC)) \
	  csrc/core/backend.c csrc/core/backend_epoll.c csrc/core/backend_uring.c $(LDLIBS)

ctest: $(CTESTS)

test: deps
	@$(MAKE) --no-print-directory all ctest
	@bash spec/run.sh

spec: all
	@bash spec/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' $(LUA) examples/demo.lua

bench: deps all
	bash bench/run.sh

# The soak test (bench/soak/run.sh): SOAK_S seconds of echo on SOAK_CONNS
# connections with churn; fails on RSS or fd growth, a wrong byte, an error,
# a stall or a server that does not drain. Output in bench/results/soak/.
SOAK_S     ?= 600
SOAK_CONNS ?= 1000
SOAK_PKGS   = gnuplot-nox
soak: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS='$(SOAK_PKGS)'
	@$(MAKE) --no-print-directory all
	@SOAK_S=$(SOAK_S) SOAK_CONNS=$(SOAK_CONNS) bash bench/soak/run.sh

# The whole suite under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory clean
	@$(MAKE) --no-print-directory all ctest OPT='-O1 -g -fno-omit-frame-pointer' \
	  SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined'
	@CORIO_ASAN=1 bash spec/run.sh; rc=$$?; $(MAKE) --no-print-directory clean >/dev/null; exit $$rc

# A C host and a Lua script that tear the runtime down with I/O in flight,
# under valgrind (errors and leaks fail), on each backend.
VG = valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --error-exitcode=9
valgrind: deps all
	@mkdir -p spec/c/bin
	@$(CC) -g -Icsrc -I$(LUA_INC) examples/embed/host.c -llua5.4 -o spec/c/bin/embed_host
	@p=0; f=0; for be in io_uring epoll; do \
	  for cmd in "spec/c/bin/embed_host examples/embed/tasks.lua" "$(LUA) spec/fixtures/valgrind_smoke.lua"; do \
	    if CORIO_BACKEND=$$be LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' \
	         $(VG) $$cmd >/dev/null 2>spec/c/bin/vg.log; then p=$$((p+1)); \
	    else f=$$((f+1)); echo "valgrind failed ($$be): $$cmd"; cat spec/c/bin/vg.log; fi; \
	  done; \
	done; echo "valgrind: $$p passed, $$f failed"; echo "$$p passed, $$f failed"; [ $$f = 0 ]

clean:
	rm -rf $(MODULE) spec/c/bin
