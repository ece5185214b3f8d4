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

#endif /* PPROFD_TARGET_H */
