// SPDX-License-Identifier: MIT
/*
 * stats.c - see stats.h.
 *
 * Units: bytes, seconds, percent of one CPU (100 = one core busy, as top).
 * A number pprofd cannot read is null, with a "*_reason" next to it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <elfutils/libdwfl.h>
#include <event2/event.h>
#include <gelf.h>
#include <libelf.h>
#include <zlib.h>

#include "collector.h"
#include "config.h"
#include "daemon.h"
#include "offcpu.h"
#include "stacks.h"
#include "goprofiles.h"
#include "stats.h"
#include "symbolize.h"
#include "target.h"

/* --- parsers --------------------------------------------------------------- */

int stats__parse_stat(const char *text, struct proc_stat *out)
{
	const char *open = strchr(text, '('), *close = strrchr(text, ')');
	unsigned long long f[50];
	const char *p;
	size_t n;
	int i;

	memset(out, 0, sizeof(*out));
	if (!open || !close || close < open || sscanf(text, "%d", &out->pid) != 1)
		return -EINVAL;
	n = close - open - 1;
	if (n >= sizeof(out->comm))
		n = sizeof(out->comm) - 1;
	memcpy(out->comm, open + 1, n);
	out->comm[n] = '\0';
	p = close + 1;
	while (*p == ' ')
		p++;
	if (!*p)
		return -EINVAL;
	out->state = *p++;
	/* Fields 4.. (ppid ...): f[0] is field 4 of proc(5). */
	for (i = 0; i < 50; i++) {
		char *end;

		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		f[i] = strtoull(p, &end, 10);
		if (*p == '-') /* a negative field (priority, nice): keep its absolute value */
			f[i] = strtoull(p + 1, &end, 10);
		if (end == p)
			return -EINVAL;
		p = end;
	}
	if (i < 21) /* up to rss (field 24) */
		return -EINVAL;
	out->ppid = (int)f[0];
	out->minflt = f[6];  /* field 10 */
	out->majflt = f[8];  /* 12 */
	out->utime = f[10];  /* 14 */
	out->stime = f[11];  /* 15 */
	out->num_threads = (long)f[16]; /* 20 */
	out->starttime = f[18];         /* 22 */
	out->vsize = f[19];             /* 23 */
	out->rss_pages = (int64_t)f[20]; /* 24 */
	return 0;
}

int stats__field(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, key, klen) && p[klen] == ':') {
			const char *v = p + klen + 1;
			char *end;
			unsigned long long n;

			while (*v == ' ' || *v == '\t')
				v++;
			errno = 0;
			n = strtoull(v, &end, 10);
			if (end == v || errno)
				return -ENOENT;
			while (*end == ' ' || *end == '\t')
				end++;
			if (!strncmp(end, "kB", 2))
				n *= 1024;
			*out = n;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

static uint64_t parse_limit_value(const char *s, const char **end)
{
	while (*s == ' ')
		s++;
	if (!strncmp(s, "unlimited", 9)) {
		*end = s + 9;
		return UINT64_MAX;
	}
	return strtoull(s, (char **)end, 10);
}

int stats__parse_limit(const char *text, const char *name, uint64_t *soft, uint64_t *hard)
{
	size_t nlen = strlen(name);
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, name, nlen) && p[nlen] == ' ') {
			const char *v = p + nlen, *end;

			*soft = parse_limit_value(v, &end);
			if (end == v)
				return -ENOENT;
			v = end;
			*hard = parse_limit_value(v, &end);
			if (end == v)
				return -ENOENT;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

int stats__parse_loadavg(const char *text, double load[3])
{
	return sscanf(text, "%lf %lf %lf", &load[0], &load[1], &load[2]) == 3 ? 0 : -EINVAL;
}

static bool smaps_header(const char *line, struct smaps_mapping *m, char *name, size_t namelen)
{
	unsigned long long start, end, offset, inode;
	char perms[8];
	int pos = 0;
	const char *rest;
	size_t n;

	if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu%n", &start, &end, perms, &offset, &inode,
		   &pos) < 5 || !pos)
		return false;
	/* Not " %n": that would run over the end of a nameless line. */
	while (line[pos] == ' ' || line[pos] == '\t')
		pos++;
	memset(m, 0, sizeof(*m));
	m->start = start;
	m->end = end;
	snprintf(m->perms, sizeof(m->perms), "%.4s", perms);
	m->inode = inode;
	rest = line + pos;
	n = strcspn(rest, "\n");
	if (n >= namelen)
		n = namelen - 1;
	memcpy(name, rest, n);
	name[n] = '\0';
	/* The line may end with spaces when there is no name. */
	while (n && name[n - 1] == ' ')
		name[--n] = '\0';
	m->name = name;
	m->size = end - start;
	return true;
}

