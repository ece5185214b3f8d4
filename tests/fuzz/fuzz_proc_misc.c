// SPDX-License-Identifier: MIT
/*
 * fuzz_proc_misc.c - the small /proc readers: /proc/loadavg
 * (stats__parse_loadavg), /proc/PID/task/TID/syscall (stats__parse_syscall_sp),
 * /proc/PID/cgroup (target__cgroup_in_unit: cgroup paths are named by whoever
 * made them) and a pidfile's first line (target__parse_pidfile: the app
 * writes it).
 */
#include "fuzz.h"
#include "stats.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	double load[3];
	uint64_t sp;
	long pid;

	if (!text)
		return 0;
	stats__parse_loadavg(text, load);
	stats__parse_syscall_sp(text, &sp);
	if (!target__parse_pidfile(text, &pid) && (pid <= 0 || pid > 4194304))
		abort();
	target__cgroup_in_unit(text, "app.service"); /* last: it cuts text up */
	free(text);
	return 0;
}
