/* SPDX-License-Identifier: MIT */
/*
 * alloc_events.h - data shared by the allocation probes (alloc.bpf.h) and the heap
 * tracker (daemon/alloc.c).  Data only; every constant defined once.
 */
#ifndef PPROFD_ALLOC_EVENTS_H
#define PPROFD_ALLOC_EVENTS_H

#include "pprofd.h"

/* What the probed function is: how its size, pointer and result are found.
 * Passed to the programs as the attach cookie. */
enum alloc_func {
	ALLOC_FUNC_MALLOC,         /* malloc(size), valloc, pvalloc, operator new */
	ALLOC_FUNC_CALLOC,         /* calloc(n, size) */
	ALLOC_FUNC_REALLOC,        /* realloc(ptr, size) */
	ALLOC_FUNC_REALLOCARRAY,   /* reallocarray(ptr, n, size) */
	ALLOC_FUNC_MEMALIGN,       /* memalign(align, size), aligned_alloc */
	ALLOC_FUNC_POSIX_MEMALIGN, /* posix_memalign(&ptr, align, size): result in *ptr */
	ALLOC_FUNC_FREE,           /* free(ptr), operator delete */
	ALLOC_FUNC_MAX,
};

/*
 * Sampled blocks live at once, at most: the BPF map that filters frees and
 * the daemon's table of live blocks have this many entries.  A sampled
 * block that finds the map full is counted (ALLOC_COUNTER_LIVE_FULL) and
 * shows in alloc_* but not in inuse_*.
 */
#define ALLOC_MAX_LIVE 131072

/*
 * The events ring, sized by the daemon before load (alloc__ring_bytes()):
 * a sampled allocation is 16.1 KiB (its stack copy), a free 40 bytes, and
 * how many are sent is the target's allocation traffic over
 * heap.sample_rate.  The figure: tests/workloads/heap_mix large (640 MiB
 * in 64 KiB blocks in 0.6 s, 5 threads on 2 CPUs) sends 3600 samples a
 * second at Go's default rate (ALLOC_RING_RATE), in bursts of 6000.  BPF
 * wakes the daemon when the ring is a quarter full (ringbuf.bpf.h), and
 * while the target's threads keep every CPU busy the daemon may run only
 * tens of ms later: 1 MiB (47 samples of room after the wake-up) and
 * 2 MiB lost samples in half the runs, ALLOC_RING_BYTES (190 of room, 30
 * ms of such a burst) none.  Half the rate sends twice the samples for the
 * same traffic: twice the ring, from ALLOC_RING_MIN_BYTES at 4 times the
 * default rate up to ALLOC_RING_MAX_BYTES (509 samples) below it.  The
 * ring costs its size in the daemon's RSS.  Drops are counted
 * (ALLOC_COUNTER_LOST).
 */
#define ALLOC_RING_RATE (512 << 10)
#define ALLOC_RING_BYTES (4 << 20)
#define ALLOC_RING_MIN_BYTES (1 << 20)
#define ALLOC_RING_MAX_BYTES (8 << 20)

/* Exponential draws of the sampling countdown, filled by the daemon. */
#define ALLOC_DRAWS 4096

enum alloc_event_type {
	ALLOC_EVENT_ALLOC = 1, /* a sampled block: address, size, stack */
	ALLOC_EVENT_FREE,      /* a sampled block freed (or moved by realloc) */
};

/* ALLOC_EVENT_ALLOC flags */
#define ALLOC_F_UNTRACKED 1 /* the live map was full: not tracked as live */

/* One event through the ring buffer; a free is the header only. */
struct alloc_event {
	__u32 type;  /* enum alloc_event_type */
	__u32 tid;
	__u64 addr;
	__u64 size;  /* requested bytes */
	__u32 flags;
	__u32 pad;
	struct user_stack_copy user; /* ALLOC_EVENT_ALLOC only: at the return */
};

#define ALLOC_FREE_EVENT_SIZE ((unsigned long)&((struct alloc_event *)0)->user)

/* Per-CPU counters, indexed by enum alloc_counter. */
enum alloc_counter {
	ALLOC_COUNTER_ENTRY_HITS,  /* allocation function entries (probe hits) */
	ALLOC_COUNTER_RETURN_HITS, /* return probe hits */
	ALLOC_COUNTER_FREE_HITS,   /* free entries */
	ALLOC_COUNTER_SAMPLED,     /* sampled allocations sent */
	ALLOC_COUNTER_FREED,       /* sampled blocks freed, sent */
	ALLOC_COUNTER_LOST,        /* events dropped: ring buffer full */
	ALLOC_COUNTER_LIVE_FULL,   /* sampled blocks not tracked: live map full */
	ALLOC_COUNTER_NESTED,      /* calls from inside a sampled call, ignored */
	ALLOC_COUNTER_MAX,
};

#endif /* PPROFD_ALLOC_EVENTS_H */
