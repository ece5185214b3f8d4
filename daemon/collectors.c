// SPDX-License-Identifier: MIT
/* collectors.c - see collectors.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "collector.h"
#include "collectors.h"
#include "cpu.h"
#include "golabels.h"
#include "goprofiles.h"
#include "goruntime.h"
#include "gostack.h"
#include "lock.h"
#include "log.h"
#include "offcpu.h"
#include "stacks.h"
#include "threads.h"

struct collector_row {
	const char *name;
	const char *description; /* for an unavailable one's index row */
	collector_new_fn open;
	bool essential;
	/*
	 * Records from its open, at the target's pace, into a ring that
	 * nothing drains until the event loop runs: opened after the others
	 * (the heap tracker takes ~300 ms to start, enough to fill a ring
	 * sized for a few drains).
	 */
	bool opened_last;
};

/* The table.  Adding a profile type is adding a row. */
static const struct collector_row rows[] = {
	{ "profile", "CPU profile.", cpu_collector__new, true, false },
	{ "goroutine", "Stack traces of all current goroutines.", goroutine_collector__new, false,
	  false },
	{ "threads", "Stack traces of all current OS threads.", threads_collector__new, false,
	  false },
	{ "threadcreate", "Stack traces that led to the creation of new OS threads.",
	  threadcreate_collector__new, false, false },
	{ "block", "Stack traces that led to blocking.", go_block_collector__new, false, true },
	{ "mutex", "Stack traces of holders of contended locks.", go_mutex_collector__new, false,
	  true },
	{ "heap", "A sampling of memory allocations of live objects.", go_heap_collector__new,
	  false, false },
	{ "allocs", "A sampling of all past memory allocations.", go_allocs_collector__new, false,
	  false },
};

int collector__acquire_first(struct collector *c, int (*start)(struct collector *c, char *err,
								 size_t errlen),
			     char *err, size_t errlen)
{
	int ret;

	if (!c->users) {
		ret = start(c, err, errlen);
		if (ret)
			return ret;
	}
	c->users++;
	return 0;
}

void collector__release_last(struct collector *c, void (*stop)(struct collector *c))
{
	if (c->users && !--c->users)
		stop(c);
}

int collector__acquire_snapshot(struct collector *c, const struct collect_request *req,
				char *err, size_t errlen)
{
	(void)req;
	(void)err;
	(void)errlen;
	/* Nobody holds a snapshot: forget the stacks of those long gone. */
	if (!c->users)
		stack_table__clear(c->stacks);
	c->users++;
	return 0;
}

void collector__release_snapshot(struct collector *c)
{
	if (c->users)
		c->users--;
}

/* What stands in the table for a collector that cannot run. */
struct unavailable_collector {
	struct collector c;
	char reason[256];
};

static int unavailable_acquire(struct collector *c, const struct collect_request *req, char *err,
			       size_t errlen)
{
	(void)req;
	snprintf(err, errlen, "%s profile unavailable: %s", c->name, c->unavailable);
	return -ENOTSUP;
}

static void unavailable_noop(struct collector *c)
{
	(void)c;
}

static int64_t unavailable_period(const struct collector *c)
{
	(void)c;
	return 0;
}

static void unavailable_free(struct collector *c)
{
	stack_table__free(c->stacks);
	free(c);
}

static const struct collector_ops unavailable_ops = {
	.acquire = unavailable_acquire,
	.release = unavailable_noop,
	.drain = unavailable_noop,
	.period = unavailable_period,
	.free = unavailable_free,
};

static struct collector *unavailable__new(const struct collector_row *row, const char *reason)
{
	struct unavailable_collector *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	snprintf(u->reason, sizeof(u->reason), "%s", reason);
	u->c.name = row->name;
	u->c.description = row->description;
	u->c.mode = COLLECT_CUMULATIVE;
	u->c.ops = &unavailable_ops;
	u->c.unavailable = u->reason;
	u->c.stacks = stack_table__new(1);
	if (!u->c.stacks) {
		free(u);
		return NULL;
	}
	return &u->c;
}

