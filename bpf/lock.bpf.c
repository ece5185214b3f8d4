// SPDX-License-Identifier: GPL-2.0
/*
 * lock.bpf.c - user-space lock contention from futex waits (pthread mutexes,
 * rwlocks and condition variables underneath): see struct lock_wake and
 * struct lock_waited in pprofd.h.
 *
 * From the scheduler, not from system calls, so that no system call of the
 * machine pays for it: a target thread that leaves the CPU inside a futex
 * wait (its saved registers say futex, a wait operation, and the address)
 * waits on that futex; the target thread whose futex wake (or unlock) of
 * that address wakes it (sched_waking runs in the waker's context) released
 * the lock, and its stack is taken there; the wait ends when the waiter runs
 * again.  Attached only while the mutex profile is collected.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pprofd.h"
#include "ringbuf.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_futex 202 /* x86-64 */

/* futex commands (linux/futex.h), without the private and clock flags. */
#define FUTEX_CMD_MASK 127
enum {
	FUTEX_WAIT_ = 0, FUTEX_WAKE_ = 1, FUTEX_REQUEUE_ = 3, FUTEX_CMP_REQUEUE_ = 4,
	FUTEX_WAKE_OP_ = 5, FUTEX_LOCK_PI_ = 6, FUTEX_UNLOCK_PI_ = 7, FUTEX_WAIT_BITSET_ = 9,
	FUTEX_WAKE_BITSET_ = 10, FUTEX_WAIT_REQUEUE_PI_ = 11, FUTEX_CMP_REQUEUE_PI_ = 12,
	FUTEX_LOCK_PI2_ = 13,
};

const volatile __u32 target_pid = 0;
const volatile __u64 block_rate_ns = 100000;

__u64 wake_seq = 0;

/*
 * Bumped by user space each time the programs are attached: a wait that
 * began in an earlier collection (its end was not seen) is not this one's.
 */
__u32 epoch = 0;

/* Bytes above sp a wake's record copies (0: all), as the daemon learned them. */
__u32 stack_copy_limit = 0;

/* A target thread waiting in a futex now. */
struct wait_state {
	__u64 uaddr;
	__u64 since;    /* 0: not waiting */
	__u64 wake_seq; /* the wake that ended it, 0 while none */
	__u32 epoch;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait_state);
} waits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LOCK_RING_BYTES);
} lock_events SEC(".maps");

/* Where a wake's record is built before it is sent packed (write_packed_stack()). */
struct wake_scratch {
	struct lock_wake e;
	__u8 slack[STACK_COPY_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wake_scratch);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOCK_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

static __always_inline bool is_target(struct task_struct *t)
{
	return t->tgid == target_pid;
}

static __always_inline bool is_wait(__u32 cmd)
{
	return cmd == FUTEX_WAIT_ || cmd == FUTEX_WAIT_BITSET_ || cmd == FUTEX_LOCK_PI_ ||
	       cmd == FUTEX_LOCK_PI2_ || cmd == FUTEX_WAIT_REQUEUE_PI_;
}

static __always_inline bool is_wake(__u32 cmd)
{
	return cmd == FUTEX_WAKE_ || cmd == FUTEX_WAKE_BITSET_ || cmd == FUTEX_UNLOCK_PI_ ||
	       cmd == FUTEX_WAKE_OP_ || cmd == FUTEX_REQUEUE_ || cmd == FUTEX_CMP_REQUEUE_ ||
	       cmd == FUTEX_CMP_REQUEUE_PI_;
}

/* The registers t entered the kernel with, if it is in a futex call. */
static __always_inline struct pt_regs *in_futex(struct task_struct *t)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);

	return regs->orig_ax == NR_futex ? regs : NULL;
}

/* The target's thread prev leaves the CPU to wait: in a futex wait? */
static __always_inline void wait_begins(struct task_struct *prev)
{
	struct pt_regs *regs = in_futex(prev);
	struct wait_state *w;

	if (!regs || !is_wait(regs->si & FUTEX_CMD_MASK))
		return;
	w = bpf_task_storage_get(&waits, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!w)
		return;
	w->uaddr = regs->di;
	w->since = bpf_ktime_get_ns();
	w->wake_seq = 0;
	w->epoch = epoch;
}

