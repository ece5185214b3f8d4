/* SPDX-License-Identifier: MIT */
/*
 * unwind.h - from what BPF captured of a user stack to the list of frame
 * addresses a stack table wants (leaf PC first, then return address - 1 for
 * every caller).
 *
 * Today: the kernel's frame-pointer walk, completed at the leaf: a leaf that
 * has not pushed its frame yet (at its first instruction, or after
 * `push %rbp` but before `mov %rsp,%rbp`) or has already popped it (at `ret`)
 * hides its caller from a frame-pointer walk; the caller's return address
 * is then at sp[0] or sp[1], which BPF copies with every sample.  A stack
 * copy and DWARF unwinding slot in here.
 */
#ifndef PPROFD_UNWIND_H
#define PPROFD_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/types.h>

struct symbolizer;
struct unwinder;

/* What BPF captured of one user stack. */
struct user_stack {
	const __u64 *pcs; /* kernel's frame-pointer walk: pcs[0] = IP */
	uint32_t depth;
	uint64_t sp;
	const __u64 *stack_top; /* STACK_TOP_WORDS words at sp */
};

/* The symbolizer is borrowed and must outlive the unwinder.  NULL on failure. */
struct unwinder *unwinder__new(pid_t pid, struct symbolizer *sym);
void unwinder__free(struct unwinder *u);

/*
 * Writes at most max frame addresses into out (leaf first, callers as
 * return address - 1) and returns how many.
 */
size_t unwinder__user_stack(struct unwinder *u, const struct user_stack *st, uint64_t *out,
			    size_t max);

/* Counters, for the daemon's stats. */
struct unwind_stats {
	uint64_t leaf_fixups; /* stacks completed from sp[0] / sp[1] */
};
void unwinder__stats(const struct unwinder *u, struct unwind_stats *out);

#endif /* PPROFD_UNWIND_H */