/*
 * Labels of the target's own for the CPU profile's samples: a Go target's
 * pprof labels.  Without them the profile has its thread labels only.
 */
static void cpu_labels(struct collector *cpu, const struct collector_env *env)
{
	struct cpu_labeler l;
	char why[256];
	int ret;

	if (cpu->unavailable)
		return;
	ret = go_labels__labeler(env->pid, &l, why, sizeof(why));
	if (!ret)
		cpu_collector__set_labeler(cpu, &l);
	else if (ret != -ENOENT)
		pr_info("cpu: no pprof labels: %s", why);
}

void collectors__free(struct collector **all, size_t n)
{
	if (!all)
		return;
	/* Reverse order of the table: a row may depend on one above (allocs on heap). */
	while (n--)
		if (all[n])
			all[n]->ops->free(all[n]);
	free(all);
}

static int open_all(const struct collector_env *env, struct collector ***out, size_t *n,
		    const char **failed, char *err, size_t errlen)
{
	size_t count = sizeof(rows) / sizeof(rows[0]);
	struct collector **all = calloc(count, sizeof(*all));

	*out = NULL;
	*n = 0;
	if (!all) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t k = 0; k < 2 * count; k++) {
		size_t i = k % count;
		char why[256] = "";
		int error = 0;
		struct timespec t0, t1;

		/* The table in order, then the ones opened last. */
		if (rows[i].opened_last != (k >= count))
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		all[i] = rows[i].open(env, &error, why, sizeof(why));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		pr_debug("%s collector: %s in %ld ms", rows[i].name, all[i] ? "opened" : "failed",
			 (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (all[i])
			continue;
		if (rows[i].essential) {
			*failed = rows[i].name;
			snprintf(err, errlen, "%s", why);
			collectors__free(all, count);
			return error ? error : -EINVAL;
		}
		pr_warn("%s profile unavailable: %s", rows[i].name, why);
		all[i] = unavailable__new(&rows[i], why);
		if (!all[i]) {
			snprintf(err, errlen, "out of memory");
			collectors__free(all, count);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < count; i++)
		if (!strcmp(all[i]->name, "profile"))
			cpu_labels(all[i], env);
	*out = all;
	*n = count;
	return 0;
}

int collectors__open(const struct collector_env *env, struct collector ***out, size_t *n,
		     const char **failed, char *err, size_t errlen)
{
	struct collector_env e = *env;
	struct go_stack_switch gs;
	char why[256];
	/* Held while the collectors open: the Go ones share it. */
	struct go_runtime *rt = go_runtime__get(env->pid, why, sizeof(why));
	int ret;

	/* A Go target: stacks followed across the runtime's switches (gostack.h). */
	if (rt && !go_stack_switch__config(rt, env->pid, &gs)) {
		e.go_switch = &gs;
		pr_debug("go: stack switches followed (g at fs%+d)", gs.tls_g);
	}
	ret = open_all(&e, out, n, failed, err, errlen);
	go_runtime__put(rt);
	return ret;
}

struct cJSON *collector__json(const struct collector *c, bool details)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", c->name);
	cJSON_AddBoolToObject(o, "available", !c->unavailable);
	cJSON_AddBoolToObject(o, "running", c->users > 0);
	if (details) {
		if (c->unavailable)
			cJSON_AddStringToObject(o, "reason", c->unavailable);
		else if (!c->users)
			cJSON_AddStringToObject(o, "reason",
						c->mode == COLLECT_WINDOW
							? "runs only while a profile is requested"
							: "not started");
		else
			cJSON_AddNullToObject(o, "reason");
		cJSON_AddNumberToObject(o, "requests", c->users);
	}
	cJSON_AddNumberToObject(o, "stacks", stack_table__len(c->stacks));
	if (details && c->ops->stats)
		c->ops->stats(c, o);
	return o;
}
