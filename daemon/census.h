/* SPDX-License-Identifier: MIT */
/*
 * census.h - the target's resident memory told apart, off the request path.
 *
 * Which anonymous memory is heap and which is thread stacks takes every
 * mapping (smaps) and every thread's stack pointer (task/TID/syscall): work
 * that grows with the target (10,000 threads: 20,000 mappings, 14 MB of
 * smaps text, 10,000 files).  A census does it on the event loop in steps of
 * at most CENSUS_STEP_MS, so that a request waits for one step at most, and
 * /performance/health, /stats, /memory and /metrics read its last result
 * with its age:
 *
 *   heap    [heap] plus the anonymous private writable mappings that hold no
 *           blocked thread's stack pointer (malloc arenas, large blocks)
 *   stacks  [stack] plus the mappings that hold one
 *
 * A thread's stack does not move: its stack pointer is read once (when the
 * thread is first seen blocked), again on every CENSUS_FULL_EVERY-th census.
 * A new census starts CENSUS_PERIOD_MS after the last (later when one costs
 * more: its steps take at most CENSUS_CPU_PERCENT of a core), and at once
 * when the target changes (a restart under --pidfile / --unit).  When no
 * result has been asked for in CENSUS_IDLE_MS, none runs: the next request
 * is answered with the last one (and its age) and starts one at once.
 */
#ifndef PPROFD_CENSUS_H
#define PPROFD_CENSUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

struct daemon;

#define CENSUS_STEP_MS 2        /* the longest a step keeps the event loop */
#define CENSUS_PERIOD_MS 250    /* between a census and the next, at least */
#define CENSUS_CPU_PERCENT 2    /* of one core, at most, spent on censuses */
#define CENSUS_FULL_EVERY 8     /* every thread's stack pointer read again */
#define CENSUS_START_MS 500     /* the first census, run before serving */
#define CENSUS_IDLE_MS 60000    /* no census when no result was asked for so long */
#define CENSUS_TOP_MAPPINGS 20  /* the largest mappings by RSS, kept */

struct census_result {
	pid_t pid;
	uint64_t starttime; /* of the process measured (clock ticks after boot) */
	bool ok;            /* false: smaps could not be read (why in reason) */
	char reason[96];
	int64_t done_ns;    /* CLOCK_MONOTONIC at its end */
	int64_t wall_ns;    /* from its start to its end */
	int64_t cpu_ns;     /* what its steps cost pprofd */
	unsigned steps;
	uint64_t heap_brk, heap_anon, stacks; /* resident bytes */
	size_t mappings, threads, stack_pointers, pointers_read;
	struct smaps_mapping top[CENSUS_TOP_MAPPINGS]; /* by rss, largest first */
	char top_names[CENSUS_TOP_MAPPINGS][256];      /* top[i].name points here */
	size_t ntop;
};

struct census;

/*
 * Censuses of d's target (d->pid, read at every step) on d's event loop;
 * the first runs now, for up to CENSUS_START_MS.  NULL when out of memory.
 */
struct census *census__new(struct daemon *d);
void census__free(struct census *c);

/*
 * The last census of process pid started at starttime (its /proc/PID/stat
 * field 22; 0: whichever process has that pid), or NULL with *why when there
 * is none yet.  A census starts at once when there is none, or when the
 * last is older than the period and none is due (idle: CENSUS_IDLE_MS).
 * Borrowed: valid until control returns to the event loop.
 */
const struct census_result *census__last(struct census *c, pid_t pid, uint64_t starttime,
					 const char **why);

/* The last census, whatever its target, or NULL: for pprofd's own figures. */
const struct census_result *census__latest(const struct census *c);

/* How many censuses have completed, and the delay before the next one. */
unsigned census__count(const struct census *c);
int64_t census__period_ns(const struct census *c);

#endif /* PPROFD_CENSUS_H */
