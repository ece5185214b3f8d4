// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu.bpf.c - where the target's threads wait: the block profile (time
 * off the CPU by stack, see struct block_event), the longest runnable wait
 * (scheduling delay: preempted or woken, not yet running), and, while
 * tracing, the scheduler timeline.  BTF tracepoints: no tracefs needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pprofd.h"
#include "ringbuf.bpf.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set between __open() and __load(). */
const volatile __u32 target_pid = 0;
const volatile __u64 block_rate_ns = 100000;

/* Set by user space while running. */
__u32 tracing = 0;       /* send the scheduler timeline */
__u64 runq_max_ns = 0;   /* longest runnable wait since user space reset it */
__u32 runq_max_tid = 0;
__u64 attached_ns = 0;   /* when the programs were attached */

/*
 * Threads with a sampled wait to send (st->pending): every system call of
 * the machine ends in on_sys_exit, and while this is 0, which it mostly is
 * (1 wait in 60 is sampled on a switch-heavy target), it looks nothing up.
 */
__u32 pending_threads = 0;

struct thread_state {
	__u64 off_since;      /* left the CPU to wait at */
	__u64 runnable_since; /* woken or preempted at */
	__u64 pending_delay;  /* a sampled wait, to send at syscall exit */
	__u64 pending_count;
	__u32 kernel_depth;
	__u32 pending;
	__u32 seen_out;       /* switched out since the attach */
	__u32 pad;
	__u64 kernel_pcs[MAX_STACK_DEPTH];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, BLOCK_RING_BYTES);
} block_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TIMELINE_RING_BYTES);
} sched_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OFFCPU_COUNTER_MAX);
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

static __always_inline void timeline(__u32 kind, struct task_struct *t, __u32 state, __u32 waker)
{
	struct sched_event *e;

	if (!tracing)
		return;
	e = bpf_ringbuf_reserve(&sched_events, sizeof(*e), 0);
	if (!e) {
		count(OFFCPU_COUNTER_SCHED_LOST);
		return;
	}
	e->time_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->cpu = bpf_get_smp_processor_id();
	e->tid = t->pid;
	e->state = state;
	e->waker_tid = waker;
	e->pad = 0;
	__builtin_memcpy(e->comm, t->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, ringbuf_wakeup(&sched_events));
}

static __always_inline void runnable(struct task_struct *t)
{
	struct thread_state *st = bpf_task_storage_get(&threads, t, 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (st && !st->runnable_since)
		st->runnable_since = bpf_ktime_get_ns();
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	struct task_struct *cur;

	if (!is_target(p))
		return 0;
	runnable(p);
	cur = bpf_get_current_task_btf();
	timeline(SCHED_WAKEUP, p, 0, is_target(cur) ? cur->pid : 0);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(on_wakeup_new, struct task_struct *p)
{
	if (is_target(p))
		runnable(p);
	return 0;
}

/* Go's block profile sampling: a wait shorter than the rate is kept with
 * probability wait / rate and then stands for rate / wait waits. */
static __always_inline bool sample_wait(__u64 delay, __u64 *weighted_delay, __u64 *count_x1000)
{
	__u64 rate = block_rate_ns;

	if (delay >= rate || rate <= 1) {
		*weighted_delay = delay;
		*count_x1000 = 1000;
		return true;
	}
	if (!delay || (bpf_get_prandom_u32() % rate) >= delay)
		return false;
	*weighted_delay = rate;
	*count_x1000 = rate * 1000 / delay;
	return true;
}

/* Sends the thread's pending waits with its stack: called in its context. */
static __always_inline void send_pending(struct task_struct *task, struct thread_state *st,
					 bool in_syscall)
{
	struct block_event *e = bpf_ringbuf_reserve(&block_events, sizeof(*e), 0);
	__u32 depth = st->kernel_depth;

	if (!e) {
		count(OFFCPU_COUNTER_LOST);
		goto out;
	}
	e->pid = task->tgid;
	e->tid = task->pid;
	e->delay_ns = st->pending_delay;
	e->count_x1000 = st->pending_count;
	e->in_syscall = in_syscall;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	if (depth > MAX_STACK_DEPTH)
		depth = MAX_STACK_DEPTH;
	e->kernel_depth = depth;
	bpf_probe_read_kernel(e->kernel_pcs, sizeof(e->kernel_pcs), st->kernel_pcs);
	capture_user_stack(task, &e->user);
	if (!in_syscall)
		e->user.len = 0; /* the PC only: this is not the stack it waited with */
	bpf_ringbuf_submit(e, ringbuf_wakeup(&block_events));
	count(OFFCPU_COUNTER_RECORDED);
out:
	if (st->pending)
		__sync_fetch_and_add(&pending_threads, -1);
	st->pending = 0;
	st->pending_delay = 0;
	st->pending_count = 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct thread_state *st;
	__u64 now;

	if (!is_target(prev) && !is_target(next))
		return 0;
	now = bpf_ktime_get_ns();
	if (is_target(prev)) {
		st = bpf_task_storage_get(&threads, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (st) {
			/*
			 * A wait outside a system call (a page fault, say) has
			 * no syscall exit to wait for: sent as it leaves the CPU.
			 */
			if (st->pending)
				send_pending(prev, st, false);
			st->seen_out = 1;
			/* Preempted: runnable, not blocked (scheduling delay). */
			if (preempt || prev_state == 0) {
				if (!st->runnable_since)
					st->runnable_since = now;
			} else {
				st->off_since = now;
			}
		}
		timeline(SCHED_SWITCH_OUT, prev, preempt ? 0 : prev_state, 0);
	}
	if (!is_target(next))
		return 0;
	timeline(SCHED_SWITCH_IN, next, 0, 0);
	st = bpf_task_storage_get(&threads, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return 0;
	if (!st->seen_out) {
		/*
		 * First seen switching in: it has been off the CPU since before
		 * the attach.  If it waited (was woken, not preempted), count
		 * the wait from the attach: a lower bound.
		 */
		st->seen_out = 1;
		if (attached_ns && st->runnable_since)
			st->off_since = attached_ns;
	}
	if (st->runnable_since) {
		__u64 wait = now - st->runnable_since;

		st->runnable_since = 0;
		if (wait > runq_max_ns) {
			runq_max_ns = wait;
			runq_max_tid = next->pid;
		}
	}
	if (st->off_since) {
		__u64 delay = now - st->off_since, weighted, count_x1000;
		long n;

		st->off_since = 0;
		count(OFFCPU_COUNTER_WAITS);
		if (!sample_wait(delay, &weighted, &count_x1000))
			return 0;
		/* The kernel stack it waited in; the user stack at syscall exit. */
		n = bpf_get_task_stack(next, st->kernel_pcs, sizeof(st->kernel_pcs), 0);
		st->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;
		st->pending_delay += weighted;
		st->pending_count += count_x1000;
		if (!st->pending)
			__sync_fetch_and_add(&pending_threads, 1);
		st->pending = 1;
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct thread_state *st;

	if (!pending_threads)
		return 0;
	task = bpf_get_current_task_btf();
	if (!is_target(task))
		return 0;
	st = bpf_task_storage_get(&threads, task, 0, 0);
	if (st && st->pending)
		send_pending(task, st, true);
	return 0;
}
