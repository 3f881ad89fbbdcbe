# ferry: one non-recursive GNU Makefile.
#
#   make            build every program into build/bin (-Wall -Wextra -Werror)
#   make run        build, then start the suite in the foreground under ./run/
#   make check      build, then run lint, unit tests (sanitized), system tests, bench smoke
#   make install DESTDIR=D   install the FHS tree of SPEC.md under D
#   make man        rewrite the list of keys in man/ferry.conf.5 from common/confkeys.c
#   make deb, make rpm       ferry_<version>_<arch>.deb, ferry-<version>-1.<arch>.rpm in $(B)/pkg
#   make check-packages      their install, upgrade and removal in a throwaway root
#
# Each program is every .c file of its folder linked with libferry.a (common/),
# so adding a file never needs an edit here.

CC	?= cc
PKGS	:= libcurl libconfuse sqlite3 libbsd-overlay libmicrohttpd libcares hiredis libpcre2-8 zlib
# The binaries that ship are hardened as Debian's own are (dpkg-buildflags):
# a stack protector, glibc's checked functions, and read-only relocations.
# Each function in a section of its own, and the linker drops those no
# program calls: every program links all of libferry.a's objects it needs,
# and this keeps the installed size 15% smaller (issue 11: under 2 MiB).
CFLAGS	?= -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 -ffunction-sections -fdata-sections
LDFLAGS	?= -Wl,-z,relro -Wl,-z,now -Wl,--gc-sections
WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE $(PKG_CFLAGS) -Icommon $(CFLAGS)
# glibc's checked functions would catch first what ASan should report.
SAN	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	-U_FORTIFY_SOURCE

# One version for every program, package and heartbeat: git describe when
# building from git, the VERSION file otherwise (tools/version.sh says how).
# `make deb VERSION=x` overrides it. Only common/version.o is compiled with
# it, and $(B)/version (below) rebuilds that one object when it changes.
VERSION	:= $(shell sh tools/version.sh)
DESTDIR	?=
PREFIX	:= /opt/ferry

# program folder -> binary name
PROGRAMS := supervisor receiver forwarder tail sink ctl collectors periodic fleet
bin_name = $(if $(filter ctl,$(1)),ferryctl,ferry-$(1))

