/* SPDX-License-Identifier: GPL-2.0 */
/*
 * stack.bpf.h - capture of a thread's user registers and the top of its user
 * stack, for unwinding in user space.  BPF only; every program that records
 * stacks (CPU samples now; allocations, blocking and locks later) uses it.
 */
#ifndef PPROFD_STACK_BPF_H
#define PPROFD_STACK_BPF_H

#include <bpf/bpf_core_read.h>

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
	out->other_off = out->other_len = 0;
	out->other_start = 0;
	out->g_pc = out->g_sp = out->g_bp = 0;
	out->vdso_pc = out->vdso_sp = out->vdso_bp = 0;
	return sp;
}

/* Set between __open() and __load() for a Go target (pprofd.h). */
const volatile struct go_stack_switch go_switch = {};

/*
 * Bytes above g0.sched.sp (where the runtime starts every switch to the
 * system stack) copied with that stack: the frames of mstart0 and mstart,
 * where the scheduler's own stacks end.
 */
#define GO_G0_TOP_SLACK 256

static __always_inline __u64 user_word(__u64 addr)
{
	__u64 v;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

/*
 * A Go thread's frames that go on on another stack (pprofd.h): records the
 * contexts saved at the switch into out, and returns the user address the
 * second window starts at (0: none needed) with *top, where the copy of the
 * system stack may end.  Four reads on a goroutine's own stack (its g, g.m,
 * m.g0, m.vdsoSP/PC), five more on g0 (m.curg, its sched, g0.sched.sp).
 */
static __always_inline __u64 go_switch_contexts(struct task_struct *task,
						struct user_stack_copy *out, __u64 *top)
{
	__u64 start = out->start, end = start + STACK_COPY_BYTES, other = 0;
	__u64 g, m, g0, curg, g0_sp, vdso[2];

	g = user_word(BPF_CORE_READ(task, thread.fsbase) + go_switch.tls_g);
	if (!g || !(m = user_word(g + go_switch.g_m)))
		return 0;
	g0 = user_word(m + go_switch.m_g0);
	if (go_switch.m_vdso_sp &&
	    !bpf_probe_read_user(vdso, sizeof(vdso), (void *)(m + go_switch.m_vdso_sp)) &&
	    vdso[0]) {
		out->vdso_sp = vdso[0];
		out->vdso_pc = vdso[1];
		/* vdsoSP is the caller's SP: below its return address, the frame
		 * pointer the vDSO caller (nanotime1, time.now) pushed. */
		out->vdso_bp = user_word(vdso[0] - 16);
		if (vdso[0] < start || vdso[0] >= end)
			other = vdso[0];
	}
	if (g == g0 && (curg = user_word(m + go_switch.m_curg))) {
		out->g_sp = user_word(curg + go_switch.g_sched_sp);
		out->g_pc = user_word(curg + go_switch.g_sched_pc);
		out->g_bp = user_word(curg + go_switch.g_sched_bp);
		if (!other && out->g_sp)
			other = out->g_sp;
	}
	if (!other || !g0 || !(g0_sp = user_word(g0 + go_switch.g_sched_sp)))
		return 0;
	/* The sample is on the system stack, below where its switches start. */
	if (g0_sp + GO_G0_TOP_SLACK <= out->sp)
		return 0;
	*top = g0_sp + GO_G0_TOP_SLACK;
	return other & ~(__u64)(STACK_COPY_CHUNK - 1);
}

static __always_inline __u32 capture_stack(struct task_struct *task,
					   struct user_stack_copy *out, const bool other_task,
					   __u32 above_sp)
{
	__u64 sp = capture_user_regs(task, out), start = out->start, other = 0, top = 0, end;
	__u32 len = 0, other_len = 0, first = STACK_COPY_BYTES / STACK_COPY_CHUNK;

	if (!sp)
		return 0;
	/* A Go target's thread on its system stack: the pages up to the top of
	 * that stack, the rest from the goroutine's (the thread iterator's
	 * tasks are not looked at: their registers are not those of now). */
	if (go_switch.enabled && !other_task) {
		other = go_switch_contexts(task, out, &top);
		if (other) {
			__u64 need = (top - start + STACK_COPY_CHUNK - 1) / STACK_COPY_CHUNK;

			if (need < STACK_COPY_BYTES / STACK_COPY_CHUNK)
				first = need ? need : 1;
			else
				other = 0; /* no room: the system stack alone */
		}
	}
	/* The limit learned for this collector (copy_budget), for one stack. */
	end = start + STACK_COPY_BYTES;
	if (!other && above_sp && sp + above_sp < end)
		end = sp + above_sp;
#pragma unroll
	for (int i = 0; i < STACK_COPY_BYTES / STACK_COPY_CHUNK; i++) {
		void *to = out->stack + i * STACK_COPY_CHUNK;
		__u64 from, n = STACK_COPY_CHUNK;

		if (i < first) {
			/* Up to the first page that cannot be read. */
			if (len != i * STACK_COPY_CHUNK)
				continue;
			from = start + i * STACK_COPY_CHUNK;
			if (from >= end) {
				out->limited = 1;
				break;
			}
			/* Within one page: a shorter read faults where the whole one would. */
			n = end - from;
			if (n > STACK_COPY_CHUNK)
				n = STACK_COPY_CHUNK;
		} else {
			from = other + (i - first) * STACK_COPY_CHUNK;
		}
		if (other_task ? bpf_copy_from_user_task(to, n, (void *)from, task, 0)
			       : bpf_probe_read_user(to, n, (void *)from)) {
			if (i < first)
				continue;
			break;
		}
		if (i < first)
			len += n;
		else
			other_len += n;
		if (n < STACK_COPY_CHUNK) {
			out->limited = 1;
			break;
		}
	}
	out->len = len;
	if (other) {
		out->other_off = first * STACK_COPY_CHUNK;
		out->other_start = other;
		out->other_len = other_len;
	}
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
