/* SPDX-License-Identifier: GPL-2.0 */
/*
 * alloc.bpf.h - the allocation probes' logic, shared by the two ways they
 * are attached: uprobe sessions (alloc_session.bpf.c: the return handler runs
 * only for sampled calls) and, on kernels without them, an entry uprobe plus
 * a uretprobe on every call (alloc.bpf.c).  BPF only.
 *
 * Sampling by bytes as Go's MemProfileRate: each thread counts down a random
 * number of bytes drawn from an exponential distribution of mean
 * sample_rate; the allocation that reaches zero is sampled, its block
 * recorded at the return (address, size, stack) and kept in the live map so
 * that its free is seen.  Unsampled calls touch the thread's countdown only.
 */
#ifndef PPROFD_ALLOC_BPF_H
#define PPROFD_ALLOC_BPF_H

#include "alloc_events.h"
#include "ringbuf.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set between __open() and __load(). */
const volatile __u32 target_pid = 0;
const volatile __u64 sample_rate = 524288; /* bytes; <= 1: every allocation */

struct alloc_thread {
	__s64 countdown; /* bytes to the next sample */
	__u64 size;      /* the sampled call in flight: requested bytes */
	__u64 memptr;    /* its posix_memalign result pointer */
	__u32 pending;   /* a sampled call is in flight */
	__u32 func;      /* its enum alloc_func */
	__u32 started;   /* countdown drawn */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct alloc_thread);
} alloc_threads SEC(".maps");

/* Sampled blocks not yet freed: address -> requested size. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ALLOC_MAX_LIVE);
	__type(key, __u64);
	__type(value, __u64);
} live SEC(".maps");

/* Exponential draws of mean sample_rate, filled by the daemon before attach. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ALLOC_DRAWS);
	__type(key, __u32);
	__type(value, __u64);
} draws SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, ALLOC_RING_BYTES);
} alloc_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ALLOC_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} alloc_counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&alloc_counters, &which);

	if (v)
		*v += 1;
}

static __always_inline bool is_target(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == target_pid;
}

static __always_inline __s64 draw(void)
{
	__u32 i = bpf_get_prandom_u32() % ALLOC_DRAWS;
	__u64 *d = bpf_map_lookup_elem(&draws, &i);

	return d ? (__s64)*d : (__s64)sample_rate;
}

/* A sampled block is gone: tells the daemon. */
static __always_inline void send_free(__u64 addr)
{
	struct alloc_event *e;

	e = bpf_ringbuf_reserve(&alloc_events, ALLOC_FREE_EVENT_SIZE, 0);
	if (!e) {
		count(ALLOC_COUNTER_LOST);
		return;
	}
	e->type = ALLOC_EVENT_FREE;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->addr = addr;
	e->size = 0;
	e->flags = 0;
	e->pad = 0;
	bpf_ringbuf_submit(e, ringbuf_wakeup(&alloc_events, ALLOC_FREE_EVENT_SIZE));
	count(ALLOC_COUNTER_FREED);
}

/* A sampled block goes away (free, or realloc moving or shrinking it). */
static __always_inline void forget_block(__u64 addr)
{
	if (!bpf_map_lookup_elem(&live, &addr))
		return;
	bpf_map_delete_elem(&live, &addr);
	send_free(addr);
}

/*
 * At the entry of an allocation function: returns 0 when the call is
 * sampled (its return must be seen), 1 otherwise.
 */
static __always_inline int alloc_enter(struct pt_regs *ctx, __u32 func)
{
	struct alloc_thread *st;
	__u64 size, memptr = 0, ptr = 0;

	if (!is_target())
		return 1;
	count(ALLOC_COUNTER_ENTRY_HITS);
	st = bpf_task_storage_get(&alloc_threads, bpf_get_current_task_btf(), 0,
				  BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 1;
	if (st->pending) {
		/* realloc(NULL, n) calling malloc, say: the outer call counts. */
		count(ALLOC_COUNTER_NESTED);
		return 1;
	}
	/* All three read once, in order: clang would otherwise offset the ctx
	 * pointer in the branches, which the verifier refuses. */
	__u64 a1 = PT_REGS_PARM1(ctx), a2 = PT_REGS_PARM2(ctx), a3 = PT_REGS_PARM3(ctx);

	barrier_var(a1);
	barrier_var(a2);
	barrier_var(a3);
	switch (func) {
	case ALLOC_FUNC_CALLOC:
		size = a1 * a2;
		break;
	case ALLOC_FUNC_REALLOC:
		ptr = a1;
		size = a2;
		break;
	case ALLOC_FUNC_REALLOCARRAY:
		ptr = a1;
		size = a2 * a3;
		break;
	case ALLOC_FUNC_MEMALIGN:
		size = a2;
		break;
	case ALLOC_FUNC_POSIX_MEMALIGN:
		memptr = a1;
		size = a3;
		break;
	default:
		size = a1;
		break;
	}
	/* realloc: the old block is gone (moved, resized or freed). */
	if (ptr)
		forget_block(ptr);
	if (!size)
		return 1;
	if (sample_rate > 1) {
		if (!st->started) {
			st->started = 1;
			st->countdown = draw();
		}
		st->countdown -= size;
		if (st->countdown > 0)
			return 1;
		st->countdown = draw();
	}
	st->pending = 1;
	st->size = size;
	st->memptr = memptr;
	st->func = func;
	return 0;
}

/* At the return of a sampled call: records the block. */
static __always_inline void alloc_exit(struct pt_regs *ctx)
{
	struct alloc_thread *st;
	struct alloc_event *e;
	__u64 addr, size;

	if (!is_target())
		return;
	count(ALLOC_COUNTER_RETURN_HITS);
	st = bpf_task_storage_get(&alloc_threads, bpf_get_current_task_btf(), 0, 0);
	if (!st || !st->pending)
		return;
	st->pending = 0;
	size = st->size;
	addr = PT_REGS_RC(ctx);
	if (st->func == ALLOC_FUNC_POSIX_MEMALIGN) {
		if ((int)addr != 0 || bpf_probe_read_user(&addr, sizeof(addr), (void *)st->memptr))
			return;
	}
	if (!addr)
		return;
	e = bpf_ringbuf_reserve(&alloc_events, sizeof(*e), 0);
	if (!e) {
		count(ALLOC_COUNTER_LOST);
		return;
	}
	e->type = ALLOC_EVENT_ALLOC;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->addr = addr;
	e->size = size;
	e->flags = 0;
	e->pad = 0;
	if (bpf_map_update_elem(&live, &addr, &size, BPF_ANY)) {
		e->flags = ALLOC_F_UNTRACKED;
		count(ALLOC_COUNTER_LIVE_FULL);
	}
	/* The registers of the return: ip is the caller's return address. */
	capture_user_stack(bpf_get_current_task_btf(), &e->user);
	bpf_ringbuf_submit(e, ringbuf_wakeup(&alloc_events, sizeof(*e)));
	count(ALLOC_COUNTER_SAMPLED);
}

/* free(ptr), operator delete: an entry probe only. */
SEC("uprobe")
int free_entry(struct pt_regs *ctx)
{
	__u64 ptr;

	if (!is_target())
		return 0;
	count(ALLOC_COUNTER_FREE_HITS);
	ptr = PT_REGS_PARM1(ctx);
	if (ptr)
		forget_block(ptr);
	return 0;
}

#endif /* PPROFD_ALLOC_BPF_H */
