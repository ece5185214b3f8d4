// SPDX-License-Identifier: MIT
/* fuzz_proc_limits.c - /proc/PID/limits text: stats__parse_limit (stats.c). */
#include "fuzz.h"
#include "stats.h"

static const char *const limits[] = {
	"Max open files", "Max processes", "Max stack size", "Max", "", "Max open files   ",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	uint64_t soft, hard;

	if (!text)
		return 0;
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++)
		stats__parse_limit(text, limits[i], &soft, &hard);
	free(text);
	return 0;
}
