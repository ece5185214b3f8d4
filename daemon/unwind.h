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

#include <stdbool.h>
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

/*
 * The user stack at the end of a packed record (pprofd.h, USER_STACK_HEAD):
 * data holds size bytes from its header on.  Fills out (its windows at
 * out->stack as unwinder__user_stack() reads them) and returns 0, or -1
 * when the header and the size do not agree (out is then left unusable).
 */
int user_stack_copy__unpack(struct user_stack_copy *out, const void *data, size_t size);

/*
 * What the last unwinder__user_stack() needed of its copy: *above_sp, the
 * bytes above sp that held the frames it read (past a stack switch, above
 * the sp of the stack it went on on: the copy's last window); *cut, whether
 * the copy ended before the stack did.
 */
void unwinder__last_need(const struct unwinder *u, uint32_t *above_sp, bool *cut);

/*
 * How many bytes above sp a collector's BPF program copies with each record
 * (capture_user_stack_within, bpf/stack.bpf.h), learned from what its stacks
 * needed: the whole copy for the first COPY_BUDGET_ROUND stacks, then the
 * most any of them needed with a margin.  A stack that the limit cut (its
 * copy stopped at the limit and the unwinder ran out of it) doubles the
 * limit for good: the limit never shrinks again, so a deep stack that waits
 * rarely (and weighs much: a 5 s wait) is cut once, not once a round, and a
 * collector cuts at most log2(STACK_COPY_BYTES / COPY_BUDGET_MIN) stacks in
 * its life.  Every byte a record copies is moved to the daemon's CPU: 16 KiB
 * cost a wait's record ~3 us more than 3 KiB on these machines, and the
 * stacks of waits rarely need more than a few KiB.
 */
#define COPY_BUDGET_ROUND 256
#define COPY_BUDGET_MIN 1024

struct copy_budget {
	uint32_t limit; /* bytes above sp; STACK_COPY_BYTES: all of the copy */
	uint32_t most;  /* the most a stack of the first round needed */
	uint32_t seen;  /* stacks of the first round seen; ROUND: learned */
	uint64_t cut;   /* stacks the limit cut short */
};

void copy_budget__init(struct copy_budget *b);

/* After unwinding st with u: true when b->limit changed (tell the BPF side). */
bool copy_budget__update(struct copy_budget *b, const struct unwinder *u,
			 const struct user_stack_copy *st);

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
