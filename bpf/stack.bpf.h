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
 * contexts saved at the switch into out, and returns the other stack's sp,
 * where the second window starts (0: none needed), with *top, where the
 * copy of the system stack may end.  Four reads on a goroutine's own stack
 * (its g, g.m, m.g0, m.vdsoSP/PC), five more on g0 (m.curg, its sched,
 * g0.sched.sp).
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
	return other;
}

/*
 * Where a window's copy of the page at from starts: the bytes below sp
 * (the window's first) are free stack, which the unwinder never reads, so
 * they are not copied; every byte copied is one more for the ring's store
 * and the daemon's reads (half a page a window, on average).
 */
static __always_inline __u64 chunk_skip(__u64 sp, __u64 page)
{
	return sp > page && sp - page < STACK_COPY_CHUNK ? (sp - page) & ~(__u64)7 : 0;
}

/*
 * The bytes at the start of each window that capture_stack() did not copy
 * (below its sp): a record sent packed (write_packed_stack()) leaves them out.
 */
struct copy_skips {
	__u32 first, other;
};

static __always_inline __u32 capture_stack(struct task_struct *task,
					   struct user_stack_copy *out, const bool other_task,
					   __u32 above_sp, struct copy_skips *skips)
{
	__u64 sp = capture_user_regs(task, out), start = out->start, other = 0, other_sp = 0;
	__u64 top = 0, end, other_end = ~0ULL;
	__u32 len = 0, other_len = 0, first = STACK_COPY_BYTES / STACK_COPY_CHUNK;

	if (skips)
		skips->first = skips->other = 0;
	if (!sp)
		return 0;
	/* A Go target's thread on its system stack: the pages up to the top of
	 * that stack, the rest from the goroutine's (the thread iterator's
	 * tasks are not looked at: their registers are not those of now). */
	if (go_switch.enabled && !other_task) {
		other_sp = go_switch_contexts(task, out, &top);
		other = other_sp & ~(__u64)(STACK_COPY_CHUNK - 1);
		if (other) {
			__u64 need = (top - start + STACK_COPY_CHUNK - 1) / STACK_COPY_CHUNK;

			if (need < STACK_COPY_BYTES / STACK_COPY_CHUNK)
				first = need ? need : 1;
			else
				other = 0; /* no room: the system stack alone */
		}
	}
	/* The limit learned for this collector (copy_budget), for the last
	 * stack: the system stack of two ends at its top, the goroutine's
	 * (other_end) at the limit. */
	end = start + STACK_COPY_BYTES;
	if (other) {
		/* (Records sent whole, skips NULL, keep whole pages.) */
		if (skips)
			end = top;
		if (skips && above_sp)
			other_end = other_sp + above_sp;
	} else if (above_sp && sp + above_sp < end) {
		end = sp + above_sp;
	}
#pragma unroll
	for (int i = 0; i < STACK_COPY_BYTES / STACK_COPY_CHUNK; i++) {
		__u64 from, n = STACK_COPY_CHUNK, skip = 0, size;
		void *to;

		if (i < first) {
			/* Up to the first page that cannot be read. */
			if (len != i * STACK_COPY_CHUNK)
				continue;
			from = start + i * STACK_COPY_CHUNK;
			if (from >= end) {
				if (other)
					continue;
				out->limited = 1;
				break;
			}
			if (i == 0 && skips)
				skip = chunk_skip(sp, from);
			/* Within one page: a shorter read faults where the whole one would. */
			n = end - from;
			if (n > STACK_COPY_CHUNK)
				n = STACK_COPY_CHUNK;
		} else {
			from = other + (i - first) * STACK_COPY_CHUNK;
			if (from >= other_end) {
				out->limited = 1;
				break;
			}
			if (other_end - from < STACK_COPY_CHUNK)
				n = other_end - from;
			/* (The last page's whole: the verifier's bound of to + n.) */
			if (skips && i == first && i < STACK_COPY_BYTES / STACK_COPY_CHUNK - 1)
				skip = chunk_skip(other_sp, from);
		}
		if (skip >= n)
			skip = 0;
		to = out->stack + i * STACK_COPY_CHUNK + skip;
		size = n - skip;
		barrier_var(size); /* the bound below, for the verifier */
		if (size > STACK_COPY_CHUNK)
			break;
		if (other_task ? bpf_copy_from_user_task(to, size, (void *)(from + skip), task, 0)
			       : bpf_probe_read_user(to, size, (void *)(from + skip))) {
			if (i < first)
				continue;
			break;
		}
		if (skips && skip && i < first)
			skips->first = skip;
		else if (skips && skip)
			skips->other = skip;
		if (i < first)
			len += n;
		else
			other_len += n;
		/* The end of what was asked for (the system stack's: on to the other). */
		if (n < STACK_COPY_CHUNK && (!other || i >= first)) {
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
	return capture_stack(task, out, false, 0, NULL);
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
						       __u32 above_sp, struct copy_skips *skips)
{
	return capture_stack(task, out, false, above_sp, skips);
}

/* The bytes of out packed (write_packed_stack()): its header and its windows' copied bytes. */
static __always_inline __u32 packed_stack_size(const struct user_stack_copy *out,
					       const struct copy_skips *skips)
{
	return USER_STACK_HEAD + (out->len - skips->first) +
	       (out->other_len ? out->other_len - skips->other : 0);
}

/*
 * Writes out packed into rec at off (pprofd.h): the header of its windows
 * as they are sent, then their bytes, page by page (constant offsets plus
 * less than a page: bounds the verifier can check, over STACK_COPY_CHUNK
 * bytes that must follow out in its map value).  out's header is rewritten.
 */
static __always_inline void write_packed_stack(struct bpf_dynptr *rec, __u32 off,
					       struct user_stack_copy *out,
					       const struct copy_skips *skips)
{
	__u32 len = out->len, other_off = out->other_off, other_len = out->other_len;
	__u32 at = off + USER_STACK_HEAD;

	out->start += skips->first;
	out->len = len - skips->first;
	if (other_len) {
		out->other_start += skips->other;
		out->other_len = other_len - skips->other;
	}
	out->other_off = out->len;
	bpf_dynptr_write(rec, off, out, USER_STACK_HEAD, 0);
#pragma unroll
	for (int i = 0; i < STACK_COPY_BYTES / STACK_COPY_CHUNK; i++) {
		__u64 lo = i * STACK_COPY_CHUNK, from = lo, to = lo + STACK_COPY_CHUNK, n;

		if (lo < len) {
			if (!i)
				from = skips->first;
			if (to > len)
				to = len;
		} else if (other_len && lo >= other_off && lo < other_off + other_len) {
			if (lo == other_off)
				from = lo + skips->other;
			if (to > other_off + other_len)
				to = other_off + other_len;
		} else {
			continue;
		}
		if (from >= to)
			continue;
		n = to - from;
		from -= lo;
		barrier_var(from);
		barrier_var(n);
		if (from >= STACK_COPY_CHUNK || n > STACK_COPY_CHUNK)
			break;
		bpf_dynptr_write(rec, at, out->stack + lo + from, n, 0);
		at += n;
	}
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
	return capture_stack(task, out, true, 0, NULL);
}

#endif /* PPROFD_STACK_BPF_H */