/* The target's thread next runs again: the end of its futex wait, if woken by a wake. */
static __always_inline void wait_ends(struct task_struct *next)
{
	struct wait_state *w = bpf_task_storage_get(&waits, next, 0, 0);
	__u64 delay, rate = block_rate_ns;
	struct lock_waited *e;

	if (!w || !w->since)
		return;
	delay = bpf_ktime_get_ns() - w->since;
	w->since = 0;
	/* Only waits a wake of this collection ended (not timeouts, not signals). */
	if (!w->wake_seq || w->epoch != epoch)
		return;
	count(LOCK_COUNTER_WAITS);
	e = bpf_ringbuf_reserve(&lock_events, sizeof(*e), 0);
	if (!e) {
		count(LOCK_COUNTER_LOST);
		return;
	}
	e->kind = LOCK_WAITED;
	e->tid = next->pid;
	e->wake_seq = w->wake_seq;
	/* Go's sampling, as for the block profile. */
	if (delay >= rate || rate <= 1) {
		e->delay_ns = delay;
		e->count_x1000 = 1000;
	} else if (delay && (bpf_get_prandom_u32() % rate) < delay) {
		e->delay_ns = rate;
		e->count_x1000 = rate * 1000 / delay;
	} else {
		bpf_ringbuf_discard(e, 0);
		return;
	}
	bpf_ringbuf_submit(e, ringbuf_wakeup(&lock_events, sizeof(*e)));
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	if (is_target(prev) && !preempt && prev_state != 0)
		wait_begins(prev);
	/* A futex wait ends where it began: in the futex call (no lookup else). */
	if (is_target(next) && in_futex(next))
		wait_ends(next);
	return 0;
}

/*
 * p is being woken, in the waker's context: by a target thread's futex wake
 * of the address p waits on (uaddr, or uaddr2 of a wake-op or requeue)?
 * Interrupts (a timeout) run here too, over whatever thread they
 * interrupted: the address has to match.
 */
SEC("tp_btf/sched_waking")
int BPF_PROG(on_waking, struct task_struct *p)
{
	const __u32 head = __builtin_offsetof(struct lock_wake, user);
	struct copy_skips skips = {};
	struct task_struct *waker;
	struct bpf_dynptr rec;
	struct wake_scratch *b;
	struct wait_state *w;
	struct lock_wake *e;
	struct pt_regs *regs;
	__u32 zero = 0, size;
	__u64 seq;

	if (!is_target(p) || !in_futex(p))
		return 0;
	w = bpf_task_storage_get(&waits, p, 0, 0);
	if (!w || !w->since || w->wake_seq || w->epoch != epoch)
		return 0;
	waker = bpf_get_current_task_btf();
	if (!is_target(waker))
		return 0;
	regs = in_futex(waker);
	if (!regs || !is_wake(regs->si & FUTEX_CMD_MASK) ||
	    (regs->di != w->uaddr && regs->r8 != w->uaddr))
		return 0;
	seq = __sync_fetch_and_add(&wake_seq, 1) + 1;
	w->wake_seq = seq;
	b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		return 0;
	e = &b->e;
	e->kind = LOCK_WAKE;
	e->tid = waker->pid;
	e->wake_seq = seq;
	__builtin_memcpy(e->comm, waker->comm, sizeof(e->comm));
	capture_user_stack_within(waker, &e->user, stack_copy_limit, &skips);
	size = head + packed_stack_size(&e->user, &skips);
	if (bpf_ringbuf_reserve_dynptr(&lock_events, size, 0, &rec)) {
		bpf_ringbuf_discard_dynptr(&rec, 0);
		count(LOCK_COUNTER_LOST);
		return 0;
	}
	bpf_dynptr_write(&rec, 0, e, head, 0);
	write_packed_stack(&rec, head, &e->user, &skips);
	bpf_ringbuf_submit_dynptr(&rec, ringbuf_wakeup(&lock_events, size));
	count(LOCK_COUNTER_WAKES);
	return 0;
}
