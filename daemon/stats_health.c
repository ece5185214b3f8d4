// SPDX-License-Identifier: MIT
/*
 * stats_health.c - the thresholds (stats.h) and /performance/health: every
 * check against its max, the worst one decides the HTTP status.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "daemon.h"
#include "goprofiles.h"
#include "stats_internal.h"

/* --- thresholds -------------------------------------------------------------- */

enum health_status health__against_max(double value, double max)
{
	if (value > max)
		return HEALTH_CRITICAL;
	if (value > max * HEALTH_WARN_FRACTION)
		return HEALTH_WARNING;
	return HEALTH_OK;
}

enum health_status health__against(double value, double warn, double critical)
{
	if (value > critical)
		return HEALTH_CRITICAL;
	if (value > warn)
		return HEALTH_WARNING;
	return HEALTH_OK;
}

enum health_status health__worst(enum health_status a, enum health_status b)
{
	if (a == HEALTH_UNKNOWN)
		a = HEALTH_OK;
	if (b == HEALTH_UNKNOWN)
		b = HEALTH_OK;
	return a > b ? a : b;
}

const char *health__name(enum health_status s)
{
	static const char *const names[] = { "ok", "warning", "critical", "unknown" };

	return names[s];
}

int health__http_code(enum health_status s)
{
	switch (s) {
	case HEALTH_WARNING: return 202;
	case HEALTH_CRITICAL: return 503;
	default: return 200;
	}
}


/* --- health ------------------------------------------------------------------ */

static enum health_status add_check(cJSON *list, const char *name, double value, bool have,
				    double threshold, double warn_above, const char *unit,
				    enum health_status st, const char *reason)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", name);
	if (have)
		cJSON_AddNumberToObject(o, "value", value);
	else
		cJSON_AddNullToObject(o, "value");
	cJSON_AddNumberToObject(o, "threshold", threshold);
	cJSON_AddNumberToObject(o, "warning_above", warn_above);
	if (unit)
		cJSON_AddStringToObject(o, "unit", unit);
	cJSON_AddStringToObject(o, "status", health__name(st));
	if (reason)
		cJSON_AddStringToObject(o, "reason", reason);
	cJSON_AddItemToArray(list, o);
	return st;
}

/* goroutines (health.max_goroutines) and gc_pause (health.pause_*_ms) of a Go target. */
static enum health_status add_go_checks(struct stats *s, cJSON *list, const char *why)
{
	const struct settings *cfg = s->d->settings;
	enum health_status worst = HEALTH_OK, st;
	char whygo[256] = "";
	struct go_target_stats *g = why ? NULL : stats_read_go(s, whygo, sizeof(whygo));
	double pause_ms;

	if (!g && !why && !whygo[0])
		return HEALTH_OK; /* not Go */
	if (!why && !g)
		why = whygo;
	st = g && g->goroutines >= 0
		     ? health__against_max(g->goroutines, cfg->health_max_goroutines)
		     : HEALTH_UNKNOWN;
	worst = health__worst(worst, add_check(list, "goroutines", g ? g->goroutines : 0,
					       g && g->goroutines >= 0, cfg->health_max_goroutines,
					       cfg->health_max_goroutines * HEALTH_WARN_FRACTION,
					       NULL, st, g ? NULL : why));
	pause_ms = g && g->have_gc ? stats_go_last_pause(&g->gc) / 1e6 : 0;
	st = g && g->have_gc ? health__against(pause_ms, cfg->health_pause_warn_ms,
					       cfg->health_pause_critical_ms)
			     : HEALTH_UNKNOWN;
	worst = health__worst(worst, add_check(list, "gc_pause", pause_ms, g && g->have_gc,
					       cfg->health_pause_critical_ms,
					       cfg->health_pause_warn_ms, "milliseconds", st,
					       g && g->have_gc ? NULL
							       : why ? why : "GC statistics not found"));
	free(g);
	return worst;
}

