// SPDX-License-Identifier: GPL-2.0
/*
 * offcpu.bpf.c - where the target's threads wait: the block profile (time
 * off the CPU by stack, see struct block_event), the longest runnable wait
 * (scheduling delay: preempted or woken, not yet running), and, while
 * tracing, the scheduler timeline.
 *
 * At rest only on_switch is attached (a BTF tracepoint: no tracefs needed):
 * for threads not the target's it returns after two loads, for the target's
 * it reads the runnable wait the scheduler itself keeps (sched_info).  The
 * rest is attached on request: the waking program while tracing; while the
 * block profile is collected (block_since != 0), what takes the user stack
 * of a sampled wait in the waiting thread's own context as it returns to
 * user mode: rseq_update, which runs once after each switch of a thread that
 * registered rseq (glibc 2.35+ does for every thread), so no system call of
 * the machine pays; for threads without rseq (Go's), the exits of the
 * blocking system calls, attached once one such wait is seen
 * (needs_syscall_exits), on their syscalls:sys_exit_<name> tracepoints where
 * tracefs is, else on the raw sys_exit, which every system call pays.
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
const volatile __u32 kernel_stacks = 0; /* block.kernel_stacks */

/* Set by user space while running. */
__u32 tracing = 0;       /* send the scheduler timeline */
__u64 runq_max_ns = 0;   /* longest runnable wait since user space reset it */
__u32 runq_max_tid = 0;
__u64 attached_ns = 0;   /* when on_switch was attached */
__u64 block_since = 0;   /* the block profile is collected since; 0: it is not */
__u32 needs_syscall_exits = 0; /* a sampled wait of a thread without rseq was seen */
__u32 stack_copy_limit = 0;    /* bytes above sp a wait's record copies; 0: all */


/* A thread of the target's. */
struct thread_state {
	__u64 off_since;      /* left the CPU to wait at; 0: preempted, or running */
	__u64 pending_delay;  /* a sampled wait, to send at syscall exit */
	__u64 pending_count;
	__u64 pending_since;  /* the block_since the pending wait belongs to */
	__u32 kernel_depth;
	__u32 pending;
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

/*
 * The thread with a sampled wait to send (st->pending) that was switched in
 * last on this CPU: it goes back to user mode here, so the programs on that
 * way (rseq_update, the system call exits), which run for every thread of
 * the machine, look up no thread but that one (one wait in 16 is sampled on
 * a switch-heavy target).  Set again at each switch-in while a wait is
 * pending, so a thread moved to another CPU before it got there is found
 * there.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} pending_here SEC(".maps");

/* Where a wait's record is built before it is sent packed (write_packed_stack()). */
struct block_scratch {
	struct block_event e;
	__u8 slack[STACK_COPY_CHUNK];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct block_scratch);
} scratch SEC(".maps");

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
	bpf_ringbuf_submit(e, ringbuf_wakeup(&sched_events, sizeof(*e)));
}

/*
 * Attached while tracing: wakeup flows for the timeline.  sched_waking runs
 * in the waker; sched_wakeup may run on the wakee's CPU (a queued wakeup to
 * an idle CPU), in its idle task, and the waker would be lost.
 */
SEC("tp_btf/sched_waking")
int BPF_PROG(on_wakeup, struct task_struct *p)
{
	struct task_struct *cur;

	if (!is_target(p))
		return 0;
	cur = bpf_get_current_task_btf();
	timeline(SCHED_WAKEUP, p, 0, is_target(cur) ? cur->pid : 0);
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
	const __u32 head = __builtin_offsetof(struct block_event, kernel_pcs);
	struct copy_skips skips = {};
	struct bpf_dynptr rec;
	struct block_scratch *b;
	struct block_event *e;
	__u32 zero = 0, depth = st->kernel_depth, pcs, size;

	if (st->pending_since != block_since) /* its profile is over */
		goto out;
	b = bpf_map_lookup_elem(&scratch, &zero);
	if (!b)
		goto out;
	e = &b->e;
	e->pid = task->tgid;
	e->tid = task->pid;
	e->delay_ns = st->pending_delay;
	e->count_x1000 = st->pending_count;
	e->in_syscall = in_syscall;
	__builtin_memcpy(e->comm, task->comm, sizeof(e->comm));
	if (depth > MAX_STACK_DEPTH)
		depth = MAX_STACK_DEPTH;
	e->kernel_depth = depth;
	pcs = depth * sizeof(e->kernel_pcs[0]);
	if (in_syscall) {
		capture_user_stack_within(task, &e->user, stack_copy_limit, &skips);
	} else {
		capture_user_regs(task, &e->user); /* the PC only: not the stack it waited with */
		count(OFFCPU_COUNTER_NO_SYSCALL_EXIT);
	}
	/* Packed: every byte sent is ring space and the daemon's CPU. */
	size = head + pcs + packed_stack_size(&e->user, &skips);
	if (bpf_ringbuf_reserve_dynptr(&block_events, size, 0, &rec)) {
		bpf_ringbuf_discard_dynptr(&rec, 0);
		count(OFFCPU_COUNTER_LOST);
		goto out;
	}
	bpf_dynptr_write(&rec, 0, e, head, 0);
	if (pcs)
		bpf_dynptr_write(&rec, head, st->kernel_pcs, pcs, 0);
	write_packed_stack(&rec, head + pcs, &e->user, &skips);
	bpf_ringbuf_submit_dynptr(&rec, ringbuf_wakeup(&block_events, size));
	count(OFFCPU_COUNTER_RECORDED);
out:
	st->pending = 0;
	st->pending_delay = 0;
	st->pending_count = 0;
}

