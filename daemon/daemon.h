/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - what the parts of the running daemon share: the settings, the
 * event loop, the target and the table of collectors.  Built by main.c.
 */
#ifndef PPROFD_DAEMON_H
#define PPROFD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct collector;
struct event_base;
struct settings;
struct symbolizer;
struct unwinder;

struct daemon {
	const struct settings *settings; /* read-only after start-up */
	struct event_base *base;
	pid_t pid;
	struct symbolizer *sym;
	struct unwinder *uw;
	struct collector **collectors; /* the one table of profile types */
	size_t ncollectors;
	struct timespec started;       /* CLOCK_MONOTONIC */
	bool shutting_down;
	/*
	 * Scheduling stalls, the native counterpart of a GC pause: the longest
	 * time a target thread waited runnable since the previous call, in ns
	 * (resets it; stats.c calls it once a second).  Returns 0, or a
	 * negative errno when not measured.  NULL until it is wired to a
	 * collector measuring runqueue wait (offcpu_collector__take_runq_max);
	 * /performance/health then reports the check as unknown.
	 */
	int (*runq_max_ns)(const struct daemon *d, uint64_t *ns);
};

/* The collector serving /debug/pprof/<name>, or NULL. */
struct collector *daemon__collector(const struct daemon *d, const char *name);

#endif /* PPROFD_DAEMON_H */
