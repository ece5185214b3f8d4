/* SPDX-License-Identifier: MIT */
/*
 * stacks.h - the stack table: deduplicated stacks, each with its labels and a
 * vector of values (one per sample type), summed as samples come in.
 *
 * Stacks are appended and never removed until stack_table__clear(), so a
 * stack's index is stable: a snapshot is a copy of the value vectors, and a
 * delta profile is "now minus snapshot", index by index.
 *
 * A stack is a list of addresses, leaf first, as Locations want them: the
 * leaf's exact PC, every caller's return address - 1.  Kernel frames (at or
 * above KERNEL_ADDR_MIN) come before user frames.
 */
#ifndef PPROFD_STACKS_H
#define PPROFD_STACKS_H

#include <stddef.h>
#include <stdint.h>

#define THREAD_NAME_LEN 16

/*
 * A pseudo frame that ends a stack that was cut (unwinding could not reach
 * the outermost frame): the profile shows it as "[truncated]".
 */
#define STACK_PC_TRUNCATED 1ULL

struct stack_table;
struct stack_snapshot;

/*
 * String labels of a sample beyond its thread (a Go goroutine's pprof
 * labels): part of the stack's key, so one stack with two label sets is two
 * Samples, as in Go's own CPU profile.
 */
#define STACK_MAX_LABELS 32
#define STACK_LABELS_TEXT 8192 /* bytes of keys and values together, NULs included */

struct stack_label {
	const char *key, *value;
};

struct stack_labels {
	uint32_t n;
	struct stack_label l[STACK_MAX_LABELS]; /* sorted by key, keys distinct */
};

struct stack {
	uint32_t tid;                  /* 0 when the collector has no thread */
	char thread[THREAD_NAME_LEN];  /* thread name, "" when none */
	/* NULL when none; owned by the table, valid as long as the stack */
	const struct stack_labels *labels;
	uint32_t npcs;
	uint64_t pcs[];
};

/* nvalues: values per stack (the profile's sample types).  NULL on failure. */
struct stack_table *stack_table__new(size_t nvalues);
void stack_table__free(struct stack_table *t);

/*
 * Adds values to the stack (pcs, tid, thread), creating it on first use.
 * Returns 0 or -ENOMEM.
 */
int stack_table__add(struct stack_table *t, const uint64_t *pcs, uint32_t npcs, uint32_t tid,
		     const char *thread, const int64_t *values);
/*
 * The same with labels (NULL or n 0: none; sorted by key, as
 * stack_labels__sort() leaves them).  The table keeps its own copy of each
 * distinct set.  Returns 0, -EINVAL (more than STACK_MAX_LABELS or
 * STACK_LABELS_TEXT) or -ENOMEM.
 */
int stack_table__add_labeled(struct stack_table *t, const uint64_t *pcs, uint32_t npcs,
			     uint32_t tid, const char *thread, const struct stack_labels *labels,
			     const int64_t *values);

/* Sorts l by key and drops all but the last of a repeated key. */
void stack_labels__sort(struct stack_labels *l);

size_t stack_table__len(const struct stack_table *t);
size_t stack_table__nvalues(const struct stack_table *t);
/* Borrowed; valid until stack_table__clear() or __free(). */
const struct stack *stack_table__stack(const struct stack_table *t, size_t i);
const int64_t *stack_table__values(const struct stack_table *t, size_t i);

/* Forgets every stack. */
void stack_table__clear(struct stack_table *t);

/*
 * Sets every value to zero and keeps the stacks (indexes stay valid): a
 * snapshot collector recounts the state into the same table each time.
 */
void stack_table__zero(struct stack_table *t);

/* A copy of every value vector now.  NULL on allocation failure. */
struct stack_snapshot *stack_table__snapshot(const struct stack_table *t);
void stack_snapshot__free(struct stack_snapshot *s);

/*
 * Values of stack i now minus in the snapshot (stacks added after the
 * snapshot count from zero), into out[nvalues].  A NULL snapshot means
 * zero: the cumulative values.
 */
void stack_table__delta(const struct stack_table *t, const struct stack_snapshot *since,
			size_t i, int64_t *out);

#endif /* PPROFD_STACKS_H */
