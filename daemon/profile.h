/* SPDX-License-Identifier: MIT */
/*
 * profile.h - a collector's stack table, symbolized, as a pprof profile.
 *
 * The one path from stacks to protobuf: mappings from the symbolizer, one
 * Location per address (inline frames as several Lines), one Sample per
 * stack with a nonzero delta, labels "thread" and "tid" and the stack's own
 * string labels (a Go goroutine's pprof labels).
 */
#ifndef PPROFD_PROFILE_H
#define PPROFD_PROFILE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

struct collector;
struct stack_snapshot;
struct symbolizer;

struct profile_window {
	int64_t time_nanos;     /* start, wall clock */
	int64_t duration_nanos; /* 0 for a cumulative profile */
};

/*
 * Encodes c's stacks (their delta since the snapshot; NULL: cumulative) as
 * gzip'd profile.proto into a malloc'd *out.  Returns 0 or a negative errno.
 */
int profile__encode(const struct collector *c, const struct stack_snapshot *since,
		    struct symbolizer *sym, const struct profile_window *window, uint8_t **out,
		    size_t *len);

/*
 * Go's legacy text (?debug=1) of c's stacks since the snapshot (NULL: all),
 * sorted by value: for count profiles (goroutine, threadcreate)
 * "<name> profile: total N" then "<count> @ <pcs>"; for contention profiles
 * (sample types contentions + delay) "--- contention:" / "--- mutex:" then
 * "<delay ns> <count> @ <pcs>".  Each record is followed by its frames,
 * "#\t0x<pc>\t<function>+0x<off>\t<file>:<line>".  A malloc'd *out.
 */
int profile__text(const struct collector *c, const struct stack_snapshot *since,
		  struct symbolizer *sym, int debug, char **out, size_t *len);

/* Writes the "#\t0x..." frame lines of one stack to f (the text formats). */
struct stack;
void profile__text_frames(FILE *f, const struct stack *s, struct symbolizer *sym);

#endif /* PPROFD_PROFILE_H */
