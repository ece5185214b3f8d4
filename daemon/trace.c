// SPDX-License-Identifier: MIT
/* trace.c - see trace.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/types.h>

#include "bpfring.h"
#include "collector.h"
#include "cpu.h"
#include "daemon.h"
#include "offcpu.h"
#include "pprofd.h"
#include "stacks.h"
#include "symbolize.h"
#include "trace.h"

struct trace_sample {
	uint32_t tid;
	uint32_t npcs;
	uint64_t time_ns;
	uint64_t *pcs;
};

struct trace {
	struct daemon *d;
	struct collector *cpu, *offcpu;
	bool running;
	uint64_t start_ns, end_ns; /* CLOCK_MONOTONIC */
	struct sched_event *events;
	size_t nevents;
	uint64_t dropped_events;
	struct trace_sample *samples;
	size_t nsamples;
	uint64_t dropped_samples;
};

static bool busy; /* one trace at a time: one timeline */

static void on_sched_event(void *ctx, const void *data, size_t size)
{
	struct trace *t = ctx;

	if (size < sizeof(struct sched_event))
		return;
	if (t->nevents == TRACE_MAX_EVENTS) {
		t->dropped_events++;
		return;
	}
	t->events[t->nevents++] = *(const struct sched_event *)data;
}

static void on_cpu_sample(void *ctx, uint32_t tid, uint64_t time_ns, const uint64_t *pcs,
			  size_t npcs)
{
	struct trace *t = ctx;
	struct trace_sample *s;

	if (t->nsamples == TRACE_MAX_SAMPLES) {
		t->dropped_samples++;
		return;
	}
	s = &t->samples[t->nsamples];
	s->pcs = malloc(npcs * sizeof(*pcs));
	if (!s->pcs) {
		t->dropped_samples++;
		return;
	}
	memcpy(s->pcs, pcs, npcs * sizeof(*pcs));
	s->npcs = npcs;
	s->tid = tid;
	s->time_ns = time_ns;
	t->nsamples++;
}

static void trace__stop(struct trace *t)
{
	if (!t->running)
		return;
	t->cpu->ops->drain(t->cpu);
	cpu_collector__set_sample_hook(t->cpu, NULL, NULL);
	t->cpu->ops->release(t->cpu);
	offcpu_collector__timeline(t->offcpu, NULL, NULL); /* consumes what is left */
	t->end_ns = bpf_ktime__now();
	t->running = false;
	busy = false;
}

void trace__free(struct trace *t)
{
	if (!t)
		return;
	trace__stop(t);
	for (size_t i = 0; i < t->nsamples; i++)
		free(t->samples[i].pcs);
	free(t->samples);
	free(t->events);
	free(t);
}

struct trace *trace__start(struct daemon *d, int hz, int *error, char *err, size_t errlen)
{
	struct collect_request req = { .hz = hz };
	struct trace *t;
	int ret;

	if (busy) {
		*error = -EBUSY;
		snprintf(err, errlen, "a trace is being taken: one at a time");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->events = malloc(TRACE_MAX_EVENTS * sizeof(*t->events))) ||
	    !(t->samples = calloc(TRACE_MAX_SAMPLES, sizeof(*t->samples)))) {
		trace__free(t);
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->d = d;
	t->cpu = daemon__collector(d, "profile");
	t->offcpu = daemon__collector(d, "block");
	if (!t->cpu || !t->offcpu || t->offcpu->unavailable) {
		trace__free(t);
		*error = -ENOTSUP;
		snprintf(err, errlen, "tracing needs the CPU and block collectors%s%s",
			 t && t->offcpu && t->offcpu->unavailable ? ": " : "",
			 t && t->offcpu && t->offcpu->unavailable ? t->offcpu->unavailable : "");
		return NULL;
	}
	ret = t->cpu->ops->acquire(t->cpu, &req, err, errlen);
	if (ret) {
		trace__free(t);
		*error = ret;
		return NULL;
	}
	t->start_ns = bpf_ktime__now();
	ret = offcpu_collector__timeline(t->offcpu, on_sched_event, t);
	if (ret) {
		t->cpu->ops->release(t->cpu);
		trace__free(t);
		*error = ret;
		snprintf(err, errlen, "cannot turn the scheduler timeline on: %s", strerror(-ret));
		return NULL;
	}
	cpu_collector__set_sample_hook(t->cpu, on_cpu_sample, t);
	t->running = true;
	busy = true;
	return t;
}

