/* SPDX-License-Identifier: MIT */
/*
 * collectors.h - the one table of collectors: every profile type the daemon
 * serves is a row of collectors.c.  Opening the table opens each; one that
 * cannot run on this machine or target stays in the table, unavailable, with
 * the reason (shown by /debug/metrics and its endpoint), unless it is
 * essential (the CPU profile), which stops start-up.
 */
#ifndef PPROFD_COLLECTORS_H
#define PPROFD_COLLECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct collector;
struct event_base;
struct go_stack_switch;
struct settings;
struct symbolizer;
struct unwinder;

/* What a collector's constructor gets. */
struct collector_env {
	pid_t pid;
	struct event_base *base;
	struct symbolizer *sym;
	struct unwinder *uw;
	const struct settings *settings;
	/* A Go target's stack switches, for the BPF stack capture (gostack.h);
	 * NULL for any other target.  Valid during the constructor only. */
	const struct go_stack_switch *go_switch;
};

/*
 * A constructor: returns the collector, or NULL with a negative errno in
 * *error and a one-line reason in err.
 */
typedef struct collector *(*collector_new_fn)(const struct collector_env *env, int *error,
					      char *err, size_t errlen);

/*
 * Opens every collector of the table into a malloc'd array.  Returns 0, or
 * a negative errno when an essential one failed (*failed names it, err says
 * why).
 */
int collectors__open(const struct collector_env *env, struct collector ***out, size_t *n,
		     const char **failed, char *err, size_t errlen);

/* Frees what collectors__open() returned; safe on NULL. */
void collectors__free(struct collector **all, size_t n);

#endif /* PPROFD_COLLECTORS_H */
