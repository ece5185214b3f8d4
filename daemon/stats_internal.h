/* SPDX-License-Identifier: MIT */
/*
 * stats_internal.h - what the files of the stats module share (not for the
 * rest of the daemon, which includes stats.h):
 *
 *   stats.c         the 1 s CPU sampler; /performance/stats, info, memory, gc
 *   stats_proc.c    the parsers of /proc text and the reading of the target
 *   stats_health.c  the thresholds and /performance/health
 *   stats_prom.c    the Prometheus text of /metrics
 */
#ifndef PPROFD_STATS_INTERNAL_H
#define PPROFD_STATS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stats.h"

struct census;
struct census_result;
struct daemon;
struct event;

#define RING 64 /* > 60 s of 1 s samples */

struct cpu_sample {
	int64_t mono_ns;
	int64_t target_ticks; /* utime + stime; -1 when the target was not there */
	pid_t pid;
	int64_t self_us;
	int64_t runq_max_ns; /* longest runnable wait in the second before; -1: unknown */
	uint32_t runq_max_tid;
};

/* The scheduling-stall check looks at the longest wait over this window. */
#define STALL_WINDOW_SECONDS 10

struct stats {
	struct daemon *d;
	struct event *timer;
	struct cpu_sample ring[RING];
	size_t head, count; /* ring[head - 1] is the newest */
	long tick_hz;
	uint64_t responses[6]; /* by status class: [1] 1xx ... [5] 5xx */
	uint64_t requests;
	unsigned connections, connections_peak; /* HTTP connections open, most at once */
	uint64_t connections_refused;
	struct census *census; /* heap and stacks, off the request path */
	/* Detected once per target: */
	pid_t lang_pid;
	uint64_t lang_start;
	char language[64], runtime[64], allocator[64];
};

/* Numbers of the target; -1: could not be read. */
struct target_numbers {
	bool running;
	struct proc_stat st;
	int64_t rss, vm_size, vm_hwm, anon, file, shmem, swap, vm_data, vm_stk;
	int64_t voluntary_cs, involuntary_cs;
	int64_t heap, heap_brk, heap_anon, stacks; /* from the last census */
	double heap_age;         /* seconds since that census; -1: none */
	const char *heap_reason; /* why the heap is unknown (heap < 0) */
	const struct census_result *census; /* NULL: none (borrowed, census.h) */
	int64_t fds, fd_soft, fd_hard;
	int64_t rchar, wchar, read_bytes, write_bytes, syscr, syscw;
	double uptime, start_time;
};

/* The answer of the endpoints (and reason of checks) when the target is gone. */
extern const char stats_not_running_reason[];

/* CLOCK_MONOTONIC in ns; pprofd's own CPU time (user + system) in µs. */
int64_t stats_mono_ns(void);
int64_t stats_self_cpu_us(void);

/* /proc/PID/stat of pid; false when it cannot be read or parsed. */
bool stats_read_stat(pid_t pid, struct proc_stat *st);

/* The value of key in status-like text (stats__field), -1 when absent. */
int64_t stats_field_or(const char *text, const char *key);

/*
 * The target's numbers from /proc; with_memory: also the heap and the stacks
 * of the last census of its memory (census.h), with its age.
 */
void stats_read_target(struct stats *s, struct target_numbers *t, bool with_memory);

/*
 * What /performance/health needs, and nothing that grows with the target's
 * threads: running, the thread count (status), fds and their limit, the
 * heap of the last census.  Fields it does not read are -1 (st: 0).
 */
void stats_read_health(struct stats *s, struct target_numbers *t);

struct go_gc_stats;
struct go_target_stats;

/* The Go runtime's figures of the target, or NULL (malloc'd; why says why when Go). */
struct go_target_stats *stats_read_go(struct stats *s, char *why, size_t whylen);

/* The latest GC pause of a Go target, ns (0: no GC yet). */
uint64_t stats_go_last_pause(const struct go_gc_stats *gc);

#endif /* PPROFD_STATS_INTERNAL_H */
