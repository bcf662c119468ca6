# Ladder - build, tests, benchmarks.
#
#   make            build bin/ladder and bin/fake_provider (release flags,
#                   debug info)
#   make lint       the habits tools/lint.sh checks (layering, banned
#                   functions, line length, paths in tests)
#   make check      lint, then every test: unit (cmocka) and integration, then the
#                   same suite under AddressSanitizer + UBSan, then each
#                   fuzz target for a few seconds
#   make fuzz       each libFuzzer target for FUZZ_S seconds (default 60)
#   make asan       the whole test suite under AddressSanitizer + UBSan
#   make valgrind   the unit tests under valgrind
#   make bench      speed and memory figures
#   make demo       replay an incident, compare ladders, write plots to out/
#   make install    PREFIX=/usr/local DESTDIR=
#
# BUILD=release|debug|asan picks the build directory and flags.

BUILD ?= release
PREFIX ?= /usr/local
DESTDIR ?=

CC ?= cc
PKGS := libcjson gsl libevent hiredis libcurl libcrypto zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm
# The ladder binary takes GSL, libevent and hiredis from their static
# archives (Debian's -dev packages ship them): `serve` uses a sliver of
# each, and as shared libraries their symbol tables and relocations alone
# kept 0.9 MB resident in every router. Tests link the shared ones.
LADDER_LIBS = $(shell pkg-config --libs libcjson libcurl libcrypto zlib 2>/dev/null) \
              -Wl,-Bstatic -lgsl -lgslcblas -levent -lhiredis -Wl,-Bdynamic -lm
WARN := -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Werror
DEFS := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE

ifeq ($(BUILD),release)
  OPT := -O2 -g
else ifeq ($(BUILD),debug)
  OPT := -O0 -g3
else ifeq ($(BUILD),asan)
  OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
         -fno-sanitize-recover=undefined
  LDOPT := -fsanitize=address,undefined
else ifeq ($(BUILD),fuzz)
  # libFuzzer targets (tests/fuzz): the library with coverage hooks
  CC := clang
  OPT := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
         -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDOPT := -fsanitize=address,undefined
else
  $(error BUILD must be release, debug, asan or fuzz)
endif

B := build/$(BUILD)
# Each part sees only its own headers and the core's (tools/lint.sh checks
# the same by name): the core none of a host's, the two hosts none of each
# other's; the CLI, tests and tools see everything.
INC = -Irouter -Isim -Irouter/live
$(B)/router/%.o: INC = -Irouter
$(B)/router/live/%.o: INC = -Irouter -Irouter/live
$(B)/sim/%.o: INC = -Irouter -Isim
CFLAGS_ALL = $(WARN) $(DEFS) $(OPT) $(INC) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(LDOPT) $(LDFLAGS)