size_t stats__parse_smaps(const char *text, void (*fn)(const struct smaps_mapping *m, void *arg),
			  void *arg)
{
	struct smaps_mapping m;
	char name[4096];
	bool open = false;
	size_t count = 0;
	const char *line = text;

	while (line && *line) {
		struct smaps_mapping next;
		char next_name[4096];

		if (isxdigit((unsigned char)*line) &&
		    smaps_header(line, &next, next_name, sizeof(next_name))) {
			if (open) {
				fn(&m, arg);
				count++;
			}
			m = next;
			memcpy(name, next_name, sizeof(name));
			m.name = name;
			open = true;
		} else if (open) {
			static const struct {
				const char *key;
				size_t offset;
			} keys[] = {
				{ "Rss", offsetof(struct smaps_mapping, rss) },
				{ "Pss", offsetof(struct smaps_mapping, pss) },
				{ "Anonymous", offsetof(struct smaps_mapping, anonymous) },
				{ "Swap", offsetof(struct smaps_mapping, swap) },
				{ "Shared_Clean", offsetof(struct smaps_mapping, shared_clean) },
				{ "Shared_Dirty", offsetof(struct smaps_mapping, shared_dirty) },
				{ "Private_Clean", offsetof(struct smaps_mapping, private_clean) },
				{ "Private_Dirty", offsetof(struct smaps_mapping, private_dirty) },
			};
			size_t klen = strcspn(line, ":\n");

			for (size_t i = 0; line[klen] == ':' && i < sizeof(keys) / sizeof(keys[0]);
			     i++) {
				if (strlen(keys[i].key) == klen && !strncmp(line, keys[i].key, klen)) {
					unsigned long long v = strtoull(line + klen + 1, NULL, 10);

					*(uint64_t *)((char *)&m + keys[i].offset) = v * 1024;
					break;
				}
			}
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (open) {
		fn(&m, arg);
		count++;
	}
	return count;
}

int stats__parse_syscall_sp(const char *text, uint64_t *sp)
{
	unsigned long long v[9];
	long nr;

	if (!strncmp(text, "running", 7))
		return -EAGAIN;
	/* "NR 0xA1 0xA2 0xA3 0xA4 0xA5 0xA6 0xSP 0xPC"; "-1 0xSP 0xPC" outside a call. */
	if (sscanf(text, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &nr, &v[0], &v[1], &v[2],
		   &v[3], &v[4], &v[5], &v[6], &v[7]) == 9) {
		*sp = v[6];
		return 0;
	}
	if (sscanf(text, "%ld %llx %llx", &nr, &v[0], &v[1]) == 3 && nr == -1) {
		*sp = v[0];
		return 0;
	}
	return -EINVAL;
}

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

/* --- the sampler --------------------------------------------------------- */

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
	/* Detected once per target: */
	pid_t lang_pid;
	uint64_t lang_start;
	char language[64], runtime[64], allocator[64];
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static bool read_stat(pid_t pid, struct proc_stat *st)
{
	char *text;
	size_t len;
	bool ok;

	if (pid <= 0 || target__read_proc(pid, "stat", &text, &len))
		return false;
	ok = !stats__parse_stat(text, st);
	free(text);
	return ok;
}

static void take_sample(struct stats *s, struct cpu_sample *out)
{
	struct proc_stat st;

	out->mono_ns = mono_ns();
	out->pid = s->d->pid;
	out->target_ticks = read_stat(s->d->pid, &st) && st.state != 'Z' && st.state != 'X'
				    ? (int64_t)(st.utime + st.stime)
				    : -1;
	out->self_us = self_cpu_us();
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stats *s = arg;

	(void)fd;
	(void)what;
	struct cpu_sample *c = &s->ring[s->head];
	uint64_t ns;

	take_sample(s, c);
	/*
	 * Scheduling stalls, the native counterpart of a GC pause: the block
	 * collector's BPF program keeps the longest runnable wait of a target
	 * thread (wakeup or preemption to switch-in); take it each second.
	 */
	c->runq_max_ns = -1;
	if (!offcpu_collector__take_runq_max(daemon__collector(s->d, "block"), &ns,
					     &c->runq_max_tid))
		c->runq_max_ns = ns;
	s->head = (s->head + 1) % RING;
	if (s->count < RING)
		s->count++;
}

struct stats *stats__new(struct daemon *d)
{
	struct stats *s = calloc(1, sizeof(*s));
	const struct timeval second = { .tv_sec = 1 };

	if (!s)
		return NULL;
	s->d = d;
	s->tick_hz = sysconf(_SC_CLK_TCK);
	if (s->tick_hz <= 0)
		s->tick_hz = 100;
	s->timer = event_new(d->base, -1, EV_PERSIST, on_tick, s);
	if (!s->timer || event_add(s->timer, &second)) {
		stats__free(s);
		return NULL;
	}
	on_tick(-1, 0, s);
	return s;
}

void stats__free(struct stats *s)
{
	if (!s)
		return;
	if (s->timer)
		event_free(s->timer);
	free(s);
}

void stats__count_response(struct stats *s, int code)
{
	if (!s)
		return;
	s->requests++;
	if (code >= 100 && code < 600)
		s->responses[code / 100]++;
}

/* The newest sample at least seconds old, or NULL. */
static const struct cpu_sample *sample_ago(const struct stats *s, int64_t now, int seconds)
{
	for (size_t i = 1; i <= s->count; i++) {
		const struct cpu_sample *c = &s->ring[(s->head + RING - i) % RING];

		if (now - c->mono_ns >= seconds * 1000000000LL)
			return c;
	}
	return NULL;
}

/* Adds {"1s": %, "10s": %, "60s": %} of the target (self: of pprofd). */
static void add_cpu_percent(struct stats *s, cJSON *obj, const char *name, bool self)
{
	static const int windows[] = { 1, 10, 60 };
	cJSON *pct = cJSON_AddObjectToObject(obj, name);
	struct cpu_sample now;

	take_sample(s, &now);
	for (size_t i = 0; i < 3; i++) {
		const struct cpu_sample *then = sample_ago(s, now.mono_ns, windows[i]);
		char key[8];
		double wall, busy;

		snprintf(key, sizeof(key), "%ds", windows[i]);
		if (!then || (!self && (then->pid != now.pid || then->target_ticks < 0 ||
					now.target_ticks < then->target_ticks))) {
			cJSON_AddNullToObject(pct, key);
			continue;
		}
		wall = (now.mono_ns - then->mono_ns) / 1e9;
		busy = self ? (now.self_us - then->self_us) / 1e6
			    : (double)(now.target_ticks - then->target_ticks) / s->tick_hz;
		cJSON_AddNumberToObject(pct, key, round(busy / wall * 1000) / 10);
	}
}

/* --- reading the target ---------------------------------------------------- */

/* Numbers of the target; -1: could not be read. */
struct target_numbers {
	bool running;
	struct proc_stat st;
	int64_t rss, vm_size, vm_hwm, anon, file, shmem, swap, vm_data, vm_stk;
	int64_t voluntary_cs, involuntary_cs;
	int64_t heap, heap_brk, heap_anon, stacks;
	int64_t fds, fd_soft, fd_hard;
	int64_t rchar, wchar, read_bytes, write_bytes, syscr, syscw;
	double uptime, start_time;
};

static int64_t field_or(const char *text, const char *key)
{
	uint64_t v;

	return text && !stats__field(text, key, &v) ? (int64_t)v : -1;
}

static int64_t count_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int64_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

struct heap_walk {
	uint64_t *sps;
	size_t nsps;
	int64_t brk, anon, stacks;
};

static void on_mapping(const struct smaps_mapping *m, void *arg)
{
	struct heap_walk *w = arg;
	bool anon_name = !*m->name || !strncmp(m->name, "[anon", 5);

	if (!strcmp(m->name, "[heap]")) {
		w->brk += m->rss;
		return;
	}
	if (!strcmp(m->name, "[stack]")) {
		w->stacks += m->rss;
		return;
	}
	if (!anon_name || m->inode || m->perms[3] != 'p' || m->perms[1] != 'w')
		return;
	for (size_t i = 0; i < w->nsps; i++) {
		if (w->sps[i] >= m->start && w->sps[i] < m->end) {
			w->stacks += m->rss;
			return;
		}
	}
	w->anon += m->rss;
}

/* The stack pointers of the target's blocked threads. */
static size_t thread_sps(pid_t pid, uint64_t **out)
{
	char path[64];
	struct dirent *e;
	size_t n = 0, cap = 0;
	uint64_t *sps = NULL;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	dir = opendir(path);
	if (!dir) {
		*out = NULL;
		return 0;
	}
	while ((e = readdir(dir))) {
		char name[300], *text;
		size_t len;
		uint64_t sp;

		if (e->d_name[0] == '.')
			continue;
		snprintf(name, sizeof(name), "task/%s/syscall", e->d_name);
		if (target__read_proc(pid, name, &text, &len))
			continue;
		if (!stats__parse_syscall_sp(text, &sp)) {
			if (n == cap) {
				uint64_t *more = realloc(sps, (cap ? cap * 2 : 16) * sizeof(*sps));

				if (!more) {
					free(text);
					break;
				}
				sps = more;
				cap = cap ? cap * 2 : 16;
			}
			sps[n++] = sp;
		}
		free(text);
	}
	closedir(dir);
	*out = sps;
	return n;
}

static double read_double_file(const char *path)
{
	char buf[128];
	double v = -1;
	FILE *f = fopen(path, "re");

	if (f) {
		if (fgets(buf, sizeof(buf), f))
			v = strtod(buf, NULL);
		fclose(f);
	}
	return v;
}

static int64_t boot_time(void)
{
	FILE *f = fopen("/proc/stat", "re");
	char line[256];
	long long btime = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

/* with_memory: also walk smaps for the heap and stacks (costlier). */
static void read_target(struct stats *s, struct target_numbers *t, bool with_memory)
{
	pid_t pid = s->d->pid;
	char *status = NULL, *io = NULL, *limits = NULL;
	size_t len;
	uint64_t soft, hard;
	double up;
	int64_t btime;

	memset(t, 0xff, sizeof(*t)); /* every int64_t -1 */
	t->running = read_stat(pid, &t->st) && t->st.state != 'Z' && t->st.state != 'X';
	t->uptime = t->start_time = -1;
	if (!t->running) {
		memset(&t->st, 0, sizeof(t->st));
		return;
	}
	if (!target__read_proc(pid, "status", &status, &len)) {
		t->rss = field_or(status, "VmRSS");
		t->vm_size = field_or(status, "VmSize");
		t->vm_hwm = field_or(status, "VmHWM");
		t->anon = field_or(status, "RssAnon");
		t->file = field_or(status, "RssFile");
		t->shmem = field_or(status, "RssShmem");
		t->swap = field_or(status, "VmSwap");
		t->vm_data = field_or(status, "VmData");
		t->vm_stk = field_or(status, "VmStk");
		t->voluntary_cs = field_or(status, "voluntary_ctxt_switches");
		t->involuntary_cs = field_or(status, "nonvoluntary_ctxt_switches");
		free(status);
	}
	if (!target__read_proc(pid, "io", &io, &len)) {
		t->rchar = field_or(io, "rchar");
		t->wchar = field_or(io, "wchar");
		t->syscr = field_or(io, "syscr");
		t->syscw = field_or(io, "syscw");
		t->read_bytes = field_or(io, "read_bytes");
		t->write_bytes = field_or(io, "write_bytes");
		free(io);
	}
	if (!target__read_proc(pid, "limits", &limits, &len)) {
		if (!stats__parse_limit(limits, "Max open files", &soft, &hard)) {
			t->fd_soft = soft == UINT64_MAX ? -1 : (int64_t)soft;
			t->fd_hard = hard == UINT64_MAX ? -1 : (int64_t)hard;
		}
		free(limits);
	}
	t->fds = count_fds(pid);
	up = read_double_file("/proc/uptime");
	if (up >= 0)
		t->uptime = up - (double)t->st.starttime / s->tick_hz;
	btime = boot_time();
	if (btime >= 0)
		t->start_time = btime + (double)t->st.starttime / s->tick_hz;
	if (with_memory) {
		struct heap_walk w = { 0 };
		char *smaps;

		w.nsps = thread_sps(pid, &w.sps);
		if (!target__read_proc(pid, "smaps", &smaps, &len)) {
			stats__parse_smaps(smaps, on_mapping, &w);
			free(smaps);
			t->heap_brk = w.brk;
			t->heap_anon = w.anon;
			t->heap = w.brk + w.anon;
			t->stacks = w.stacks;
		}
		free(w.sps);
	}
}

/* --- JSON helpers ------------------------------------------------------------ */

static void add_num(cJSON *o, const char *name, int64_t v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)v);
}

static void add_dbl(cJSON *o, const char *name, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, v);
}

