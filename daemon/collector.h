/* SPDX-License-Identifier: MIT */
/*
 * collector.h - the interface every profile type implements.
 *
 * A collector gathers samples of one kind (CPU, and later allocations,
 * blocking, locks, threads) into its stack table.  The HTTP index page, the
 * routing of /debug/pprof/<name> and the daemon's own stats are derived from
 * the one table of collectors: adding a profile type is adding a collector.
 */
#ifndef PPROFD_COLLECTOR_H
#define PPROFD_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct stack_table;

struct sample_type {
	const char *type;
	const char *unit;
};

/* How /debug/pprof/<name> is answered. */
enum collector_mode {
	/* Samples only while someone asks: the answer is the delta over a
	 * window of ?seconds= (the CPU profile). */
	COLLECT_WINDOW,
	/* Collects from start; the answer is the cumulative table, or a
	 * delta with ?seconds= (block, mutex, allocs, threadcreate). */
	COLLECT_CUMULATIVE,
	/* The state now, taken on each request (goroutine: every thread's
	 * stack); a delta with ?seconds= compares two. */
	COLLECT_SNAPSHOT,
};

struct symbolizer;
struct stack_snapshot;

/* What one request asks of a collector. */
struct collect_request {
	int hz; /* COLLECT_WINDOW samplers: the sampling rate */
};

struct collector;

struct collector_ops {
	/*
	 * Starts collecting for one more user (the first one starts the
	 * probes).  Returns 0, or a negative errno with a one-line reason in
	 * err (-EBUSY: running with settings that conflict with req).
	 */
	int (*acquire)(struct collector *c, const struct collect_request *req, char *err,
		       size_t errlen);
	/* One user fewer; the last one stops the probes. */
	void (*release)(struct collector *c);
	/*
	 * Brings the stack table up to date now: moves pending events in
	 * (COLLECT_WINDOW, COLLECT_CUMULATIVE) or takes the state afresh
	 * (COLLECT_SNAPSHOT).
	 */
	void (*drain)(struct collector *c);
	/*
	 * ?debug=N text (Go's legacy formats) of the table's delta since the
	 * snapshot (NULL: all) into a malloc'd *out.  NULL: the generic count
	 * format of profile__text().  Returns 0 or a negative errno.
	 */
	int (*text)(const struct collector *c, const struct stack_snapshot *since,
		    struct symbolizer *sym, int debug, char **out, size_t *len);
	/* The period of one sample in period_type units, for the profile. */
	int64_t (*period)(const struct collector *c);
	/* Adds the collector's own counters to a JSON object; may be NULL. */
	void (*stats)(const struct collector *c, struct cJSON *out);
	/* Stops everything and frees the collector. */
	void (*free)(struct collector *c);
};

struct collector {
	const char *name;        /* /debug/pprof/<name> */
	const char *description; /* for the index page */
	enum collector_mode mode;
	const struct sample_type *sample_types;
	size_t nsample_types;
	struct sample_type period_type;
	const char *default_sample_type; /* NULL: consumers show the last type */
	const struct collector_ops *ops;
	struct stack_table *stacks; /* owned by the collector */
	unsigned users;            /* acquire() minus release() */
	const char *unavailable;   /* why it cannot run, NULL when it can */
	const char *comment;       /* the profile's comment, NULL: none */
	/*
	 * The collector this one answers in front of, kept open because its
	 * probes serve other uses (the block row's off-CPU collector: the
	 * trace's timeline, the health's run-queue delay); owned by this one.
	 * NULL: none.
	 */
	struct collector *inner;
};

/*
 * acquire/release of a collector whose probes run only while it has users:
 * the first user's acquire calls start (its error is the acquire's), the
 * last user's release calls stop.  (collectors.c)
 */
int collector__acquire_first(struct collector *c, int (*start)(struct collector *c, char *err,
								 size_t errlen),
			     char *err, size_t errlen);
void collector__release_last(struct collector *c, void (*stop)(struct collector *c));

/*
 * acquire/release of a COLLECT_SNAPSHOT collector: counts the users; the
 * first one after none clears the table (the stacks of threads or
 * goroutines long gone).  (collectors.c)
 */
int collector__acquire_snapshot(struct collector *c, const struct collect_request *req,
				char *err, size_t errlen);
void collector__release_snapshot(struct collector *c);

/*
 * One collector as /performance/stats and /debug/metrics list it: name,
 * available, running, stacks; with details, also why it does not run, its
 * requests and its own figures (ops->stats).  NULL when out of memory.
 * (collectors.c)
 */
struct cJSON *collector__json(const struct collector *c, bool details);

#endif /* PPROFD_COLLECTOR_H */
