# ferry: one non-recursive GNU Makefile.
#
#   make            build every program into build/bin (-Wall -Wextra -Werror)
#   make run        build, then start the suite in the foreground under ./run/
#   make check      build, then run lint, unit tests (sanitized), system tests, bench smoke
#   make install DESTDIR=D   install the FHS tree of SPEC.md under D
#   make man        rewrite the list of keys in man/ferry.conf.5 from common/confkeys.c
#
# Each program is every .c file of its folder linked with libferry.a (common/),
# so adding a file never needs an edit here.

CC	?= cc
PKGS	:= libcurl libconfuse sqlite3 libbsd-overlay libmicrohttpd libcares hiredis libpcre2-8
CFLAGS	?= -O2 -g
WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) -D_GNU_SOURCE $(PKG_CFLAGS) -Icommon $(CFLAGS)
SAN	:= -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

VERSION	:= 0.1.0
DESTDIR	?=
PREFIX	:= /opt/ferry

# program folder -> binary name
PROGRAMS := supervisor receiver forwarder tail sink ctl collectors periodic
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
UNIT_SRC   := $(sort $(wildcard tests/unit/test_*.c))
# ferry-sink's page (sink/ui/) is compiled in: tools/embed writes its files as
# C arrays, so the sink ships as one binary and the page cannot drift from it.
UI_FILES   := $(sort $(wildcard sink/ui/*))
sink_EXTRA  = $(B)/gen/ui_files.c

# $(1) = build dir, $(2) = extra cflags
define variant
$(1)/obj/%.o: %.c $$(HEADERS) | deps-check
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -DFERRY_VERSION='"$(VERSION)"' -c $$< -o $$@

$(1)/libferry.a: $$(patsubst %.c,$(1)/obj/%.o,$$(COMMON_SRC))
	@rm -f $$@
	ar rcs $$@ $$^

$(foreach p,$(PROGRAMS),
$(1)/bin/$(call bin_name,$(p)): $$(patsubst %.c,$(1)/obj/%.o,$$(sort $$(wildcard $(p)/*.c)) $$($(p)_EXTRA)) $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -Wl,--as-needed -o $$@ $$^ $$(PKG_LIBS) -lm
)

$(1)/collectors/%: $(1)/obj/collectors/builtin/%.o $(1)/obj/collectors/builtin/main-%.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -Wl,--as-needed -o $$@ $$^ $$(PKG_LIBS) -lm

$(1)/obj/collectors/builtin/main-%.o: collectors/builtin/main.c $$(HEADERS) | deps-check
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_CFLAGS) $(2) -DBUILTIN=builtin_$$* -c $$< -o $$@

$(1)/fuzz/%: $(1)/obj/tests/fuzz/fuzz_%.o $(1)/obj/tests/fuzz/driver.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lm

$(1)/tools/%: $(1)/obj/tools/%.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ $$(PKG_LIBS) -lm

$(1)/tests/%: $(1)/obj/tests/unit/%.o $(1)/libferry.a
	@mkdir -p $$(dir $$@)
	$$(CC) $(2) -o $$@ $$^ -lcmocka $$(PKG_LIBS) -lm
endef

# B: the build folder (override it to build in parallel from one tree).
B	?= build
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
# Build tools, not installed: tools/mankeys writes ferry.conf(5)'s keys.
TOOL_BINS := $(patsubst tools/%.c,$(B)/tools/%,$(sort $(wildcard tools/*.c)))

.PHONY: all deps deps-check run check lint unit fuzz-smoke fuzz system bench-smoke install clean man
.DEFAULT_GOAL := all

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

check: deps all $(ASAN_BINS) $(ASAN_BUILTIN_BINS) $(UNIT_BINS) $(FUZZ_BINS)
	@$(MAKE) --no-print-directory lint
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory system
	@$(MAKE) --no-print-directory bench-smoke

# cppcheck skips system headers, so it is shown the sys/queue.h macros we use.
QUEUE_H = $(firstword $(wildcard /usr/include/*/sys/queue.h /usr/include/sys/queue.h))
lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -Icommon \
		--include=$(QUEUE_H) \
		$(PRESENT) common tools

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Each fuzz target, replayed over its corpus plus a seeded mutation run (seconds).
fuzz-smoke: $(FUZZ_BINS)
	@set -e; for f in $(FUZZ_BINS); do $$f -n 300000 tests/fuzz/corpus/$$(basename $$f); done

# Real coverage-guided fuzzing with libFuzzer (needs clang): make fuzz FUZZ_SECONDS=600
FUZZ_SECONDS ?= 60
fuzz:
	@set -e; for t in $(sort $(wildcard tests/fuzz/fuzz_*.c)); do \
		n=$$(basename $$t .c | sed 's/^fuzz_//'); mkdir -p $(B)/libfuzzer; \
		clang -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Icommon -D_GNU_SOURCE \
			-o $(B)/libfuzzer/$$n $$t $(COMMON_SRC) $(PKG_LIBS) -lm; \
		$(B)/libfuzzer/$$n -max_total_time=$(FUZZ_SECONDS) tests/fuzz/corpus/$$n; done

# The system tests mostly wait, so they run SYSTEM_JOBS at a time (pytest-xdist;
# each has its own FERRY_ROOT and ports), then those marked `serial` (timing
# promises measured on an idle machine) one by one. SYSTEM_JOBS=0, or no
# xdist, runs everything in one serial pass.
SYSTEM_JOBS ?= 6
SYSTEM_ENV = FERRY_BIN=$(abspath $(B))/asan/bin FERRY_COLLECTORS_BIN=$(abspath $(B))/asan/collectors
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

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/collectors \
		$(DESTDIR)/etc/opt/ferry/conf.d $(DESTDIR)/etc/opt/ferry/collectors.d \
		$(DESTDIR)/var/opt/ferry/spool $(DESTDIR)/var/opt/ferry/drop \
		$(DESTDIR)/var/opt/ferry/run $(DESTDIR)/var/log/ferry \
		$(DESTDIR)$(PREFIX)/man/man5 $(DESTDIR)$(PREFIX)/man/man8
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(BUILTIN_BINS),install -m 0755 $(BUILTIN_BINS) $(DESTDIR)$(PREFIX)/collectors/)
	[ -e $(DESTDIR)/etc/opt/ferry/ferry.conf ] || \
		install -m 0644 etc/ferry.conf $(DESTDIR)/etc/opt/ferry/ferry.conf
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/man/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/man/man8/
	install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)/etc/logrotate.d
	install -m 0644 etc/systemd/ferry.service $(DESTDIR)/lib/systemd/system/
	install -m 0644 etc/logrotate.d/ferry $(DESTDIR)/etc/logrotate.d/

clean:
	rm -rf $(B)
