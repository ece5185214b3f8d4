# pprofd — one entry point: build, deps, run, check, bench.
#
#   make            build build/pprofd
#   make deps       install the Debian packages that are missing (idempotent)
#   make run        deps + build + start the demo target and pprofd on it
#   make run PID=N  deps + build + attach pprofd to process N
#   make check      deps + build + every test (unit, then end-to-end as root)
#   make bench      overhead figures side by side with perf
#   make fuzz       libFuzzer harnesses (tests/fuzz/), FUZZ_SECONDS each (60)
#   V=1             show the commands
#   SAN=1           AddressSanitizer + UndefinedBehaviorSanitizer build (in build-san/)

SAN ?=
ifeq ($(SAN),1)
OUTPUT ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
OUTPUT ?= build
SANFLAGS :=
endif

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
GO ?= go
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
PKGS := libbpf libevent libdw libelf libcjson zlib

CFLAGS ?= -O2 -g
# -fno-omit-frame-pointer: pprofd profiles itself as well as anyone.
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -fno-omit-frame-pointer $(SANFLAGS) \
	-I$(OUTPUT) -Ibpf -Idaemon -Isampler -DPPROFD_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS := -lbpf -levent -ldw -lelf -lcjson -lz -lm

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(OUTPUT) -Ibpf -Wall -Werror

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))

