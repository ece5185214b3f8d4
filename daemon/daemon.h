/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - what the parts of the running daemon share: the settings, the
 * event loop, the target and the table of collectors.  Built by main.c.
 */
#ifndef PPROFD_DAEMON_H
#define PPROFD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct collector;
struct event;
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
	char *auth_token; /* required as "Authorization: Bearer" when set (auth.h) */
	struct event *drain_timer; /* daemon__start_draining() */
	size_t *warmed;            /* per collector: stacks whose addresses are symbolized */
	size_t prepared;           /* start-up symbol loading: steps done */
};

/* The collector serving /debug/pprof/<name>, or NULL. */
struct collector *daemon__collector(const struct daemon *d, const char *name);

/*
 * Every RING_DRAIN_MS: moves pending events of every collecting collector
 * into its table (BPF does not wake the daemon per record), then symbolizes
 * the addresses of stacks new since the last tick, a bounded number at a
 * time, so that a profile is ready soon after its window closes.  Also,
 * once the loop runs, loads every module's symbols (what the first profile
 * would pay after its window).  Returns 0 or -ENOMEM.
 */
int daemon__start_draining(struct daemon *d);
void daemon__stop_draining(struct daemon *d);

#endif /* PPROFD_DAEMON_H */
