// SPDX-License-Identifier: GPL-2.0
/*
 * threads.bpf.c - the threads of the target, two programs:
 *
 *   dump_thread        a sleepable task iterator, attached to the target's
 *                      threads only: each thread's state, name, kernel stack
 *                      and user registers + stack copy, without stopping it
 *                      (goroutine profile).  Run by reading the iterator.
 *   on_task_newtask    task_newtask, in the creator's context: the stacks
 *                      of every target thread that creates a thread
 *                      (threadcreate profile).
 *
 * Each collector loads only its own program (set_autoload).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "pprofd.h"
#include "stack.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* include/uapi/linux/sched.h: a thread of the same process. */
#define CLONE_THREAD 0x00010000

/* Set between __open() and __load(). */
const volatile __u32 target_pid = 0;

/*
 * Thread records: user space reads the iterator one byte at a time, and a
 * read returns as soon as one thread has written its byte of seq output
 * (bpf_seq_read() stops before showing the next); the daemon consumes this
 * ring after every read.  So it holds one record (17 KiB) at a time,
 * whatever the number of threads; a record finding it full would be lost,
 * not retried (THREADS_COUNTER_DUMP_LOST).  64 KiB hold three.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 10);
} thread_records SEC(".maps");

/*
 * Thread creations: 1 MiB, 59 of 17 KiB.  Each one wakes the daemon (when
 * the ring was empty) and it keeps up with creations one by one; a burst
 * (100 threads created at once, in ~3 ms) outruns it: this holds most of
 * such a burst, often all (512 KiB lost a third to a half).  Drops are
 * counted: records_lost.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} creations SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, THREADS_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &which);

	if (v)
		*v += 1;
}

SEC("iter.s/task")
int dump_thread(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *task = ctx->task;
	struct thread_record *r;
	char mark = 0;
	long n;

	/* The link visits the target's threads only; be sure anyway. */
	if (!task || task->tgid != target_pid)
		return 0;
	r = bpf_ringbuf_reserve(&thread_records, sizeof(*r), 0);
	if (!r) {
		count(THREADS_COUNTER_DUMP_LOST);
		return 0;
	}
	r->tid = task->pid;
	r->state = task->__state;
	r->exit_state = task->exit_state;
	bpf_probe_read_kernel_str(r->comm, sizeof(r->comm), task->comm);
	n = bpf_get_task_stack(task, r->kernel_pcs, sizeof(r->kernel_pcs), 0);
	r->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;
	if (!capture_user_stack_task(task, &r->user))
		count(THREADS_COUNTER_USER_ERRORS);
	/* User space consumes right after the read: no wakeup needed. */
	bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	count(THREADS_COUNTER_DUMPED);
	/* One byte per thread: a read of one byte returns after each thread. */
	bpf_seq_write(seq, &mark, sizeof(mark));
	return 0;
}

SEC("tp_btf/task_newtask")
int BPF_PROG(on_task_newtask, struct task_struct *task, u64 clone_flags)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct thread_creation *r;
	long n;

	if ((__u32)(id >> 32) != target_pid || !(clone_flags & CLONE_THREAD))
		return 0;
	r = bpf_ringbuf_reserve(&creations, sizeof(*r), 0);
	if (!r) {
		count(THREADS_COUNTER_CREATE_LOST);
		return 0;
	}
	r->tid = (__u32)id;
	r->new_tid = task->pid;
	r->pad = 0;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	n = bpf_get_stack(ctx, r->kernel_pcs, sizeof(r->kernel_pcs), 0);
	r->kernel_depth = n > 0 ? n / sizeof(__u64) : 0;
	/* In clone(): the user registers saved at its entry, exact. */
	if (!capture_user_stack(bpf_get_current_task_btf(), &r->user))
		count(THREADS_COUNTER_USER_ERRORS);
	bpf_ringbuf_submit(r, 0);
	count(THREADS_COUNTER_CREATED);
	return 0;
}
