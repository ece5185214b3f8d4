// SPDX-License-Identifier: MIT
/*
 * stats_prom.c - /metrics: the Prometheus text exposition format (0.0.4) of
 * the target (the process_* names of the Prometheus client libraries) and of
 * pprofd itself (pprofd_*).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "collector.h"
#include "daemon.h"
#include "stacks.h"
#include "goprofiles.h"
#include "stats_internal.h"
#include "target.h"

/* --- Prometheus ---------------------------------------------------------------- */

static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_value(FILE *f, const char *name, const char *labels, double v)
{
	if (labels && *labels)
		fprintf(f, "%s{%s} %.17g\n", name, labels, v);
	else
		fprintf(f, "%s %.17g\n", name, v);
}

/* One metric with one sample, when v >= 0. */
static void prom_one(FILE *f, const char *name, const char *type, const char *help, double v)
{
	if (v < 0)
		return;
	prom_head(f, name, type, help);
	prom_value(f, name, NULL, v);
}

/* The go_* series of the Go Prometheus client (its names and meanings). */
static void prom_go(struct stats *s, FILE *f)
{
	char why[256], labels[96];
	struct go_target_stats *g = stats_read_go(s, why, sizeof(why));
	const struct go_gc_stats *gc;

	if (!g)
		return;
	gc = &g->gc;
	prom_one(f, "go_goroutines", "gauge", "Number of goroutines that currently exist.",
		 (double)g->goroutines);
	prom_head(f, "go_info", "gauge", "Information about the Go environment.");
	snprintf(labels, sizeof(labels), "version=\"%s\"", g->version);
	prom_value(f, "go_info", labels, 1);
	if (g->have_gc) {
		/* debug.ReadGCStats' PauseQuantiles over the recent pauses, as the client. */
		uint32_t n = gc->num_gc < 256 ? gc->num_gc : 256;
		uint64_t sorted[256];
		static const char *const q[] = { "0", "0.25", "0.5", "0.75", "1" };

		for (uint32_t i = 0; i < n; i++)
			sorted[i] = gc->pause_ns[(gc->num_gc + 255 - i) % 256];
		for (uint32_t i = 1; i < n; i++) /* insertion sort: at most 256 */
			for (uint32_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
				uint64_t t = sorted[j];

				sorted[j] = sorted[j - 1];
				sorted[j - 1] = t;
			}
		prom_head(f, "go_gc_duration_seconds", "summary",
			  "A summary of the pause duration of garbage collection cycles.");
		for (int k = 0; k < 5; k++) {
			snprintf(labels, sizeof(labels), "quantile=\"%s\"", q[k]);
			prom_value(f, "go_gc_duration_seconds", labels,
				   n ? sorted[(size_t)(n - 1) * k / 4] / 1e9 : 0);
		}
		prom_value(f, "go_gc_duration_seconds_sum", NULL, gc->pause_total_ns / 1e9);
		prom_value(f, "go_gc_duration_seconds_count", NULL, gc->num_gc);
		prom_one(f, "go_memstats_last_gc_time_seconds", "gauge",
			 "Number of seconds since 1970 of last garbage collection.",
			 gc->last_gc_unix_ns / 1e9);
		prom_one(f, "go_memstats_gc_cpu_fraction", "gauge",
			 "The fraction of this program's available CPU time used by the GC since "
			 "the program started.",
			 gc->gc_cpu_fraction);
		if (gc->have_controller) {
			prom_one(f, "go_memstats_heap_sys_bytes", "gauge",
				 "Number of heap bytes obtained from system.",
				 (double)gc->heap_sys_bytes);
			prom_one(f, "go_memstats_next_gc_bytes", "gauge",
				 "Number of heap bytes when next garbage collection will take "
				 "place.",
				 (double)gc->next_gc);
		}
	}
	free(g);
}

