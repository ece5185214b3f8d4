// SPDX-License-Identifier: MIT
/*
 * cpu.c - see cpu.h.
 *
 * One sampler serves every concurrent /debug/pprof/profile request: the
 * perf events run while at least one request is open, samples go into one
 * cumulative stack table, and each request answers with the delta between
 * its start and its end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <cjson/cJSON.h>
#include <bpf/libbpf.h>
#include <event2/event.h>

#include "bpfring.h"
#include "collector.h"
#include "collectors.h"
#include "cpu.h"
#include "pprofd.h" /* before the skeleton: its rodata has its types */
#include "cpu.skel.h"
#include "log.h"
#include "stacks.h"
#include "unwind.h"

#define NSEC_PER_SEC 1000000000LL

/* The perf event of one thread that existed when sampling started. */
struct thread_event {
	pid_t tid;
	int fd;
	struct bpf_link *link;
};

struct cpu_collector {
	struct collector c; /* first: container_of by cast */
	pid_t pid;
	struct cpu_bpf *skel;
	struct ring_watch ring;
	struct unwinder *uw;
	struct thread_event *events;
	size_t nevents, cap_events;
	int hz; /* while running */
	uint64_t samples;
	cpu_sample_fn hook;
	void *hook_ctx;
	struct cpu_labeler labeler; /* .labels NULL: none */
	uint64_t labeled, label_errors;
};

static const struct sample_type cpu_sample_types[] = {
	{ "samples", "count" },
	{ "cpu", "nanoseconds" },
};

static int on_sample(void *ctx, void *data, size_t size)
{
	struct cpu_collector *cc = ctx;
	const struct cpu_sample *s = data;
	uint64_t pcs[MAX_STACK_DEPTH + MAX_USER_FRAMES + 1];
	struct stack_labels labels;
	int64_t values[2];
	size_t n = 0;
	int ret;

	/* Samples still in flight after the last user left belong to nobody. */
	if (size < sizeof(*s) || !cc->hz)
		return 0;
	/* Kernel frames: the leaf exactly, callers at return address - 1. */
	for (uint32_t i = 0; i < s->kernel_depth && i < MAX_STACK_DEPTH; i++)
		pcs[n++] = i ? s->kernel_pcs[i] - 1 : s->kernel_pcs[i];
	n += unwinder__user_stack(cc->uw, &s->user, s->fp_pcs,
				  s->fp_depth < MAX_STACK_DEPTH ? s->fp_depth : MAX_STACK_DEPTH, pcs + n,
				  MAX_USER_FRAMES + 1);

	values[0] = 1;
	values[1] = s->weight_ns;
	if (cc->hook)
		cc->hook(cc->hook_ctx, s->tid, s->time_ns, pcs, n);
	labels.n = 0;
	if (s->context && cc->labeler.labels) {
		if (cc->labeler.labels(cc->labeler.ctx, s->tid, s->context, &labels) < 0) {
			labels.n = 0;
			cc->label_errors++;
		} else if (labels.n) {
			cc->labeled++;
		}
	}
	ret = stack_table__add_labeled(cc->c.stacks, pcs, n, s->tid, s->comm, &labels, values);
	if (ret == -EINVAL) {
		cc->label_errors++;
		ret = stack_table__add(cc->c.stacks, pcs, n, s->tid, s->comm, values);
	}
	if (ret)
		pr_warn("cpu: out of memory: sample dropped");
	cc->samples++;
	return 0;
}

static void stop_perf_events(struct cpu_collector *cc)
{
	/* Closing a thread's event also removes the events it passed on. */
	for (size_t i = 0; i < cc->nevents; i++) {
		bpf_link__destroy(cc->events[i].link);
		close(cc->events[i].fd);
	}
	cc->nevents = 0;
	cc->hz = 0;
}

static bool has_event(const struct cpu_collector *cc, pid_t tid)
{
	for (size_t i = 0; i < cc->nevents; i++)
		if (cc->events[i].tid == tid)
			return true;
	return false;
}

/* The tick of the sampling grid for a rate. */
static uint64_t grid_ns(int hz)
{
	uint64_t period = NSEC_PER_SEC / hz, grid = period * 10 / SAMPLE_GRID_FACTOR_X10;

	return grid < SAMPLE_GRID_MIN_NS ? period : grid;
}

