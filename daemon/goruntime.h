/* SPDX-License-Identifier: MIT */
/*
 * goruntime.h - a Go target's runtime, read from outside while it runs: its
 * goroutines (runtime.allgs), its sampled memory profile (runtime.mbuckets),
 * its block and mutex profiles when the app turned them on
 * (runtime.bbuckets, runtime.xbuckets) and its GC statistics
 * (runtime.memstats).
 *
 * Nothing is stopped and nothing is written (except the documented opt-in
 * go.set_mem_profile_rate): the target's memory is read with
 * process_vm_readv(), and everything read is hostile input: counts are
 * capped, pointers checked against the stack or the mappings, walks bounded.
 *
 * Where the runtime keeps what (struct layouts, addresses of globals):
 *   - from the binary's DWARF and ELF symbol table when it has them;
 *   - for a stripped binary, from the offsets known for its Go version
 *     (the one table of goruntime.c, checked against DWARF by a unit test)
 *     and the addresses found by decoding the functions that use each
 *     global (located through .gopclntab).
 * An unknown Go version is "unsupported Go version goX.Y" (the reason of
 * go_runtime__open()), and the endpoints keep their native view.
 *
 * One object per target, shared by the Go collectors and the stats
 * (go_runtime__get / __put).  Used from the event loop only.
 */
#ifndef PPROFD_GORUNTIME_H
#define PPROFD_GORUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct go_runtime;

/* The layout of the runtime's structs, byte offsets (-1: the version has no such field). */
struct go_layout {
	/* runtime.g */
	int32_t g_size;
	int32_t g_stack_lo, g_stack_hi;
	int32_t g_sched_sp, g_sched_pc, g_sched_bp;
	int32_t g_atomicstatus, g_goid, g_waitsince, g_waitreason;
	int32_t g_startpc, g_gopc, g_lockedm, g_m, g_labels, g_parent_goid;
	int32_t g_syscallsp, g_syscallpc;
	/* runtime.m */
	int32_t m_procid;
	int32_t m_g0, m_curg, m_vdso_sp; /* for following stack switches (gostack.h) */
	/* runtime.bucket (the stack and the memRecord follow it) */
	int32_t bucket_size, bucket_allnext, bucket_typ, bucket_bsize, bucket_nstk;
	/* runtime.memRecord and its cycles (allocs, frees, alloc_bytes, free_bytes) */
	int32_t memrecord_active, memrecord_future, memrecord_cycle_size;
	/* runtime.blockRecord (block and mutex buckets): count float64, cycles int64 */
	int32_t blockrecord_count, blockrecord_cycles, blockrecord_size;
	/* runtime.ticksType: val, the CPU ticks per second once the runtime measured them */
	int32_t ticks_val;
	/* runtime.mstats */
	int32_t ms_numgc, ms_pause_total_ns, ms_pause_ns, ms_pause_end, ms_last_gc_unix;
	int32_t ms_heap_sys, ms_stacks_sys, ms_gc_sys, ms_other_sys, ms_mspan_sys, ms_mcache_sys,
	    ms_buckhash_sys, ms_numforcedgc, ms_gc_cpu_fraction;
	/* runtime.gcControllerState */
	int32_t gcc_gc_percent, gcc_memory_limit, gcc_heap_live, gcc_percent_heap_goal,
	    gcc_sweep_dist_min_trigger, gcc_heap_in_use, gcc_heap_free, gcc_heap_released;
};

/* Addresses of the runtime's globals in the target (0: not found). */
struct go_globals {
	uint64_t allgs, allglen, mbuckets, memstats, mem_profile_rate, mprof_cycle;
	uint64_t gc_controller; /* runtime.gcController */
	uint64_t bbuckets, xbuckets;		     /* block and mutex profile bucket lists */
	uint64_t block_profile_rate, mutex_profile_rate; /* blockprofilerate, mutexprofilerate */
	uint64_t ticks;				     /* runtime.ticks */
};

/* Goroutine status, as runtime2.go numbers them. */
enum {
	GO_STATUS_IDLE = 0,
	GO_STATUS_RUNNABLE = 1,
	GO_STATUS_RUNNING = 2,
	GO_STATUS_SYSCALL = 3,
	GO_STATUS_WAITING = 4,
	GO_STATUS_DEAD = 6,
	GO_STATUS_SCAN = 0x1000,
};

/* Frames of one goroutine's stack kept at most. */
#define GO_MAX_FRAMES 128

/* One goroutine as read. */
struct go_goroutine {
	uint64_t goid, parent_goid; /* parent_goid 0: the version does not record it */
	uint64_t addr;		    /* of its runtime.g */
	uint32_t status;	    /* with GO_STATUS_SCAN */
	uint32_t wait_reason;	    /* runtime.waitReason */
	int64_t wait_since;	    /* nanotime() (CLOCK_MONOTONIC), 0: unknown */
	uint64_t start_pc, go_pc;   /* its function; the go statement that created it */
	uint64_t labels;	    /* g.labels: its pprof labelMap (golabels.h), 0 none */
	bool locked;		    /* locked to its thread */
	bool stack_unavailable;	    /* running on another thread: no saved context */
	bool truncated;		    /* the walk stopped before the end */
	uint32_t npcs;
	uint64_t pcs[GO_MAX_FRAMES]; /* pcs[0] the saved pc, then return addresses */
};

