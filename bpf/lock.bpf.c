// SPDX-License-Identifier: GPL-2.0
/*
 * lock.bpf.c - user-space lock contention from futex waits (pthread mutexes,
 * rwlocks and condition variables underneath): see struct lock_wake and
 * struct lock_waited in pprofd.h.  Attached only while the mutex profile is
 * collected: to syscalls:sys_{enter,exit}_futex where tracefs is (only futex
 * calls of the machine run them), else to the raw sys_enter / sys_exit, which
 * every system call of the machine pays.
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
 * began in an earlier collection (its exit was not seen) is not this one's.
 */
__u32 epoch = 0;

/*
 * Threads of the target in a futex wait now: every system call of the
 * machine ends in on_sys_exit, which while this is 0 looks nothing up.  (A
 * thread killed in its wait leaves it 1 too high: then only slower.)
 */
__u32 futex_waiting = 0;

struct wait_state {
	__u64 uaddr;
	__u64 since;
	__u32 epoch;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct wait_state);
} waits SEC(".maps");

/* Futex address -> threads of the target waiting on it now. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __s64);
} waiters SEC(".maps");

/* Futex address -> the sequence number of its last wake with waiters. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u64);
} last_wake SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, LOCK_RING_BYTES);
} lock_events SEC(".maps");

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

static __always_inline void add_waiter(__u64 uaddr, __s64 delta)
{
	__s64 *n = bpf_map_lookup_elem(&waiters, &uaddr), one = 1;

	if (n) {
		__sync_fetch_and_add(n, delta);
		if (*n <= 0)
			bpf_map_delete_elem(&waiters, &uaddr);
	} else if (delta > 0) {
		bpf_map_update_elem(&waiters, &uaddr, &one, BPF_NOEXIST);
	}
}

/* A futex call of the target begins. */
static __always_inline void futex_enter(__u64 uaddr, __u32 op)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 cmd = op & FUTEX_CMD_MASK;

	if (is_wait(cmd)) {
		struct wait_state *w = bpf_task_storage_get(&waits, task, 0,
							    BPF_LOCAL_STORAGE_GET_F_CREATE);

		if (w) {
			if (!w->since || w->epoch != epoch)
				__sync_fetch_and_add(&futex_waiting, 1);
			w->uaddr = uaddr;
			w->since = bpf_ktime_get_ns();
			w->epoch = epoch;
			add_waiter(uaddr, 1);
		}
		return;
	}
	if (is_wake(cmd)) {
		__s64 *n = bpf_map_lookup_elem(&waiters, &uaddr);
		struct lock_wake *e;
		__u64 seq;

		/* Uncontended releases do not even get here in glibc; wakes of a
		 * futex nobody of the target waits on are not contention. */
		if (!n || *n <= 0)
			return;
		seq = __sync_fetch_and_add(&wake_seq, 1) + 1;
		e = bpf_ringbuf_reserve(&lock_events, sizeof(*e), 0);
		if (!e) {
			count(LOCK_COUNTER_LOST);
			return;
		}
		e->kind = LOCK_WAKE;
		e->tid = task->pid;
		e->wake_seq = seq;
		__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
		capture_user_stack(task, &e->user);
		bpf_ringbuf_submit(e, ringbuf_wakeup(&lock_events));
		bpf_map_update_elem(&last_wake, &uaddr, &seq, BPF_ANY);
		count(LOCK_COUNTER_WAKES);
	}
}

/* A system call of the target ends (only futex calls on the tracepoint path). */
static __always_inline void futex_exit(long ret)
{
	struct task_struct *task;
	struct wait_state *w;
	struct lock_waited *e;
	__u64 delay, rate = block_rate_ns, *seq;

	if (!futex_waiting)
		return;
	task = bpf_get_current_task_btf();
	w = bpf_task_storage_get(&waits, task, 0, 0);
	if (!w || !w->since)
		return;
	if (w->epoch != epoch) { /* began while detached: neither counted nor timed */
		w->since = 0;
		return;
	}
	delay = bpf_ktime_get_ns() - w->since;
	w->since = 0;
	__sync_fetch_and_add(&futex_waiting, -1);
	add_waiter(w->uaddr, -1);
	/* Only waits a wake ended (not timeouts, not a changed value). */
	if (ret != 0)
		return;
	count(LOCK_COUNTER_WAITS);
	seq = bpf_map_lookup_elem(&last_wake, &w->uaddr);

	e = bpf_ringbuf_reserve(&lock_events, sizeof(*e), 0);
	if (!e) {
		count(LOCK_COUNTER_LOST);
		return;
	}
	e->kind = LOCK_WAITED;
	e->tid = task->pid;
	e->wake_seq = seq ? *seq : 0;
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
	bpf_ringbuf_submit(e, ringbuf_wakeup(&lock_events));
}

static __always_inline bool in_target(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == target_pid;
}

/* The fallback where tracefs is not: every system call of the machine. */
SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (id == NR_futex && in_target())
		futex_enter(regs->di, regs->si);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	if (futex_waiting && in_target())
		futex_exit(ret);
	return 0;
}

/* Where tracefs is: futex calls only. */
SEC("tracepoint/syscalls/sys_enter_futex")
int on_futex_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (in_target())
		futex_enter(ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_futex")
int on_futex_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (futex_waiting && in_target())
		futex_exit(ctx->ret);
	return 0;
}
