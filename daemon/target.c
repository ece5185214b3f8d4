// SPDX-License-Identifier: MIT
/* target.c - see target.h. */
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

bool target__exists(pid_t pid)
{
	char *stat;
	size_t len;
	const char *state;
	bool alive;

	if (pid <= 0 || target__read_proc(pid, "stat", &stat, &len))
		return false;
	/* "pid (comm) S ...": the state follows the last ')'. */
	state = strrchr(stat, ')');
	alive = state && state[1] == ' ' && state[2] != 'Z' && state[2] != 'X';
	free(stat);
	return alive;
}