COMMON_SRC := $(sort $(wildcard common/*.c))
# Any header change rebuilds every object: a full build takes seconds, and a
# stale object that disagrees on a struct's layout costs hours.
HEADERS    := $(wildcard common/*.h */*.h */*/*.h)
# The built-in collectors ferry-collectors can run in its own process
# (collectors.builtin_mode = "inline"; collectors/inline.c lists the same).
# self is not among them: it reads ferry.db, and the runner links no SQLite.
INLINE_BUILTINS := cpu memory loadavg diskspace diskio network vmstat sockstat
collectors_EXTRA := $(patsubst %,collectors/builtin/%.c,$(INLINE_BUILTINS))
# Libraries a program must not link (--as-needed already drops what it
# does not call; this makes calling one a link error): ferry-periodic has
# no HTTP client, the forwarder PUTs its heartbeat.
periodic_NOLIBS := -lcurl
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
# A unit test links libferry.a and, for a module of a program's folder,
# that program's files listed here (as the fuzz targets below do).
UNIT_NAMES := $(patsubst tests/unit/%.c,%,$(UNIT_SRC))
test_parser_EXTRA := tail/parser.c tail/logformat.c
test_histo_EXTRA := tail/histo.c
test_derive_EXTRA := tail/derive.c tail/parser.c tail/histo.c tail/logformat.c
# Fuzz targets: tests/fuzz/fuzz_NAME.c, linked with libferry.a and, for a
# parser that lives in a program's folder, that program's files listed here.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
fuzz_collector_EXTRA := collectors/printed.c collectors/line.c collectors/bucket.c
fuzz_sink_EXTRA := sink/ingest.c sink/query.c sink/glob.c sink/store.c
fuzz_tail_EXTRA := tail/file.c tail/pipeline.c tail/derive.c tail/parser.c tail/histo.c tail/logformat.c
# ferry-sink's page (sink/ui/) is compiled in: tools/embed writes its files as
# C arrays, so the sink ships as one binary and the page cannot drift from it.
UI_FILES   := $(sort $(wildcard sink/ui/*))
sink_EXTRA  = $(B)/gen/ui_files.c

# $(1) = build dir, $(2) = extra cflags
define variant
$(1)/obj/%.o: %.c $$(HEADERS) | deps-check
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -c $$< -o $$@

$(1)/obj/common/version.o: $$(B)/version
$(1)/obj/common/version.o: ALL_CFLAGS += -DFERRY_VERSION='"$$(VERSION)"'

$(1)/libferry.a: $$(patsubst %.c,$(1)/obj/%.o,$$(COMMON_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(foreach p,$(PROGRAMS),
$(1)/bin/$(call bin_name,$(p)): $$(patsubst %.c,$(1)/obj/%.o,$$(sort $$(wildcard $(p)/*.c)) $$($(p)_EXTRA)) $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) $$(LDFLAGS) -Wl,--as-needed -o $$@ $$^ $$(filter-out $$($(p)_NOLIBS),$$(PKG_LIBS)) -lm
)

$(1)/collectors/%: $(1)/obj/collectors/builtin/%.o $(1)/obj/collectors/builtin/main-%.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) $$(LDFLAGS) -Wl,--as-needed -o $$@ $$^ $$(PKG_LIBS) -lm

$(1)/obj/collectors/builtin/main-%.o: collectors/builtin/main.c $$(HEADERS) | deps-check
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -DBUILTIN=builtin_$$* -c $$< -o $$@

$(foreach f,$(FUZZ_NAMES),
$(1)/fuzz/$(f): $(1)/obj/tests/fuzz/fuzz_$(f).o $(1)/obj/tests/fuzz/driver.o $$(patsubst %.c,$(1)/obj/%.o,$$(fuzz_$(f)_EXTRA)) $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lm
)

$(1)/tools/%: $(1)/obj/tools/%.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lm

$(foreach t,$(UNIT_NAMES),
$(1)/tests/$(t): $(1)/obj/tests/unit/$(t).o $$(patsubst %.c,$(1)/obj/%.o,$$($(t)_EXTRA)) $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -lcmocka $$(PKG_LIBS) -lm
)
endef

# B: the build folder (override it to build in parallel from one tree).
B	?= build
# The version of the last build: rewritten only when it differs.
$(shell mkdir -p $(B) && { [ "$$(cat $(B)/version 2>/dev/null)" = '$(VERSION)' ] || \
	echo '$(VERSION)' > $(B)/version; })
$(eval $(call variant,$(B),))
$(eval $(call variant,$(B)/asan,$(SAN)))

$(B)/gen/ui_files.c: $(UI_FILES) $(B)/tools/embed
	@mkdir -p $(dir $@)
	$(B)/tools/embed $@ $(UI_FILES)
$(B)/obj/$(B)/gen/ui_files.o $(B)/asan/obj/$(B)/gen/ui_files.o: private ALL_CFLAGS += -Isink

# A program exists once its folder has a .c file (collectors and periodic
# land in steps). Built-in collectors are one program per collectors/builtin/*.c,
# each with the main() of collectors/builtin/main.c.
PRESENT   := $(foreach p,$(PROGRAMS),$(if $(wildcard $(p)/*.c),$(p)))
BINS      := $(foreach p,$(PRESENT),$(B)/bin/$(call bin_name,$(p)))
ASAN_BINS := $(foreach p,$(PRESENT),$(B)/asan/bin/$(call bin_name,$(p)))
BUILTINS  := $(filter-out main,$(patsubst collectors/builtin/%.c,%,$(sort $(wildcard collectors/builtin/*.c))))
BUILTIN_BINS := $(foreach c,$(BUILTINS),$(B)/collectors/$(c))
ASAN_BUILTIN_BINS := $(foreach c,$(BUILTINS),$(B)/asan/collectors/$(c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/fuzz_%.c,$(B)/asan/fuzz/%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(sort $(wildcard bench/*.c)))
# Build tools, not installed: tools/mankeys writes ferry.conf(5)'s keys,
# tools/embed the sink's page as C (ui_files.c).
TOOL_BINS := $(patsubst tools/%.c,$(B)/tools/%,$(sort $(wildcard tools/*.c)))

.PHONY: all deps deps-check run check lint headers archfiles unit fuzz-smoke fuzz fuzz-merge system bench-smoke install clean man \
	deb rpm check-packages
.DEFAULT_GOAL := all
# Keep intermediate objects (the built-ins' main-NAME.o): deleted, they were
# compiled again at every relink.
.SECONDARY:

all: $(BINS) $(BUILTIN_BINS) $(BENCH_BINS) $(TOOL_BINS)

$(B)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE $(PKG_CFLAGS) -O2 -Wl,--as-needed -o $@ $< $(PKG_LIBS)

# The list of keys in ferry.conf(5) comes from the table of keys; the page is
# committed, and tests/unit/test_confkeys.c fails while it is stale.
man: $(B)/tools/mankeys
	$(B)/tools/mankeys man/ferry.conf.5

# deps installs the Debian packages the build and the tests need when missing.
deps:
	@sh .ci/deps.sh

# A cheap guard so a plain `make` on a machine without the headers says why.
deps-check:
	@pkg-config --exists $(PKGS) || sh .ci/deps.sh

run: deps all
	@FERRY_BIN=$(abspath $(B))/bin FERRY_BUILTINS=$(abspath $(B))/collectors sh etc/run.sh

# The analyses of lint take about 200 CPU-seconds from scratch: a job a core.
LINT_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps all $(ASAN_BINS) $(ASAN_BUILTIN_BINS) $(UNIT_BINS) $(FUZZ_BINS)
	@$(MAKE) --no-print-directory -j$(LINT_JOBS) lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory system
	@$(MAKE) --no-print-directory bench-smoke

# make lint: cppcheck over the tree, then gcc's static analyzer and
# clang-tidy (its checks, and why some are off, in .clang-tidy) on every
# source file of the programs. A file's verdict is kept in $(B)/lint/, so
# it is analysed again only when it or a header changed; make -j2 lint
# analyses two files at a time.
# -Wno-analyzer-malloc-leak: gcc 12's analyzer loses a pointer stored into
# a heap array or a struct it was handed (12 false leaks, no true one, in
# this tree); clang-tidy's clang-analyzer-unix.Malloc and LeakSanitizer (in
# the unit tests, the fuzzers and every ASan system test) look for leaks.
LINT_SRC := $(sort $(wildcard $(addsuffix /*.c,$(PRESENT) common tools) \
	collectors/builtin/*.c))
LINT_CFLAGS = -std=gnu11 -D_GNU_SOURCE $(PKG_CFLAGS) -Icommon \
	-DFERRY_VERSION='"$(VERSION)"'
LINT_STAMPS := $(patsubst %.c,$(B)/lint/fa/%.ok,$(LINT_SRC)) \
	$(patsubst %.c,$(B)/lint/tidy/%.ok,$(LINT_SRC))
# main.c is every built-in's main(): analysed as one of them.
$(B)/lint/fa/collectors/builtin/main.ok $(B)/lint/tidy/collectors/builtin/main.ok: \
	LINT_CFLAGS += -DBUILTIN=builtin_cpu

$(B)/lint/fa/%.ok: %.c $(HEADERS) | deps-check
	@mkdir -p $(dir $@)
	gcc $(LINT_CFLAGS) -O0 -fanalyzer -Wno-analyzer-malloc-leak -Werror \
		-c $< -o /dev/null
	@touch $@

$(B)/lint/tidy/%.ok: %.c $(HEADERS) .clang-tidy | deps-check
	@mkdir -p $(dir $@)
	clang-tidy --quiet $< -- $(LINT_CFLAGS)
	@touch $@

# Every common/*.h compiles alone: a program includes what it uses, in any
# order, without knowing what a header needs first.
headers:
	@set -e; for h in common/*.h; do \
		echo "#include \"$$(basename $$h)\"" | $(CC) -std=gnu11 $(WARN) -D_GNU_SOURCE \
			$(PKG_CFLAGS) -Icommon -fsyntax-only -x c - || \
			{ echo "$$h does not compile alone"; exit 1; }; done

# ARCHITECTURE.md's table of files names every C file, and only files that
# exist (tools/archfiles.sh): a file added or renamed without its row fails.
archfiles:
	@sh tools/archfiles.sh

# cppcheck skips system headers, so it is shown the sys/queue.h macros we use.
QUEUE_H = $(firstword $(wildcard /usr/include/*/sys/queue.h /usr/include/sys/queue.h))
lint: headers archfiles $(LINT_STAMPS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -Icommon \
		-DFERRY_VERSION='"$(VERSION)"' \
		--include=$(QUEUE_H) \
		$(PRESENT) common tools

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Each fuzz target (built with gcc and driver.c, ASan+UBSan), replayed over
# its corpus, then mutated for FUZZ_SMOKE_SECONDS: any crash, leak or
# sanitizer report fails `make check`.
FUZZ_SMOKE_SECONDS ?= 5
fuzz-smoke: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do \
		$$f -n 300000 -t $(FUZZ_SMOKE_SECONDS) tests/fuzz/corpus/$$(basename $$f); done

# Coverage-guided fuzzing with libFuzzer (clang): make fuzz FUZZ_SECONDS=600
# [FUZZ_TARGETS="conf url"]. Each target runs in turn, niced, from the seed
# corpus in the tree plus what earlier runs found (build/libfuzzer/corpus);
# a crash is written to build/libfuzzer/crash/NAME/ and stops the run.
# `make fuzz-merge` adds to tests/fuzz/corpus only the inputs that reach new
# code (edges, not hit counts: -use_counters=0), so the corpus in the tree
# stays small.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_FLAGS ?=
LF	 := $(B)/libfuzzer
LF_SAN	 := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	    -fno-sanitize-recover=undefined
LF_BINS	 := $(patsubst %,$(LF)/%,$(FUZZ_NAMES))

$(LF)/obj/%.o: %.c $(HEADERS) | deps-check
	@mkdir -p $(dir $@)
	clang -std=gnu11 $(WARN) -Wno-unused-command-line-argument -D_GNU_SOURCE \
		$(PKG_CFLAGS) -Icommon $(LF_SAN) -fsanitize=fuzzer-no-link \
		-DFERRY_VERSION='"$(VERSION)"' -c $< -o $@

$(LF)/libferry.a: $(patsubst %.c,$(LF)/obj/%.o,$(COMMON_SRC))
	@rm -f $@
	ar rcs $@ $^

define libfuzzer_target
$(LF)/$(1): $(LF)/obj/tests/fuzz/fuzz_$(1).o $(patsubst %.c,$(LF)/obj/%.o,$(fuzz_$(1)_EXTRA)) $(LF)/libferry.a
	clang $(LF_SAN) -fsanitize=fuzzer -o $$@ $$^ $$(PKG_LIBS) -lm
endef
$(foreach f,$(FUZZ_NAMES),$(eval $(call libfuzzer_target,$(f))))

fuzz: $(patsubst %,$(LF)/%,$(FUZZ_TARGETS))
	@set -e; for n in $(FUZZ_TARGETS); do \
		mkdir -p $(LF)/corpus/$$n $(LF)/crash/$$n; \
		echo "== fuzz $$n for $(FUZZ_SECONDS) s"; \
		nice $(LF)/$$n -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(LF)/crash/$$n/ $(FUZZ_FLAGS) \
			$(LF)/corpus/$$n tests/fuzz/corpus/$$n; done

fuzz-merge: $(patsubst %,$(LF)/%,$(FUZZ_TARGETS))
	@set -e; for n in $(FUZZ_TARGETS); do \
		mkdir -p $(LF)/corpus/$$n; \
		$(LF)/$$n -merge=1 -use_counters=0 tests/fuzz/corpus/$$n \
			$(LF)/corpus/$$n; done

# The system tests mostly wait, so they run SYSTEM_JOBS at a time (pytest-xdist;
# each has its own FERRY_ROOT and ports), then those marked `serial` (timing
# promises measured on an idle machine) one by one. SYSTEM_JOBS=0, or no
# xdist, runs everything in one serial pass.
SYSTEM_JOBS ?= 6
SYSTEM_ENV = FERRY_BIN=$(abspath $(B))/asan/bin FERRY_COLLECTORS_BIN=$(abspath $(B))/asan/collectors \
	FERRY_PLAIN_BIN=$(abspath $(B))/bin
PYTEST = /usr/bin/python3 -m pytest -q -p no:cacheprovider

system: $(ASAN_BINS) $(ASAN_BUILTIN_BINS) $(BINS)
	@rc=0; \
	if [ "$(SYSTEM_JOBS)" = 0 ] || ! /usr/bin/python3 -c 'import xdist' 2>/dev/null; then \
		echo "system tests: one serial pass"; \
		$(SYSTEM_ENV) $(PYTEST) tests/system || rc=$$?; \
	else \
		echo "system tests: $(SYSTEM_JOBS) at a time, then the serial ones"; \
		$(SYSTEM_ENV) $(PYTEST) -n $(SYSTEM_JOBS) -m "not serial" tests/system || rc=$$?; \
		$(SYSTEM_ENV) $(PYTEST) -m serial tests/system || \
			{ r=$$?; [ $$r -eq 5 ] || rc=$$r; }; \
	fi; \
	exit $$rc

bench-smoke: all
	@FERRY_BIN=$(abspath $(B))/bin BENCH_BIN=$(abspath $(B))/bench sh bench/run.sh --smoke

# The FHS tree of SPEC.md under DESTDIR, as the packages install it: the
# programs in /opt/ferry, ferryctl also on the PATH, the configuration
# (0640: it may hold API keys), the systemd unit and the SysV script, the
# logrotate configuration and the man pages.
MANDIR	:= /usr/share/man
UNITDIR	:= /lib/systemd/system
install: $(BINS) $(BUILTIN_BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/collectors \
		$(DESTDIR)/etc/opt/ferry/conf.d $(DESTDIR)/etc/opt/ferry/conf.d/fleet \
		$(DESTDIR)/etc/opt/ferry/collectors.d $(DESTDIR)/var/opt/ferry/spool \
		$(DESTDIR)/var/opt/ferry/drop $(DESTDIR)/var/opt/ferry/run $(DESTDIR)/var/log/ferry \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)/usr/bin \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)/etc/init.d $(DESTDIR)/etc/logrotate.d
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(BUILTIN_BINS),install -m 0755 $(BUILTIN_BINS) $(DESTDIR)$(PREFIX)/collectors/)
	ln -sf $(PREFIX)/bin/ferryctl $(DESTDIR)/usr/bin/ferryctl
	[ -e $(DESTDIR)/etc/opt/ferry/ferry.conf ] || \
		install -m 0640 etc/ferry.conf $(DESTDIR)/etc/opt/ferry/ferry.conf
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 etc/systemd/ferry.service $(DESTDIR)$(UNITDIR)/
	install -m 0755 etc/init.d/ferry $(DESTDIR)/etc/init.d/
	install -m 0644 etc/logrotate.d/ferry $(DESTDIR)/etc/logrotate.d/

# Packages, from that tree (pkg/build.sh says what it adds and leaves out),
# into $(PKG)/. `make deb VERSION=x` packages another version.
PKG	:= $(B)/pkg
deb rpm: $(BINS) $(BUILTIN_BINS)
	@rm -rf $(PKG)/tree && mkdir -p $(PKG)
	@$(MAKE) --no-print-directory install DESTDIR=$(abspath $(PKG))/tree >/dev/null
	@VERSION='$(VERSION)' sh pkg/build.sh $@ $(PKG)

# The packages' lifecycle (install, upgrade, remove, purge) in a throwaway
# Debian 12 root; `make system` runs it too, among the other tests.
check-packages: $(BINS) $(BUILTIN_BINS)
	$(PYTEST) tests/system/test_packages.py

clean:
	rm -rf $(B)
