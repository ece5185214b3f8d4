// SPDX-License-Identifier: MIT
/*
 * fuzz_proc_stat.c - /proc/PID/stat text: stats__parse_stat (stats.c) and
 * the liveness and parent readers of target.c.  The comm field is the
 * target's to choose (any bytes but NUL, parentheses included).
 */
#include "fuzz.h"
#include "stats.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	unsigned long long start;
	struct proc_stat st;

	if (!text)
		return 0;
	if (!stats__parse_stat(text, &st) && strnlen(st.comm, sizeof(st.comm)) == sizeof(st.comm))
		abort(); /* comm must be terminated */
	target__stat_alive(text);
	target__stat_parent(text, &start);
	free(text);
	return 0;
}