/*
 * The runnable wait that ends as next runs: the scheduler stamps a task
 * when it is queued (woken, or preempted) and clears the stamp after this
 * tracepoint, as it adds the wait to run_delay.
 */
static __always_inline __u64 runnable_wait(struct task_struct *next)
{
	__u64 queued = next->sched_info.last_queued, wait;

	if (!queued)
		return ~0ULL;
	/* Its runqueue's clock, the one sched_info's times are on. */
	wait = next->se.cfs_rq->rq->clock - queued;
	if ((__s64)wait < 0)
		return 0;
	if (wait > runq_max_ns) {
		runq_max_ns = wait;
		runq_max_tid = next->pid;
	}
	return wait;
}

/*
 * The target's thread prev leaves the CPU: when, if it waits, is kept even
 * while the block profile is not collected, so that a wait ending in a
 * profile's window counts whole, as in Go's.
 */
static __always_inline void block_out(struct task_struct *prev, bool waits)
{
	struct thread_state *st = bpf_task_storage_get(&threads, prev, 0,
						       BPF_LOCAL_STORAGE_GET_F_CREATE);

	if (!st)
		return;
	/*
	 * A sampled wait not sent yet: a thread with rseq sends it on its way
	 * back to user mode whatever it waited in, with the stack it waited
	 * with; another wait in the kernel before that (woken, then preempted
	 * or blocked again) adds to it.  Without rseq, a wait outside a system
	 * call (a page fault, say) has no syscall exit to wait for: sent as it
	 * leaves the CPU, with the user PC only.
	 */
	if (st->pending && !prev->rseq)
		send_pending(prev, st, false);
	st->off_since = waits ? bpf_ktime_get_ns() : 0; /* preempted: runnable, not blocked */
}

/*
 * While the block profile is collected: the target's thread next runs
 * again, after queued_ago ns runnable (~0: it was not queued).
 */
static __always_inline struct thread_state *block_in(struct task_struct *next, __u64 queued_ago)
{
	struct thread_state *st = bpf_task_storage_get(&threads, next, 0, 0);
	__u64 since, delay, weighted, count_x1000, now = bpf_ktime_get_ns();
	struct pt_regs *regs;
	long n;

	if (st) {
		since = st->off_since;
		st->off_since = 0;
	} else {
		/*
		 * Not seen leaving the CPU since the attach: if it was woken
		 * since, it waited from before; the wait counts from the attach.
		 */
		since = queued_ago < now - attached_ns ? attached_ns : 0;
		st = bpf_task_storage_get(&threads, next, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!st)
			return NULL;
	}
	if (!since)
		return st;
	delay = now - since;
	count(OFFCPU_COUNTER_WAITS);
	if (!sample_wait(delay, &weighted, &count_x1000))
		return st;
	/*
	 * The kernel stack it waited in, when asked for or when the wait was
	 * not in a system call (its user stack is not taken then); the user
	 * stack at syscall exit.
	 */
	regs = (struct pt_regs *)bpf_task_pt_regs(next);
	n = 0;
	if (kernel_stacks || (long)regs->orig_ax < 0)
		n = bpf_get_task_stack(next, st->kernel_pcs, sizeof(st->kernel_pcs), 0);
	st->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;
	if (st->pending_since != block_since) { /* left from an earlier profile */
		st->pending_delay = 0;
		st->pending_count = 0;
	}
	st->pending_delay += weighted;
	st->pending_count += count_x1000;
	st->pending_since = block_since;
	if (!next->rseq && !needs_syscall_exits)
		needs_syscall_exits = 1;
	st->pending = 1;
	return st;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	__u64 queued_ago;

	if (!is_target(prev) && !is_target(next))
		return 0;
	if (is_target(prev)) {
		block_out(prev, !preempt && prev_state != 0);
		timeline(SCHED_SWITCH_OUT, prev, preempt ? 0 : prev_state, 0);
	}
	if (!is_target(next))
		return 0;
	timeline(SCHED_SWITCH_IN, next, 0, 0);
	queued_ago = runnable_wait(next);
	if (block_since) {
		struct thread_state *st = block_in(next, queued_ago);
		__u32 zero = 0, *here;

		if (st && st->pending && (here = bpf_map_lookup_elem(&pending_here, &zero)))
			*here = next->pid;
	}
	return 0;
}

/* Back to user mode in the thread's own context: sends its sampled wait. */
static __always_inline void on_exit(void)
{
	struct task_struct *task;
	struct thread_state *st;
	__u32 zero = 0, *here = bpf_map_lookup_elem(&pending_here, &zero);

	if (!here || !*here)
		return;
	task = bpf_get_current_task_btf();
	if (*here != task->pid || !is_target(task))
		return;
	*here = 0;
	st = bpf_task_storage_get(&threads, task, 0, 0);
	if (st && st->pending)
		send_pending(task, st, true);
}

/* rseq registered: the return to user mode after each switch. */
SEC("tp_btf/rseq_update")
int BPF_PROG(on_rseq_update, struct task_struct *t)
{
	on_exit();
	return 0;
}

/* No rseq, and no tracefs: every system call of the machine. */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	on_exit();
	return 0;
}

/* Attached by user space to syscalls:sys_exit_<name> of each blocking call. */
SEC("tracepoint/syscalls/sys_exit_futex")
int on_syscall_exit(struct trace_event_raw_sys_exit *ctx)
{
	on_exit();
	return 0;
}
