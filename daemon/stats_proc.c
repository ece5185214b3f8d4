// SPDX-License-Identifier: MIT
/*
 * stats_proc.c - the parsers of /proc text (pure: stats.h) and the reading of
 * the target's numbers from /proc (stats_internal.h): stat, status, io,
 * limits, the fd table, and for the heap/stacks split smaps and each
 * thread's stack pointer (task/TID/syscall).
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

void stats_read_target(struct stats *s, struct target_numbers *t, bool with_memory)
{
	pid_t pid = s->d->pid;
	char *status = NULL, *io = NULL, *limits = NULL;
	size_t len;
	uint64_t soft, hard;
	double up;
	int64_t btime;

	memset(t, 0xff, sizeof(*t)); /* every int64_t -1 */
	t->running = stats_read_stat(pid, &t->st) && t->st.state != 'Z' && t->st.state != 'X';
	t->uptime = t->start_time = -1;
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

