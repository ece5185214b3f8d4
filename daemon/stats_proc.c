// SPDX-License-Identifier: MIT
/*
 * stats_proc.c - the parsers of /proc text (pure: stats.h) and the reading of
 * the target's numbers from /proc (stats_internal.h): stat, status, io,
 * limits, the fd table; the heap/stacks split comes from the last census
 * (census.h: every mapping and thread is work for a timer, not a request).
 *
 * Units: bytes; a number pprofd cannot read is -1 (null in the JSON).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "daemon.h"
#include "stats_internal.h"
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

/* The size fields of a mapping that pprofd keeps, kB in the text. */
static const struct {
	const char *key;
	size_t len, offset;
} smaps_keys[] = {
#define SMAPS_KEY(k, f) { k, sizeof(k) - 1, offsetof(struct smaps_mapping, f) }
	SMAPS_KEY("Rss", rss),
	SMAPS_KEY("Pss", pss),
	SMAPS_KEY("Anonymous", anonymous),
	SMAPS_KEY("Swap", swap),
	SMAPS_KEY("Shared_Clean", shared_clean),
	SMAPS_KEY("Shared_Dirty", shared_dirty),
	SMAPS_KEY("Private_Clean", private_clean),
	SMAPS_KEY("Private_Dirty", private_dirty),
#undef SMAPS_KEY
};

/* A mapping's header line is at most a path (PATH_MAX) and ~100 bytes more. */
#define SMAPS_LINE_MAX (4096 + 256)

struct smaps_parser {
	void (*fn)(const struct smaps_mapping *m, void *arg);
	void *arg;
	struct smaps_mapping m; /* the mapping being read, when open */
	bool open;
	size_t count;
	size_t len; /* bytes of the unfinished line in line[] */
	char name[4096];
	char line[SMAPS_LINE_MAX];
};

struct smaps_parser *smaps_parser__new(void (*fn)(const struct smaps_mapping *m, void *arg),
				       void *arg)
{
	struct smaps_parser *p = malloc(sizeof(*p));

	if (!p)
		return NULL;
	p->fn = fn;
	p->arg = arg;
	p->open = false;
	p->count = 0;
	p->len = 0;
	return p;
}

void smaps_parser__free(struct smaps_parser *p)
{
	free(p);
}

static void smaps_emit(struct smaps_parser *p)
{
	if (!p->open)
		return;
	p->fn(&p->m, p->arg);
	p->count++;
	p->open = false;
}

/* One line of smaps, NUL-terminated, without its newline. */
static void smaps_line(struct smaps_parser *p, const char *line)
{
	struct smaps_mapping next;
	size_t klen;

	if (isxdigit((unsigned char)*line)) {
		char name[sizeof(p->name)];

		if (smaps_header(line, &next, name, sizeof(name))) {
			smaps_emit(p);
			p->m = next;
			memcpy(p->name, name, sizeof(p->name));
			p->m.name = p->name;
			p->open = true;
			return;
		}
	}
	if (!p->open)
		return;
	klen = strcspn(line, ":");
	if (line[klen] != ':')
		return;
	for (size_t i = 0; i < sizeof(smaps_keys) / sizeof(smaps_keys[0]); i++) {
		if (smaps_keys[i].len == klen && !strncmp(line, smaps_keys[i].key, klen)) {
			unsigned long long v = strtoull(line + klen + 1, NULL, 10);

			*(uint64_t *)((char *)&p->m + smaps_keys[i].offset) = v * 1024;
			return;
		}
	}
}

void smaps_parser__feed(struct smaps_parser *p, const char *text, size_t len)
{
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		size_t room = sizeof(p->line) - 1 - p->len;

		/* A longer line keeps its start (a name is cut as before). */
		memcpy(p->line + p->len, text, n < room ? n : room);
		p->len += n < room ? n : room;
		if (!nl)
			return;
		p->line[p->len] = '\0';
		smaps_line(p, p->line);
		p->len = 0;
		text = nl + 1;
		len -= n + 1;
	}
}

size_t smaps_parser__end(struct smaps_parser *p)
{
	if (p->len) {
		p->line[p->len] = '\0';
		smaps_line(p, p->line);
		p->len = 0;
	}
	smaps_emit(p);
	return p->count;
}

