// SPDX-License-Identifier: MIT
/*
 * offcpu.c - see offcpu.h.  Waits arrive through a ring buffer as
 * struct block_event; each adds [count, delay] to its stack, kernel frames
 * first, then the user stack unwound from the copy taken at syscall exit.
 */
#include <errno.h>
#include <stddef.h>
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
#include "pprofd.h" /* before the skeleton: its rodata has its types */
#include "offcpu.skel.h"
#include "stacks.h"
#include "sysprobe.h"
#include "unwind.h"

/*
 * For threads without rseq: the system calls a thread blocks in, whose exit
 * takes the user stack of a sampled wait.  Not read/write and their kin:
 * they are the hottest calls of every process on the machine, and a probe on
 * them would cost each of them while the profile is collected (make bench,
 * section rest); a wait in one of them is recorded with its kernel stack and
 * the user PC (waits_without_syscall_exit in /debug/metrics).
 */
static const char *const blocking_syscalls[] = {
	"futex", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select",
	"pselect6", "nanosleep", "clock_nanosleep", "accept", "accept4", "connect",
	"recvfrom", "recvmsg", "recvmmsg", "wait4", "waitid", "msgrcv", "semop", "semtimedop",
	"rt_sigtimedwait", "rt_sigsuspend", "pause", "io_getevents", "io_pgetevents",
	"io_uring_enter", "flock", "fsync", "fdatasync", "sync_file_range", "futex_waitv",
};

struct offcpu_collector {
	struct collector c; /* first: container_of by cast */
	struct offcpu_bpf *skel;
	struct ring_watch ring;
	struct unwinder *uw;
	struct copy_budget budget; /* of the waits' user stacks */
	uint64_t events;
	uint64_t record_bytes;    /* of the records read, packed */
	uint64_t malformed;       /* records that did not unpack (a bug: counted, not read) */
	bool use_tracepoints;     /* syscalls:sys_exit_<name>, else the raw sys_exit */
	bool rseq_only;           /* attaching the exits failed: not tried again */
	const char *probes_how;   /* which, and why (static) */
	struct bpf_link *rseq;      /* attached while collecting */
	struct syscall_links exits; /* while collecting, once a thread without rseq waited */
	/* The timeline, while on. */
	struct ring_watch timeline;
	sched_event_fn timeline_fn;
	void *timeline_ctx;
	struct event_base *base;
	struct block_event record; /* the one being read, unpacked */
};

static const struct sample_type block_sample_types[] = {
	{ "contentions", "count" },
	{ "delay", "nanoseconds" },
};

/* A wait's record as BPF sends it (packed, pprofd.h) into e: 0, or -1 when malformed. */
static int block_event__unpack(struct block_event *e, const void *data, size_t size)
{
	const size_t head = offsetof(struct block_event, kernel_pcs);
	size_t pcs;

	if (size < head)
		return -1;
	memcpy(e, data, head);
	pcs = e->kernel_depth * sizeof(e->kernel_pcs[0]);
	if (e->kernel_depth > MAX_STACK_DEPTH || size - head < pcs)
		return -1;
	memcpy(e->kernel_pcs, (const uint8_t *)data + head, pcs);
	return user_stack_copy__unpack(&e->user, (const uint8_t *)data + head + pcs,
				       size - head - pcs);
}

static int on_block_event(void *ctx, void *data, size_t size)
{
	struct offcpu_collector *oc = ctx;
	struct block_event *e = &oc->record;
	uint64_t pcs[MAX_STACK_DEPTH + MAX_USER_FRAMES + 1];
	int64_t values[2];
	size_t n = 0;

	oc->record_bytes += size;
	if (block_event__unpack(e, data, size)) {
		oc->malformed++;
		return 0;
	}
	for (uint32_t i = 0; i < e->kernel_depth && i < MAX_STACK_DEPTH; i++)
		pcs[n++] = i ? e->kernel_pcs[i] - 1 : e->kernel_pcs[i];
	n += unwinder__user_stack(oc->uw, &e->user, NULL, 0, pcs + n, MAX_USER_FRAMES + 1);
	if (e->in_syscall && copy_budget__update(&oc->budget, oc->uw, &e->user))
		oc->skel->bss->stack_copy_limit = oc->budget.limit;
	/* Counts come in thousandths: a sampled short wait stands for several. */
	values[0] = (int64_t)((e->count_x1000 + 500) / 1000);
	values[1] = (int64_t)e->delay_ns;
	if (stack_table__add(oc->c.stacks, pcs, n, e->tid, e->comm, values))
		pr_warn("block: out of memory: wait dropped");
	oc->events++;
	return 0;
}

