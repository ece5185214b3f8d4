// SPDX-License-Identifier: MIT
/*
 * fuzz_thread_name.c - thread names (any bytes the target sets with
 * prctl(PR_SET_NAME), up to 15) and the stacks they come with, through the
 * stack table into the pprof encoder (the "thread" label, the string
 * table, gzip) and Go's text format: the paths every collector's samples
 * take.  Input: records of a 16-byte name, a tid, then pcs.
 */
#include <stdio.h>
#include <unistd.h>

#include "collector.h"
#include "fuzz.h"
#include "profile.h"
#include "stacks.h"
#include "symbolize.h"

static const struct sample_type types[] = { { "goroutine", "count" } };

static int64_t period_one(const struct collector *c)
{
	(void)c;
	return 1;
}

static const struct collector_ops ops = { .period = period_one };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct symbolizer *sym;
	struct collector c = {
		.name = "goroutine",
		.description = "fuzz",
		.mode = COLLECT_SNAPSHOT,
		.sample_types = types,
		.nsample_types = 1,
		.period_type = { "goroutine", "count" },
		.ops = &ops,
	};
	struct profile_window w = { 1, 0 };
	uint8_t *out = NULL;
	char *text = NULL;
	size_t len, i = 0;

	if (!sym)
		sym = symbolizer__new_from_maps(getpid(), "", 0); /* no mapping: nothing resolves */
	if (!sym)
		abort();
	c.stacks = stack_table__new(1);
	if (!c.stacks)
		return 0;
	while (i + 20 <= size) {
		char name[THREAD_NAME_LEN + 1];
		uint64_t pcs[8];
		int64_t one = 1;
		uint32_t tid, n = data[i + 16] % 8;

		memcpy(name, data + i, THREAD_NAME_LEN);
		name[THREAD_NAME_LEN] = '\0';
		memcpy(&tid, data + i + 16, sizeof(tid));
		i += 20;
		for (uint32_t k = 0; k < n; k++)
			pcs[k] = 0x400000 + fuzz_u64(data, size, i + 8 * k) % 0x10000;
		stack_table__add(c.stacks, pcs, n, tid, name, &one);
	}
	if (!profile__encode(&c, NULL, sym, &w, &out, &len) && !len)
		abort();
	free(out);
	if (!profile__text(&c, NULL, sym, 1, &text, &len))
		free(text);
	stack_table__free(c.stacks);
	return 0;
}
