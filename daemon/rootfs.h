/* SPDX-License-Identifier: MIT */
/*
 * rootfs.h - files of the target opened as the target sees them, through
 * /proc/PID/root, and never outside that view.
 *
 * pprofd runs as root and reads files the target controls (its perf map,
 * the debug files its .gnu_debuglink names).  A path is resolved inside the
 * target's root: ".." stops at it, symbolic links (absolute or relative)
 * resolve against it, /proc's magic links are refused; only a regular file
 * is opened for reading, and only after it was found to be one (a FIFO does
 * not hang the daemon, a device is never opened); a file larger than the
 * caller's limit is refused.  openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
 * where the kernel has it (5.6+), else a walk one component at a time that
 * keeps its own stack of directories (never the kernel's "..").
 */
#ifndef PPROFD_ROOTFS_H
#define PPROFD_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* The last component of the path must not be a symbolic link. */
#define ROOTFS_NOFOLLOW 1u

/*
 * Opens path (as the target names it; relative paths start at its root)
 * for reading, inside root_fd (an O_PATH fd of a directory: the target's
 * /proc/PID/root).  max_size: a larger file is refused, 0 for no limit.
 * Fills *st when not NULL.  Returns an fd, or a negative errno:
 * -ELOOP a symbolic link with ROOTFS_NOFOLLOW (or too many links),
 * -EPERM not a regular file, -EFBIG larger than max_size, or what open says.
 */
int rootfs__open_at(int root_fd, const char *path, unsigned flags, uint64_t max_size,
		    struct stat *st);

/* The same in the root of process pid (/proc/PID/root). */
int rootfs__open(pid_t pid, const char *path, unsigned flags, uint64_t max_size, struct stat *st);

/*
 * Reads a whole file found as rootfs__open() finds it, at most max_size
 * bytes (a file that is or grows larger is -EFBIG), into a malloc'd,
 * NUL-terminated *out.  Returns 0 or a negative errno.
 */
int rootfs__read(pid_t pid, const char *path, unsigned flags, size_t max_size, char **out,
		 size_t *len, struct stat *st);

/*
 * Reads fd (a regular file) whole, at most max_size bytes (0: no limit; a
 * file that grew larger is -EFBIG), into a malloc'd, NUL-terminated *out.
 */
int rootfs__read_fd(int fd, size_t max_size, char **out, size_t *len);

/*
 * path (as /proc/PID/maps shows it to us) as the target names it: for a
 * target chrooted inside our mount namespace, maps shows our view of its
 * files, under its root; that prefix goes.  Otherwise path itself.  The
 * result is path or points into buf.
 */
const char *rootfs__target_path(pid_t pid, const char *path, char *buf, size_t len);

/* What a refusal means, for logs and /debug/metrics: "a symbolic link", ... */
const char *rootfs__reason(int err);

/* For the tests: walk by hand even where openat2 exists. */
void rootfs__force_walk(bool on);

#endif /* PPROFD_ROOTFS_H */