/* The exits of the blocking system calls, for threads without rseq. */
static int attach_exits(struct offcpu_collector *oc, char *err, size_t errlen)
{
	int ret;

	if (oc->use_tracepoints)
		ret = syscall_links__attach(&oc->exits, oc->skel->progs.on_syscall_exit,
					    "sys_exit_", blocking_syscalls,
					    sizeof(blocking_syscalls) / sizeof(blocking_syscalls[0]),
					    err, errlen);
	else
		ret = syscall_links__attach_raw(&oc->exits, oc->skel->progs.on_sys_exit, err,
						errlen);
	return ret < 0 ? ret : 0;
}

static void offcpu_drain(struct collector *c)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;
	char err[256];

	/* A thread without rseq (a Go target's, say) waited: its waits need the exits. */
	if (c->users && oc->skel->bss->needs_syscall_exits && !oc->exits.n && !oc->rseq_only) {
		if (attach_exits(oc, err, sizeof(err))) {
			pr_warn("block: %s: waits of threads without rseq keep only their PC", err);
			oc->rseq_only = true;
		} else {
			pr_debug("block: a thread without rseq waited: %zu system call exits probed",
				 oc->exits.n);
		}
	}
	ring_watch__consume(&oc->ring);
}

/* The first user: waits are timed, their user stacks taken on the way back to user mode. */
static int offcpu_start(struct collector *c, char *err, size_t errlen)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;
	int ret;

	oc->rseq = bpf_program__attach(oc->skel->progs.on_rseq_update);
	if (!oc->rseq) {
		/* A kernel without the rseq_update tracepoint: the exits from the start. */
		ret = attach_exits(oc, err, errlen);
		if (ret)
			return ret;
	}
	oc->skel->bss->needs_syscall_exits = 0;
	oc->skel->bss->block_since = bpf_ktime__now();
	return 0;
}

/* The last user left: nothing runs for the block profile any more. */
static void offcpu_stop(struct collector *c)
{
	struct offcpu_collector *oc = (struct offcpu_collector *)c;

	oc->skel->bss->block_since = 0;
	bpf_link__destroy(oc->rseq);
	oc->rseq = NULL;
	syscall_links__detach(&oc->exits);
	ring_watch__consume(&oc->ring);
}

static int offcpu_acquire(struct collector *c, const struct collect_request *req, char *err,
			  size_t errlen)
{
	(void)req;
	return collector__acquire_first(c, offcpu_start, err, errlen);
}

static void offcpu_release(struct collector *c)
{
	collector__release_last(c, offcpu_stop);
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
	cJSON_AddNumberToObject(out, "waits_without_syscall_exit",
				bpf_counter__sum(bpf_map__fd(oc->skel->maps.counters),
						 OFFCPU_COUNTER_NO_SYSCALL_EXIT));
	cJSON_AddBoolToObject(out, "always_on", c->mode == COLLECT_CUMULATIVE);
	cJSON_AddBoolToObject(out, "rseq_probe_attached", oc->rseq != NULL);
	cJSON_AddStringToObject(out, "syscall_probes", oc->probes_how);
	cJSON_AddNumberToObject(out, "syscall_probes_attached", oc->exits.n);
	cJSON_AddBoolToObject(out, "kernel_stacks", oc->skel->rodata->kernel_stacks);
	cJSON_AddNumberToObject(out, "stack_copy_bytes", oc->budget.limit);
	cJSON_AddNumberToObject(out, "stacks_cut_by_copy_limit", oc->budget.cut);
	cJSON_AddNumberToObject(out, "record_bytes", oc->record_bytes);
	cJSON_AddNumberToObject(out, "records_malformed", oc->malformed);
	cJSON_AddNumberToObject(out, "ring_wakeups", oc->ring.wakeups);
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
	bpf_link__destroy(oc->skel->links.on_wakeup);
	oc->skel->links.on_wakeup = NULL;
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
	bpf_link__destroy(oc->rseq);
	syscall_links__detach(&oc->exits);
	ring_watch__close(&oc->ring);
	offcpu_bpf__destroy(oc->skel); /* detaches every program */
	stack_table__free(c->stacks);
	free(oc);
}