cJSON *stats__health(struct stats *s, int *code)
{
	const struct settings *cfg = s->d->settings;
	cJSON *root = cJSON_CreateObject(), *list, *o;
	enum health_status worst = HEALTH_OK, st;
	struct target_numbers t;
	uint64_t runq_ns = 0;
	uint32_t runq_tid = 0;
	int ret = -ENODATA;
	const char *why = NULL;
	int64_t now = stats_mono_ns();

	stats_read_health(s, &t);
	cJSON_AddNumberToObject(root, "timestamp", (double)time(NULL));
	o = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(o, "pid", s->d->pid);
	cJSON_AddBoolToObject(o, "running", t.running);
	list = cJSON_CreateArray();

	/* alive */
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", "target_running");
	cJSON_AddBoolToObject(o, "value", t.running);
	cJSON_AddBoolToObject(o, "threshold", true);
	cJSON_AddStringToObject(o, "status", health__name(t.running ? HEALTH_OK : HEALTH_CRITICAL));
	if (!t.running)
		cJSON_AddStringToObject(o, "reason", stats_not_running_reason);
	cJSON_AddItemToArray(list, o);
	if (!t.running) {
		worst = HEALTH_CRITICAL;
		why = stats_not_running_reason;
	}

	st = t.running ? health__against_max(t.st.num_threads, cfg->health_max_threads)
		       : HEALTH_UNKNOWN;
	worst = health__worst(worst, add_check(list, "threads", t.st.num_threads, t.running,
					       cfg->health_max_threads,
					       cfg->health_max_threads * HEALTH_WARN_FRACTION, NULL,
					       st, why));

	worst = health__worst(worst, add_go_checks(s, list, why));

	st = t.heap >= 0 ? health__against_max(t.heap, cfg->health_max_heap_bytes)
			 : HEALTH_UNKNOWN;
	worst = health__worst(worst, add_check(list, "heap", t.heap, t.heap >= 0,
					       cfg->health_max_heap_bytes,
					       cfg->health_max_heap_bytes * HEALTH_WARN_FRACTION,
					       "bytes", st,
					       t.heap >= 0 ? NULL : why ? why : t.heap_reason));
	/* The heap is read by the census of the target's memory (census.h): its age. */
	o = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
	if (t.heap_age >= 0)
		cJSON_AddNumberToObject(o, "age_seconds", round(t.heap_age * 1000) / 1000);

	/* Scheduling stalls: measured by BPF when a collector provides it. */
	for (size_t i = 1; t.running && i <= s->count; i++) {
		const struct cpu_sample *c = &s->ring[(s->head + RING - i) % RING];

		if (now - c->mono_ns > STALL_WINDOW_SECONDS * 1000000000LL)
			break;
		if (c->runq_max_ns < 0)
			continue;
		ret = 0;
		if ((uint64_t)c->runq_max_ns > runq_ns) {
			runq_ns = c->runq_max_ns;
			runq_tid = c->runq_max_tid;
		}
	}
	st = ret ? HEALTH_UNKNOWN
		 : health__against(runq_ns / 1e6, cfg->health_pause_warn_ms,
				   cfg->health_pause_critical_ms);
	worst = health__worst(worst, add_check(list, "scheduling_stall", runq_ns / 1e6, !ret,
					       cfg->health_pause_critical_ms,
					       cfg->health_pause_warn_ms, "milliseconds", st,
					       ret ? (why ? why : "not measured: no block collector")
						   : NULL));
	o = cJSON_GetArrayItem(list, cJSON_GetArraySize(list) - 1);
	cJSON_AddNumberToObject(o, "window_seconds", STALL_WINDOW_SECONDS);
	if (!ret && runq_tid)
		cJSON_AddNumberToObject(o, "tid", runq_tid);

	if (t.fds >= 0 && t.fd_soft > 0) {
		st = health__against_max(t.fds, t.fd_soft);
		worst = health__worst(worst, add_check(list, "fds", t.fds, true, t.fd_soft,
						       t.fd_soft * HEALTH_WARN_FRACTION, NULL, st,
						       NULL));
	} else {
		add_check(list, "fds", 0, false, t.fd_soft > 0 ? t.fd_soft : 0, 0, NULL,
			  HEALTH_UNKNOWN, why ? why : "no open-files limit or fd table unreadable");
	}

	cJSON_AddStringToObject(root, "status", health__name(worst));
	if (why)
		cJSON_AddStringToObject(root, "reason", why);
	cJSON_AddItemToObject(root, "checks", list);
	*code = health__http_code(worst);
	return root;
}

