// SPDX-License-Identifier: MIT
/*
 * fuzz_go_labels.c - a goroutine's pprof labels (golabels.h) from memory the
 * target controls: the input is the target's memory at BASE, its first byte
 * chooses the format (map[string]string or the sorted slice), the next two
 * where in it the labelMap is.  Labels read go through the stack table into
 * the pprof encoder, as the CPU collector's do.
 */
#include <errno.h>
#include <unistd.h>

#include "collector.h"
#include "fuzz.h"
#include "golabels.h"
#include "profile.h"
#include "stacks.h"
#include "symbolize.h"

#define BASE 0x7f0000000000ULL

struct image {
	const uint8_t *p;
	size_t len;
};

static int image_read(void *ctx, const struct go_mem_range *r, size_t n)
{
	const struct image *im = ctx;

	for (size_t i = 0; i < n; i++) {
		if (r[i].addr < BASE || r[i].addr - BASE > im->len ||
		    r[i].len > im->len - (r[i].addr - BASE))
			return -EFAULT;
		memcpy(r[i].buf, im->p + (r[i].addr - BASE), r[i].len);
	}
	return 0;
}

static const struct sample_type types[] = {{"samples", "count"}};

static int64_t period_one(const struct collector *c)
{
	(void)c;
	return 1;
}

static const struct collector_ops ops = {.period = period_one};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct symbolizer *sym;
	static struct go_label_buf buf;
	struct image im = {data, size};
	struct collector c = {
	    .name = "profile",
	    .description = "fuzz",
	    .mode = COLLECT_WINDOW,
	    .sample_types = types,
	    .nsample_types = 1,
	    .period_type = {"samples", "count"},
	    .ops = &ops,
	};
	struct profile_window w = {1, 0};
	uint64_t pcs[] = {0x401000, 0x402000};
	int64_t one = 1;
	uint8_t *out = NULL;
	size_t len;
	uint64_t at;

	if (size < 3)
		return 0;
	if (!sym)
		sym = symbolizer__new_from_maps(getpid(), "", 0); /* no mapping: nothing resolves */
	if (!sym)
		abort();
	at = BASE + ((size_t)(data[1] | data[2] << 8) % size & ~(size_t)7);
	if (go_labels__parse(data[0] & 1 ? GO_LABELS_SLICE : GO_LABELS_MAP, at, image_read, &im,
			     &buf))
		return 0;
	c.stacks = stack_table__new(1);
	if (!c.stacks)
		return 0;
	if (stack_table__add_labeled(c.stacks, pcs, 2, 1, "fuzz", &buf.labels, &one))
		abort(); /* what the parser returns, the table takes */
	if (!profile__encode(&c, NULL, sym, &w, &out, &len) && !len)
		abort();
	free(out);
	stack_table__free(c.stacks);
	return 0;
}