size_t stats__parse_smaps(const char *text, void (*fn)(const struct smaps_mapping *m, void *arg),
			  void *arg)
{
	struct smaps_parser *p = smaps_parser__new(fn, arg);
	size_t n;

	if (!p)
		return 0;
	smaps_parser__feed(p, text, strlen(text));
	n = smaps_parser__end(p);
	smaps_parser__free(p);
	return n;
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


bool stats_read_stat(pid_t pid, struct proc_stat *st)
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

/* --- reading the target ---------------------------------------------------- */

int64_t stats_field_or(const char *text, const char *key)
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

/* The state letter of status text ("State:\tS (sleeping)"), or 0. */
static char status_state(const char *text)
{
	const char *p = strstr(text, "\nState:");

	if (!p && !strncmp(text, "State:", 6))
		p = text - 1;
	if (!p)
		return 0;
	p += 7;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p;
}

/* Max open files of limits text into t. */
static void read_fd_limit(pid_t pid, struct target_numbers *t)
{
	uint64_t soft, hard;
	char *limits;
	size_t len;

	if (target__read_proc(pid, "limits", &limits, &len))
		return;
	if (!stats__parse_limit(limits, "Max open files", &soft, &hard)) {
		t->fd_soft = soft == UINT64_MAX ? -1 : (int64_t)soft;
		t->fd_hard = hard == UINT64_MAX ? -1 : (int64_t)hard;
	}
	free(limits);
}

/* The heap and stacks of the last census of pid (started at starttime; 0: any). */
static void read_census(struct stats *s, pid_t pid, uint64_t starttime, struct target_numbers *t)
{
	const struct census_result *r = census__last(s->census, pid, starttime, &t->heap_reason);

	t->census = r;
	if (r && r->ok) {
		t->heap_brk = r->heap_brk;
		t->heap_anon = r->heap_anon;
		t->heap = r->heap_brk + r->heap_anon;
		t->stacks = r->stacks;
		t->heap_age = (stats_mono_ns() - r->done_ns) / 1e9;
	} else if (r) {
		t->heap_reason = r->reason;
	}
}

static void numbers_unknown(struct target_numbers *t)
{
	memset(t, 0xff, sizeof(*t)); /* every int64_t -1 */
	memset(&t->st, 0, sizeof(t->st));
	t->running = false;
	t->uptime = t->start_time = t->heap_age = -1;
	t->heap_reason = "smaps not readable";
	t->census = NULL;
}

void stats_read_health(struct stats *s, struct target_numbers *t)
{
	pid_t pid = s->d->pid;
	char *status;
	size_t len;
	char state;

	numbers_unknown(t);
	/*
	 * status, not stat: stat sums the CPU times of every thread (2 ms at
	 * 10,000 threads); status reads the main thread and the thread count.
	 */
	if (pid <= 0 || target__read_proc(pid, "status", &status, &len))
		return;
	state = status_state(status);
	t->running = state && state != 'Z' && state != 'X';
	t->st.state = state;
	t->st.num_threads = stats_field_or(status, "Threads");
	free(status);
	if (!t->running)
		return;
	read_fd_limit(pid, t);
	t->fds = count_fds(pid);
	/* The census's target, if the pid is: what else would have restarted it? */
	read_census(s, pid, 0, t);
}

void stats_read_target(struct stats *s, struct target_numbers *t, bool with_memory)
{
	pid_t pid = s->d->pid;
	char *status = NULL, *io = NULL;
	size_t len;
	double up;
	int64_t btime;

	numbers_unknown(t);
	t->running = stats_read_stat(pid, &t->st) && t->st.state != 'Z' && t->st.state != 'X';
	if (!t->running) {
		memset(&t->st, 0, sizeof(t->st));
		return;
	}
	if (!target__read_proc(pid, "status", &status, &len)) {
		t->rss = stats_field_or(status, "VmRSS");
		t->vm_size = stats_field_or(status, "VmSize");
		t->vm_hwm = stats_field_or(status, "VmHWM");
		t->anon = stats_field_or(status, "RssAnon");
		t->file = stats_field_or(status, "RssFile");
		t->shmem = stats_field_or(status, "RssShmem");
		t->swap = stats_field_or(status, "VmSwap");
		t->vm_data = stats_field_or(status, "VmData");
		t->vm_stk = stats_field_or(status, "VmStk");
		t->voluntary_cs = stats_field_or(status, "voluntary_ctxt_switches");
		t->involuntary_cs = stats_field_or(status, "nonvoluntary_ctxt_switches");
		free(status);
	}
	if (!target__read_proc(pid, "io", &io, &len)) {
		t->rchar = stats_field_or(io, "rchar");
		t->wchar = stats_field_or(io, "wchar");
		t->syscr = stats_field_or(io, "syscr");
		t->syscw = stats_field_or(io, "syscw");
		t->read_bytes = stats_field_or(io, "read_bytes");
		t->write_bytes = stats_field_or(io, "write_bytes");
		free(io);
	}
	read_fd_limit(pid, t);
	t->fds = count_fds(pid);
	up = read_double_file("/proc/uptime");
	if (up >= 0)
		t->uptime = up - (double)t->st.starttime / s->tick_hz;
	btime = boot_time();
	if (btime >= 0)
		t->start_time = btime + (double)t->st.starttime / s->tick_hz;
	if (with_memory) /* every mapping and thread: from the last census, not now */
		read_census(s, pid, t->st.starttime, t);
}