/* A JSON string, escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* Microseconds since the start of the trace, as the format wants them. */
static double us(const struct trace *t, uint64_t ns)
{
	return ns > t->start_ns ? (ns - t->start_ns) / 1000.0 : 0;
}

static const char *off_cpu_reason(uint32_t state)
{
	if (state == 0)
		return "preempted";
	if (state & 0x0001)
		return "sleeping"; /* TASK_INTERRUPTIBLE: a wait it asked for */
	if (state & 0x0002)
		return "uninterruptible"; /* disk I/O, page faults, kernel locks */
	return "stopped";
}

/* Per thread while writing: where its current interval began. */
struct thread_track {
	uint32_t tid;
	uint64_t on_since, off_since;
	uint32_t off_state, cpu;
	char comm[TASK_COMM_LEN];
};

static struct thread_track *track(struct thread_track *tracks, size_t *n, size_t cap,
				  uint32_t tid)
{
	for (size_t i = 0; i < *n; i++)
		if (tracks[i].tid == tid)
			return &tracks[i];
	if (*n == cap)
		return NULL;
	memset(&tracks[*n], 0, sizeof(tracks[*n]));
	tracks[*n].tid = tid;
	return &tracks[(*n)++];
}

static void write_interval(FILE *f, const struct trace *t, pid_t pid, uint32_t tid,
			   const char *name, const char *cat, uint64_t from, uint64_t to,
			   uint32_t cpu, bool *first)
{
	fprintf(f, "%s\n{\"ph\":\"X\",\"pid\":%d,\"tid\":%u,\"ts\":%.3f,\"dur\":%.3f,\"name\":",
		*first ? "" : ",", (int)pid, tid, us(t, from), (to - from) / 1000.0);
	json_string(f, name);
	fprintf(f, ",\"cat\":\"%s\",\"args\":{\"cpu\":%u}}", cat, cpu);
	*first = false;
}

