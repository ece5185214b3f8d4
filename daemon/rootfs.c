// SPDX-License-Identifier: MIT
/* rootfs.c - see rootfs.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rootfs.h"

/* As the kernel's MAXSYMLINKS. */
#define MAX_LINKS 40
/* Directories deep, in the walk. */
#define MAX_DEPTH 256

static bool force_walk;
static bool no_openat2; /* the kernel said ENOSYS once */

void rootfs__force_walk(bool on)
{
	force_walk = on;
}

const char *rootfs__reason(int err)
{
	switch (-err) {
	case ELOOP:
		return "a symbolic link (or too many of them)";
	case EPERM:
		return "not a regular file";
	case EFBIG:
		return "larger than the limit";
	case EXDEV:
		return "leaves the target's root";
	default:
		return strerror(-err);
	}
}

/*
 * The walk: path one component at a time from root_fd, each opened with
 * O_PATH | O_NOFOLLOW.  dirs[] holds the directories walked: ".." pops one
 * (never above the root), a symbolic link's text is put in front of what
 * is left (an absolute one restarts at the root).  Returns an O_PATH fd.
 */
static int walk(int root_fd, const char *path, unsigned flags)
{
	int dirs[MAX_DEPTH], depth = 0, links = 0, fd, err;
	char *rest = strdup(path), *p, *next;

	if (!rest)
		return -ENOMEM;
	dirs[0] = root_fd;
	p = rest;
	for (;;) {
		char comp[NAME_MAX + 1];
		struct stat st;
		size_t n;
		bool last;

		while (*p == '/')
			p++;
		if (!*p) {
			fd = depth ? dirs[depth] : fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				fd = -errno;
			depth = depth ? depth - 1 : 0; /* dirs[depth] is handed out */
			break;
		}
		next = strchrnul(p, '/');
		n = next - p;
		if (n > NAME_MAX) {
			fd = -ENAMETOOLONG;
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p = next;
		last = !p[strspn(p, "/")];
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (depth)
				close(dirs[depth--]);
			continue;
		}
		fd = openat(dirs[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			fd = -errno;
			break;
		}
		if (fstat(fd, &st)) {
			err = -errno;
			close(fd);
			fd = err;
			break;
		}
		if (S_ISLNK(st.st_mode) && !(last && (flags & ROOTFS_NOFOLLOW))) {
			char target[PATH_MAX];
			ssize_t tlen = readlinkat(fd, "", target, sizeof(target) - 1);
			size_t left = strlen(p);
			char *nrest;

			close(fd);
			if (tlen <= 0 || ++links > MAX_LINKS) {
				fd = tlen <= 0 ? -ENOENT : -ELOOP;
				break;
			}
			target[tlen] = '\0';
			/* What is left: the link's text, then the rest of the path. */
			nrest = malloc(tlen + left + 2);
			if (!nrest) {
				fd = -ENOMEM;
				break;
			}
			snprintf(nrest, tlen + left + 2, "%s/%s", target, p);
			free(rest);
			rest = nrest;
			p = rest;
			if (target[0] == '/')
				while (depth)
					close(dirs[depth--]);
			continue;
		}
		if (last) {
			while (depth)
				close(dirs[depth--]);
			free(rest);
			return fd;
		}
		if (!S_ISDIR(st.st_mode)) {
			close(fd);
			fd = -ENOTDIR;
			break;
		}
		if (depth + 1 >= MAX_DEPTH) {
			close(fd);
			fd = -ENAMETOOLONG;
			break;
		}
		dirs[++depth] = fd;
	}
	while (depth)
		close(dirs[depth--]);
	free(rest);
	return fd;
}

/* An O_PATH fd of path inside root_fd, by openat2 or by the walk. */
static int find(int root_fd, const char *path, unsigned flags)
{
	if (!force_walk && !no_openat2) {
		struct open_how how = {
			.flags = O_PATH | O_CLOEXEC | ((flags & ROOTFS_NOFOLLOW) ? O_NOFOLLOW : 0),
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof(how));

		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != E2BIG)
			return -errno;
		no_openat2 = true;
	}
	return walk(root_fd, path, flags);
}

int rootfs__open_at(int root_fd, const char *path, unsigned flags, uint64_t max_size,
		    struct stat *st)
{
	char self[64];
	struct stat mine;
	int fd, rfd, err;

	if (!st)
		st = &mine;
	fd = find(root_fd, path, flags);
	if (fd < 0)
		return fd;
	if (fstat(fd, st)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return S_ISLNK(st->st_mode) ? -ELOOP : -EPERM;
	}
	if (max_size && (uint64_t)st->st_size > max_size) {
		close(fd);
		return -EFBIG;
	}
	/* The very inode found, now for reading (the O_PATH fd pins it). */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	rfd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	err = -errno;
	close(fd);
	return rfd >= 0 ? rfd : err;
}

int rootfs__open(pid_t pid, const char *path, unsigned flags, uint64_t max_size, struct stat *st)
{
	char root[64];
	int root_fd, fd;

	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		return -errno;
	fd = rootfs__open_at(root_fd, path, flags, max_size, st);
	close(root_fd);
	return fd;
}

const char *rootfs__target_path(pid_t pid, const char *path, char *buf, size_t len)
{
	char link[64], root[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
	n = readlink(link, root, sizeof(root) - 1);
	if (n <= 1 || root[0] != '/')
		return path; /* "/", or not to be read */
	root[n] = '\0';
	if (strncmp(path, root, n) || path[n] != '/' || strlen(path + n) >= len)
		return path;
	memcpy(buf, path + n, strlen(path + n) + 1);
	return buf;
}

int rootfs__read_fd(int fd, size_t max_size, char **out, size_t *len)
{
	size_t n = 0, cap = 4096;
	struct stat st;
	char *buf;

	if (!fstat(fd, &st) && (size_t)st.st_size + 1 > cap)
		cap = (size_t)st.st_size + 1;
	if (max_size && cap > max_size + 2)
		cap = max_size + 2;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			size_t ncap = cap * 2;
			char *more;

			if (max_size && n > max_size)
				break; /* one byte past the limit: refused below */
			if (max_size && ncap > max_size + 2)
				ncap = max_size + 2;
			more = realloc(buf, ncap);
			if (!more) {
				free(buf);
				return -ENOMEM;
			}
			buf = more;
			cap = ncap;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(buf);
			return err;
		}
		if (!r)
			break;
		n += r;
	}
	if (max_size && n > max_size) {
		free(buf);
		return -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int rootfs__read(pid_t pid, const char *path, unsigned flags, size_t max_size, char **out,
		 size_t *len, struct stat *st)
{
	int fd = rootfs__open(pid, path, flags, max_size, st);
	int err;

	if (fd < 0)
		return fd;
	err = rootfs__read_fd(fd, max_size, out, len);
	close(fd);
	return err;
}
