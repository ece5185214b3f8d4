// SPDX-License-Identifier: MIT
/*
 * offcpu.c - see offcpu.h.  Waits arrive through a ring buffer as
 * struct block_event; each adds [count, delay] to its stack, kernel frames
 * first, then the user stack unwound from the copy taken at syscall exit.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <linux/types.h>

#include "bpfring.h"
#include "collector.h"
#include "collectors.h"
#include "config.h"
#include "log.h"
#include "offcpu.h"
#include "offcpu.skel.h"
#include "pprofd.h"
#include "stacks.h"
#include "unwind.h"

struct offcpu_collector {
	struct collector c; /* first: container_of by cast */
	struct offcpu_bpf *skel;
	struct ring_watch ring;
	struct unwinder *uw;
	uint64_t events;
	/* The timeline, while on. */
	struct ring_watch timeline;
	sched_event_fn timeline_fn;
	void *timeline_ctx;
	struct event_base *base;
};

static const struct sample_type block_sample_types[] = {
	{ "contentions", "count" },
	{ "delay", "nanoseconds" },
};

static int on_block_event(void *ctx, void *data, size_t size)
{
	struct offcpu_collector *oc = ctx;
	const struct block_event *e = data;
	uint64_t pcs[MAX_STACK_DEPTH + MAX_USER_FRAMES + 1];
	int64_t values[2];
	size_t n = 0;

	if (size < sizeof(*e))
		return 0;
	for (uint32_t i = 0; i < e->kernel_depth && i < MAX_STACK_DEPTH; i++)
		pcs[n++] = i ? e->kernel_pcs[i] - 1 : e->kernel_pcs[i];
	n += unwinder__user_stack(oc->uw, &e->user, NULL, 0, pcs + n, MAX_USER_FRAMES + 1);
	/* Counts come in thousandths: a sampled short wait stands for several. */
	values[0] = (int64_t)((e->count_x1000 + 500) / 1000);
	values[1] = (int64_t)e->delay_ns;
	if (stack_table__add(oc->c.stacks, pcs, n, e->tid, e->comm, values))
		pr_warn("block: out of memory: wait dropped");
	oc->events++;
	return 0;
}

static void offcpu_drain(struct collector *c)
{
	ring_watch__consume(&((struct offcpu_collector *)c)->ring);
}

static int64_t offcpu_period(const struct collector *c)
{
	(void)c;
	return 1;
}

static void offcpu_stats(const struct collector *c, cJSON *out)
{
	const struct offcpu_collector *oc = (const struct offcpu_collector *)c;

	cJSON_AddNumberToObject(out, "block_rate_ns", oc->skel->rodata->block_rate_ns);
	cJSON_AddNumberToObject(out, "waits_timed", bpf_counter__sum(bpf_map__fd(oc->skel->maps.counters), OFFCPU_COUNTER_WAITS));
	cJSON_AddNumberToObject(out, "waits_recorded", bpf_counter__sum(bpf_map__fd(oc->skel->maps.counters), OFFCPU_COUNTER_RECORDED));
	cJSON_AddNumberToObject(out, "waits_lost", bpf_counter__sum(bpf_map__fd(oc->skel->maps.counters), OFFCPU_COUNTER_LOST));
	cJSON_AddNumberToObject(out, "timeline_events_lost",
				bpf_counter__sum(bpf_map__fd(oc->skel->maps.counters), OFFCPU_COUNTER_SCHED_LOST));
}

static int on_sched_event(void *ctx, void *data, size_t size)
{
	struct offcpu_collector *oc = ctx;

	if (oc->timeline_fn)
		oc->timeline_fn(oc->timeline_ctx, data, size);
	return 0;
}

static void timeline_off(struct offcpu_collector *oc)
{
	oc->skel->bss->tracing = 0;
	ring_watch__consume(&oc->timeline);
	ring_watch__close(&oc->timeline);
	oc->timeline_fn = NULL;
}