CORE_SRC := $(wildcard router/*.c)
SIM_SRC := $(wildcard sim/*.c)
LIVE_SRC := $(wildcard router/live/*.c)
CLI_SRC := $(wildcard cli/*.c)
LIB_SRC := $(CORE_SRC) $(SIM_SRC) $(LIVE_SRC)
LIB_OBJ := $(LIB_SRC:%.c=$(B)/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(B)/%.o)
LIB := $(B)/libladder.a

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_SRC := $(wildcard tools/*.c)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(B)/tools/%)
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_S ?= 60

LADDER := $(B)/ladder
SETUP := build/.setup-done

.PHONY: all check lint fuzz fuzz-check fuzz-targets unit integration asan valgrind bench demo install clean setup

all: bin/ladder bin/fake_provider

setup: $(SETUP)
$(SETUP): tools/setup.sh
	@sh tools/setup.sh
	@mkdir -p build && touch $@

$(B)/%.o: %.c | $(SETUP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

$(LADDER): $(CLI_OBJ) $(LIB)
	@echo "  LD      $@"
	@$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(LIB) $(LADDER_LIBS)

bin/ladder: $(LADDER)
	@mkdir -p bin
	@cp $< $@

# the fake upstream, for a first `ladder serve` test (README)
bin/fake_provider: $(B)/tools/fake_provider
	@mkdir -p bin
	@cp $< $@

# (cli_opt, the command line parser, is tested as a module of its own)
# (and so are tune's search space and race, which need no runs)
UNIT_CLI_OBJ := $(B)/cli/cli_opt.o $(B)/cli/tune_space.o $(B)/cli/tune_search.o
$(B)/tests/%: tests/unit/%.c tests/unit/testutil.h $(LIB) $(UNIT_CLI_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -Itests/unit -Icli -o $@ $< $(UNIT_CLI_OBJ) $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS) -lcmocka

# the tools parse their command line as the ladder commands do (cli_opt)
$(B)/tools/%: tools/%.c $(LIB) $(B)/cli/cli_opt.o
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -Icli -o $@ $< $(B)/cli/cli_opt.o $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

# the fake provider is one program of several files (tools/fake_provider/)
FP_SRC := $(wildcard tools/fake_provider/*.c)
$(B)/tools/fake_provider: tools/fake_provider.c $(FP_SRC) $(wildcard tools/fake_provider/*.h) $(LIB) $(B)/cli/cli_opt.o
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -Icli -o $@ tools/fake_provider.c $(FP_SRC) $(B)/cli/cli_opt.o $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(B)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $< $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS)

$(B)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(LIB)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS_ALL) -Itests/fuzz -fsanitize=fuzzer -o $@ $< $(LIB) \
	  $(LDFLAGS_ALL) $(PKG_LIBS)

fuzz-targets: $(FUZZ_BIN)

# Each fuzz target for FUZZ_S seconds (default 60) from its corpus; `make
# check` runs them for a few seconds each (fuzz-check).
fuzz:
	@$(MAKE) --no-print-directory BUILD=fuzz fuzz-targets
	@FUZZ_S=$(FUZZ_S) sh tests/run_fuzz.sh $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/fuzz/%)

fuzz-check:
	@$(MAKE) --no-print-directory BUILD=fuzz fuzz-targets
	@FUZZ_S=3 sh tests/run_fuzz.sh $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/fuzz/%)

unit: $(UNIT_BIN)
	@sh tests/run_unit.sh $(UNIT_BIN)

integration: $(LADDER) $(TOOL_BIN)
	@LADDER=$(abspath $(LADDER)) TOOLS=$(abspath $(B)/tools) \
	  sh tests/run_integration.sh

# Every test, then the same suite under AddressSanitizer + UBSan.
lint:
	@sh tools/lint.sh

check: lint all unit integration
	@$(MAKE) --no-print-directory BUILD=asan unit integration
	@$(MAKE) --no-print-directory fuzz-check

asan:
	$(MAKE) BUILD=asan unit integration

valgrind: $(UNIT_BIN)
	@for t in $(UNIT_BIN); do \
	  valgrind -q --error-exitcode=1 --leak-check=full \
	    --errors-for-leak-kinds=definite $$t >/dev/null || exit 1; \
	done; echo "valgrind: $(words $(UNIT_BIN)) test programs clean"

bench: $(BENCH_BIN) $(LADDER) $(TOOL_BIN)
	@for b in $(BENCH_BIN); do $$b || exit 1; done
	@LADDER=$(abspath $(LADDER)) TOOLS=$(abspath $(B)/tools) sh tests/bench/bench_serve.sh
	@LADDER=$(abspath $(LADDER)) TOOLS=$(abspath $(B)/tools) sh tests/bench/bench_edge.sh

demo: all
	@sh tools/demo.sh

install: bin/ladder bin/fake_provider
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 bin/ladder $(DESTDIR)$(PREFIX)/bin/ladder

clean:
	rm -rf build/release build/debug build/asan build/fuzz bin out

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
