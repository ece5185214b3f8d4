/* SPDX-License-Identifier: MIT */
/*
 * golabels.h - a Go goroutine's pprof labels (pprof.Do, SetGoroutineLabels),
 * read from outside, for the labels of its CPU samples as Go's own CPU
 * profile has them.
 *
 * A goroutine's g.labels points to the runtime/pprof labelMap of its
 * context.  A labelMap is never changed once a goroutine can see it
 * (WithLabels makes a new one), so the pointer read at the sample names the
 * labels exactly, and the map can be read later, at drain:
 *
 *   - Go 1.9 to 1.23: labelMap is map[string]string: the pointer is to the
 *     map variable, which holds the *hmap (count, B, the bucket arrays; a
 *     bucket is 8 tophash bytes, 8 keys, 8 values, the overflow pointer),
 *     possibly halfway through growing (old buckets not yet evacuated);
 *   - Go 1.24 on: labelMap is struct { LabelSet{ list []label{key, value
 *     string} } }, sorted by key.
 *
 * Everything read is hostile: counts, the bucket shift, chains and string
 * lengths are bounded, pointers checked to be user-space and aligned, the
 * entries found must be the count the map claims, strings hold no NUL.
 */
#ifndef PPROFD_GOLABELS_H
#define PPROFD_GOLABELS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stacks.h"

struct cpu_labeler;

enum go_label_format {
	GO_LABELS_MAP,	 /* map[string]string (Go 1.9 to 1.23) */
	GO_LABELS_SLICE, /* struct { []label } (Go 1.24 on) */
};

/* Bounds on what a label map may claim. */
#define GO_LABELS_MAX_KEY 1024	 /* bytes of one key */
#define GO_LABELS_MAX_VALUE 4096 /* bytes of one value */
#define GO_LABELS_MAX_SHIFT 5	 /* hmap.B: 32 buckets hold STACK_MAX_LABELS many times */
#define GO_LABELS_MAX_BUCKETS 96 /* buckets read, overflow chains and old ones included */

/* One range of the target's memory to read. */
struct go_mem_range {
	uint64_t addr;
	void *buf;
	size_t len;
};

/* Reads every range (all or nothing): 0 or a negative errno. */
typedef int (*go_read_fn)(void *ctx, const struct go_mem_range *r, size_t n);

/* The labels read: out.labels' strings point into text. */
struct go_label_buf {
	struct stack_labels labels;
	char text[STACK_LABELS_TEXT];
};

/*
 * The labels of the labelMap at addr (g.labels; 0: none), sorted by key,
 * into out.  Returns 0, -EFAULT (memory unreadable), -EINVAL (what it
 * holds is no label map), or -E2BIG (beyond the bounds above, or beyond
 * STACK_MAX_LABELS / STACK_LABELS_TEXT).
 */
int go_labels__parse(enum go_label_format format, uint64_t addr, go_read_fn read, void *ctx,
		     struct go_label_buf *out);

/* go_labels__parse() of process pid's memory (process_vm_readv). */
int go_labels__read(pid_t pid, enum go_label_format format, uint64_t addr,
		    struct go_label_buf *out);

/* The format of a Go version ("go1.19.8").  0, or -ENOTSUP (before Go 1.9, or no version). */
int go_labels__format_of(const char *version, enum go_label_format *format);

/*
 * The CPU collector's labeler for the Go target pid (cpu.h): the chain TLS
 * g, g.m, m.curg, curg.labels (the goroutine the thread runs, also when it
 * is on the system stack, as Go's sigprof takes m.curg), its labels read
 * at drain.  0, -ENOENT (no Go target: why ""), or a negative errno with a
 * one-line reason in why.
 */
int go_labels__labeler(pid_t pid, struct cpu_labeler *out, char *why, size_t whylen);

#endif /* PPROFD_GOLABELS_H */