static const char *state_name(char c)
{
	switch (c) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk sleep";
	case 'T': return "stopped";
	case 't': return "tracing stop";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	case 'P': return "parked";
	default: return "unknown";
	}
}

static const char *not_running_reason = "target not running";

/*
 * The heap collector (allocation tracking) when it runs: its table's column
 * named inuse_space, and the column's index.  NULL with *why otherwise.
 */
static struct collector *live_heap(struct stats *s, size_t *col, const char **why)
{
	struct collector *c = daemon__collector(s->d, "heap");

	*why = "allocation tracking is not available";
	if (!c)
		return NULL;
	if (c->unavailable) {
		*why = c->unavailable;
		return NULL;
	}
	if (!c->users) {
		*why = "allocation tracking is not running";
		return NULL;
	}
	for (size_t i = 0; i < c->nsample_types; i++) {
		if (!strcmp(c->sample_types[i].type, "inuse_space")) {
			*col = i;
			c->ops->drain(c);
			return c;
		}
	}
	*why = "the heap collector has no inuse_space";
	return NULL;
}

/* Live heap from allocation tracking (sampled, scaled to estimates). */
static void add_live_heap(struct stats *s, cJSON *o)
{
	const char *why;
	size_t col = 0;
	struct collector *c = live_heap(s, &col, &why);
	int64_t sum = 0;

	if (!c) {
		cJSON_AddNullToObject(o, "live_heap_bytes");
		cJSON_AddStringToObject(o, "live_heap_reason", why);
		return;
	}
	for (size_t i = 0; i < stack_table__len(c->stacks); i++)
		sum += stack_table__values(c->stacks, i)[col];
	cJSON_AddNumberToObject(o, "live_heap_bytes", sum > 0 ? sum : 0);
	cJSON_AddStringToObject(o, "live_heap_source",
				"allocation tracking (the heap profile's inuse_space, sampled)");
}

