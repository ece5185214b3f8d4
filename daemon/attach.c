// SPDX-License-Identifier: MIT
/* attach.c - see attach.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "attach.h"
#include "collectors.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "symbolize.h"
#include "target.h"
#include "unwind.h"

#define WATCH_EVERY_US 500000

struct attach {
	struct daemon *d;
	struct http_server *http;
	struct target_source src;
	struct event *timer;
	unsigned long long start; /* start time (ticks after boot) of the attached process */
	bool gone;                /* said so in the log */
	char last_err[256];
};

/* The start time of pid (field 22 of stat); 0 when it is not running. */
static unsigned long long start_of(pid_t pid)
{
	unsigned long long start = 0;
	char *stat, *p;
	size_t len;

	if (!target__exists(pid) || target__read_proc(pid, "stat", &stat, &len))
		return 0;
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
				"%*d %*d %*d %llu",
			 &start) != 1)
		start = 0;
	free(stat);
	return start;
}

static void drained(void *arg)
{
	(void)arg;
}

/* Opens everything on pid, then swaps it in.  Returns 0 or a negative errno. */
static int reattach(struct attach *a, pid_t pid)
{
	struct daemon *d = a->d;
	struct collector **all = NULL;
	struct collector_env env;
	struct symbolizer *sym;
	struct unwinder *uw;
	const char *failed = "";
	char err[512];
	size_t n = 0;
	int ret;

	sym = symbolizer__new(pid);
	if (!sym)
		return -errno ? -errno : -ENOMEM;
	uw = unwinder__new(pid, sym);
	if (!uw) {
		symbolizer__free(sym);
		return -ENOMEM;
	}
	env = (struct collector_env){ .pid = pid, .base = d->base, .sym = sym, .uw = uw,
				      .settings = d->settings };
	ret = collectors__open(&env, &all, &n, &failed, err, sizeof(err));
	if (ret) {
		pr_warn("re-attaching to process %d: %s profile: %s", (int)pid, failed, err);
		unwinder__free(uw);
		symbolizer__free(sym);
		return ret;
	}
	/* Profiles of the old process are answered with what they have. */
	http_server__drain(a->http, drained, NULL);
	collectors__free(d->collectors, d->ncollectors);
	unwinder__free(d->uw);
	symbolizer__free(d->sym);
	d->collectors = all;
	d->ncollectors = n;
	d->uw = uw;
	d->sym = sym;
	pr_info("re-attached: now profiling process %d (was %d)", (int)pid, (int)d->pid);
	d->pid = pid;
	return 0;
}

static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct attach *a = arg;
	char err[256];
	pid_t pid;
	unsigned long long start;

	(void)fd;
	(void)what;
	if (a->d->shutting_down)
		return;
	if (a->start && start_of(a->d->pid) == a->start)
		return;
	if (!a->gone) {
		pr_warn("target process %d is not running: waiting for %s %s to come back",
			(int)a->d->pid, a->src.pidfile ? "pidfile" : "unit",
			a->src.pidfile ? a->src.pidfile : a->src.unit);
		a->gone = true;
	}
	if (target__resolve(&a->src, &pid, err, sizeof(err))) {
		if (strcmp(err, a->last_err))
			pr_debug("%s", err);
		snprintf(a->last_err, sizeof(a->last_err), "%s", err);
		return;
	}
	start = start_of(pid);
	if (!start || (pid == a->d->pid && start == a->start))
		return;
	if (!reattach(a, pid)) {
		a->start = start;
		a->gone = false;
	}
}

struct attach *attach__new(struct daemon *d, struct http_server *http,
			   const struct target_source *src)
{
	struct attach *a = calloc(1, sizeof(*a));
	const struct timeval every = { .tv_usec = WATCH_EVERY_US };

	if (!a)
		return NULL;
	a->d = d;
	a->http = http;
	a->src = *src;
	a->start = start_of(d->pid);
	a->timer = event_new(d->base, -1, EV_PERSIST, on_watch, a);
	if (!a->timer || event_add(a->timer, &every)) {
		attach__free(a);
		return NULL;
	}
	return a;
}

void attach__free(struct attach *a)
{
	if (!a)
		return;
	if (a->timer)
		event_free(a->timer);
	free(a);
}