/* Called for each goroutine; nonzero stops the walk (returned by the walk). */
typedef int (*go_goroutine_fn)(void *ctx, const struct go_goroutine *g);

/* One bucket of the memory profile, its active cycle (as runtime.MemProfile reads it). */
struct go_mem_record {
	int64_t allocs, frees, alloc_bytes, free_bytes;
	uint32_t nstk;
	uint64_t stk[GO_MAX_FRAMES]; /* return addresses, the allocating function first */
};

typedef int (*go_mem_record_fn)(void *ctx, const struct go_mem_record *r);

/* What the runtime's memstats say (runtime.ReadMemStats' fields of the same names). */
struct go_gc_stats {
	uint32_t num_gc, num_forced_gc;
	uint64_t pause_total_ns, last_gc_unix_ns;
	uint64_t pause_ns[256], pause_end[256]; /* ring, the latest at (num_gc + 255) % 256 */
	double gc_cpu_fraction;
	/* From runtime.gcController; -1 when not read. */
	int64_t gogc;		/* GOGC (gcPercent; -1 is also "off") */
	int64_t memory_limit;	/* GOMEMLIMIT, bytes (math.MaxInt64: none) */
	int64_t heap_live;	/* bytes live at the last GC plus allocated since */
	int64_t next_gc;	/* MemStats.NextGC: the heap goal */
	int64_t heap_sys_bytes; /* MemStats.HeapSys: in use + free + released */
	bool have_controller;
};

/*
 * The runtime of process pid, shared: a new one the first time (reading
 * the executable's DWARF, symbols or pclntab), the same later.  NULL with
 * errno and a one-line reason in err: ENOENT the executable is no Go binary
 * (err ""), ENOTSUP an unsupported Go version or layout, EIO unreadable.
 * Every successful __get is matched by a __put.
 */
struct go_runtime *go_runtime__get(pid_t pid, char *err, size_t errlen);
void go_runtime__put(struct go_runtime *rt);

/* "go1.19.8". Borrowed. */
const char *go_runtime__version(const struct go_runtime *rt);
/* 119 for "go1.19.8"; 0 when the version does not parse. */
int go_runtime__version_number(const struct go_runtime *rt);
/* "dwarf" or "go1.19 table": where the layouts came from. Borrowed. */
const char *go_runtime__layout_source(const struct go_runtime *rt);
const struct go_layout *go_runtime__layout(const struct go_runtime *rt);
/*
 * Where a thread of the target keeps its current g: the offset of that
 * slot from the thread's TLS pointer (fs_base on x86-64), from the
 * executable's PT_TLS (Go's own -8 when it has none); 0 when unknown
 * (other TLS of a cgo binary before Go's, and no symbol to say where).
 */
int64_t go_runtime__tls_g_offset(const struct go_runtime *rt);
pid_t go_runtime__pid(const struct go_runtime *rt);
/* Whether the memory profile can be read (its layouts and runtime.mbuckets known). */
bool go_runtime__has_mem_profile(const struct go_runtime *rt);
const struct go_globals *go_runtime__globals(const struct go_runtime *rt);

/* go_runtime__goroutines() flags */
#define GO_WALK_NO_STACKS 1u /* the goroutines without their stacks (a count) */

/*
 * Walks every goroutine that is not dead, calling fn with each (a borrowed
 * struct, valid for the call).  Returns 0, fn's nonzero value, or a negative
 * errno (-ESRCH: the target is gone, -EIO: its memory says nonsense).
 */
int go_runtime__goroutines(struct go_runtime *rt, unsigned flags, go_goroutine_fn fn, void *ctx);

/*
 * "chan receive" for a waitReason (runtime.waitReasonStrings read from the
 * binary, else Go 1.19's); "" for 0; NULL when neither knows it.  "runnable", "running"... for a
 * status (scan bit off).
 */
const char *go_runtime__wait_reason(const struct go_runtime *rt, uint32_t reason);
const char *go_runtime__status_name(uint32_t status);

/*
 * Walks the memory profile's buckets as runtime.MemProfile does (the active
 * cycle with the pending flush folded in).  Returns 0, fn's nonzero value,
 * or a negative errno.
 */
int go_runtime__mem_records(struct go_runtime *rt, go_mem_record_fn fn, void *ctx);

/* The block and mutex profiles (runtime.SetBlockProfileRate, SetMutexProfileFraction). */
enum go_contention {
	GO_BLOCK_PROFILE, /* bucket type blockProfile, list runtime.bbuckets */
	GO_MUTEX_PROFILE, /* bucket type mutexProfile, list runtime.xbuckets */
};

/* One bucket of the block or mutex profile, as runtime.BlockProfile / MutexProfile give it. */
struct go_block_record {
	int64_t count;	/* int64(blockRecord.count); a block record of 0 counts 1, as Go's */
	int64_t cycles; /* CPU ticks waited (cputicks(): the TSC on amd64) */
	uint32_t nstk;
	uint64_t stk[GO_MAX_FRAMES]; /* return addresses, the blocking function first */
};