static void offcpu_free(struct collector *c)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;

	if (!oc)
		return;
	if (oc->skel)
		timeline_off(oc);
	ring_watch__close(&oc->ring);
	offcpu_bpf__destroy(oc->skel); /* detaches every program */
	stack_table__free(c->stacks);
	free(oc);
}

static const struct collector_ops offcpu_ops = {
	.acquire = collector__acquire_running,
	.release = collector__release_running,
	.drain = offcpu_drain,
	.period = offcpu_period,
	.stats = offcpu_stats,
	.free = offcpu_free,
};

struct collector *offcpu_collector__new(const struct collector_env *env, int *error, char *err,
					size_t errlen)
{
	struct offcpu_collector *oc = calloc(1, sizeof(*oc));
	int ret;

	if (!oc) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	oc->c.name = "block";
	oc->c.description = "Stack traces that led to blocking: time the target's threads spent "
			    "off the CPU waiting (not preempted), by stack.";
	oc->c.mode = COLLECT_CUMULATIVE;
	oc->c.sample_types = block_sample_types;
	oc->c.nsample_types = 2;
	oc->c.period_type = (struct sample_type){ "contentions", "count" };
	oc->c.ops = &offcpu_ops;
	oc->uw = env->uw;
	oc->c.stacks = stack_table__new(2);
	if (!oc->c.stacks) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	oc->skel = offcpu_bpf__open();
	if (!oc->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the off-CPU BPF object: %s", strerror(errno));
		goto fail;
	}
	oc->skel->rodata->target_pid = env->pid;
	oc->skel->rodata->block_rate_ns = env->settings->block_rate_ns;
	ret = offcpu_bpf__load(oc->skel);
	if (ret) {
		snprintf(err, errlen, "loading the off-CPU BPF programs: %s", strerror(-ret));
		goto fail;
	}
	ret = offcpu_bpf__attach(oc->skel);
	if (ret) {
		snprintf(err, errlen, "attaching the scheduler tracepoints: %s", strerror(-ret));
		goto fail;
	}
	{
		struct timespec now;

		/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
		clock_gettime(CLOCK_MONOTONIC, &now);
		oc->skel->bss->attached_ns = now.tv_sec * 1000000000ULL + now.tv_nsec;
	}
	ret = ring_watch__open(&oc->ring, env->base, bpf_map__fd(oc->skel->maps.block_events),
			       on_block_event, oc);
	if (ret) {
		snprintf(err, errlen, "watching the block event ring buffer: %s", strerror(-ret));
		goto fail;
	}
	oc->c.users = 1; /* from attach */
	oc->base = env->base;
	return &oc->c;
fail:
	*error = ret;
	offcpu_free(&oc->c);
	return NULL;
}

int offcpu_collector__take_runq_max(struct collector *c, uint64_t *ns, uint32_t *tid)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;

	if (!c || c->ops != &offcpu_ops)
		return -ENOTSUP;
	*ns = __atomic_exchange_n(&oc->skel->bss->runq_max_ns, 0, __ATOMIC_RELAXED);
	*tid = oc->skel->bss->runq_max_tid;
	return 0;
}

int offcpu_collector__timeline(struct collector *c, sched_event_fn fn, void *ctx)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;
	int ret;

	if (!c || c->ops != &offcpu_ops)
		return -ENOTSUP;
	if (!fn) {
		timeline_off(oc);
		return 0;
	}
	if (ring_watch__is_open(&oc->timeline))
		return -EBUSY;
	ret = ring_watch__open(&oc->timeline, oc->base, bpf_map__fd(oc->skel->maps.sched_events),
			       on_sched_event, oc);
	if (ret)
		return ret;
	/* Events still in the ring from an earlier trace belong to nobody. */
	ring_watch__consume(&oc->timeline);
	oc->timeline_fn = fn;
	oc->timeline_ctx = ctx;
	oc->skel->bss->tracing = 1;
	return 0;
}
