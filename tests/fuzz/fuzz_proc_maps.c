// SPDX-License-Identifier: MIT
/*
 * fuzz_proc_maps.c - /proc/PID/maps text as the symbolizer parses it
 * (symbolize.c: executable mappings, " (deleted)", the vdso).  Paths in
 * maps are the target's to choose (any bytes but NUL and newline).  The
 * files named are opened as for a target whose root is ours.
 */
#include <unistd.h>

#include "fuzz.h"
#include "symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct symbol_mapping *const *maps;
	struct symbolizer *s = symbolizer__new_from_maps(getpid(), (const char *)data, size);
	size_t n, total = 0;

	if (!s)
		return 0;
	n = symbolizer__mappings(s, &maps);
	for (size_t i = 0; i < n; i++) {
		struct symbol_location loc;

		if (maps[i]->start > maps[i]->limit && !maps[i]->kernel)
			total++; /* the parser keeps what the text says */
		total += strlen(maps[i]->path) + strlen(maps[i]->build_id);
		if (!maps[i]->kernel)
			symbolizer__lookup(s, maps[i]->start, &loc);
	}
	(void)total;
	symbolizer__free(s);
	return 0;
}
