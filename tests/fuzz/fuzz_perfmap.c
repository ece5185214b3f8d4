// SPDX-License-Identifier: MIT
/*
 * fuzz_perfmap.c - the perf map parser (perfmap.c): /tmp/perf-PID.map is
 * the target's to write.  Two versions are read (the names of both are
 * kept), then addresses are looked up: from the input, and at every
 * symbol's edges as the parser should have read them.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>

#include "fuzz.h"
#include "perfmap.h"

/* A hex number of 1-16 lowercase digits at *p, then a space. */
static int plain_hex(const char **p, uint64_t *v)
{
	int n = 0;

	for (*v = 0; ((**p >= '0' && **p <= '9') || (**p >= 'a' && **p <= 'f')); (*p)++, n++)
		*v = *v << 4 | (uint64_t)(**p <= '9' ? **p - '0' : **p - 'a' + 10);
	return n >= 1 && n <= 16;
}

/* "START SIZE" + space or end of line, the plainest form of a line. */
static int plain_line(const char *p, uint64_t *start, uint64_t *len)
{
	if (!plain_hex(&p, start) || *p++ != ' ' || !plain_hex(&p, len))
		return 0;
	return *p == ' ' || *p == '\n' || !*p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct perf_map *m = perf_map__new(0); /* no PID: no file, only what is parsed */
	char *text;

	if (!m)
		return 0;
	perf_map__parse(m, (const char *)data, size / 2);
	perf_map__parse(m, (const char *)data, size);
	for (size_t i = 0; i < size; i += 7) {
		const char *name = perf_map__find(m, fuzz_u64(data, size, i));

		if (name && strlen(name) > PERF_MAP_MAX_NAME)
			abort();
	}
	/* Every line "START SIZE name" in lowercase hex must be found at START. */
	text = fuzz_string(data, size);
	for (char *line = text, *eol; line && *line; line = eol + 1) {
		uint64_t start, len;

		eol = strchrnul(line, '\n');
		if (plain_line(line, &start, &len) && len && start + len > start &&
		    !perf_map__find(m, start))
			abort();
		if (!*eol)
			break;
	}
	free(text);
	perf_map__free(m);
	return 0;
}