static void add_self(struct stats *s, cJSON *root)
{
	struct daemon *d = s->d;
	cJSON *self = cJSON_AddObjectToObject(root, "pprofd"), *list, *http;
	char *status;
	size_t len;

	cJSON_AddStringToObject(self, "version", PPROFD_VERSION);
	cJSON_AddNumberToObject(self, "pid", getpid());
	cJSON_AddNumberToObject(self, "uptime_seconds",
				(mono_ns() - (d->started.tv_sec * 1000000000LL + d->started.tv_nsec)) /
					1e9);
	cJSON_AddNumberToObject(self, "cpu_seconds", self_cpu_us() / 1e6);
	add_cpu_percent(s, self, "cpu_percent", true);
	if (!target__read_proc(getpid(), "status", &status, &len)) {
		add_num(self, "rss_bytes", field_or(status, "VmRSS"));
		free(status);
	} else {
		cJSON_AddNullToObject(self, "rss_bytes");
	}
	list = cJSON_AddArrayToObject(self, "collectors");
	for (size_t i = 0; i < d->ncollectors; i++)
		cJSON_AddItemToArray(list, collector__json(d->collectors[i], false));
	http = cJSON_AddObjectToObject(self, "http");
	cJSON_AddNumberToObject(http, "responses", s->requests);
	for (int i = 2; i <= 5; i++) {
		char key[8];

		snprintf(key, sizeof(key), "%dxx", i);
		cJSON_AddNumberToObject(http, key, s->responses[i]);
	}
}

static void add_system(cJSON *root)
{
	cJSON *sys = cJSON_AddObjectToObject(root, "system"), *load, *mem;
	struct utsname u;
	double l[3];
	char *text;
	size_t len;

	if (!uname(&u)) {
		cJSON_AddStringToObject(sys, "kernel", u.release);
		cJSON_AddStringToObject(sys, "machine", u.machine);
	}
	cJSON_AddNumberToObject(sys, "cores", sysconf(_SC_NPROCESSORS_ONLN));
	load = cJSON_AddObjectToObject(sys, "load");
	/* /proc/PID/../X is /proc/X. */
	if (!target__read_proc(getpid(), "../loadavg", &text, &len)) {
		if (!stats__parse_loadavg(text, l)) {
			cJSON_AddNumberToObject(load, "1m", l[0]);
			cJSON_AddNumberToObject(load, "5m", l[1]);
			cJSON_AddNumberToObject(load, "15m", l[2]);
		}
		free(text);
	}
	mem = cJSON_AddObjectToObject(sys, "memory");
	if (!target__read_proc(getpid(), "../meminfo", &text, &len)) {
		add_num(mem, "total_bytes", field_or(text, "MemTotal"));
		add_num(mem, "available_bytes", field_or(text, "MemAvailable"));
		add_num(mem, "free_bytes", field_or(text, "MemFree"));
		add_num(mem, "swap_total_bytes", field_or(text, "SwapTotal"));
		add_num(mem, "swap_free_bytes", field_or(text, "SwapFree"));
		free(text);
	}
}

static void detect_language(struct stats *s);

/* --- a Go target's own runtime (goprofiles.h) ----------------------------------- */

/* The Go runtime's figures of the target, or NULL (malloc'd; why says why when Go). */
static struct go_target_stats *read_go(struct stats *s, char *why, size_t whylen)
{
	struct go_target_stats *g = malloc(sizeof(*g));

