// SPDX-License-Identifier: MIT
/* notify.c - see notify.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "notify.h"

struct notify {
	struct event *watchdog;
};

int notify__send(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, ret = 0;

	if (!path || !*path)
		return 0;
	if ((path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@') /* abstract namespace */
		sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify__send("WATCHDOG=1");
}

struct notify *notify__ready(struct event_base *base, const char *status)
{
	struct notify *n = calloc(1, sizeof(*n));
	const char *usec = getenv("WATCHDOG_USEC"), *wpid = getenv("WATCHDOG_PID");
	char msg[512];
	int ret;

	if (!n)
		return NULL;
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s\nMAINPID=%d", status, (int)getpid());
	ret = notify__send(msg);
	if (ret)
		pr_warn("cannot notify systemd: %s", strerror(-ret));
	/* The watchdog is ours when WATCHDOG_PID is unset or names us. */
	if (usec && (!wpid || atoi(wpid) == getpid())) {
		unsigned long long us = strtoull(usec, NULL, 10);
		struct timeval every = { .tv_sec = us / 2 / 1000000, .tv_usec = us / 2 % 1000000 };

		if (us) {
			n->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, n);
			if (!n->watchdog || event_add(n->watchdog, &every))
				pr_warn("cannot start the systemd watchdog pings");
			else
				notify__send("WATCHDOG=1");
		}
	}
	return n;
}

void notify__free(struct notify *n)
{
	if (!n)
		return;
	notify__send("STOPPING=1");
	if (n->watchdog)
		event_free(n->watchdog);
	free(n);
}
