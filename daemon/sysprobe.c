// SPDX-License-Identifier: MIT
/* sysprobe.c - see sysprobe.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "log.h"
#include "sysprobe.h"

#define TRACEFS "/sys/kernel/tracing"
/* libbpf looks here first, then in TRACEFS. */
#define DEBUGFS_TRACING "/sys/kernel/debug/tracing"

static bool has_syscall_events(const char *root)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/events/syscalls/sys_enter_futex/id", root);
	return access(path, R_OK) == 0;
}

bool sysprobe__tracepoints(bool mount_it, const char **how)
{
	static int usable = -1;
	static char why[256];

	if (usable >= 0) {
		*how = why;
		return usable;
	}
	usable = 1;
	if (has_syscall_events(DEBUGFS_TRACING) || has_syscall_events(TRACEFS)) {
		snprintf(why, sizeof(why), "syscall tracepoints (tracefs mounted)");
	} else if (!mount_it) {
		usable = 0;
		snprintf(why, sizeof(why),
			 "raw sys_exit: tracefs is not mounted and probes.mount_tracefs is "
			 "off (every system call of the machine pays while the block profile is "
			 "collected; mount tracefs at " TRACEFS " to avoid it)");
	} else if (mount("tracefs", TRACEFS, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) &&
		   errno != EBUSY) {
		usable = 0;
		snprintf(why, sizeof(why),
			 "raw sys_exit: mounting tracefs at " TRACEFS " failed: %s (every "
			 "system call of the machine pays while the block profile is collected; "
			 "mount it to avoid that)",
			 strerror(errno));
	} else if (!has_syscall_events(TRACEFS)) {
		usable = 0;
		snprintf(why, sizeof(why),
			 "raw sys_exit: tracefs at " TRACEFS " has no syscalls events "
			 "(CONFIG_FTRACE_SYSCALLS off?): every system call of the machine pays "
			 "while the block profile is collected");
	} else {
		snprintf(why, sizeof(why),
			 "syscall tracepoints (tracefs mounted by pprofd at " TRACEFS ")");
	}
	if (usable)
		pr_debug("system call probes: %s", why);
	else
		pr_warn("system call probes: %s", why);
	*how = why;
	return usable;
}

static int push(struct syscall_links *l, struct bpf_link *link)
{
	struct bpf_link **links = realloc(l->links, (l->n + 1) * sizeof(*links));

	if (!links)
		return -ENOMEM;
	l->links = links;
	l->links[l->n++] = link;
	return 0;
}

int syscall_links__attach(struct syscall_links *l, struct bpf_program *prog, const char *prefix,
			  const char *const *names, size_t n, char *err, size_t errlen)
{
	size_t before = l->n;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		char event[64], id[160];
		struct bpf_link *link;

		snprintf(event, sizeof(event), "%s%s", prefix, names[i]);
		/* select and pause, say, are not system calls everywhere. */
		snprintf(id, sizeof(id), "%s/events/syscalls/%s/id",
			 has_syscall_events(DEBUGFS_TRACING) ? DEBUGFS_TRACING : TRACEFS, event);
		if (access(id, F_OK)) {
			l->missing++;
			continue;
		}
		link = bpf_program__attach_tracepoint(prog, "syscalls", event);
		if (!link) {
			ret = -errno;
			snprintf(err, errlen, "attaching to syscalls:%s: %s", event, strerror(errno));
			break;
		}
		ret = push(l, link);
		if (ret) {
			bpf_link__destroy(link);
			snprintf(err, errlen, "out of memory");
			break;
		}
	}
	if (!ret && l->n == before) {
		ret = -ENOENT;
		snprintf(err, errlen, "no syscalls:%s* tracepoint for any of %zu system calls",
			 prefix, n);
	}
	if (ret) {
		while (l->n > before)
			bpf_link__destroy(l->links[--l->n]);
		return ret;
	}
	return (int)(l->n - before);
}

int syscall_links__attach_raw(struct syscall_links *l, struct bpf_program *prog, char *err,
			      size_t errlen)
{
	struct bpf_link *link = bpf_program__attach(prog);
	int ret;

	if (!link) {
		ret = -errno;
		snprintf(err, errlen, "attaching %s: %s", bpf_program__section_name(prog),
			 strerror(errno));
		return ret;
	}
	ret = push(l, link);
	if (ret) {
		bpf_link__destroy(link);
		snprintf(err, errlen, "out of memory");
	}
	return ret;
}

void syscall_links__detach(struct syscall_links *l)
{
	while (l->n)
		bpf_link__destroy(l->links[--l->n]);
	free(l->links);
	l->links = NULL;
	l->missing = 0;
}
