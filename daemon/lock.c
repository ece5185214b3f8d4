// SPDX-License-Identifier: MIT
/*
 * lock.c - see lock.h.  Wakes arrive before the waits they end (the waiter
 * runs only after it is woken): their unwound stacks wait in a small ring,
 * indexed by sequence number, for the waits that name them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <linux/types.h>

#include "bpfring.h"
#include "collector.h"
#include "collectors.h"
#include "config.h"
#include "lock.h"
#include "pprofd.h" /* before the skeleton: its rodata has its types */
#include "lock.skel.h"
#include "log.h"
#include "stacks.h"
#include "unwind.h"

/* Wakes kept for their waits: a wait names a wake at most this far back. */
#define WAKE_RING 1024

struct wake {
	uint64_t seq; /* 0: empty */
	uint32_t tid;
	char thread[TASK_COMM_LEN];
	uint32_t npcs;
	uint64_t *pcs;
};

struct lock_collector {
	struct collector c; /* first: container_of by cast */
	struct lock_bpf *skel;
	struct ring_watch ring;
	struct unwinder *uw;
	struct copy_budget budget; /* of the wakers' user stacks */
	struct wake *wakes;
	uint64_t waker_unknown; /* waits whose wake was not seen or is gone */
	uint64_t record_bytes;  /* of the wakes read, packed */
	uint64_t malformed;     /* records that did not unpack (a bug: counted, not read) */
	struct lock_wake wake;  /* the one being read, unpacked */
};

static const struct sample_type lock_sample_types[] = {
	{ "contentions", "count" },
	{ "delay", "nanoseconds" },
};

static void on_wake(struct lock_collector *lc, const struct lock_wake *e)
{
	uint64_t pcs[MAX_USER_FRAMES + 1];
	struct wake *w = &lc->wakes[e->wake_seq % WAKE_RING];
	size_t n = unwinder__user_stack(lc->uw, &e->user, NULL, 0, pcs, MAX_USER_FRAMES + 1);
	uint64_t *copy;

	if (copy_budget__update(&lc->budget, lc->uw, &e->user))
		lc->skel->bss->stack_copy_limit = lc->budget.limit;
	copy = malloc(n * sizeof(*copy));

	if (!copy)
		return;
	memcpy(copy, pcs, n * sizeof(*copy));
	free(w->pcs);
	w->seq = e->wake_seq;
	w->tid = e->tid;
	memcpy(w->thread, e->comm, sizeof(w->thread));
	w->thread[sizeof(w->thread) - 1] = '\0';
	w->npcs = n;
	w->pcs = copy;
}

static void on_waited(struct lock_collector *lc, const struct lock_waited *e)
{
	const struct wake *w = &lc->wakes[e->wake_seq % WAKE_RING];
	int64_t values[2];

	if (!e->wake_seq || w->seq != e->wake_seq) {
		lc->waker_unknown++;
		return;
	}
	values[0] = (int64_t)((e->count_x1000 + 500) / 1000);
	values[1] = (int64_t)e->delay_ns;
	/* Labelled with the thread that held the lock: its stack is the sample. */
	if (stack_table__add(lc->c.stacks, w->pcs, w->npcs, w->tid, w->thread, values))
		pr_warn("mutex: out of memory: contention dropped");
}

/* A wake's record as BPF sends it (packed, pprofd.h) into e: 0, or -1 when malformed. */
static int lock_wake__unpack(struct lock_wake *e, const void *data, size_t size)
{
	const size_t head = offsetof(struct lock_wake, user);

	if (size < head)
		return -1;
	memcpy(e, data, head);
	return user_stack_copy__unpack(&e->user, (const uint8_t *)data + head, size - head);
}

static int on_lock_event(void *ctx, void *data, size_t size)
{
	struct lock_collector *lc = ctx;
	__u32 kind = size >= sizeof(__u32) ? *(const __u32 *)data : 0;

	if (kind == LOCK_WAKE) {
		lc->record_bytes += size;
		if (lock_wake__unpack(&lc->wake, data, size))
			lc->malformed++;
		else
			on_wake(lc, &lc->wake);
	} else if (kind == LOCK_WAITED && size >= sizeof(struct lock_waited))
		on_waited(lc, data);
	return 0;
}

static void lock_drain(struct collector *c)
{
	ring_watch__consume(&((struct lock_collector *)c)->ring);
}

/* The first user: the scheduler programs are attached. */
static int lock_start(struct collector *c, char *err, size_t errlen)
{
	struct lock_bpf *skel = ((struct lock_collector *)c)->skel;

	/* Waits begun in an earlier collection are not this one's. */
	skel->bss->epoch++;
	skel->links.on_switch = bpf_program__attach(skel->progs.on_switch);
	skel->links.on_waking = skel->links.on_switch ? bpf_program__attach(skel->progs.on_waking)
						      : NULL;
	if (!skel->links.on_waking) {
		int ret = -errno;

		snprintf(err, errlen, "attaching the mutex profile's scheduler tracepoints: %s",
			 strerror(errno));
		bpf_link__destroy(skel->links.on_switch);
		skel->links.on_switch = NULL;
		return ret;
	}
	return 0;
}

