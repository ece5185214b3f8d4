/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stack.bpf.h - capture of a thread's user registers and the top of its user
 * stack, for unwinding in user space.  BPF only; every program that records
 * stacks (CPU samples now; allocations, blocking and locks later) uses it.
 */
#ifndef PPROFD_STACK_BPF_H
#define PPROFD_STACK_BPF_H

#include "pprofd.h"

/*
 * What both captures share: registers, then whole pages from sp's own at
 * fixed offsets (which the verifier can check), until the first page that
 * cannot be read, the end of the stack.  other_task is a constant at each
 * call: the branch not taken is compiled out, so a non-sleepable program
 * never names bpf_copy_from_user_task().
 */
/* The user registers alone (no stack: len 0).  Returns sp. */
static __always_inline __u64 capture_user_regs(struct task_struct *task,
					       struct user_stack_copy *out)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u64 sp = regs->sp;

	out->ip = regs->ip;
	out->sp = sp;
	out->bp = regs->bp;
	out->start = sp & ~(__u64)(STACK_COPY_CHUNK - 1);
	out->len = 0;
	out->limited = 0;
	return sp;
}

static __always_inline __u32 capture_stack(struct task_struct *task,
					   struct user_stack_copy *out, const bool other_task,
					   __u32 above_sp)
{
	__u64 sp = capture_user_regs(task, out), start = out->start, end;
	__u32 len = 0;

	if (!sp)
		return 0;
	end = start + STACK_COPY_BYTES;
	if (above_sp && sp + above_sp < end)
		end = sp + above_sp;
#pragma unroll
	for (int i = 0; i < STACK_COPY_BYTES / STACK_COPY_CHUNK; i++) {
		void *to = out->stack + i * STACK_COPY_CHUNK;
		__u64 from = start + i * STACK_COPY_CHUNK, n;

		if (from >= end) {
			out->limited = 1;
			break;
		}
		/* Within one page: a shorter read faults where the whole one would. */
		n = end - from;
		if (n > STACK_COPY_CHUNK)
			n = STACK_COPY_CHUNK;
		if (other_task ? bpf_copy_from_user_task(to, n, (void *)from, task, 0)
			       : bpf_probe_read_user(to, n, (void *)from))
			break;
		len += n;
		if (n < STACK_COPY_CHUNK) {
			out->limited = 1;
			break;
		}
	}
	out->len = len;
	return len;
}

/*
 * Fills out from the current task's user registers: in user mode they are
 * the interrupted ones; in the kernel, those saved at kernel entry.  The stack
 * is copied page by page so that a copy running into the end of the stack
 * keeps what it read.  Returns the bytes copied (0: nothing readable).
 */
static __always_inline __u32 capture_user_stack(struct task_struct *task,
						struct user_stack_copy *out)
{
	return capture_stack(task, out, false, 0);
}

/*
 * The same, copying no more than above_sp bytes above the stack pointer (0:
 * as much as capture_user_stack): what the daemon learned the target's
 * stacks need (struct copy_budget, daemon/unwind.h).  Every byte copied is
 * a byte moved to the daemon's CPU; a wait's record rarely needs the whole
 * copy.
 */
static __always_inline __u32 capture_user_stack_within(struct task_struct *task,
						       struct user_stack_copy *out,
						       __u32 above_sp)
{
	return capture_stack(task, out, false, above_sp);
}

/*
 * The same for another task, from a sleepable program (task iterator):
 * the registers saved at the task's last kernel entry (exact for a thread
 * blocked in a system call; for one running in user mode at this moment,
 * those of its last entry, and its stack may have moved on since), the
 * stack read with bpf_copy_from_user_task().  Returns the bytes copied.
 */
static __always_inline __u32 capture_user_stack_task(struct task_struct *task,
						     struct user_stack_copy *out)
{
	return capture_stack(task, out, true, 0);
}

#endif /* PPROFD_STACK_BPF_H */