/* Opens the event of one thread; 0, 1 when the thread is gone, or -errno. */
static int open_thread_event(struct cpu_collector *cc, pid_t tid, int hz, char *err,
			     size_t errlen)
{
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.size = sizeof(attr),
		.config = PERF_COUNT_SW_CPU_CLOCK,
		/* Ticks of the thread's CPU time (not a frequency): see
		 * SAMPLE_GRID_FACTOR_X10 for how samples are drawn from them. */
		.sample_period = grid_ns(hz),
		/* Threads this one creates get an event of their own. */
		.inherit = 1,
	};
	struct thread_event *ev;
	int fd, ret;

	if (cc->nevents == cc->cap_events) {
		size_t cap = cc->cap_events ? 2 * cc->cap_events : 64;
		struct thread_event *more = realloc(cc->events, cap * sizeof(*more));

		if (!more) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		cc->events = more;
		cc->cap_events = cap;
	}
	fd = syscall(__NR_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		if (errno == ESRCH)
			return 1;
		ret = -errno;
		snprintf(err, errlen, "perf_event_open(cpu-clock, thread %d): %s", (int)tid,
			 strerror(errno));
		return ret;
	}
	ev = &cc->events[cc->nevents];
	ev->tid = tid;
	ev->fd = fd;
	ev->link = bpf_program__attach_perf_event(cc->skel->progs.sample_cpu, fd);
	if (!ev->link) {
		ret = -errno;
		close(fd);
		snprintf(err, errlen, "attaching the CPU sampler to thread %d: %s", (int)tid,
			 strerror(-ret));
		return ret;
	}
	cc->nevents++;
	return 0;
}

/*
 * Opens an inherited cpu-clock event on every thread of the target.  A
 * thread created while the list is read is caught by the next pass: the
 * events of threads created after their creator's event are inherited.
 */
static int start_perf_events(struct cpu_collector *cc, int hz, char *err, size_t errlen)
{
	char path[64];
	bool added = true;
	int ret = 0;

	/*
	 * Countdowns from [1, max] ticks average (max + 1) / 2 ticks: the
	 * period.  Only the rate of samples depends on this; their weights are
	 * the CPU time ticked, whatever the draw.
	 */
	cc->skel->bss->max_ticks = (2 * 10 * (NSEC_PER_SEC / hz) / grid_ns(hz) + 5) / 10 - 1;
	cc->skel->bss->generation++;
	cc->skel->bss->context_loads = cc->labeler.labels ? cc->labeler.nloads : 0;
	for (uint32_t i = 0; i < CPU_CONTEXT_MAX_LOADS; i++)
		cc->skel->bss->context_offsets[i] = i < cc->labeler.nloads ? cc->labeler.offsets[i] : 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)cc->pid);
	for (int pass = 0; added && pass < 8; pass++) {
		DIR *dir = opendir(path);
		struct dirent *de;

		if (!dir) {
			ret = -errno;
			snprintf(err, errlen, "process %d: cannot list its threads: %s",
				 (int)cc->pid, strerror(errno));
			goto fail;
		}
		added = false;
		while ((de = readdir(dir))) {
			pid_t tid = atoi(de->d_name);

			if (tid <= 0 || has_event(cc, tid))
				continue;
			ret = open_thread_event(cc, tid, hz, err, errlen);
			if (ret < 0) {
				closedir(dir);
				goto fail;
			}
			added |= ret == 0;
		}
		closedir(dir);
	}
	if (!cc->nevents) {
		snprintf(err, errlen, "process %d has no threads left to sample", (int)cc->pid);
		ret = -ESRCH;
		goto fail;
	}
	cc->hz = hz;
	pr_debug("cpu: sampling %zu threads at %d Hz", cc->nevents, hz);
	return 0;
fail:
	stop_perf_events(cc);
	return ret;
}

static int cpu_acquire(struct collector *c, const struct collect_request *req, char *err,
		       size_t errlen)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;
	int ret;

	if (c->users) {
		/*
		 * One sampler serves every request: at the highest rate asked
		 * for.  Each sample carries its period, so requests at a lower
		 * rate get finer samples of the same CPU time.
		 */
		if (req->hz > cc->hz) {
			ring_watch__consume(&cc->ring);
			stop_perf_events(cc);
			ret = start_perf_events(cc, req->hz, err, errlen);
			if (ret)
				return ret;
		}
		c->users++;
		return 0;
	}
	/* Nobody holds a snapshot: start from an empty table. */
	stack_table__clear(c->stacks);
	ret = start_perf_events(cc, req->hz, err, errlen);
	if (ret)
		return ret;
	c->users = 1;
	return 0;
}

static void cpu_drain(struct collector *c)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;

	ring_watch__consume(&cc->ring);
}

static void cpu_release(struct collector *c)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;

	if (!c->users)
		return;
	if (--c->users == 0) {
		stop_perf_events(cc);
		/* What is still in flight belongs to nobody. */
		ring_watch__consume(&cc->ring);
		stack_table__clear(c->stacks);
	}
}

