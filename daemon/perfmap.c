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
#include <unistd.h>

#include "log.h"
#include "perfmap.h"
#include "rootfs.h"
#include "target.h"

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
	pid_t pid;
	char path[64]; /* in the target's root */
	struct perf_symbol *syms; /* sorted by start */
	size_t nsyms;
	struct name_block *blocks;
	size_t kept; /* bytes of names in blocks */
	struct timespec mtime;
	off_t size;
	ino_t ino;
	time_t checked; /* CLOCK_MONOTONIC seconds of the last look */
	bool read_once;
	int error;      /* of the last look: 0, -ENOENT, or why it was refused */
	uint64_t refusals;
};

pid_t perf_map__namespace_pid(const char *status, pid_t fallback)
{
	const char *line = status;
	pid_t inner = fallback;

	/* "NSpid:\t1234\t1\n": the PID in each namespace, the innermost last. */
	while (line && *line) {
		if (!strncmp(line, "NSpid:", 6)) {
			const char *p = line + 6;

			while (*p && *p != '\n') {
				char *end;
				long v;

				while (*p == ' ' || *p == '\t')
					p++;
				v = strtol(p, &end, 10);
				if (end == p)
					break;
				if (v > 0 && v <= 4194304)
					inner = v;
				p = end;
			}
			break;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return inner;
}

struct perf_map *perf_map__new(pid_t pid)
{
	struct perf_map *m = calloc(1, sizeof(*m));
	char *status = NULL;
	size_t len;
	pid_t inner = pid;

	if (!m)
		return NULL;
	if (pid > 0 && !target__read_proc(pid, "status", &status, &len))
		inner = perf_map__namespace_pid(status, pid);
	free(status);
	m->pid = pid;
	m->error = -ENOENT;
	snprintf(m->path, sizeof(m->path), "/tmp/perf-%d.map", (int)inner);
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

/* A hex number (an optional 0x) at *p, before end; false when there is none. */
static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	int digits = 0;

	if (end - s > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; s < end; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (digits >= 16)
			return false; /* more than 64 bits */
		v = v << 4 | d;
	}
	if (!digits)
		return false;
	*p = s;
	*out = v;
	return true;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * One line, "START SIZE name": the symbol and where its name is (cut at
 * PERF_MAP_MAX_NAME, at a NUL, without trailing blanks).  False for a line
 * that is not one.
 */
static bool parse_line(const char *line, const char *end, struct perf_symbol *sym,
		       const char **name, size_t *name_len)
{
	const char *p = line, *n;
	uint64_t start, size;
	size_t len;

	if (!parse_hex(&p, end, &start) || p == end || (*p != ' ' && *p != '\t'))
		return false;
	p = skip_blanks(p, end);
	if (!parse_hex(&p, end, &size) || !size || size > UINT64_MAX - start)
		return false;
	if (p < end && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\0')
		return false; /* a NUL ends the name: "START SIZE\0..." is a symbol without one */
	n = skip_blanks(p, end);
	len = strnlen(n, end - n);
	while (len && (n[len - 1] == ' ' || n[len - 1] == '\t' || n[len - 1] == '\r'))
		len--;
	if (len > PERF_MAP_MAX_NAME)
		len = PERF_MAP_MAX_NAME;
	sym->start = start;
	sym->end = start + size;
	*name = n;
	*name_len = len;
	return true;
}

int perf_map__parse(struct perf_map *m, const char *text, size_t len)
{
	const char *end = text + len, *line, *eol, *name;
	struct perf_symbol *syms = NULL, sym;
	size_t n = 0, cap = 0, names_len = 0, at = 0, name_len;
	struct name_block *block;

	/* First pass: how many symbols, and the room their names need. */
	for (line = text; line < end && n < PERF_MAP_MAX_SYMBOLS; line = eol + 1) {
		eol = memchr(line, '\n', end - line);
		if (!eol)
			eol = end;
		if (!parse_line(line, eol, &sym, &name, &name_len))
			continue;
		n++;
		names_len += (name_len ? name_len : sizeof("[jit]") - 1) + 1;
	}
	if (m->kept + names_len > PERF_MAP_MAX_KEPT)
		return -EFBIG;
	cap = n;
	syms = malloc((cap ? cap : 1) * sizeof(*syms));
	block = malloc(sizeof(*block) + names_len + 1);
	if (!syms || !block) {
		free(syms);
		free(block);
		return -ENOMEM;
	}
	/* Second pass: the symbols and their names, in the same order. */
	n = 0;
	for (line = text; line < end && n < cap; line = eol + 1) {
		eol = memchr(line, '\n', end - line);
		if (!eol)
			eol = end;
		if (!parse_line(line, eol, &sym, &name, &name_len))
			continue;
		if (!name_len) {
			name = "[jit]";
			name_len = sizeof("[jit]") - 1;
		}
		memcpy(block->names + at, name, name_len);
		block->names[at + name_len] = '\0';
		sym.name = block->names + at;
		at += name_len + 1;
		syms[n++] = sym;
	}
	qsort(syms, n, sizeof(*syms), cmp_symbol);
	block->next = m->blocks;
	m->blocks = block;
	m->kept += names_len;
	free(m->syms);
	m->syms = syms;
	m->nsyms = n;
	m->read_once = true;
	return 0;
}

/* The target's user: the owner of /proc/PID (its effective UID). */
static bool owned_by_target(const struct perf_map *m, const struct stat *st)
{
	char path[32];
	struct stat proc;

	if (st->st_uid == 0)
		return true;
	snprintf(path, sizeof(path), "/proc/%d", (int)m->pid);
	return !stat(path, &proc) && proc.st_uid == st->st_uid;
}

/* Notes the outcome of a look at the file: a refusal is logged once per reason. */
static void perf_map__note(struct perf_map *m, int error, const char *why)
{
	if (error && error != -ENOENT) {
		m->refusals++;
		if (error != m->error)
			pr_warn("perf map %s of pid %d refused: %s", m->path, (int)m->pid, why);
	}
	m->error = error;
}

/* Reads the file again if it changed since the last time. */
static void perf_map__refresh(struct perf_map *m)
{
	char *text = NULL;
	struct stat st;
	size_t len = 0;
	int fd, err;

	fd = rootfs__open(m->pid, m->path, ROOTFS_NOFOLLOW, PERF_MAP_MAX_BYTES, &st);
	if (fd < 0) {
		/* Gone: the symbols read before still name code that may run. */
		perf_map__note(m, fd, rootfs__reason(fd));
		return;
	}
	if (!owned_by_target(m, &st)) {
		close(fd);
		perf_map__note(m, -EACCES, "owned by neither root nor the target's user");
		return;
	}
	if (m->read_once && !m->error && st.st_size == m->size && st.st_ino == m->ino &&
	    st.st_mtim.tv_sec == m->mtime.tv_sec && st.st_mtim.tv_nsec == m->mtime.tv_nsec) {
		close(fd);
		return;
	}
	err = rootfs__read_fd(fd, PERF_MAP_MAX_BYTES, &text, &len);
	close(fd);
	if (!err)
		err = perf_map__parse(m, text, len);
	free(text);
	if (err) {
		perf_map__note(m, err, err == -EFBIG ? "larger than the limit" : strerror(-err));
		return;
	}
	m->size = st.st_size;
	m->ino = st.st_ino;
	m->mtime = st.st_mtim;
	perf_map__note(m, 0, NULL);
	pr_debug("perf map %s of pid %d: %zu symbols", m->path, (int)m->pid, m->nsyms);
}

const char *perf_map__find(struct perf_map *m, uint64_t addr)
{
	struct timespec now;
	size_t lo = 0, hi;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (m->pid > 0 && (!m->checked || now.tv_sec != m->checked)) {
		m->checked = now.tv_sec;
		perf_map__refresh(m);
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

void perf_map__status(const struct perf_map *m, struct perf_map_status *out)
{
	out->path = m->path;
	out->symbols = m->nsyms;
	out->refusals = m->refusals;
	if (!m->error) {
		out->state = m->read_once ? "loaded" : "absent";
		out->reason = NULL;
	} else if (m->error == -ENOENT) {
		out->state = "absent";
		out->reason = m->read_once ? "gone (the symbols read before are kept)" : NULL;
	} else {
		out->state = "refused";
		out->reason = m->error == -EACCES ? "owned by neither root nor the target's user"
			      : m->error == -EFBIG ? "larger than the limit"
						   : rootfs__reason(m->error);
	}
}