int trace__finish(struct trace *t, char **out, size_t *len)
{
	pid_t pid = t->d->pid;
	size_t ntracks = 0, cap = 4096;
	struct thread_track *tracks = calloc(cap, sizeof(*tracks));
	uint64_t flow = 0;
	bool first = true;
	FILE *f;

	trace__stop(t);
	if (!tracks)
		return -ENOMEM;
	f = open_memstream(out, len);
	if (!f) {
		free(tracks);
		return -ENOMEM;
	}
	fprintf(f, "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[");
	for (size_t i = 0; i < t->nevents; i++) {
		const struct sched_event *e = &t->events[i];
		struct thread_track *tr = track(tracks, &ntracks, cap, e->tid);

		if (!tr)
			continue;
		memcpy(tr->comm, e->comm, sizeof(tr->comm));
		tr->comm[sizeof(tr->comm) - 1] = '\0';
		switch (e->kind) {
		case SCHED_SWITCH_IN:
			if (tr->off_since)
				write_interval(f, t, pid, e->tid, off_cpu_reason(tr->off_state),
					       "off-cpu", tr->off_since, e->time_ns, e->cpu, &first);
			tr->off_since = 0;
			tr->on_since = e->time_ns;
			tr->cpu = e->cpu;
			break;
		case SCHED_SWITCH_OUT:
			/* A thread running when the trace began starts at the beginning. */
			write_interval(f, t, pid, e->tid, "running", "on-cpu",
				       tr->on_since ? tr->on_since : t->start_ns, e->time_ns, e->cpu,
				       &first);
			tr->on_since = 0;
			tr->off_since = e->time_ns;
			tr->off_state = e->state;
			break;
		case SCHED_WAKEUP:
			fprintf(f, "%s\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%u,\"ts\":%.3f,"
				   "\"name\":\"woken\",\"cat\":\"wakeup\",\"args\":{\"waker_tid\":%u}}",
				first ? "" : ",", (int)pid, e->tid, us(t, e->time_ns), e->waker_tid);
			first = false;
			if (e->waker_tid) {
				/* A flow from the waker's track to the wakee's. */
				flow++;
				fprintf(f, ",\n{\"ph\":\"s\",\"id\":%" PRIu64 ",\"pid\":%d,\"tid\":%u,"
					   "\"ts\":%.3f,\"name\":\"wakeup\",\"cat\":\"wakeup\"}",
					flow, (int)pid, e->waker_tid, us(t, e->time_ns));
				fprintf(f, ",\n{\"ph\":\"f\",\"bp\":\"e\",\"id\":%" PRIu64 ",\"pid\":%d,"
					   "\"tid\":%u,\"ts\":%.3f,\"name\":\"wakeup\",\"cat\":\"wakeup\"}",
					flow, (int)pid, e->tid, us(t, e->time_ns));
			}
			break;
		}
	}
	/* Intervals still open at the end. */
	for (size_t i = 0; i < ntracks; i++) {
		struct thread_track *tr = &tracks[i];

		if (tr->on_since)
			write_interval(f, t, pid, tr->tid, "running", "on-cpu", tr->on_since,
				       t->end_ns, tr->cpu, &first);
		else if (tr->off_since)
			write_interval(f, t, pid, tr->tid, off_cpu_reason(tr->off_state), "off-cpu",
				       tr->off_since, t->end_ns, tr->cpu, &first);
	}
	/* CPU samples, with their stacks (innermost first). */
	for (size_t i = 0; i < t->nsamples; i++) {
		const struct trace_sample *s = &t->samples[i];
		bool first_frame = true;
		const char *leaf = NULL;

		fprintf(f, "%s\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":%d,\"tid\":%u,\"ts\":%.3f,"
			   "\"cat\":\"cpu-sample\",\"args\":{\"stack\":[",
			first ? "" : ",", (int)pid, s->tid, us(t, s->time_ns));
		first = false;
		for (uint32_t k = 0; k < s->npcs; k++) {
			struct symbol_location loc;
			const char *name = NULL;
			char hex[32];

			if (s->pcs[k] == STACK_PC_TRUNCATED) {
				name = "[truncated]";
			} else if (!symbolizer__lookup(t->d->sym, s->pcs[k], &loc) && loc.nframes) {
				for (size_t j = 0; j < loc.nframes; j++) {
					if (!leaf)
						leaf = loc.frames[j].function;
					fprintf(f, "%s", first_frame ? "" : ",");
					json_string(f, loc.frames[j].function ? loc.frames[j].function
									      : "?");
					first_frame = false;
				}
				continue;
			} else {
				snprintf(hex, sizeof(hex), "%#" PRIx64, s->pcs[k]);
				name = hex;
			}
			if (!leaf)
				leaf = name == hex ? "?" : name;
			fprintf(f, "%s", first_frame ? "" : ",");
			json_string(f, name);
			first_frame = false;
		}
		fprintf(f, "]},\"name\":");
		json_string(f, leaf ? leaf : "?");
		fputc('}', f);
	}
	/* Thread names. */
	fprintf(f, "%s\n{\"ph\":\"M\",\"pid\":%d,\"name\":\"process_name\",\"args\":{\"name\":"
		   "\"pprofd target %d\"}}",
		first ? "" : ",", (int)pid, (int)pid);
	for (size_t i = 0; i < ntracks; i++) {
		fprintf(f, ",\n{\"ph\":\"M\",\"pid\":%d,\"tid\":%u,\"name\":\"thread_name\","
			   "\"args\":{\"name\":",
			(int)pid, tracks[i].tid);
		json_string(f, tracks[i].comm);
		fprintf(f, "}}");
	}
	fprintf(f, "\n],\"otherData\":{\"producer\":\"pprofd " PPROFD_VERSION "\",\"target_pid\":%d,"
		   "\"duration_ms\":%.3f,\"timeline_events\":%zu,\"cpu_samples\":%zu,"
		   "\"truncated\":%s,\"dropped_timeline_events\":%" PRIu64
		   ",\"dropped_cpu_samples\":%" PRIu64 "}}\n",
		(int)pid, (t->end_ns - t->start_ns) / 1e6, t->nevents, t->nsamples,
		t->dropped_events || t->dropped_samples ? "true" : "false", t->dropped_events,
		t->dropped_samples);
	free(tracks);
	return fclose(f) ? -ENOMEM : 0;
}