	why[0] = '\0';
	if (g && !goprofiles__stats(s->d->pid, s->d->sym, g, why, whylen))
		return g;
	free(g);
	return NULL;
}

/* The latest GC pause, ns (0: no GC yet). */
static uint64_t go_last_pause(const struct go_gc_stats *gc)
{
	return gc->num_gc ? gc->pause_ns[(gc->num_gc + 255) % 256] : 0;
}

static void add_go_gc(cJSON *root, const struct go_target_stats *g)
{
	const struct go_gc_stats *gc = &g->gc;
	cJSON *o = cJSON_AddObjectToObject(root, "gc"), *recent;

	cJSON_AddStringToObject(o, "source", "the Go runtime (runtime.memstats, gcController)");
	cJSON_AddStringToObject(o, "go_version", g->version);
	cJSON_AddNumberToObject(o, "num_gc", gc->num_gc);
	cJSON_AddNumberToObject(o, "num_forced_gc", gc->num_forced_gc);
	cJSON_AddNumberToObject(o, "pause_total_ns", (double)gc->pause_total_ns);
	cJSON_AddNumberToObject(o, "last_pause_ns", (double)go_last_pause(gc));
	cJSON_AddNumberToObject(o, "last_gc_unix_ns", (double)gc->last_gc_unix_ns);
	recent = cJSON_AddArrayToObject(o, "recent_pauses_ns"); /* newest first, as MemStats */
	for (uint32_t i = 0; i < gc->num_gc && i < 16; i++)
		cJSON_AddItemToArray(recent, cJSON_CreateNumber(
						     (double)gc->pause_ns[(gc->num_gc + 255 - i) % 256]));
	cJSON_AddNumberToObject(o, "gc_cpu_fraction", gc->gc_cpu_fraction);
	if (gc->have_controller) {
		cJSON_AddNumberToObject(o, "heap_live_bytes", (double)gc->heap_live);
		cJSON_AddNumberToObject(o, "heap_sys_bytes", (double)gc->heap_sys_bytes);
		cJSON_AddNumberToObject(o, "next_gc_bytes", (double)gc->next_gc);
		if (gc->gogc >= 0)
			cJSON_AddNumberToObject(o, "gogc", (double)gc->gogc);
		else
			cJSON_AddStringToObject(o, "gogc", "off");
		if (gc->memory_limit == INT64_MAX)
			cJSON_AddNullToObject(o, "gomemlimit_bytes");
		else
			cJSON_AddNumberToObject(o, "gomemlimit_bytes", (double)gc->memory_limit);
	}
	if (g->goroutines >= 0)
		cJSON_AddNumberToObject(root, "goroutines", (double)g->goroutines);
}

static void add_gc(struct stats *s, cJSON *root)
{
	char why[256];
	struct go_target_stats *g = read_go(s, why, sizeof(why));

	if (g && g->have_gc) {
		add_go_gc(root, g);
		free(g);
		return;
	}
	free(g);
	detect_language(s);
	cJSON_AddNullToObject(root, "gc");
	cJSON_AddStringToObject(root, "gc_reason",
				why[0]	? why
				: !strcmp(s->runtime, "go")
					? "the Go runtime's statistics were not found"
					: "a native process has no garbage collector");
}

cJSON *stats__stats(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject(), *tgt, *mem, *heap, *cpu, *o;
	struct target_numbers t;
	char *cmdline;
	size_t len;

	read_target(s, &t, true);
	*code = t.running ? 200 : 503;
	cJSON_AddNumberToObject(root, "timestamp", (double)time(NULL));
	tgt = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(tgt, "pid", s->d->pid);
	cJSON_AddBoolToObject(tgt, "running", t.running);
	if (!t.running) {
		cJSON_AddStringToObject(root, "error", not_running_reason);
		add_system(root);
		add_self(s, root);
		return root;
	}
	cJSON_AddStringToObject(tgt, "name", t.st.comm);
	o = cJSON_AddArrayToObject(tgt, "cmdline");
	if (!target__read_proc(s->d->pid, "cmdline", &cmdline, &len)) {
		for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1)
			cJSON_AddItemToArray(o, cJSON_CreateString(cmdline + i));
		free(cmdline);
	}
	cJSON_AddNumberToObject(tgt, "ppid", t.st.ppid);
	cJSON_AddStringToObject(tgt, "state", (char[]){ t.st.state, '\0' });
	cJSON_AddStringToObject(tgt, "state_name", state_name(t.st.state));
	cJSON_AddNumberToObject(tgt, "threads", t.st.num_threads);
	add_dbl(tgt, "uptime_seconds", round(t.uptime * 100) / 100);
	add_dbl(tgt, "start_time_seconds", t.start_time);

	mem = cJSON_AddObjectToObject(root, "memory");
	add_num(mem, "rss_bytes", t.rss);
	add_num(mem, "peak_rss_bytes", t.vm_hwm);
	add_num(mem, "virtual_bytes", t.vm_size);
	add_num(mem, "anon_bytes", t.anon);
	add_num(mem, "file_bytes", t.file);
	add_num(mem, "shmem_bytes", t.shmem);
	add_num(mem, "swap_bytes", t.swap);
	add_num(mem, "heap_bytes", t.heap);
	heap = cJSON_AddObjectToObject(mem, "heap");
	add_num(heap, "brk_bytes", t.heap_brk);
	add_num(heap, "anon_mmap_bytes", t.heap_anon);
	cJSON_AddStringToObject(heap, "source",
				"resident anonymous private memory outside thread stacks: [heap] "
				"plus anonymous mappings (malloc arenas, large allocations)");
	add_num(mem, "stacks_bytes", t.stacks);
	add_num(mem, "data_bytes", t.vm_data);
	add_live_heap(s, mem);

	cpu = cJSON_AddObjectToObject(root, "cpu");
	cJSON_AddNumberToObject(cpu, "user_seconds", (double)t.st.utime / s->tick_hz);
	cJSON_AddNumberToObject(cpu, "system_seconds", (double)t.st.stime / s->tick_hz);
	cJSON_AddNumberToObject(cpu, "total_seconds",
				(double)(t.st.utime + t.st.stime) / s->tick_hz);
	add_cpu_percent(s, cpu, "percent", false);

	o = cJSON_AddObjectToObject(root, "context_switches");
	add_num(o, "voluntary", t.voluntary_cs);
	add_num(o, "involuntary", t.involuntary_cs);
	o = cJSON_AddObjectToObject(root, "page_faults");
	cJSON_AddNumberToObject(o, "minor", (double)t.st.minflt);
	cJSON_AddNumberToObject(o, "major", (double)t.st.majflt);
	o = cJSON_AddObjectToObject(root, "fds");
	add_num(o, "open", t.fds);
	add_num(o, "limit", t.fd_soft);
	add_num(o, "limit_hard", t.fd_hard);
	if (t.fds >= 0 && t.fd_soft > 0)
		cJSON_AddNumberToObject(o, "used_percent",
					round(1000.0 * t.fds / t.fd_soft) / 10);
	else
		cJSON_AddNullToObject(o, "used_percent");
	o = cJSON_AddObjectToObject(root, "io");
	add_num(o, "read_bytes", t.read_bytes);
	add_num(o, "write_bytes", t.write_bytes);
	add_num(o, "rchar", t.rchar);
	add_num(o, "wchar", t.wchar);
	add_num(o, "read_syscalls", t.syscr);
	add_num(o, "write_syscalls", t.syscw);
	add_gc(s, root);
	add_system(root);
	add_self(s, root);
	return root;
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
	char whygo[256];
	struct go_target_stats *g = why ? NULL : read_go(s, whygo, sizeof(whygo));
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
	pause_ms = g && g->have_gc ? go_last_pause(&g->gc) / 1e6 : 0;
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
	int64_t now = mono_ns();

	read_target(s, &t, true);
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
		cJSON_AddStringToObject(o, "reason", not_running_reason);
	cJSON_AddItemToArray(list, o);
	if (!t.running) {
		worst = HEALTH_CRITICAL;
		why = not_running_reason;
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
					       t.heap >= 0 ? NULL
							   : why ? why : "smaps not readable"));

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

