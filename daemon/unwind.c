// SPDX-License-Identifier: MIT
/* unwind.c - see unwind.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <linux/types.h>

#include "pprofd.h"
#include "symbolize.h"
#include "unwind.h"

/* Where the leaf's caller is, decided once per leaf PC. */
enum leaf_state {
	LEAF_UNKNOWN = 0,
	LEAF_FRAMED,   /* the frame-pointer walk has the caller */
	LEAF_AT_SP0,   /* return address at sp[0]: at entry, or at ret */
	LEAF_AT_SP1,   /* after push %rbp: return address at sp[1] */
};

#define LEAF_CACHE_SLOTS 65536 /* power of two; cleared when half full */

struct leaf_entry {
	uint64_t pc;
	uint8_t state;
};

struct unwinder {
	pid_t pid;
	struct symbolizer *sym;
	struct leaf_entry *cache;
	size_t cached;
	struct unwind_stats stats;
};

struct unwinder *unwinder__new(pid_t pid, struct symbolizer *sym)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->cache = calloc(LEAF_CACHE_SLOTS, sizeof(*u->cache));
	if (!u->cache) {
		free(u);
		return NULL;
	}
	u->pid = pid;
	u->sym = sym;
	return u;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	free(u->cache);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwind_stats *out)
{
	*out = u->stats;
}

static int read_target(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/* x86-64 instruction bytes the decision needs. */
#define ENDBR64 "\xf3\x0f\x1e\xfa"
#define PUSH_RBP 0x55
#define RET 0xc3

static enum leaf_state classify_leaf(struct unwinder *u, uint64_t pc)
{
	struct symbol_location loc;
	uint8_t entry[5], at_pc;
	uint64_t off, push_at = 0;

	if (symbolizer__lookup(u->sym, pc, &loc) || !loc.symbol_start || pc < loc.symbol_start)
		return LEAF_FRAMED;
	off = pc - loc.symbol_start;
	if (read_target(u->pid, loc.symbol_start, entry, sizeof(entry)) ||
	    read_target(u->pid, pc, &at_pc, 1))
		return LEAF_FRAMED;
	if (!memcmp(entry, ENDBR64, 4))
		push_at = 4;
	if (off <= push_at || at_pc == RET)
		return LEAF_AT_SP0;
	if (entry[push_at] == PUSH_RBP && off == push_at + 1)
		return LEAF_AT_SP1;
	return LEAF_FRAMED;
}

static enum leaf_state leaf_state(struct unwinder *u, uint64_t pc)
{
	size_t i = (pc * 0x9e3779b97f4a7c15ULL >> 48) & (LEAF_CACHE_SLOTS - 1);

	while (u->cache[i].state) {
		if (u->cache[i].pc == pc)
			return u->cache[i].state;
		i = (i + 1) & (LEAF_CACHE_SLOTS - 1);
	}
	if (u->cached * 2 >= LEAF_CACHE_SLOTS) {
		memset(u->cache, 0, LEAF_CACHE_SLOTS * sizeof(*u->cache));
		u->cached = 0;
		return leaf_state(u, pc);
	}
	u->cache[i].pc = pc;
	u->cache[i].state = classify_leaf(u, pc);
	u->cached++;
	return u->cache[i].state;
}

size_t unwinder__user_stack(struct unwinder *u, const struct user_stack *st, uint64_t *out,
			    size_t max)
{
	size_t n = 0;
	uint32_t i;

	if (!st->depth || !max)
		return 0;
	out[n++] = st->pcs[0];

	if (max > 1) {
		enum leaf_state state = leaf_state(u, st->pcs[0]);
		uint64_t ret = 0;

		if (state == LEAF_AT_SP0)
			ret = st->stack_top[0];
		else if (state == LEAF_AT_SP1 && STACK_TOP_WORDS > 1)
			ret = st->stack_top[1];
		/* Only when the walk does not have it already. */
		if (ret && (st->depth < 2 || st->pcs[1] != ret)) {
			out[n++] = ret - 1;
			u->stats.leaf_fixups++;
		}
	}
	for (i = 1; i < st->depth && n < max; i++)
		out[n++] = st->pcs[i] - 1;
	return n;
}
