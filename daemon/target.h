/* SPDX-License-Identifier: MIT */
/*
 * target.h - the profiled process as /proc shows it.
 */
#ifndef PPROFD_TARGET_H
#define PPROFD_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Whether process pid exists (a thread group leader, not a zombie). */
bool target__exists(pid_t pid);

/*
 * Reads /proc/PID/<name> whole into a malloc'd, NUL-terminated buffer.
 * Returns 0 or a negative errno.
 */
int target__read_proc(pid_t pid, const char *name, char **out, size_t *len);

/*
 * The process a pidfile names (its first line).  Returns 0, -ENOENT when the
 * file is missing, -EINVAL when it holds no PID, -ESRCH when that process
 * is not running; err says which.
 */
int target__from_pidfile(const char *path, pid_t *pid, char *err, size_t errlen);

/*
 * The main process of a systemd unit ("app.service"): the oldest process in
 * the unit's cgroup whose parent is outside it, found in /proc/PID/cgroup of
 * every process (any cgroup hierarchy).  Returns 0 or -ESRCH with err.
 */
int target__from_unit(const char *unit, pid_t *pid, char *err, size_t errlen);

/* Where the target's PID comes from when it is not given: one of the two. */
struct target_source {
	const char *pidfile; /* --pidfile */
	const char *unit;    /* --unit */
};

/* The PID the source names now.  Returns 0 or a negative errno with err. */
int target__resolve(const struct target_source *src, pid_t *pid, char *err, size_t errlen);

/* --- parsers of the text read (pure; the fuzzers call them too) ----------- */

/* Whether /proc/PID/stat text says the process is alive (not a zombie). */
bool target__stat_alive(const char *stat);

/* The parent PID in /proc/PID/stat text (0 when none) and its start time. */
pid_t target__stat_parent(const char *stat, unsigned long long *start);

/* Whether /proc/PID/cgroup text names a cgroup whose last component is unit.  Cuts cgroup up. */
bool target__cgroup_in_unit(char *cgroup, const char *unit);

/* A pidfile's first line: 0 and *pid, or -EINVAL when it holds no PID. */
int target__parse_pidfile(const char *line, long *pid);

#endif /* PPROFD_TARGET_H */
