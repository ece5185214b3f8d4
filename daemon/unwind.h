/* SPDX-License-Identifier: MIT */
/*
 * unwind.h - user stacks from what BPF copied: registers and the top of the
 * stack (struct user_stack_copy), unwound with the DWARF call frame
 * information of the code (.eh_frame, else .debug_frame), so that stacks
 * are complete through code built without frame pointers.
 *
 * Each frame's rule (where the CFA is, where the return address and the
 * caller's frame pointer are saved) is looked up once per address with
 * libdw and cached.  Go code without CFI (a stripped Go binary) is stepped by
 * the SP deltas of its pclntab, and its stacks end where Go's do
 * (runtime.goexit, runtime.mstart).  At a switch to the system stack the
 * walk goes on in the context the runtime saved there, recorded with the
 * copy (struct user_stack_copy: the goroutine's m.curg.sched, a vDSO call's
 * caller), in the copy's second window; without one the stack ends there.
 * Other code without CFI (JIT code, some hand-written assembly) is walked
 * by its frame pointer.
 *
 * A stack that cannot be followed to its outermost frame (copy too small,
 * depth limit, no rule and no frame pointer) ends in STACK_PC_TRUNCATED.
 */
#ifndef PPROFD_UNWIND_H
#define PPROFD_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "pprofd.h"

struct symbolizer;
struct unwinder;

/* The symbolizer is borrowed and must outlive the unwinder.  NULL on failure. */
struct unwinder *unwinder__new(pid_t pid, struct symbolizer *sym);
void unwinder__free(struct unwinder *u);

/*
 * Writes at most max frame addresses into out (leaf PC first, callers as
 * return address - 1, STACK_PC_TRUNCATED last when cut) and returns how
 * many.  max must be at least 2.  fp_pcs (may be NULL) is the kernel's
 * frame-pointer walk of the same stack (IP first, then return addresses):
 * where the copy ends inside a frame larger than it, the stack is finished
 * from there.
 */
size_t unwinder__user_stack(struct unwinder *u, const struct user_stack_copy *st,
			    const __u64 *fp_pcs, size_t fp_depth, uint64_t *out, size_t max);

/* Counters, for the daemon's stats. */
struct unwind_stats {
	uint64_t stacks;          /* user stacks unwound */
	uint64_t complete;        /* reached the outermost frame */
	uint64_t truncated_copy;  /* ran out of copied stack (STACK_COPY_BYTES) */
	uint64_t truncated_depth; /* more than the frames asked for */
	uint64_t truncated_lost;  /* no rule and no usable frame pointer, or a bad step */
	uint64_t fp_steps;        /* frames walked by frame pointer (no CFI) */
	uint64_t fp_finished;     /* stacks finished from the kernel's frame-pointer walk */
	uint64_t rules;           /* rules looked up (cache misses) */
	uint64_t runtime_rules;   /* of them, from a runtime's own tables (Go's pclntab) */
	uint64_t runtime_switches; /* stacks ended at a runtime's stack switch (Go's
				    * systemstack, mcall, morestack) with no saved
				    * context to follow: complete on this stack (Go's
				    * scheduler on g0 with no goroutine, or a target
				    * whose switches are not followed) */
	uint64_t switches_followed; /* stack switches crossed to the saved context
				     * (Go: into the goroutine m.curg, or back from
				     * a vDSO call) */
};
void unwinder__stats(const struct unwinder *u, struct unwind_stats *out);

#endif /* PPROFD_UNWIND_H */
