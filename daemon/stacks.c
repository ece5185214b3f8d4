// SPDX-License-Identifier: MIT
/* stacks.c - see stacks.h.  Open addressing on an FNV-1a hash of the key. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stacks.h"

struct stack_table {
	size_t nvalues;
	struct stack **stacks; /* by index */
	int64_t *values;       /* nvalues per stack, by index */
	size_t len, cap;
	uint32_t *slots;       /* index + 1; 0 = empty */
	size_t nslots;         /* power of two */
};

struct stack_snapshot {
	size_t len, nvalues;
	int64_t values[];
};

static uint64_t hash_key(const uint64_t *pcs, uint32_t npcs, uint32_t tid, const char *thread)
{
	uint64_t h = 0xcbf29ce484222325ULL;

#define MIX(v)                                                                                     \
	do {                                                                                       \
		h ^= (v);                                                                          \
		h *= 0x100000001b3ULL;                                                             \
	} while (0)
	MIX(tid);
	MIX(npcs);
	for (uint32_t i = 0; i < npcs; i++)
		MIX(pcs[i]);
	for (const char *c = thread; *c; c++)
		MIX((unsigned char)*c);
#undef MIX
	return h ^ (h >> 29);
}

static bool key_equal(const struct stack *s, const uint64_t *pcs, uint32_t npcs, uint32_t tid,
		      const char *thread)
{
	return s->tid == tid && s->npcs == npcs && !strncmp(s->thread, thread, THREAD_NAME_LEN) &&
	       !memcmp(s->pcs, pcs, npcs * sizeof(*pcs));
}

struct stack_table *stack_table__new(size_t nvalues)
{
	struct stack_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->nvalues = nvalues;
	t->nslots = 1024;
	t->slots = calloc(t->nslots, sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void stack_table__clear(struct stack_table *t)
{
	for (size_t i = 0; i < t->len; i++)
		free(t->stacks[i]);
	t->len = 0;
	memset(t->slots, 0, t->nslots * sizeof(*t->slots));
}

void stack_table__zero(struct stack_table *t)
{
	if (t->len)
		memset(t->values, 0, t->len * t->nvalues * sizeof(*t->values));
}

void stack_table__free(struct stack_table *t)
{
	if (!t)
		return;
	stack_table__clear(t);
	free(t->stacks);
	free(t->values);
	free(t->slots);
	free(t);
}

static int grow_slots(struct stack_table *t)
{
	size_t nslots = t->nslots * 2;
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->len; i++) {
		const struct stack *s = t->stacks[i];
		size_t j = hash_key(s->pcs, s->npcs, s->tid, s->thread) & (nslots - 1);

		while (slots[j])
			j = (j + 1) & (nslots - 1);
		slots[j] = i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = nslots;
	return 0;
}

static int grow_stacks(struct stack_table *t)
{
	size_t cap = t->cap ? t->cap * 2 : 256;
	struct stack **stacks = realloc(t->stacks, cap * sizeof(*stacks));
	int64_t *values;

	if (!stacks)
		return -ENOMEM;
	t->stacks = stacks;
	values = realloc(t->values, cap * t->nvalues * sizeof(*values));
	if (!values)
		return -ENOMEM;
	t->values = values;
	t->cap = cap;
	return 0;
}

int stack_table__add(struct stack_table *t, const uint64_t *pcs, uint32_t npcs, uint32_t tid,
		     const char *thread, const int64_t *values)
{
	size_t j = hash_key(pcs, npcs, tid, thread) & (t->nslots - 1);
	struct stack *s;
	int64_t *v;

	while (t->slots[j]) {
		size_t i = t->slots[j] - 1;

		if (key_equal(t->stacks[i], pcs, npcs, tid, thread)) {
			v = &t->values[i * t->nvalues];
			for (size_t k = 0; k < t->nvalues; k++)
				v[k] += values[k];
			return 0;
		}
		j = (j + 1) & (t->nslots - 1);
	}

	if (t->len == t->cap && grow_stacks(t))
		return -ENOMEM;
	s = malloc(sizeof(*s) + npcs * sizeof(*pcs));
	if (!s)
		return -ENOMEM;
	s->tid = tid;
	memset(s->thread, 0, sizeof(s->thread));
	strncpy(s->thread, thread, THREAD_NAME_LEN - 1);
	s->npcs = npcs;
	memcpy(s->pcs, pcs, npcs * sizeof(*pcs));
	t->stacks[t->len] = s;
	memcpy(&t->values[t->len * t->nvalues], values, t->nvalues * sizeof(*values));
	t->slots[j] = ++t->len;
	/* Keep the load factor under 1/2. */
	if (t->len * 2 > t->nslots)
		return grow_slots(t);
	return 0;
}

size_t stack_table__len(const struct stack_table *t)
{
	return t->len;
}

size_t stack_table__nvalues(const struct stack_table *t)
{
	return t->nvalues;
}

const struct stack *stack_table__stack(const struct stack_table *t, size_t i)
{
	return i < t->len ? t->stacks[i] : NULL;
}

const int64_t *stack_table__values(const struct stack_table *t, size_t i)
{
	return i < t->len ? &t->values[i * t->nvalues] : NULL;
}

struct stack_snapshot *stack_table__snapshot(const struct stack_table *t)
{
	size_t n = t->len * t->nvalues;
	struct stack_snapshot *s = malloc(sizeof(*s) + n * sizeof(int64_t));

	if (!s)
		return NULL;
	s->len = t->len;
	s->nvalues = t->nvalues;
	if (n)
		memcpy(s->values, t->values, n * sizeof(int64_t));
	return s;
}

void stack_snapshot__free(struct stack_snapshot *s)
{
	free(s);
}

void stack_table__delta(const struct stack_table *t, const struct stack_snapshot *since,
			size_t i, int64_t *out)
{
	const int64_t *now = &t->values[i * t->nvalues];

	for (size_t k = 0; k < t->nvalues; k++)
		out[k] = now[k];
	if (since && i < since->len)
		for (size_t k = 0; k < t->nvalues; k++)
			out[k] -= since->values[i * t->nvalues + k];
}
