/* SPDX-License-Identifier: MIT */
/*
 * stats.h - the target (and pprofd itself) as /proc shows them: the JSON of
 * /performance/stats, /performance/health, /performance/info and
 * /performance/memory, and the Prometheus text of /metrics.
 *
 * Every number comes from /proc (or the kernel, or the libraries): what
 * cannot be measured is null with a reason, never invented.  A native
 * process has no garbage collector: its GC fields are null.
 *
 * The parsers of /proc text are separate, pure functions (unit-tested on
 * fixture text); struct stats reads the files and keeps a 1 s ring of CPU
 * samples for the recent CPU percentages.
 *
 * Files: stats.c (sampler, stats, info, memory, gc), stats_proc.c (the
 * parsers and the reading of /proc), stats_health.c (thresholds, health),
 * stats_prom.c (/metrics); what they share is in stats_internal.h.
 */
#ifndef PPROFD_STATS_H
#define PPROFD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct cJSON;
struct daemon;

/* --- parsers of /proc text (pure) --------------------------------------- */

/* /proc/PID/stat: the fields pprofd uses.  Times in clock ticks. */
struct proc_stat {
	int pid;
	char comm[64];
	char state; /* R, S, D, Z, T, t, X, I... */
	int ppid;
	uint64_t minflt, majflt;
	uint64_t utime, stime;
	long num_threads;
	uint64_t starttime; /* ticks after boot */
	uint64_t vsize;     /* bytes */
	int64_t rss_pages;
};

/* Returns 0 or -EINVAL.  comm may hold spaces and parentheses. */
int stats__parse_stat(const char *text, struct proc_stat *out);

/*
 * The value of "Key:  N [kB]" in status, meminfo, smaps_rollup or io text
 * ("key: N"); kB values are returned in bytes.  Returns 0 or -ENOENT.
 */
int stats__field(const char *text, const char *key, uint64_t *out);

/*
 * One limit of /proc/PID/limits ("Max open files"); "unlimited" is
 * UINT64_MAX.  Returns 0 or -ENOENT.
 */
int stats__parse_limit(const char *text, const char *name, uint64_t *soft, uint64_t *hard);

/* /proc/loadavg: the three load averages.  Returns 0 or -EINVAL. */
int stats__parse_loadavg(const char *text, double load[3]);

/* One mapping of /proc/PID/smaps, sizes in bytes. */
struct smaps_mapping {
	uint64_t start, end;
	char perms[5];
	uint64_t inode;
	const char *name; /* path, "[heap]", "[stack]"...; "" for anonymous */
	uint64_t size, rss, pss, anonymous, swap;
	uint64_t shared_clean, shared_dirty, private_clean, private_dirty;
};

/*
 * Calls fn for every mapping of smaps text, in order.  The mapping (and its
 * name) lives only during the call.  Returns how many mappings it saw.
 */
size_t stats__parse_smaps(const char *text, void (*fn)(const struct smaps_mapping *m, void *arg),
			  void *arg);

/*
 * The same, a piece at a time (smaps of a target with thousands of threads
 * is megabytes, read in bounded steps): feed() the text in pieces of any
 * size, end() calls fn for the last mapping and returns how many it saw.
 * Every line costs the same whatever follows it (a line longer than a path
 * and its header keeps its start).  new() returns NULL when out of memory.
 */
struct smaps_parser;
struct smaps_parser *smaps_parser__new(void (*fn)(const struct smaps_mapping *m, void *arg),
				       void *arg);
void smaps_parser__feed(struct smaps_parser *p, const char *text, size_t len);
size_t smaps_parser__end(struct smaps_parser *p);
void smaps_parser__free(struct smaps_parser *p);

/*
 * The stack pointer of a blocked thread from /proc/PID/task/TID/syscall
 * ("NR ARG1..ARG6 SP PC").  Returns 0, or -EAGAIN when the thread is running
 * (no stack pointer to read), -EINVAL on other text.
 */
int stats__parse_syscall_sp(const char *text, uint64_t *sp);

/* --- thresholds ---------------------------------------------------------- */

enum health_status { HEALTH_OK, HEALTH_WARNING, HEALTH_CRITICAL, HEALTH_UNKNOWN };

/* Fraction of a max that is a warning: above 80% of it. */
#define HEALTH_WARN_FRACTION 0.8

/* value over max: critical; above 80% of max: warning; otherwise ok. */
enum health_status health__against_max(double value, double max);

/* value over critical: critical; over warn: warning; otherwise ok. */
enum health_status health__against(double value, double warn, double critical);

/* The worst of two (unknown counts as ok: it cannot fail a check). */
enum health_status health__worst(enum health_status a, enum health_status b);

/* "ok", "warning", "critical", "unknown". */
const char *health__name(enum health_status s);

/* The HTTP status of an overall result: 200, 202, 503. */
int health__http_code(enum health_status s);

/* --- the daemon's view ----------------------------------------------------- */

struct stats;

/*
 * Starts the 1 s CPU sampler of the target and of pprofd on d's event
 * loop.  NULL on failure.
 */
struct stats *stats__new(struct daemon *d);
void stats__free(struct stats *s);

/* Counts one HTTP response of code (for /metrics and /debug/metrics). */
void stats__count_response(struct stats *s, int code);

/* The HTTP connections open now, and those refused (limits.max_connections). */
void stats__set_connections(struct stats *s, unsigned open, uint64_t refused);

/* The JSON documents; each sets *code to the HTTP status to answer. */
struct cJSON *stats__stats(struct stats *s, int *code);
struct cJSON *stats__health(struct stats *s, int *code);
struct cJSON *stats__info(struct stats *s, int *code);
struct cJSON *stats__memory(struct stats *s, int *code);
struct cJSON *stats__gc(struct stats *s, int *code);

/* /metrics: Prometheus text exposition (0.0.4) in a malloc'd buffer. */
char *stats__prometheus(struct stats *s, size_t *len);

#endif /* PPROFD_STATS_H */
