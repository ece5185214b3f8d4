// SPDX-License-Identifier: MIT
/* perfmap.c - see perfmap.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "perfmap.h"

struct perf_symbol {
	uint64_t start, end;
	const char *name;
};

/* Names of every version of the file read, kept until perf_map__free(). */
struct name_block {
	struct name_block *next;
	char names[];
};

struct perf_map {
	char path[128];
	struct perf_symbol *syms; /* sorted by start */
	size_t nsyms;
	struct name_block *blocks;
	struct timespec mtime;
	off_t size;
	time_t checked; /* CLOCK_MONOTONIC seconds of the last stat() */
	bool read_once;
};

/* The target's PID in its own PID namespace: the last NSpid field. */
static pid_t namespace_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t inner = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "NSpid:", 6)) {
			char *tok, *save = NULL;

			for (tok = strtok_r(line + 6, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save))
				inner = atoi(tok);
			break;
		}
	}
	fclose(f);
	return inner;
}

struct perf_map *perf_map__new(pid_t pid)
{
	struct perf_map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	snprintf(m->path, sizeof(m->path), "/proc/%d/root/tmp/perf-%d.map", (int)pid,
		 (int)namespace_pid(pid));
	return m;
}

void perf_map__free(struct perf_map *m)
{
	if (!m)
		return;
	while (m->blocks) {
		struct name_block *next = m->blocks->next;

		free(m->blocks);
		m->blocks = next;
	}
	free(m->syms);
	free(m);
}

static int cmp_symbol(const void *a, const void *b)
{
	const struct perf_symbol *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Reads the whole file into a new symbol table; the old names stay. */
static int perf_map__read(struct perf_map *m)
{
	struct perf_symbol *syms = NULL;
	size_t n = 0, cap = 0, names_len = 0, at = 0;
	struct name_block *block;
	char *line = NULL;
	size_t linecap = 0;
	FILE *f;

	f = fopen(m->path, "r");
	if (!f)
		return -errno;
	/* First pass: symbols and the room their names need. */
	while (getline(&line, &linecap, f) > 0) {
		unsigned long long start, size;
		int name_at = 0;

		if (sscanf(line, "%llx %llx %n", &start, &size, &name_at) < 2 || !name_at ||
		    !size)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct perf_symbol *more = realloc(syms, ncap * sizeof(*more));

			if (!more)
				goto oom;
			syms = more;
			cap = ncap;
		}
		syms[n].start = start;
		syms[n].end = start + size;
		syms[n].name = NULL;
		n++;
		names_len += strcspn(line + name_at, "\n") + 1;
	}
	block = malloc(sizeof(*block) + names_len + 1);
	if (!block)
		goto oom;
	/* Second pass: the names, in the same order. */
	rewind(f);
	for (size_t i = 0; i < n && getline(&line, &linecap, f) > 0;) {
		unsigned long long start, size;
		int name_at = 0;
		size_t len;

		if (sscanf(line, "%llx %llx %n", &start, &size, &name_at) < 2 || !name_at ||
		    !size)
			continue;
		len = strcspn(line + name_at, "\n");
		if (at + len + 1 > names_len + 1)
			break;
		memcpy(block->names + at, line + name_at, len);
		block->names[at + len] = '\0';
		syms[i++].name = block->names + at;
		at += len + 1;
	}
	free(line);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!syms[i].name)
			syms[i].name = "[jit]";
	qsort(syms, n, sizeof(*syms), cmp_symbol);
	block->next = m->blocks;
	m->blocks = block;
	free(m->syms);
	m->syms = syms;
	m->nsyms = n;
	pr_debug("perf map %s: %zu symbols", m->path, n);
	return 0;
oom:
	free(line);
	free(syms);
	fclose(f);
	return -ENOMEM;
}

const char *perf_map__find(struct perf_map *m, uint64_t addr)
{
	struct timespec now;
	size_t lo = 0, hi;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!m->read_once || now.tv_sec != m->checked) {
		struct stat st;

		m->checked = now.tv_sec;
		if (!stat(m->path, &st) &&
		    (!m->read_once || st.st_size != m->size ||
		     st.st_mtim.tv_sec != m->mtime.tv_sec || st.st_mtim.tv_nsec != m->mtime.tv_nsec)) {
			if (!perf_map__read(m)) {
				m->size = st.st_size;
				m->mtime = st.st_mtim;
			}
		}
		m->read_once = true;
	}
	/* The last symbol starting at or below addr; later lines win ties. */
	hi = m->nsyms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && addr < m->syms[lo - 1].end)
		return m->syms[lo - 1].name;
	return NULL;
}
