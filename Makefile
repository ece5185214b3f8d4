# pprofd — one entry point: build, deps, run, check, bench.
#
#   make            build build/pprofd
#   make deps       install the Debian packages that are missing (idempotent)
#   make run        deps + build + start the demo target and pprofd on it
#   make run PID=N  deps + build + attach pprofd to process N
#   make check      deps + build + every test (unit, then end-to-end as root)
#   make bench      overhead figures side by side with perf
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
	-I$(OUTPUT) -Ibpf -Idaemon -DPPROFD_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS := -lbpf -levent -ldw -lelf -lcjson -lz -lstdc++ -lm

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

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS)
.PHONY: all deps run check test test-unit test-e2e bench bench-heap workloads clean

all: $(OUTPUT)/pprofd

$(OUTPUT) $(OUTPUT)/daemon $(OUTPUT)/tests $(OUTPUT)/workloads:
	$(Q)mkdir -p $@

$(OUTPUT)/vmlinux.h: | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c bpf/pprofd.h $(wildcard bpf/*.bpf.h) $(OUTPUT)/vmlinux.h | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(OUTPUT)/daemon/%.o: daemon/%.c $(BPF_SKELS) | $(OUTPUT)/daemon
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(OUTPUT)/pprofd: $(OUTPUT)/daemon/main.o $(DAEMON_OBJS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# Unit tests: one cmocka binary per tests/unit/test_*.c, linked with the daemon's
# modules (not main.c).  They need no root.
$(OUTPUT)/tests/%: tests/unit/%.c $(DAEMON_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(filter %.c %.o,$^) $(LDLIBS) -lcmocka -o $@

# Workloads: built the way the code users point pprofd at is built (-O2, with
# frame pointers for the foundation tests; each file may override in its header
# comment via WORKLOAD_CFLAGS_<name>).
WORKLOAD_CFLAGS := -O2 -g -fno-omit-frame-pointer -pthread
# Built as Debian builds libc: no frame pointers.
WORKLOAD_CFLAGS_nofp := -fomit-frame-pointer
# A static binary without symbols: no allocator to probe (test_heap).
WORKLOAD_CFLAGS_heap_static := -static -s
$(OUTPUT)/workloads/%: tests/workloads/%.c | $(OUTPUT)/workloads
	$(call msg,CC,$@)
	$(Q)$(CC) $(WORKLOAD_CFLAGS) $(WORKLOAD_CFLAGS_$*) $< -o $@ -lm

$(OUTPUT)/workloads/%: tests/workloads/%/main.go | $(OUTPUT)/workloads
	$(call msg,GO,$@)
	$(Q)cd tests/workloads/$* && GOCACHE=$(abspath $(OUTPUT))/gocache GOFLAGS=-mod=mod \
		GO111MODULE=off $(GO) build -o $(abspath $@) .

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

workloads: $(WORKLOAD_BINS) $(GO_WORKLOADS) $(CXX_WORKLOADS) $(WORKLOAD_LIBS)

deps:
	$(Q)scripts/deps.sh

run: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)scripts/run-demo.sh $(PID)

check: deps
	$(Q)$(MAKE) --no-print-directory all workloads $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh all

test-unit: $(UNIT_BINS)
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh unit

test-e2e: all workloads
	$(Q)OUTPUT=$(OUTPUT) tests/run.sh e2e

bench: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)OUTPUT=$(OUTPUT) tests/bench/bench.sh

# The heap section alone: ns per malloc+free pair, pprofd against memleak-style bpftrace.
bench-heap: deps
	$(Q)$(MAKE) --no-print-directory all workloads
	$(Q)OUTPUT=$(OUTPUT) BENCH_SECTIONS=heap tests/bench/bench.sh

clean:
	$(Q)rm -rf build build-san

-include $(wildcard $(OUTPUT)/daemon/*.d $(OUTPUT)/tests/*.d)
