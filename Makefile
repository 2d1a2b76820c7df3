# corio: make (build), make test, make demo, make deps, make bench,
# make faults, make fuzz, make cfuzz, make soak
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

DEB_PKGS  = lua5.4 liblua5.4-dev liburing-dev lua-busted luarocks gcc make libc6-dev valgrind iproute2

.PHONY: all module deps test spec ctest demo bench asan valgrind layers install clean faults fuzz cfuzz soak

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

# Install the Debian packages of the list $(1) that are missing (needs
# root or sudo): make deps, and targets with packages of their own.
define apt_install
	@missing=""; for p in $(1); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(DEB_PKGS))

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

# The API fuzzer (spec/fuzz/api_fuzz.lua), FUZZ_S seconds per backend, on a
# module built with ASan + UBSan apart from lua/corio/core.so. FUZZ_SEED
# (default: the time, printed) and FUZZ_ROUND replay a failure.
FUZZ_S     ?= 60
ASAN_MODULE = spec/c/bin/asan/corio/core.so
$(ASAN_MODULE): OPT = -O1 -g -fno-omit-frame-pointer
$(ASAN_MODULE): SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
$(ASAN_MODULE): $(CORE_SRC) $(BIND_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(LUA_INC) -I$(LIBURING_INC) -shared -o $@ $(CORE_SRC) $(BIND_SRC) \
	  $(LDFLAGS) -L$(LIBURING_LIB) $(LDLIBS)

fuzz: deps
	@$(MAKE) --no-print-directory layers $(ASAN_MODULE)
	@FUZZ_S=$(FUZZ_S) bash spec/fuzz/api_fuzz.sh

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

# libFuzzer targets of the core (spec/fuzz/*_fuzz.c, each says what it
# checks), built with clang under ASan and UBSan, each run for CFUZZ_S
# seconds from its seeds in spec/fuzz/corpus/ (spec/fuzz/cfuzz.sh; CFUZZ_SEED
# fixes the seed). CFUZZ_SRC_<target>: the core files it drives.
CFUZZ_PKGS   = clang libfuzzer-14-dev libclang-rt-14-dev
CFUZZ_CC    ?= clang
CFUZZ_FLAGS  = -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined $(WARN) -Icsrc/core
CFUZZ_BIN   := $(patsubst spec/fuzz/%.c,spec/c/bin/fuzz/%,$(wildcard spec/fuzz/*_fuzz.c))
CFUZZ_SRC_buf  = buf.c
CFUZZ_SRC_line = buf.c
CFUZZ_SRC_addr = addr.c errname.c resolve.c
CFUZZ_SRC_faults = faults.c
CFUZZ_DEF_faults = -DCORIO_FAULTS

spec/c/bin/fuzz/%_fuzz: spec/fuzz/%_fuzz.c spec/fuzz/fuzz.h $(CORE_SRC) $(HEADERS)
	@mkdir -p $(@D)
	$(CFUZZ_CC) $(CFUZZ_FLAGS) $(CFUZZ_DEF_$*) -o $@ $< $(addprefix csrc/core/,$(CFUZZ_SRC_$*))

cfuzz:
	$(call apt_install,$(CFUZZ_PKGS))
	@$(MAKE) --no-print-directory $(CFUZZ_BIN)
	@bash spec/fuzz/cfuzz.sh

clean:
	rm -rf $(MODULE) spec/c/bin

# Fault injection (core/faults.h): the module built with -DCORIO_FAULTS
# under ASan+UBSan, corio's own malloc/calloc/realloc wrapped, into
# spec/c/bin/faults (lua/corio/core.so is left alone). Then an echo
# workload under random faults for FAULTS_S seconds per backend and the
# exhaustive failing-allocation sweep. FAULTS_SEED fixes the seed.
FAULTS_SO    = spec/c/bin/faults/corio/core.so
FAULTS_S    ?= 60
FAULTS_RATES ?= enomem=0.001,short=0.05,reset=0.01,enobufs=0.01,eagain=0.05,overflow=0.01,eintr=0.01,spurious=0.05
ASAN_RUN     = LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
               ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FAULTS_ENV   = $(ASAN_RUN) LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='spec/c/bin/faults/?.so;;'

$(FAULTS_SO): $(CORE_SRC) $(BIND_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -fPIC -O1 -g -fno-omit-frame-pointer $(WARN) -DCORIO_FAULTS \
	  -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	  -I$(LUA_INC) -I$(LIBURING_INC) -shared -o $@ $(CORE_SRC) $(BIND_SRC) \
	  -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc -L$(LIBURING_LIB) $(LDLIBS)

faults: deps $(FAULTS_SO)
	@seed=$${FAULTS_SEED:-$$(date +%s)}; p=0; f=0; \
	for be in io_uring epoll; do \
	  echo "== faults on $$be: CORIO_FAULTS=seed=$$seed,$(FAULTS_RATES) FAULTS_S=$(FAULTS_S)"; \
	  if CORIO_BACKEND=$$be CORIO_FAULTS="seed=$$seed,$(FAULTS_RATES)" FAULTS_S=$(FAULTS_S) \
	     $(FAULTS_ENV) timeout -s KILL $$(( $(FAULTS_S) + 120 )) $(LUA) spec/faults/echo.lua; \
	  then p=$$((p+1)); else f=$$((f+1)); echo "faults FAILED on $$be (seed $$seed)"; fi; \
	  echo "== sweep on $$be"; \
	  if CORIO_BACKEND=$$be $(FAULTS_ENV) timeout -s KILL 600 $(LUA) spec/faults/sweep.lua 2>spec/c/bin/sweep.log; \
	  then p=$$((p+1)); else f=$$((f+1)); tail -40 spec/c/bin/sweep.log; fi; \
	done; echo "faults: $$p passed, $$f failed"; echo "$$p passed, $$f failed"; [ $$f = 0 ]
