// SPDX-License-Identifier: MIT
/*
 * stacks.c - see stacks.h.  Open addressing on an FNV-1a hash of the key.
 * Label sets are interned (one copy of each distinct set, found by its
 * hash): a stack's key holds the set's pointer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stacks.h"

/* Distinct label sets a table keeps at most; samples with more go unlabeled. */
#define MAX_LABEL_SETS 4096

struct label_set {
	uint64_t hash;
	struct stack_labels labels; /* keys and values point into text */
	char text[];
};

struct stack_table {
	size_t nvalues;
	struct label_set **sets;
	size_t nsets, cap_sets;
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

static uint64_t hash_key(const uint64_t *pcs, uint32_t npcs, uint32_t tid, const char *thread,
			 const struct stack_labels *labels)
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
	MIX((uint64_t)(uintptr_t)labels);
#undef MIX
	return h ^ (h >> 29);
}

static bool key_equal(const struct stack *s, const uint64_t *pcs, uint32_t npcs, uint32_t tid,
		      const char *thread, const struct stack_labels *labels)
{
	return s->tid == tid && s->npcs == npcs && s->labels == labels &&
	       !strncmp(s->thread, thread, THREAD_NAME_LEN) &&
	       !memcmp(s->pcs, pcs, npcs * sizeof(*pcs));
}

static uint64_t hash_labels(const struct stack_labels *l)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (uint32_t i = 0; i < l->n; i++) {
		for (const char *c = l->l[i].key; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
		h = (h ^ 0x100) * 0x100000001b3ULL; /* between key and value */
		for (const char *c = l->l[i].value; *c; c++)
			h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
		h = (h ^ 0x200) * 0x100000001b3ULL;
	}
	return h;
}

static bool labels_equal(const struct stack_labels *a, const struct stack_labels *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t i = 0; i < a->n; i++)
		if (strcmp(a->l[i].key, b->l[i].key) || strcmp(a->l[i].value, b->l[i].value))
			return false;
	return true;
}

/*
 * The table's copy of a label set: found, or made.  NULL with *error
 * -EINVAL (too large), -ENOMEM, or 0 when the table holds MAX_LABEL_SETS.
 */
static const struct stack_labels *intern_labels(struct stack_table *t,
						const struct stack_labels *l, int *error)
{
	uint64_t h = hash_labels(l);
	size_t text = 0, off = 0;
	struct label_set *set;

	*error = 0;
	if (l->n > STACK_MAX_LABELS) {
		*error = -EINVAL;
		return NULL;
	}
	for (size_t i = 0; i < t->nsets; i++)
		if (t->sets[i]->hash == h && labels_equal(&t->sets[i]->labels, l))
			return &t->sets[i]->labels;
	for (uint32_t i = 0; i < l->n; i++)
		text += strlen(l->l[i].key) + strlen(l->l[i].value) + 2;
	if (text > STACK_LABELS_TEXT) {
		*error = -EINVAL;
		return NULL;
	}
	if (t->nsets == MAX_LABEL_SETS)
		return NULL;
	if (t->nsets == t->cap_sets) {
		size_t cap = t->cap_sets ? 2 * t->cap_sets : 16;
		struct label_set **more = realloc(t->sets, cap * sizeof(*more));

		if (!more) {
			*error = -ENOMEM;
			return NULL;
		}
		t->sets = more;
		t->cap_sets = cap;
	}
	set = malloc(sizeof(*set) + text);
	if (!set) {
		*error = -ENOMEM;
		return NULL;
	}
	set->hash = h;
	set->labels.n = l->n;
	for (uint32_t i = 0; i < l->n; i++) {
		size_t k = strlen(l->l[i].key) + 1, v = strlen(l->l[i].value) + 1;

		memcpy(set->text + off, l->l[i].key, k);
		set->labels.l[i].key = set->text + off;
		off += k;
		memcpy(set->text + off, l->l[i].value, v);
		set->labels.l[i].value = set->text + off;
		off += v;
	}
	t->sets[t->nsets++] = set;
	return &set->labels;
}

static int compare_labels(const void *a, const void *b)
{
	const struct stack_label *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	/* Equal keys keep their order (the later one wins in __sort). */
	return c ? c : (x < y ? -1 : x > y);
}

void stack_labels__sort(struct stack_labels *l)
{
	uint32_t n = 0;

	if (l->n > STACK_MAX_LABELS)
		l->n = STACK_MAX_LABELS;
	qsort(l->l, l->n, sizeof(l->l[0]), compare_labels);
	for (uint32_t i = 0; i < l->n; i++) {
		if (n && !strcmp(l->l[n - 1].key, l->l[i].key))
			n--;
		l->l[n++] = l->l[i];
	}
	l->n = n;
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
	for (size_t i = 0; i < t->nsets; i++)
		free(t->sets[i]);
	t->nsets = 0;
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
	free(t->sets);
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
		size_t j = hash_key(s->pcs, s->npcs, s->tid, s->thread, s->labels) & (nslots - 1);

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
	return stack_table__add_labeled(t, pcs, npcs, tid, thread, NULL, values);
}

int stack_table__add_labeled(struct stack_table *t, const uint64_t *pcs, uint32_t npcs,
			     uint32_t tid, const char *thread, const struct stack_labels *labels,
			     const int64_t *values)
{
	const struct stack_labels *set = NULL;
	struct stack *s;
	int64_t *v;
	size_t j;

	if (labels && labels->n) {
		int error;

		set = intern_labels(t, labels, &error);
		if (error)
			return error;
	}
	j = hash_key(pcs, npcs, tid, thread, set) & (t->nslots - 1);
	while (t->slots[j]) {
		size_t i = t->slots[j] - 1;

		if (key_equal(t->stacks[i], pcs, npcs, tid, thread, set)) {
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
	s->labels = set;
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