typedef int (*go_block_record_fn)(void *ctx, const struct go_block_record *r);

/* Whether that profile can be read (its bucket list, rate and record layout known). */
bool go_runtime__has_contention_profile(const struct go_runtime *rt, enum go_contention which);
/*
 * runtime.blockprofilerate (in CPU ticks; 1: every event) or
 * runtime.mutexprofilerate (1/rate of the events) now.  0 is Go's default:
 * the runtime records nothing.  0 or a negative errno.
 */
int go_runtime__contention_rate(struct go_runtime *rt, enum go_contention which, int64_t *rate);
/* Walks that profile's buckets.  Returns 0, fn's nonzero value, or a negative errno. */
int go_runtime__contention_records(struct go_runtime *rt, enum go_contention which,
				   go_block_record_fn fn, void *ctx);
/*
 * The CPU ticks per second with which the target's pprof converts cycles
 * to nanoseconds (runtime_cyclesPerSecond: runtime.ticks.val once the
 * runtime measured it), into *tps; *from says "runtime.ticks" or
 * "measured" (the TSC against CLOCK_MONOTONIC over pprofd's own lifetime,
 * as the runtime measures it, while the runtime has no value yet).  The
 * first call within 100 ms of go_runtime__get() waits out the rest of
 * those 100 ms.  0 or a negative errno.
 */
int go_runtime__cycles_per_second(struct go_runtime *rt, int64_t *tps, const char **from);

/* --- the bucket lists, on any memory (for the unit tests) -------------------- */

/* Reads len bytes at addr: 0 or a negative errno. */
typedef int (*go_remote_read_fn)(void *ctx, uint64_t addr, void *buf, size_t len);

/* One bucket as read: its stack (nstk words) and the record after it, in a borrowed buffer. */
struct go_bucket {
	uint64_t addr, nstk;
	const uint64_t *stk; /* not aligned: memcpy */
	const uint8_t *rec;
};

typedef int (*go_bucket_fn)(void *ctx, const struct go_bucket *b);

/*
 * Walks a bucket list from head (the address of runtime.mbuckets,
 * bbuckets or xbuckets) along allnext: every bucket of type typ (1 memory,
 * 2 block, 3 mutex, as mprof.go numbers them) with rec_size bytes of
 * record, calling fn.  Everything is checked: alignment, the type, nstk
 * (at most 1024, Go 1.23's profstackdepth), a cycle in the list (Brent's),
 * at most 4M buckets.  Returns 0, fn's nonzero value, -EIO (the list is
 * nonsense), -ESRCH or another read error.
 */
int go_buckets__walk(const struct go_layout *l, uint64_t head, uint64_t typ, size_t rec_size,
		     go_remote_read_fn read, void *rctx, go_bucket_fn fn, void *ctx);
/*
 * A block or mutex bucket's blockRecord into out, as runtime.BlockProfile
 * (block) or MutexProfile reads it.  -EINVAL when the record is no record
 * (count not a finite number from 0 to 2^62, cycles negative).
 */
int go_block_record__decode(const struct go_layout *l, enum go_contention which,
			    const struct go_bucket *b, struct go_block_record *out);

/* runtime.MemProfileRate now, into *rate.  0 or a negative errno. */
int go_runtime__mem_profile_rate(struct go_runtime *rt, int64_t *rate);
/* Writes runtime.MemProfileRate (the opt-in go.set_mem_profile_rate). 0 or -errno. */
int go_runtime__set_mem_profile_rate(struct go_runtime *rt, int64_t rate);

/* The GC statistics now.  0 or a negative errno. */
int go_runtime__gc_stats(struct go_runtime *rt, struct go_gc_stats *out);

/*
 * Layouts read from an ELF file's DWARF (for the unit test that checks the
 * per-version table).  0, -ENOENT (no DWARF or no runtime.g), -errno.
 */
int go_layout__from_dwarf(const char *path, struct go_layout *out);
/*
 * The goroutine part of the layout (runtime.g, gobuf, stack, m) from the
 * binary's own type descriptors in .rodata; the other fields -1.  version
 * ("go1.26.5") says how the descriptors are encoded (Go 1.17 and later).
 * 0, -ENOENT (not found, or found twice), -ENOMEM.
 */
typedef struct Elf Elf;
int go_layout__from_types(Elf *elf, const char *version, struct go_layout *out);

/* The table's layout for a version ("go1.19.8"), or NULL when unknown. */
const struct go_layout *go_layout__for_version(const char *version);
/* The version of a layout go_layout__for_version() returned ("go1.19"). */
const char *go_layout__version(const struct go_layout *table_row);
/* The layout from the DWARF of an opened ELF file.  0, -ENOENT, -errno. */
int go_layout__from_elf(Elf *elf, struct go_layout *out);
/* What a goroutine walk cannot do without is there, and in bounds. */
bool go_layout__usable(const struct go_layout *l);
/* "go1.17.3" -> 117; 0 when it does not parse. */
int go_version__number(const char *version);

#endif /* PPROFD_GORUNTIME_H */