/* The last user left: nothing runs for the mutex profile any more. */
static void lock_stop(struct collector *c)
{
	struct lock_collector *lc = (struct lock_collector *)c;

	bpf_link__destroy(lc->skel->links.on_waking);
	lc->skel->links.on_waking = NULL;
	bpf_link__destroy(lc->skel->links.on_switch);
	lc->skel->links.on_switch = NULL;
	ring_watch__consume(&lc->ring);
}

static int lock_acquire(struct collector *c, const struct collect_request *req, char *err,
			size_t errlen)
{
	(void)req;
	return collector__acquire_first(c, lock_start, err, errlen);
}

static void lock_release(struct collector *c)
{
	collector__release_last(c, lock_stop);
}

static int64_t lock_period(const struct collector *c)
{
	(void)c;
	return 1;
}

static void lock_stats(const struct collector *c, cJSON *out)
{
	const struct lock_collector *lc = (const struct lock_collector *)c;

	cJSON_AddNumberToObject(out, "contended_waits", bpf_counter__sum(bpf_map__fd(lc->skel->maps.counters), LOCK_COUNTER_WAITS));
	cJSON_AddNumberToObject(out, "contended_wakes", bpf_counter__sum(bpf_map__fd(lc->skel->maps.counters), LOCK_COUNTER_WAKES));
	cJSON_AddNumberToObject(out, "events_lost", bpf_counter__sum(bpf_map__fd(lc->skel->maps.counters), LOCK_COUNTER_LOST));
	cJSON_AddNumberToObject(out, "waker_unknown", lc->waker_unknown);
	cJSON_AddNumberToObject(out, "stack_copy_bytes", lc->budget.limit);
	cJSON_AddNumberToObject(out, "stacks_cut_by_copy_limit", lc->budget.cut);
	cJSON_AddNumberToObject(out, "record_bytes", lc->record_bytes);
	cJSON_AddNumberToObject(out, "records_malformed", lc->malformed);
	cJSON_AddNumberToObject(out, "ring_wakeups", lc->ring.wakeups);
	cJSON_AddBoolToObject(out, "always_on", c->mode == COLLECT_CUMULATIVE);
}

static void lock_free(struct collector *c)
{
	struct lock_collector *lc = (struct lock_collector *)c;

	if (!lc)
		return;
	ring_watch__close(&lc->ring);
	lock_bpf__destroy(lc->skel);
	for (size_t i = 0; lc->wakes && i < WAKE_RING; i++)
		free(lc->wakes[i].pcs);
	free(lc->wakes);
	stack_table__free(c->stacks);
	free(lc);
}

static const struct collector_ops lock_ops = {
	.acquire = lock_acquire,
	.release = lock_release,
	.drain = lock_drain,
	.period = lock_period,
	.stats = lock_stats,
	.free = lock_free,
};

struct collector *lock_collector__new(const struct collector_env *env, int *error, char *err,
				      size_t errlen)
{
	struct lock_collector *lc = calloc(1, sizeof(*lc));
	int ret;

	if (!lc) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	lc->c.name = "mutex";
	lc->c.description = "Stack traces of holders of contended locks: each waiter's delay "
			    "is charged to the stack that released the lock (futex waits).";
	/* On request only, unless the config keeps it on (Go: once the fraction is set). */
	lc->c.mode = env->settings->mutex_always_on ? COLLECT_CUMULATIVE : COLLECT_WINDOW;
	if (lc->c.mode == COLLECT_WINDOW)
		lc->c.comment = "Collected during the request's window only (mutex.always_on is "
				"off); waits begun before it are not counted.";
	lc->c.sample_types = lock_sample_types;
	lc->c.nsample_types = 2;
	lc->c.period_type = (struct sample_type){ "contentions", "count" };
	lc->c.ops = &lock_ops;
	lc->uw = env->uw;
	copy_budget__init(&lc->budget);
	lc->c.stacks = stack_table__new(2);
	lc->wakes = calloc(WAKE_RING, sizeof(*lc->wakes));
	if (!lc->c.stacks || !lc->wakes) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	lc->skel = lock_bpf__open();
	if (!lc->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the lock BPF object: %s", strerror(errno));
		goto fail;
	}
	lc->skel->rodata->target_pid = env->pid;
	if (env->go_switch)
		lc->skel->rodata->go_switch = *env->go_switch;
	lc->skel->rodata->block_rate_ns = env->settings->block_rate_ns;
	ret = lock_bpf__load(lc->skel);
	if (ret) {
		snprintf(err, errlen, "loading the futex programs: %s", strerror(-ret));
		goto fail;
	}
	ret = ring_watch__open(&lc->ring, env->base, bpf_map__fd(lc->skel->maps.lock_events),
			       on_lock_event, lc);
	if (ret) {
		snprintf(err, errlen, "watching the lock event ring buffer: %s", strerror(-ret));
		goto fail;
	}
	if (lc->c.mode == COLLECT_CUMULATIVE) {
		/* From attach: the daemon's hold is never released. */
		ret = lock_acquire(&lc->c, NULL, err, errlen);
		if (ret)
			goto fail;
	}
	return &lc->c;
fail:
	*error = ret;
	lock_free(&lc->c);
	return NULL;
}
