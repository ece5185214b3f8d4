// SPDX-License-Identifier: MIT
/*
 * fuzz_proc_smaps.c - /proc/PID/smaps text: stats__parse_smaps (stats.c).
 * Mapping names are the target's (file names, and anonymous names set with
 * PR_SET_VMA_ANON_NAME).
 */
#include "fuzz.h"
#include "stats.h"

static void on_mapping(const struct smaps_mapping *m, void *arg)
{
	size_t *total = arg;

	/* Touch every byte handed out: the name must be a C string. */
	*total += strlen(m->name) + strnlen(m->perms, sizeof(m->perms)) + m->rss + m->pss +
		  m->anonymous + m->swap + m->private_dirty + m->private_clean + m->shared_clean +
		  m->shared_dirty + m->size + m->inode + (m->end - m->start);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	size_t total = 0;

	if (!text)
		return 0;
	stats__parse_smaps(text, on_mapping, &total);
	free(text);
	return 0;
}