static const struct collector_ops offcpu_ops = {
	.acquire = offcpu_acquire,
	.release = offcpu_release,
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
	/* On request only, unless the config keeps it on (Go: once the rate is set). */
	oc->c.mode = env->settings->block_always_on ? COLLECT_CUMULATIVE : COLLECT_WINDOW;
	if (oc->c.mode == COLLECT_WINDOW)
		oc->c.comment = "Collected during the request's window only (block.always_on is "
				"off): the waits that ended in it, each whole.";
	oc->c.sample_types = block_sample_types;
	oc->c.nsample_types = 2;
	oc->c.period_type = (struct sample_type){ "contentions", "count" };
	oc->c.ops = &offcpu_ops;
	oc->uw = env->uw;
	copy_budget__init(&oc->budget);
	oc->c.stacks = stack_table__new(2);
	if (!oc->c.stacks) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	oc->use_tracepoints = sysprobe__tracepoints(env->settings->probes_mount_tracefs,
						    &oc->probes_how);
	oc->skel = offcpu_bpf__open();
	if (!oc->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the off-CPU BPF object: %s", strerror(errno));
		goto fail;
	}
	oc->skel->rodata->target_pid = env->pid;
	if (env->go_switch)
		oc->skel->rodata->go_switch = *env->go_switch;
	oc->skel->rodata->block_rate_ns = env->settings->block_rate_ns;
	oc->skel->rodata->kernel_stacks = env->settings->block_kernel_stacks;
	bpf_program__set_autoload(oc->skel->progs.on_sys_exit, !oc->use_tracepoints);
	bpf_program__set_autoload(oc->skel->progs.on_syscall_exit, oc->use_tracepoints);
	ret = offcpu_bpf__load(oc->skel);
	if (ret) {
		snprintf(err, errlen, "loading the off-CPU BPF programs: %s", strerror(-ret));
		goto fail;
	}
	/* From attach: the health checks' scheduling delay. */
	oc->skel->links.on_switch = bpf_program__attach(oc->skel->progs.on_switch);
	if (!oc->skel->links.on_switch) {
		ret = -errno;
		snprintf(err, errlen, "attaching the sched_switch tracepoint: %s", strerror(errno));
		goto fail;
	}
	oc->skel->bss->attached_ns = bpf_ktime__now();
	ret = ring_watch__open(&oc->ring, env->base, bpf_map__fd(oc->skel->maps.block_events),
			       on_block_event, oc);
	if (ret) {
		snprintf(err, errlen, "watching the block event ring buffer: %s", strerror(-ret));
		goto fail;
	}
	oc->base = env->base;
	if (oc->c.mode == COLLECT_CUMULATIVE) {
		/* From attach: the daemon's hold is never released. */
		ret = offcpu_acquire(&oc->c, NULL, err, errlen);
		if (ret)
			goto fail;
	}
	return &oc->c;
fail:
	*error = ret;
	offcpu_free(&oc->c);
	return NULL;
}

int offcpu_collector__take_runq_max(struct collector *c, uint64_t *ns, uint32_t *tid)
{
	struct offcpu_collector *oc;

	if (c && c->ops != &offcpu_ops && c->inner)
		c = c->inner; /* the block row answered by another collector */
	if (!c || c->ops != &offcpu_ops)
		return -ENOTSUP;
	oc = (struct offcpu_collector *)c;
	*ns = __atomic_exchange_n(&oc->skel->bss->runq_max_ns, 0, __ATOMIC_RELAXED);
	*tid = oc->skel->bss->runq_max_tid;
	return 0;
}

int offcpu_collector__timeline(struct collector *c, sched_event_fn fn, void *ctx)
{
	struct offcpu_collector *oc;
	int ret;

	if (c && c->ops != &offcpu_ops && c->inner)
		c = c->inner; /* the block row answered by another collector */
	if (!c || c->ops != &offcpu_ops)
		return -ENOTSUP;
	oc = (struct offcpu_collector *)c;
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
	/* Wakeups matter only to the timeline: attached while it is on. */
	oc->skel->links.on_wakeup = bpf_program__attach(oc->skel->progs.on_wakeup);
	if (!oc->skel->links.on_wakeup) {
		ret = -errno;
		ring_watch__close(&oc->timeline);
		return ret;
	}
	/* Events still in the ring from an earlier trace belong to nobody. */
	ring_watch__consume(&oc->timeline);
	oc->timeline_fn = fn;
	oc->timeline_ctx = ctx;
	oc->skel->bss->tracing = 1;
	return 0;
}