char *stats__prometheus(struct stats *s, size_t *len)
{
	struct daemon *d = s->d;
	struct target_numbers t;
	char *out = NULL, *status, labels[128];
	size_t n;
	FILE *f = open_memstream(&out, len);

	if (!f)
		return NULL;
	stats_read_target(s, &t, true);
	prom_one(f, "pprofd_target_up", "gauge", "Whether the target process is running.",
		 t.running);
	prom_one(f, "pprofd_target_pid", "gauge", "Process id of the target.", d->pid);
	if (t.running) {
		prom_one(f, "process_cpu_seconds_total", "counter",
			 "Total user and system CPU time spent in seconds.",
			 (double)(t.st.utime + t.st.stime) / s->tick_hz);
		prom_head(f, "process_cpu_seconds_by_mode_total", "counter",
			  "CPU time spent in seconds, by mode.");
		prom_value(f, "process_cpu_seconds_by_mode_total", "mode=\"user\"",
			   (double)t.st.utime / s->tick_hz);
		prom_value(f, "process_cpu_seconds_by_mode_total", "mode=\"system\"",
			   (double)t.st.stime / s->tick_hz);
		prom_one(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
			 t.rss);
		prom_one(f, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
			 t.vm_size);
		prom_head(f, "process_memory_bytes", "gauge",
			  "Resident memory in bytes by kind (/proc/PID/status and smaps).");
		{
			static const char *const kinds[] = { "anon", "file", "shmem", "swap",
							     "heap", "stacks" };
			int64_t vals[] = { t.anon, t.file, t.shmem, t.swap, t.heap, t.stacks };

			for (size_t i = 0; i < 6; i++) {
				if (vals[i] < 0)
					continue;
				snprintf(labels, sizeof(labels), "kind=\"%s\"", kinds[i]);
				prom_value(f, "process_memory_bytes", labels, vals[i]);
			}
		}
		prom_one(f, "pprofd_memory_census_age_seconds", "gauge",
			 "Age of the heap and stacks kinds of process_memory_bytes (a census of "
			 "the target's mappings and threads, taken off the request path).",
			 t.heap_age);
		prom_one(f, "process_open_fds", "gauge", "Number of open file descriptors.", t.fds);
		prom_one(f, "process_max_fds", "gauge",
			 "Maximum number of open file descriptors (soft limit).", t.fd_soft);
		prom_one(f, "process_start_time_seconds", "gauge",
			 "Start time of the process since unix epoch in seconds.", t.start_time);
		prom_one(f, "process_threads", "gauge", "Number of OS threads in the process.",
			 t.st.num_threads);
		if (t.voluntary_cs >= 0 && t.involuntary_cs >= 0) {
			prom_head(f, "process_context_switches_total", "counter",
				  "Context switches of the process's threads.");
			prom_value(f, "process_context_switches_total", "kind=\"voluntary\"",
				   t.voluntary_cs);
			prom_value(f, "process_context_switches_total", "kind=\"involuntary\"",
				   t.involuntary_cs);
		}
		prom_head(f, "process_page_faults_total", "counter", "Page faults of the process.");
		prom_value(f, "process_page_faults_total", "kind=\"minor\"", t.st.minflt);
		prom_value(f, "process_page_faults_total", "kind=\"major\"", t.st.majflt);
		prom_one(f, "process_io_read_bytes_total", "counter",
			 "Bytes the process caused to be read from storage.", t.read_bytes);
		prom_one(f, "process_io_written_bytes_total", "counter",
			 "Bytes the process caused to be written to storage.", t.write_bytes);
	}

	if (t.running)
		prom_go(s, f);

	prom_one(f, "pprofd_uptime_seconds", "gauge", "Seconds since pprofd started.",
		 (stats_mono_ns() - (d->started.tv_sec * 1000000000LL + d->started.tv_nsec)) / 1e9);
	prom_one(f, "pprofd_cpu_seconds_total", "counter", "CPU time pprofd spent in seconds.",
		 stats_self_cpu_us() / 1e6);
	if (!target__read_proc(getpid(), "status", &status, &n)) {
		prom_one(f, "pprofd_resident_memory_bytes", "gauge",
			 "Resident memory size of pprofd in bytes.", stats_field_or(status, "VmRSS"));
		free(status);
	}
	prom_head(f, "pprofd_build_info", "gauge", "pprofd's version; always 1.");
	snprintf(labels, sizeof(labels), "version=\"%s\"", PPROFD_VERSION);
	prom_value(f, "pprofd_build_info", labels, 1);
	prom_head(f, "pprofd_collector_available", "gauge",
		  "Whether a collector can run on this machine and target.");
	for (size_t i = 0; i < d->ncollectors; i++) {
		snprintf(labels, sizeof(labels), "collector=\"%s\"", d->collectors[i]->name);
		prom_value(f, "pprofd_collector_available", labels, !d->collectors[i]->unavailable);
	}
	prom_head(f, "pprofd_collector_running", "gauge", "Whether a collector is collecting now.");
	for (size_t i = 0; i < d->ncollectors; i++) {
		snprintf(labels, sizeof(labels), "collector=\"%s\"", d->collectors[i]->name);
		prom_value(f, "pprofd_collector_running", labels, d->collectors[i]->users > 0);
	}
	prom_head(f, "pprofd_collector_stacks", "gauge", "Distinct stacks a collector holds.");
	for (size_t i = 0; i < d->ncollectors; i++) {
		snprintf(labels, sizeof(labels), "collector=\"%s\"", d->collectors[i]->name);
		prom_value(f, "pprofd_collector_stacks", labels,
			   stack_table__len(d->collectors[i]->stacks));
	}
	prom_one(f, "pprofd_http_connections", "gauge", "HTTP connections open now.",
		 s->connections);
	prom_one(f, "pprofd_http_connections_refused_total", "counter",
		 "HTTP connections answered 503 for being over limits.max_connections.",
		 s->connections_refused);
	prom_head(f, "pprofd_http_responses_total", "counter",
		  "HTTP responses pprofd sent, by status class.");
	for (int i = 1; i <= 5; i++) {
		snprintf(labels, sizeof(labels), "code=\"%dxx\"", i);
		prom_value(f, "pprofd_http_responses_total", labels, s->responses[i]);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