/* --- info -------------------------------------------------------------------- */

/* Whether ELF file fd has a section named one of names; *comment gets .comment. */
static bool elf_sections(int fd, const char *const *names, char *comment, size_t commentlen)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		elf_end(elf);
		return false;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		for (const char *const *n = names; *n; n++)
			found |= !strcmp(name, *n);
		if (!strcmp(name, ".comment") && comment) {
			Elf_Data *data = elf_getdata(scn, NULL);

			if (data && data->d_buf) {
				/* NUL-separated strings: join with "; ". */
				size_t j = 0;

				for (size_t i = 0; i < data->d_size && j + 3 < commentlen; i++) {
					char c = ((const char *)data->d_buf)[i];

					if (c)
						comment[j++] = c;
					else if (j && comment[j - 1] != ' ' && i + 1 < data->d_size)
						comment[j++] = ';', comment[j++] = ' ';
				}
				while (j && (comment[j - 1] == ' ' || comment[j - 1] == ';'))
					j--;
				comment[j] = '\0';
			}
		}
	}
	elf_end(elf);
	return found;
}

static bool mapped(struct stats *s, const char *needle)
{
	const struct symbol_mapping *const *maps;
	size_t n = symbolizer__mappings(s->d->sym, &maps);

	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(maps[i]->path, '/');

		if (strstr(base ? base + 1 : maps[i]->path, needle))
			return true;
	}
	return false;
}