# main.c is the only file that is not also linked into the unit tests.
DAEMON_SRCS := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
DAEMON_OBJS := $(patsubst daemon/%.c,$(OUTPUT)/daemon/%.o,$(DAEMON_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

WORKLOAD_SRCS := $(wildcard tests/workloads/*.c)
WORKLOAD_BINS := $(patsubst tests/workloads/%.c,$(OUTPUT)/workloads/%,$(WORKLOAD_SRCS))
GO_WORKLOADS := $(patsubst tests/workloads/%/main.go,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*/main.go))
# Each Go workload also built as Debian ships Go programs: -s -w, no symbols, no DWARF.
GO_WORKLOADS += $(addsuffix -stripped,$(GO_WORKLOADS))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(BPF_SKELS)
.PHONY: all deps run check test test-unit test-e2e bench bench-heap workloads clean fuzz fuzz-build

all: $(OUTPUT)/pprofd $(OUTPUT)/libpprofd-sampler.so

$(OUTPUT) $(OUTPUT)/daemon $(OUTPUT)/tests $(OUTPUT)/workloads:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The skeleton embeds the object without its DWARF (the vmlinux.h types, ~600
# KiB an object): libbpf needs only the BTF, and every byte embedded is in
# pprofd's binary and, once libbpf reads it, in its RSS.
$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen object $(@:.skel.h=.stripped.o) $<
	$(Q)$(BPFTOOL) gen skeleton $(@:.skel.h=.stripped.o) name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/daemon/%.o: daemon/%.c $(BPF_SKELS) | $(OUTPUT)/daemon
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/pprofd: $(OUTPUT)/daemon/main.o $(DAEMON_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The heap sampler pprofd loads into targets (heap.mode inject): libc only,
# no sanitizer (it runs in the target), unwind tables for pprofd's unwinder.
SAMPLER_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -fPIC -fno-omit-frame-pointer \
	-fasynchronous-unwind-tables -fvisibility=hidden -fno-stack-protector -Isampler -MMD -MP
$(OUTPUT)/libpprofd-sampler.so: sampler/sampler.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)$(CC) $(SAMPLER_CFLAGS) -shared -Wl,-z,now,-z,relro,-soname,libpprofd-sampler.so \
		$< -o $@ -pthread

# Unit tests: one cmocka binary per tests/unit/test_*.c, linked with the daemon's
# modules (not main.c).  They need no root.
$(OUTPUT)/tests/%: tests/unit/%.c $(DAEMON_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

# test_gopclntab builds tests/unit/gofixture with go itself and reads esbuild
# (tests/fetch-esbuild.sh, run by test-unit and check) when it is there.
$(OUTPUT)/tests/test_gopclntab: override CFLAGS += -DSRC_DIR='"$(abspath .)"' \
	-DOUTPUT_DIR='"$(abspath $(OUTPUT))"'
# test_goruntime also reads the esbuild binaries there (the rows of newer Go versions).
$(OUTPUT)/tests/test_goruntime: override CFLAGS += -DOUTPUT_DIR='"$(abspath $(OUTPUT))"'
# test_sampler loads the sampler library into itself.
$(OUTPUT)/tests/test_sampler: $(OUTPUT)/libpprofd-sampler.so $(OUTPUT)/workloads/liblate.so

# test_debugcache is its own fixture: an ELF file with compressed DWARF.
$(OUTPUT)/tests/test_debugcache: override CFLAGS += -gz=zlib

# Workloads: built the way the code users point pprofd at is built (-O2, with
# frame pointers for the foundation tests; each file may override in its header
# comment via WORKLOAD_CFLAGS_<name>).
WORKLOAD_CFLAGS := -O2 -g -fno-omit-frame-pointer -pthread
# Built as Debian builds libc: no frame pointers.
WORKLOAD_CFLAGS_nofp := -fomit-frame-pointer
WORKLOAD_CFLAGS_busy_nofp := -fomit-frame-pointer
# jit.c, static, no DWARF: runs chrooted in an empty directory (test_containment).
WORKLOAD_CFLAGS_jit_static := -static -g0
# A static binary without symbols: no allocator to probe (test_heap).
WORKLOAD_CFLAGS_heap_static := -static -s
# The same with its symbols: an allocator found, no sampler loadable (test_heap_inject).
WORKLOAD_CFLAGS_heap_static_syms := -static -Itests/workloads
$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) $(WORKLOAD_CFLAGS_$*) $< -o $@ -lm

$(OUTPUT)/workloads/%: tests/workloads/%/main.go | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/$* && GOCACHE=$(abspath $(OUTPUT))/gocache GOFLAGS=-mod=mod \
		GO111MODULE=off $(GO) build -o $(abspath $@) .

$(OUTPUT)/workloads/%-stripped: tests/workloads/%/main.go | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/$* && GOCACHE=$(abspath $(OUTPUT))/gocache GOFLAGS=-mod=mod \
		GO111MODULE=off $(GO) build -ldflags='-s -w' -o $(abspath $@) .

# C++ workloads: tests/workloads/X.cc, same flags, with $(CXX).
CXX_WORKLOADS := $(patsubst tests/workloads/%.cc,$(OUTPUT)/workloads/%,$(wildcard tests/workloads/*.cc))
$(OUTPUT)/workloads/%: tests/workloads/%.cc | $(OUTPUT)/workloads
	$(call msg,CXX,$@)
	$(Q)$(CXX) $(WORKLOAD_CFLAGS) $(WORKLOAD_CFLAGS_$*) $< -o $@ -lm

# Shared libraries workloads dlopen: tests/workloads/libs/X.c -> X.so.
WORKLOAD_LIBS := $(patsubst tests/workloads/libs/%.c,$(OUTPUT)/workloads/%.so,$(wildcard tests/workloads/libs/*.c))
$(OUTPUT)/workloads/%.so: tests/workloads/libs/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) -fPIC -shared $< -o $@

# daemon/inject.c alone, driven by test_heap_inject.
$(OUTPUT)/tests/inject-tool: tests/tools/inject_tool.c $(OUTPUT)/daemon/inject.o $(OUTPUT)/daemon/log.o | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ -lelf -o $@

workloads: $(WORKLOAD_BINS) $(GO_WORKLOADS) $(CXX_WORKLOADS) $(WORKLOAD_LIBS) $(OUTPUT)/tests/inject-tool

deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)scripts/run-demo.sh $(PID)

check: deps
	$(Q)$(MAKE) --no-print-directory all workloads $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) tests/fetch-esbuild.sh
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh all

test-unit: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) tests/fetch-esbuild.sh
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh unit

test-e2e: all workloads
	$(Q)OUTPUT=$(OUTPUT) tests/fetch-esbuild.sh
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh e2e

bench: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)OUTPUT=$(OUTPUT) tests/bench/bench.sh

# The heap section alone: ns per malloc+free pair, pprofd against memleak-style bpftrace.
bench-heap: deps
	$(Q)scripts/deps.sh bench
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)OUTPUT=$(OUTPUT) BENCH_SECTIONS="heap heap_inject" tests/bench/bench.sh

# The HTTP section alone: /performance/health and /stats under wrk, RSS over 1M requests.
.PHONY: bench-http
bench-http: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)OUTPUT=$(OUTPUT) BENCH_SECTIONS=http tests/bench/bench.sh

# --- fuzzing -------------------------------------------------------------
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_ONLY="perfmap elf"]
# One libFuzzer harness per parser of outside input (tests/fuzz/fuzz_*.c),
# built with clang under AddressSanitizer + UndefinedBehaviorSanitizer in
# build-fuzz/ (the daemon's modules again, instrumented), each run for
# FUZZ_SECONDS from its seed corpus tests/fuzz/corpus/<harness>/.
FUZZ_OUT ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -Werror -fsanitize=fuzzer-no-link $(FUZZ_SAN) \
	-I$(OUTPUT) -Ibpf -Idaemon -Isampler -Itests/fuzz -DPPROFD_VERSION='"$(VERSION)"' -MMD -MP
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_DAEMON_OBJS := $(patsubst daemon/%.c,$(FUZZ_OUT)/daemon/%.o,$(DAEMON_SRCS))
.SECONDARY: $(FUZZ_DAEMON_OBJS) $(patsubst %,%.o,$(FUZZ_BINS))

$(FUZZ_OUT)/daemon:
	$(Q)mkdir -p $@

$(FUZZ_OUT)/daemon/%.o: daemon/%.c $(BPF_SKELS) | $(FUZZ_OUT)/daemon
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%.o: tests/fuzz/fuzz_%.c | $(FUZZ_OUT)/daemon
	$(call msg,CC-FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: $(FUZZ_OUT)/fuzz_%.o $(FUZZ_DAEMON_OBJS)
	$(call msg,FUZZER,$@)
	$(Q)$(CLANG) -fsanitize=fuzzer $(FUZZ_SAN) $^ $(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	$(Q)FUZZ_OUT=$(FUZZ_OUT) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

# --- install -------------------------------------------------------------
#
#   make install [DESTDIR=...] [PREFIX=/usr/local]
# pprofd and the health gate in $(PREFIX)/bin, the systemd template
# pprofd@.service, the documented config in /etc/pprofd (never overwritten),
# the README in $(PREFIX)/share/doc/pprofd.
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc

.PHONY: install
install: all
	$(Q)install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/pprofd \
		$(DESTDIR)$(PREFIX)/share/doc/pprofd
	$(Q)install -m 0755 $(OUTPUT)/pprofd $(DESTDIR)$(PREFIX)/bin/pprofd
	$(Q)install -d $(DESTDIR)$(PREFIX)/lib/pprofd
	$(Q)install -m 0644 $(OUTPUT)/libpprofd-sampler.so $(DESTDIR)$(PREFIX)/lib/pprofd/libpprofd-sampler.so
	$(Q)install -m 0755 scripts/health-gate $(DESTDIR)$(PREFIX)/bin/pprofd-health-gate
	$(Q)sed 's|/usr/local/|$(PREFIX)/|g' systemd/pprofd@.service > $(DESTDIR)$(UNITDIR)/pprofd@.service
	$(Q)chmod 0644 $(DESTDIR)$(UNITDIR)/pprofd@.service
	$(Q)[ -e $(DESTDIR)$(SYSCONFDIR)/pprofd/pprofd.json ] || \
		install -m 0644 config/pprofd.json $(DESTDIR)$(SYSCONFDIR)/pprofd/pprofd.json
	$(Q)install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/pprofd/README.md
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX)/bin/pprofd $(DESTDIR)$(UNITDIR)/pprofd@.service)

# --- profiles, the guide's justfile -----------------------------------------
#
#   make profile-cpu [PPROF_URL=http://127.0.0.1:6060] [SECONDS=30] [TOKEN_FILE=...]
# fetch into $(PROFILE_DIR)/; analyze-* print the top functions;
#   make compare-profiles BASE=profiles/cpu-before.pprof NEW=profiles/cpu.pprof
# shows what changed (go tool pprof -base).
PPROF_URL ?= http://127.0.0.1:6060
SECONDS ?= 30
PROFILE_DIR ?= profiles
TOKEN_FILE ?=
BASE ?= $(PROFILE_DIR)/cpu-base.pprof
NEW ?= $(PROFILE_DIR)/cpu.pprof
FETCH = mkdir -p $(PROFILE_DIR) && curl -fsS $(if $(TOKEN_FILE),-H "Authorization: Bearer $$(cat $(TOKEN_FILE))")
PPROF_TOP = $(GO) tool pprof -top -nodecount=30

.PHONY: profile-cpu profile-heap profile-goroutines profile-trace analyze-cpu analyze-heap \
	compare-profiles
profile-cpu:
	$(Q)$(FETCH) -o $(PROFILE_DIR)/cpu.pprof '$(PPROF_URL)/debug/pprof/profile?seconds=$(SECONDS)'
	@echo "$(PROFILE_DIR)/cpu.pprof (make analyze-cpu, or go tool pprof -http=:8081 $(PROFILE_DIR)/cpu.pprof)"
profile-heap:
	$(Q)$(FETCH) -o $(PROFILE_DIR)/heap.pprof '$(PPROF_URL)/debug/pprof/heap'
	@echo "$(PROFILE_DIR)/heap.pprof (make analyze-heap)"
profile-goroutines:
	$(Q)$(FETCH) -o $(PROFILE_DIR)/goroutines.txt '$(PPROF_URL)/debug/pprof/goroutine?debug=2'
	@echo "$(PROFILE_DIR)/goroutines.txt (every thread's stack)"
profile-trace:
	$(Q)$(FETCH) -o $(PROFILE_DIR)/trace.json '$(PPROF_URL)/debug/pprof/trace?seconds=$(if $(filter 30,$(SECONDS)),5,$(SECONDS))'
	@echo "$(PROFILE_DIR)/trace.json (open in https://ui.perfetto.dev)"
analyze-cpu:
	$(Q)$(PPROF_TOP) $(PROFILE_DIR)/cpu.pprof
analyze-heap:
	$(Q)$(PPROF_TOP) -sample_index=inuse_space $(PROFILE_DIR)/heap.pprof
compare-profiles:
	$(Q)$(PPROF_TOP) -base $(BASE) $(NEW)

clean:
	$(Q)rm -rf build build-san build-fuzz

-include $(wildcard $(OUTPUT)/daemon/*.d $(OUTPUT)/tests/*.d $(OUTPUT)/*.d $(FUZZ_OUT)/daemon/*.d $(FUZZ_OUT)/*.d)
