// SPDX-License-Identifier: MIT
/* kallsyms.c - see kallsyms.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "kallsyms.h"
#include "log.h"

/* The most a pc is taken to be into a symbol: symbols have no sizes here. */
#define KSYM_MAX_SIZE (128 * 1024)

/*
 * ~120k symbols, ~3 MB of names.  The addresses are kept sorted, each with
 * the number of its name; the names, NUL-separated in file order, are kept
 * zlib-compressed by blocks of KSYM_BLOCK (~1 MB in all): a lookup inflates
 * one block (a few microseconds) and the last one inflated is kept, so
 * neighbouring lookups inflate nothing.  Kernel frames are few and cached
 * per pc by the symbolizers: the names are rarely read.
 */
#define KSYM_BLOCK 256

struct ksym {
	uint64_t addr;
	uint32_t name; /* the symbol's number in file order: block name / KSYM_BLOCK */
} __attribute__((packed));

static struct {
	bool loaded;
	struct ksym *syms;
	size_t n;
	unsigned char *blob;  /* the compressed blocks, one after the other */
	size_t blob_len;
	uint32_t *block_end;  /* block b is blob[block_end[b - 1] (0 for b = 0) .. block_end[b]) */
	uint32_t *block_size; /* its size inflated */
	size_t nblocks;
	char *inflated; /* block inflated_block, NULL when none */
	size_t inflated_block;
} kernel;

static int ksym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Appends the names gathered in raw (len bytes) as one compressed block. */
static int kallsyms__add_block(const char *raw, size_t len, size_t *blob_cap)
{
	uLongf zlen = compressBound(len);
	uint32_t *ends, *sizes;

	if (kernel.blob_len + zlen > *blob_cap) {
		size_t cap = (*blob_cap ? *blob_cap * 2 : 256 * 1024) + zlen;
		unsigned char *blob = realloc(kernel.blob, cap);

		if (!blob)
			return -ENOMEM;
		kernel.blob = blob;
		*blob_cap = cap;
	}
	ends = realloc(kernel.block_end, (kernel.nblocks + 1) * sizeof(*ends));
	if (ends)
		kernel.block_end = ends;
	sizes = realloc(kernel.block_size, (kernel.nblocks + 1) * sizeof(*sizes));
	if (sizes)
		kernel.block_size = sizes;
	if (!ends || !sizes ||
	    compress2(kernel.blob + kernel.blob_len, &zlen, (const Bytef *)raw, len, Z_BEST_SPEED) !=
		    Z_OK)
		return -ENOMEM;
	kernel.blob_len += zlen;
	kernel.block_end[kernel.nblocks] = kernel.blob_len;
	kernel.block_size[kernel.nblocks] = len;
	kernel.nblocks++;
	return 0;
}

/*
 * Text symbols only (t, T, w, W): a pc belongs to the last one at or below
 * it.  Without privilege every address reads 0: then there are none, and
 * kernel frames stay unresolved.
 */
static void kallsyms__load(void)
{
	size_t cap = 0, linecap = 0, blob_cap = 0, raw_len = 0, raw_cap = 0, in_block = 0;
	char *line = NULL, *raw = NULL;
	FILE *f;

	if (kernel.loaded)
		return;
	kernel.loaded = true;
	f = fopen("/proc/kallsyms", "re");
	if (!f) {
		pr_debug("symbolize: /proc/kallsyms: %s", strerror(errno));
		return;
	}
	while (getline(&line, &linecap, f) > 0) {
		char type, *name, *end;
		uint64_t addr;
		size_t len;

		/* "ffffffff81000000 T _text [module]": by hand, sscanf is the cost. */
		addr = strtoull(line, &end, 16);
		if (end == line || !addr || end[0] != ' ' || !end[1] || end[2] != ' ')
			continue;
		type = end[1];
		if (type != 't' && type != 'T' && type != 'w' && type != 'W')
			continue;
		name = end + 3;
		len = strcspn(name, " \t\n");
		if (!len || kernel.n >= UINT32_MAX)
			continue;
		if (kernel.n == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			struct ksym *syms = realloc(kernel.syms, ncap * sizeof(*syms));

			if (!syms)
				break;
			kernel.syms = syms;
			cap = ncap;
		}
		if (raw_len + len + 1 > raw_cap) {
			size_t ncap = 2 * (raw_len + len + 1) + 4096;
			char *more = realloc(raw, ncap);

			if (!more)
				break;
			raw = more;
			raw_cap = ncap;
		}
		memcpy(raw + raw_len, name, len);
		raw[raw_len + len] = '\0';
		raw_len += len + 1;
		kernel.syms[kernel.n].addr = addr;
		kernel.syms[kernel.n].name = kernel.n;
		kernel.n++;
		if (++in_block == KSYM_BLOCK) {
			if (kallsyms__add_block(raw, raw_len, &blob_cap))
				break;
			raw_len = in_block = 0;
		}
	}
	if (in_block && kallsyms__add_block(raw, raw_len, &blob_cap))
		kernel.n -= in_block; /* their names are lost: forget them */
	free(raw);
	free(line);
	fclose(f);
	qsort(kernel.syms, kernel.n, sizeof(*kernel.syms), ksym_cmp);
	if (!kernel.n)
		pr_debug("symbolize: /proc/kallsyms shows no addresses: kernel frames unresolved");
}

static const struct ksym *kallsyms__find(uint64_t addr)
{
	size_t lo = 0, hi = kernel.n;

	/* The last symbol at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (kernel.syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/*
	 * Symbols have no sizes here: one ends where the next begins.  A
	 * marker like _einittext is followed by a wide gap up to the modules:
	 * nothing is taken as that far into a symbol.
	 */
	if (addr - kernel.syms[lo - 1].addr >= KSYM_MAX_SIZE)
		return NULL;
	return &kernel.syms[lo - 1];
}

/* k's name, valid until the next call; NULL when it cannot be inflated. */
static const char *kallsyms__name(const struct ksym *k)
{
	size_t block = k->name / KSYM_BLOCK, skip = k->name % KSYM_BLOCK;
	const char *p, *end;

	if (!kernel.inflated || kernel.inflated_block != block) {
		uLongf len = kernel.block_size[block];
		size_t start = block ? kernel.block_end[block - 1] : 0;
		char *buf = realloc(kernel.inflated, len);

		if (!buf)
			return NULL;
		kernel.inflated = buf;
		kernel.inflated_block = block;
		if (uncompress((Bytef *)buf, &len, kernel.blob + start,
			       kernel.block_end[block] - start) != Z_OK ||
		    len != kernel.block_size[block]) {
			free(kernel.inflated);
			kernel.inflated = NULL;
			return NULL;
		}
	}
	p = kernel.inflated;
	end = p + kernel.block_size[block];
	while (skip-- && p < end)
		p += strlen(p) + 1;
	return p < end ? p : NULL;
}

const char *kallsyms__lookup(uint64_t addr, uint64_t *start)
{
	const struct ksym *k;

	kallsyms__load();
	k = kallsyms__find(addr);
	if (!k)
		return NULL;
	*start = k->addr;
	return kallsyms__name(k);
}