static void detect_language(struct stats *s)
{
	static const char *const go_sections[] = { ".go.buildinfo", ".gopclntab",
						   ".note.go.buildid", NULL };
	struct proc_stat st;
	char path[64], comment[512] = "";
	bool go = false;
	int fd;

	if (!read_stat(s->d->pid, &st))
		return;
	if (s->lang_pid == s->d->pid && s->lang_start == st.starttime && s->language[0])
		return;
	s->lang_pid = s->d->pid;
	s->lang_start = st.starttime;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)s->d->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		go = elf_sections(fd, go_sections, comment, sizeof(comment));
		close(fd);
	}
	snprintf(s->runtime, sizeof(s->runtime), "native");
	if (go) {
		snprintf(s->language, sizeof(s->language), "go");
		snprintf(s->runtime, sizeof(s->runtime), "go");
	} else if (mapped(s, "libjvm")) {
		snprintf(s->language, sizeof(s->language), "java");
		snprintf(s->runtime, sizeof(s->runtime), "jvm");
	} else if (mapped(s, "libpython") || !strncmp(st.comm, "python", 6)) {
		snprintf(s->language, sizeof(s->language), "python");
		snprintf(s->runtime, sizeof(s->runtime), "cpython");
	} else if (!strcmp(st.comm, "node")) {
		snprintf(s->language, sizeof(s->language), "javascript");
		snprintf(s->runtime, sizeof(s->runtime), "node");
	} else if (strstr(comment, "rustc")) {
		snprintf(s->language, sizeof(s->language), "rust");
	} else if (mapped(s, "libstdc++") || mapped(s, "libc++")) {
		snprintf(s->language, sizeof(s->language), "c++");
	} else {
		snprintf(s->language, sizeof(s->language), "c");
	}
	if (go)
		snprintf(s->allocator, sizeof(s->allocator), "go runtime");
	else if (mapped(s, "jemalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "jemalloc");
	else if (mapped(s, "tcmalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "tcmalloc");
	else if (mapped(s, "mimalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "mimalloc");
	else if (mapped(s, "libc.so") || mapped(s, "libc-"))
		snprintf(s->allocator, sizeof(s->allocator), "glibc malloc");
	else
		snprintf(s->allocator, sizeof(s->allocator), "unknown");
}

cJSON *stats__info(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject(), *self, *libs, *kernel, *tgt;
	const struct symbol_mapping *const *maps;
	struct utsname u;
	struct stat sb;
	char exe[4096], path[64];
	ssize_t n;
	size_t nmaps;

	*code = 200;
	self = cJSON_AddObjectToObject(root, "pprofd");
	cJSON_AddStringToObject(self, "version", PPROFD_VERSION);
	cJSON_AddStringToObject(self, "compiler", __VERSION__);
#if defined(__SANITIZE_ADDRESS__)
	cJSON_AddStringToObject(self, "build", "sanitizers (address, undefined)");
#else
	cJSON_AddStringToObject(self, "build", "release");
#endif
	libs = cJSON_AddObjectToObject(self, "libraries");
	cJSON_AddStringToObject(libs, "libbpf", libbpf_version_string());
	cJSON_AddStringToObject(libs, "libevent", event_get_version());
	cJSON_AddStringToObject(libs, "elfutils", dwfl_version(NULL));
	cJSON_AddStringToObject(libs, "cjson", cJSON_Version());
	cJSON_AddStringToObject(libs, "zlib", zlibVersion());

	kernel = cJSON_AddObjectToObject(root, "kernel");
	if (!uname(&u)) {
		cJSON_AddStringToObject(kernel, "release", u.release);
		cJSON_AddStringToObject(kernel, "version", u.version);
		cJSON_AddStringToObject(kernel, "machine", u.machine);
	}
	cJSON_AddBoolToObject(kernel, "btf", !stat("/sys/kernel/btf/vmlinux", &sb));
	if (!stat("/sys/kernel/btf/vmlinux", &sb))
		cJSON_AddNumberToObject(kernel, "btf_bytes", sb.st_size);

	tgt = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(tgt, "pid", s->d->pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)s->d->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	cJSON_AddBoolToObject(tgt, "running", target__exists(s->d->pid));
	if (n < 0 || !target__exists(s->d->pid)) {
		cJSON_AddNullToObject(tgt, "executable");
		cJSON_AddStringToObject(tgt, "reason", not_running_reason);
		return root;
	}
	exe[n] = '\0';
	cJSON_AddStringToObject(tgt, "executable", exe);
	nmaps = symbolizer__mappings(s->d->sym, &maps);
	cJSON_AddNullToObject(tgt, "build_id");
	for (size_t i = 0; i < nmaps; i++) {
		if (!strcmp(maps[i]->path, exe) || (strstr(exe, " (deleted)") &&
						     !strncmp(maps[i]->path, exe, strlen(maps[i]->path)))) {
			if (*maps[i]->build_id)
				cJSON_ReplaceItemInObject(tgt, "build_id",
							  cJSON_CreateString(maps[i]->build_id));
			break;
		}
	}
	detect_language(s);
	cJSON_AddStringToObject(tgt, "language", s->language);
	cJSON_AddStringToObject(tgt, "runtime", s->runtime);
	cJSON_AddStringToObject(tgt, "allocator", s->allocator);
	return root;
}

/* --- memory ------------------------------------------------------------------ */

#define TOP_MAPPINGS 20

struct memory_walk {
	struct smaps_mapping top[TOP_MAPPINGS];
	char names[TOP_MAPPINGS][256];
	size_t ntop;
	size_t total;
};

static void on_top_mapping(const struct smaps_mapping *m, void *arg)
{
	struct memory_walk *w = arg;
	size_t i;

	w->total++;
	if (w->ntop == TOP_MAPPINGS && m->rss <= w->top[TOP_MAPPINGS - 1].rss)
		return;
	i = w->ntop < TOP_MAPPINGS ? w->ntop++ : TOP_MAPPINGS - 1;
	/* Insertion: keep top[] sorted by rss, largest first. */
	while (i > 0 && w->top[i - 1].rss < m->rss) {
		w->top[i] = w->top[i - 1];
		memcpy(w->names[i], w->names[i - 1], sizeof(w->names[i]));
		i--;
	}
	w->top[i] = *m;
	snprintf(w->names[i], sizeof(w->names[i]), "%s", m->name);
}

#define TOP_HEAP_STACKS 10
#define TOP_HEAP_FRAMES 8

/* The stacks holding the most live heap, with their functions (leaf first). */
static void add_live_heap_stacks(struct stats *s, cJSON *root)
{
	size_t top[TOP_HEAP_STACKS], ntop = 0, col = 0;
	const char *why;
	struct collector *c = live_heap(s, &col, &why);
	cJSON *list;

	if (!c) {
		cJSON_AddNullToObject(root, "live_heap_stacks");
		cJSON_AddStringToObject(root, "live_heap_reason", why);
		return;
	}
	for (size_t i = 0; i < stack_table__len(c->stacks); i++) {
		int64_t v = stack_table__values(c->stacks, i)[col];
		size_t j;

		if (v <= 0 || (ntop == TOP_HEAP_STACKS &&
			       v <= stack_table__values(c->stacks, top[ntop - 1])[col]))
			continue;
		j = ntop < TOP_HEAP_STACKS ? ntop++ : ntop - 1;
		while (j > 0 && stack_table__values(c->stacks, top[j - 1])[col] < v) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = i;
	}
	list = cJSON_AddArrayToObject(root, "live_heap_stacks");
	for (size_t i = 0; i < ntop; i++) {
		const struct stack *st = stack_table__stack(c->stacks, top[i]);
		cJSON *o = cJSON_CreateObject(), *frames;

		cJSON_AddNumberToObject(o, "inuse_bytes", stack_table__values(c->stacks, top[i])[col]);
		frames = cJSON_AddArrayToObject(o, "functions");
		for (uint32_t f = 0; f < st->npcs && f < TOP_HEAP_FRAMES; f++) {
			struct symbol_location loc;
			char hex[32];

			if (st->pcs[f] == STACK_PC_TRUNCATED)
				continue;
			/* The table holds callers at the call (return address - 1). */
			if (!symbolizer__lookup(s->d->sym, st->pcs[f], &loc) &&
			    loc.nframes && loc.frames[0].function) {
				cJSON_AddItemToArray(frames,
						     cJSON_CreateString(loc.frames[0].function));
			} else {
				snprintf(hex, sizeof(hex), "%#llx", (unsigned long long)st->pcs[f]);
				cJSON_AddItemToArray(frames, cJSON_CreateString(hex));
			}
		}
		cJSON_AddItemToArray(list, o);
	}
}

cJSON *stats__memory(struct stats *s, int *code)
{
	static const char *const rollup_keys[] = { "Rss", "Pss", "Pss_Anon", "Pss_File",
						   "Pss_Shmem", "Shared_Clean", "Shared_Dirty",
						   "Private_Clean", "Private_Dirty", "Referenced",
						   "Anonymous", "LazyFree", "AnonHugePages",
						   "ShmemPmdMapped", "Shared_Hugetlb",
						   "Private_Hugetlb", "Swap", "SwapPss", "Locked" };
	cJSON *root = cJSON_CreateObject(), *rollup, *list, *o;
	struct memory_walk *w;
	struct target_numbers t;
	char *text;
	size_t len;

	read_target(s, &t, true);
	o = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(o, "pid", s->d->pid);
	cJSON_AddBoolToObject(o, "running", t.running);
	if (!t.running) {
		*code = 503;
		cJSON_AddStringToObject(root, "error", not_running_reason);
		return root;
	}
	*code = 200;
	o = cJSON_AddObjectToObject(root, "breakdown");
	add_num(o, "rss_bytes", t.rss);
	add_num(o, "anon_bytes", t.anon);
	add_num(o, "file_bytes", t.file);
	add_num(o, "shmem_bytes", t.shmem);
	add_num(o, "swap_bytes", t.swap);
	add_num(o, "heap_bytes", t.heap);
	add_num(o, "heap_brk_bytes", t.heap_brk);
	add_num(o, "heap_anon_mmap_bytes", t.heap_anon);
	add_num(o, "stacks_bytes", t.stacks);

	rollup = cJSON_AddObjectToObject(root, "smaps_rollup");
	if (!target__read_proc(s->d->pid, "smaps_rollup", &text, &len)) {
		for (size_t i = 0; i < sizeof(rollup_keys) / sizeof(rollup_keys[0]); i++) {
			char key[64];

			snprintf(key, sizeof(key), "%s_bytes", rollup_keys[i]);
			for (char *p = key; *p; p++)
				*p = tolower((unsigned char)*p);
			add_num(rollup, key, field_or(text, rollup_keys[i]));
		}
		free(text);
	}

	w = calloc(1, sizeof(*w));
	list = cJSON_AddArrayToObject(root, "largest_mappings");
	if (w && !target__read_proc(s->d->pid, "smaps", &text, &len)) {
		stats__parse_smaps(text, on_top_mapping, w);
		free(text);
		cJSON_AddNumberToObject(root, "mappings", w->total);
		for (size_t i = 0; i < w->ntop; i++) {
			const struct smaps_mapping *m = &w->top[i];
			char range[64];

			o = cJSON_CreateObject();
			snprintf(range, sizeof(range), "%" PRIx64 "-%" PRIx64, m->start, m->end);
			cJSON_AddStringToObject(o, "address", range);
			cJSON_AddStringToObject(o, "perms", m->perms);
			cJSON_AddStringToObject(o, "name", *w->names[i] ? w->names[i] : "[anon]");
			cJSON_AddNumberToObject(o, "size_bytes", m->size);
			cJSON_AddNumberToObject(o, "rss_bytes", m->rss);
			cJSON_AddNumberToObject(o, "pss_bytes", m->pss);
			cJSON_AddNumberToObject(o, "anonymous_bytes", m->anonymous);
			cJSON_AddNumberToObject(o, "swap_bytes", m->swap);
			cJSON_AddItemToArray(list, o);
		}
	}
	free(w);
	add_live_heap_stacks(s, root);
	return root;
}

cJSON *stats__gc(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject();

	detect_language(s);
	*code = 501;
	cJSON_AddBoolToObject(root, "collected", false);
	cJSON_AddStringToObject(
		root, "reason",
		!strcmp(s->runtime, "go")
			? "pprofd cannot force the Go runtime's collector from outside the process"
			: "the target is a native process: it has no garbage collector to run");
	cJSON_AddStringToObject(root, "runtime", s->runtime[0] ? s->runtime : "unknown");
	return root;
}

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
	struct go_target_stats *g = read_go(s, why, sizeof(why));
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
	read_target(s, &t, true);
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
		 (mono_ns() - (d->started.tv_sec * 1000000000LL + d->started.tv_nsec)) / 1e9);
	prom_one(f, "pprofd_cpu_seconds_total", "counter", "CPU time pprofd spent in seconds.",
		 self_cpu_us() / 1e6);
	if (!target__read_proc(getpid(), "status", &status, &n)) {
		prom_one(f, "pprofd_resident_memory_bytes", "gauge",
			 "Resident memory size of pprofd in bytes.", field_or(status, "VmRSS"));
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
