// SPDX-License-Identifier: MIT
/*
 * fuzz_proc_status.c - "Key: N kB" text (/proc/PID/status, smaps_rollup,
 * io, /proc/meminfo): stats__field with every key pprofd asks for, and the
 * NSpid reader of perfmap.c.  A thread name in "Name:" is the target's.
 */
#include "fuzz.h"
#include "perfmap.h"
#include "stats.h"

static const char *const keys[] = {
	"Name", "State", "Threads", "VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "VmSwap",
	"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", "Rss", "Pss", "Anonymous",
	"Swap", "rchar", "wchar", "read_bytes", "write_bytes", "MemTotal", "MemAvailable",
	"NSpid", "", ":",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	uint64_t v;

	if (!text)
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		stats__field(text, keys[i], &v);
	if (perf_map__namespace_pid(text, 42) <= 0)
		abort();
	free(text);
	return 0;
}
