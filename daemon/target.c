// SPDX-License-Identifier: MIT
/* target.c - see target.h. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "target.h"

int target__read_proc(pid_t pid, const char *name, char **out, size_t *len)
{
	char path[64];
	size_t cap = 4096, n = 0;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *more = realloc(buf, cap * 2);

			if (!more) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = more;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (r == 0)
			break;
		n += r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

bool target__stat_alive(const char *stat)
{
	/* "pid (comm) S ...": the state follows the last ')'. */
	const char *state = strrchr(stat, ')');

	return state && state[1] == ' ' && state[2] && state[2] != 'Z' && state[2] != 'X';
}

bool target__exists(pid_t pid)
{
	char *stat;
	size_t len;
	bool alive;

	if (pid <= 0 || target__read_proc(pid, "stat", &stat, &len))
		return false;
	alive = target__stat_alive(stat);
	free(stat);
	return alive;
}

int target__parse_pidfile(const char *line, long *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(line, &end, 10);
	while (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')
		end++;
	if (end == line || *end || errno || v <= 0 || v > 4194304)
		return -EINVAL;
	*pid = v;
	return 0;
}

int target__from_pidfile(const char *path, pid_t *pid, char *err, size_t errlen)
{
	char line[64];
	long v;
	FILE *f = fopen(path, "re");

	if (!f) {
		int ret = -errno;

		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		return ret == -ENOENT ? -ENOENT : ret;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	if (target__parse_pidfile(line, &v)) {
		snprintf(err, errlen, "pidfile %s: expected a process id, found \"%.20s\"", path,
			 line);
		return -EINVAL;
	}
	if (!target__exists(v)) {
		snprintf(err, errlen, "pidfile %s: process %ld is not running", path, v);
		return -ESRCH;
	}
	*pid = v;
	return 0;
}

bool target__cgroup_in_unit(char *cgroup, const char *unit)
{
	char *line, *save = NULL;
	size_t ulen = strlen(unit);
	bool found = false;

	for (line = strtok_r(cgroup, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save)) {
		/* "ID:CONTROLLERS:/path/to/app.service" (the unit, not a sub-cgroup of it). */
		size_t n = strlen(line);

		found = n > ulen && line[n - ulen - 1] == '/' && !strcmp(line + n - ulen, unit);
	}
	return found;
}

/* Whether /proc/PID/cgroup puts pid in a cgroup whose last component is unit. */
static bool in_unit(pid_t pid, const char *unit)
{
	char *text;
	size_t len;
	bool found;

	if (target__read_proc(pid, "cgroup", &text, &len))
		return false;
	found = target__cgroup_in_unit(text, unit);
	free(text);
	return found;
}

pid_t target__stat_parent(const char *stat, unsigned long long *start)
{
	const char *p = strrchr(stat, ')');
	int ppid = 0;

	*start = 0;
	/* ") S PPID" ... field 22 starttime. */
	if (!p || !p[1] || sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
					 "%*d %*d %*d %*d %*d %*d %llu",
				  &ppid, start) < 2)
		ppid = 0;
	return ppid;
}

static pid_t parent_of(pid_t pid, unsigned long long *start)
{
	char *stat;
	size_t len;
	pid_t ppid;

	*start = 0;
	if (target__read_proc(pid, "stat", &stat, &len))
		return 0;
	ppid = target__stat_parent(stat, start);
	free(stat);
	return ppid;
}

int target__from_unit(const char *unit, pid_t *pid, char *err, size_t errlen)
{
	pid_t *members = NULL, best = 0;
	size_t n = 0, cap = 0;
	unsigned long long best_start = ~0ULL;
	struct dirent *e;
	DIR *proc = opendir("/proc");

	if (!proc) {
		snprintf(err, errlen, "cannot read /proc: %s", strerror(errno));
		return -errno;
	}
	while ((e = readdir(proc))) {
		if (!isdigit((unsigned char)e->d_name[0]) || !in_unit(atoi(e->d_name), unit))
			continue;
		if (n == cap) {
			pid_t *more = realloc(members, (cap ? cap * 2 : 16) * sizeof(*members));

			if (!more)
				break;
			members = more;
			cap = cap ? cap * 2 : 16;
		}
		members[n++] = atoi(e->d_name);
	}
	closedir(proc);
	for (size_t i = 0; i < n; i++) {
		unsigned long long start;
		pid_t ppid = parent_of(members[i], &start);
		bool parent_inside = false;

		for (size_t j = 0; j < n && !parent_inside; j++)
			parent_inside = members[j] == ppid;
		if (!parent_inside && target__exists(members[i]) && start < best_start) {
			best = members[i];
			best_start = start;
		}
	}
	free(members);
	if (!best) {
		snprintf(err, errlen, "unit %s: no running process in its cgroup (is it active? "
				      "systemctl status %s)", unit, unit);
		return -ESRCH;
	}
	*pid = best;
	return 0;
}

int target__resolve(const struct target_source *src, pid_t *pid, char *err, size_t errlen)
{
	if (src->pidfile)
		return target__from_pidfile(src->pidfile, pid, err, errlen);
	if (src->unit) {
		char unit[256];

		/* "app" means "app.service". */
		snprintf(unit, sizeof(unit), "%s%s", src->unit, strchr(src->unit, '.') ? "" : ".service");
		return target__from_unit(unit, pid, err, errlen);
	}
	snprintf(err, errlen, "no target given");
	return -EINVAL;
}