/* The period of the running sampler (samples carry their own). */
static int64_t cpu_period(const struct collector *c)
{
	const struct cpu_collector *cc = (const struct cpu_collector *)c;

	return cc->hz ? NSEC_PER_SEC / cc->hz : 0;
}

static void cpu_free(struct collector *c)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;

	if (!cc)
		return;
	stop_perf_events(cc);
	ring_watch__close(&cc->ring);
	cpu_bpf__destroy(cc->skel);
	if (cc->labeler.free)
		cc->labeler.free(cc->labeler.ctx);
	stack_table__free(c->stacks);
	free(cc->events);
	free(cc);
}

static void cpu_stats(const struct collector *c, cJSON *out)
{
	const struct cpu_collector *cc = (const struct cpu_collector *)c;
	struct cpu_stats st;

	cpu_collector__stats(c, &st);
	cJSON_AddNumberToObject(out, "rate_hz", st.hz);
	cJSON_AddNumberToObject(out, "threads_with_events", cc->nevents);
	cJSON_AddNumberToObject(out, "samples", st.samples);
	cJSON_AddNumberToObject(out, "samples_lost", st.lost);
	cJSON_AddNumberToObject(out, "user_stack_unreadable", st.user_errors);
	if (cc->labeler.labels) {
		cJSON_AddNumberToObject(out, "samples_labeled", cc->labeled);
		cJSON_AddNumberToObject(out, "labels_unreadable", cc->label_errors);
		if (cc->labeler.stats)
			cc->labeler.stats(cc->labeler.ctx, out);
	}
}

static const struct collector_ops cpu_ops = {
	.acquire = cpu_acquire,
	.release = cpu_release,
	.drain = cpu_drain,
	.period = cpu_period,
	.stats = cpu_stats,
	.free = cpu_free,
};

struct collector *cpu_collector__new(const struct collector_env *env, int *error, char *err,
				     size_t errlen)
{
	struct cpu_collector *cc = calloc(1, sizeof(*cc));
	int ret;

	if (!cc) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cc->c.name = "profile";
	cc->c.description =
		"CPU profile. You can specify the duration in the seconds GET parameter, and "
		"the sampling rate in hz. After you get the profile file, use the go tool pprof "
		"command to investigate the profile.";
	cc->c.mode = COLLECT_WINDOW;
	cc->c.sample_types = cpu_sample_types;
	cc->c.nsample_types = 2;
	cc->c.period_type = (struct sample_type){ "cpu", "nanoseconds" };
	cc->c.ops = &cpu_ops;
	cc->pid = env->pid;
	cc->uw = env->uw;

	cc->c.stacks = stack_table__new(2);
	if (!cc->c.stacks) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}

	cc->skel = cpu_bpf__open();
	if (!cc->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the CPU sampler BPF object: %s", strerror(errno));
		goto fail;
	}
	cc->skel->rodata->target_pid = env->pid;
	if (env->go_switch)
		cc->skel->rodata->go_switch = *env->go_switch;
	ret = cpu_bpf__load(cc->skel);
	if (ret) {
		snprintf(err, errlen, "loading the CPU sampler BPF program: %s", strerror(-ret));
		goto fail;
	}
	ret = ring_watch__open(&cc->ring, env->base, bpf_map__fd(cc->skel->maps.samples), on_sample,
			       cc);
	if (ret) {
		snprintf(err, errlen, "watching the CPU sample ring buffer: %s", strerror(-ret));
		goto fail;
	}
	return &cc->c;
fail:
	*error = ret;
	cpu_free(&cc->c);
	return NULL;
}

void cpu_collector__stats(const struct collector *c, struct cpu_stats *out)
{
	const struct cpu_collector *cc = (const struct cpu_collector *)c;
	int fd = bpf_map__fd(cc->skel->maps.counters);

	memset(out, 0, sizeof(*out));
	out->hz = cc->hz;
	out->samples = cc->samples;
	out->lost = bpf_counter__sum(fd, CPU_COUNTER_LOST);
	out->user_errors = bpf_counter__sum(fd, CPU_COUNTER_USER_ERRORS);
}

void cpu_collector__set_sample_hook(struct collector *c, cpu_sample_fn fn, void *ctx)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;

	cc->hook = fn;
	cc->hook_ctx = ctx;
}

void cpu_collector__set_labeler(struct collector *c, const struct cpu_labeler *l)
{
	struct cpu_collector *cc = (struct cpu_collector *)c;

	if (cc->labeler.free)
		cc->labeler.free(cc->labeler.ctx);
	memset(&cc->labeler, 0, sizeof(cc->labeler));
	if (l && l->nloads >= 1 && l->nloads <= CPU_CONTEXT_MAX_LOADS)
		cc->labeler = *l;
	else if (l && l->free)
		l->free(l->ctx);
}
