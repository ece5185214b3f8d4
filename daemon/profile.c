// SPDX-License-Identifier: MIT
/* profile.c - see profile.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "pprof.h"
#include "profile.h"
#include "stacks.h"
#include "symbolize.h"

/* What the profile knows of one symbolizer mapping. */
struct mapping_entry {
	const struct symbol_mapping *sym;
	uint64_t id;
	bool all_functions, any_file, any_line, any_inline;
};

struct location_slot {
	uint64_t pc;
	uint64_t id; /* 0 = empty */
};

struct encoder {
	struct profile_builder *b;
	struct symbolizer *sym;
	struct mapping_entry *mappings;
	size_t nmappings, cap_mappings;
	struct location_slot *locations;
	size_t nslots; /* power of two */
	size_t nlocations;
};

static struct mapping_entry *mapping_entry(struct encoder *e, const struct symbol_mapping *m)
{
	struct mapping_entry *me;

	for (size_t i = 0; i < e->nmappings; i++)
		if (e->mappings[i].sym == m)
			return &e->mappings[i];
	if (e->nmappings == e->cap_mappings) {
		size_t cap = e->cap_mappings ? 2 * e->cap_mappings : 64;
		struct mapping_entry *more = realloc(e->mappings, cap * sizeof(*more));

		if (!more)
			return NULL;
		e->mappings = more;
		e->cap_mappings = cap;
	}
	me = &e->mappings[e->nmappings];
	me->sym = m;
	me->id = profile_builder__mapping(e->b, m->start, m->limit, m->offset, m->path,
					  m->build_id && *m->build_id ? m->build_id : NULL, 0);
	if (!me->id)
		return NULL;
	me->all_functions = true;
	me->any_file = me->any_line = me->any_inline = false;
	e->nmappings++;
	return me;
}

static uint64_t add_location(struct encoder *e, uint64_t pc)
{
	struct symbol_location loc;
	struct profile_line lines[64];
	struct mapping_entry *me = NULL;
	size_t nlines = 0;

	if (pc == STACK_PC_TRUNCATED) {
		lines[0].function_id =
			profile_builder__function(e->b, "[truncated]", NULL, NULL, 0);
		lines[0].line = 0;
		return lines[0].function_id ? profile_builder__location(e->b, 0, 0, lines, 1) : 0;
	}
	if (symbolizer__lookup(e->sym, pc, &loc))
		memset(&loc, 0, sizeof(loc));
	if (loc.mapping) {
		me = mapping_entry(e, loc.mapping);
		if (!me)
			return 0;
	}
	for (size_t i = 0; i < loc.nframes && nlines < sizeof(lines) / sizeof(lines[0]); i++) {
		const struct symbol_frame *f = &loc.frames[i];

		if (!f->function)
			continue;
		lines[nlines].function_id = profile_builder__function(
			e->b, f->function, f->system_name, f->file, f->start_line);
		if (!lines[nlines].function_id)
			return 0;
		lines[nlines].line = f->line;
		nlines++;
		if (me) {
			me->any_file |= f->file != NULL;
			me->any_line |= f->line > 0;
		}
	}
	if (me) {
		me->all_functions &= nlines > 0;
		me->any_inline |= nlines > 1;
	}
	return profile_builder__location(e->b, me ? me->id : 0, pc, lines, nlines);
}

static int grow_locations(struct encoder *e)
{
	size_t nslots = e->nslots ? e->nslots * 2 : 4096;
	struct location_slot *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < e->nslots; i++) {
		size_t j;

		if (!e->locations[i].id)
			continue;
		j = (e->locations[i].pc * 0x9e3779b97f4a7c15ULL >> 32) & (nslots - 1);
		while (slots[j].id)
			j = (j + 1) & (nslots - 1);
		slots[j] = e->locations[i];
	}
	free(e->locations);
	e->locations = slots;
	e->nslots = nslots;
	return 0;
}

/* The Location id of pc, adding it on first use; 0 on failure. */
static uint64_t location_id(struct encoder *e, uint64_t pc)
{
	size_t j;

	if (e->nlocations * 2 >= e->nslots && grow_locations(e))
		return 0;
	j = (pc * 0x9e3779b97f4a7c15ULL >> 32) & (e->nslots - 1);
	while (e->locations[j].id) {
		if (e->locations[j].pc == pc)
			return e->locations[j].id;
		j = (j + 1) & (e->nslots - 1);
	}
	e->locations[j].pc = pc;
	e->locations[j].id = add_location(e, pc);
	if (!e->locations[j].id)
		return 0;
	e->nlocations++;
	return e->locations[j].id;
}

static int add_samples(struct encoder *e, const struct collector *c,
		       const struct stack_snapshot *since)
{
	const struct stack_table *t = c->stacks;
	size_t nvalues = stack_table__nvalues(t);
	uint64_t *ids = NULL;
	size_t ids_cap = 0;
	int64_t values[16];
	int ret = 0;

	if (nvalues > sizeof(values) / sizeof(values[0]))
		return -EINVAL;
	for (size_t i = 0; i < stack_table__len(t); i++) {
		const struct stack *s = stack_table__stack(t, i);
		struct profile_label labels[2 + STACK_MAX_LABELS];
		size_t nlabels = 0;
		bool zero = true;

		stack_table__delta(t, since, i, values);
		for (size_t k = 0; k < nvalues; k++)
			zero &= values[k] == 0;
		if (zero)
			continue;
		if (s->npcs > ids_cap) {
			uint64_t *more = realloc(ids, s->npcs * sizeof(*ids));

			if (!more) {
				ret = -ENOMEM;
				break;
			}
			ids = more;
			ids_cap = s->npcs;
		}
		for (uint32_t k = 0; k < s->npcs; k++) {
			ids[k] = location_id(e, s->pcs[k]);
			if (!ids[k]) {
				ret = -ENOMEM;
				goto out;
			}
		}
		if (s->thread[0])
			labels[nlabels++] = (struct profile_label){ .key = "thread", .str = s->thread };
		if (s->tid)
			labels[nlabels++] = (struct profile_label){ .key = "tid", .num = s->tid };
		for (uint32_t k = 0; s->labels && k < s->labels->n; k++)
			labels[nlabels++] = (struct profile_label){ .key = s->labels->l[k].key,
								    .str = s->labels->l[k].value };
		ret = profile_builder__sample(e->b, ids, s->npcs, values, nvalues, labels, nlabels);
		if (ret)
			break;
	}
out:
	free(ids);
	return ret;
}

int profile__encode(const struct collector *c, const struct stack_snapshot *since,
		    struct symbolizer *sym, const struct profile_window *window, uint8_t **out,
		    size_t *len)
{
	struct encoder e = { .sym = sym };
	int ret = -ENOMEM;

	e.b = profile_builder__new();
	if (!e.b || grow_locations(&e))
		goto out;
	for (size_t i = 0; i < c->nsample_types; i++)
		profile_builder__sample_type(e.b, c->sample_types[i].type, c->sample_types[i].unit);
	profile_builder__period(e.b, c->period_type.type, c->period_type.unit,
				c->ops->period(c));
	profile_builder__time(e.b, window->time_nanos, window->duration_nanos);
	if (c->default_sample_type)
		profile_builder__default_sample_type(e.b, c->default_sample_type);
	if (c->comment)
		profile_builder__comment(e.b, c->comment);

	/* Every executable mapping, in address order, as Go lists them. */
	{
		const struct symbol_mapping *const *maps;
		size_t n = symbolizer__mappings(sym, &maps);

		for (size_t i = 0; i < n; i++)
			if (!mapping_entry(&e, maps[i]))
				goto out;
	}
	ret = add_samples(&e, c, since);
	if (ret)
		goto out;
	for (size_t i = 0; i < e.nmappings; i++) {
		const struct mapping_entry *me = &e.mappings[i];
		unsigned flags = 0;

		if (me->all_functions)
			flags |= MAPPING_HAS_FUNCTIONS;
		if (me->any_file)
			flags |= MAPPING_HAS_FILENAMES;
		if (me->any_line)
			flags |= MAPPING_HAS_LINE_NUMBERS;
		if (me->any_inline)
			flags |= MAPPING_HAS_INLINE_FRAMES;
		profile_builder__mapping_flags(e.b, me->id, flags);
	}
	ret = profile_builder__encode(e.b, true, out, len);
out:
	profile_builder__free(e.b);
	free(e.mappings);
	free(e.locations);
	return ret;
}

void profile__text_frames(FILE *f, const struct stack *s, struct symbolizer *sym)
{
	for (uint32_t i = 0; i < s->npcs; i++) {
		uint64_t pc = s->pcs[i];
		struct symbol_location loc;

		if (pc == STACK_PC_TRUNCATED) {
			fprintf(f, "#\t[truncated]\n");
			continue;
		}
		if (symbolizer__lookup(sym, pc, &loc) || !loc.nframes) {
			fprintf(f, "#\t%#" PRIx64 "\n", pc);
			continue;
		}
		/* Inlined frames share the pc: one line each, innermost first. */
		for (size_t k = 0; k < loc.nframes; k++) {
			const struct symbol_frame *fr = &loc.frames[k];

			fprintf(f, "#\t%#" PRIx64 "\t%s", pc, fr->function ? fr->function : "?");
			if (k == loc.nframes - 1 && loc.symbol_start && pc >= loc.symbol_start)
				fprintf(f, "+%#" PRIx64, pc - loc.symbol_start);
			if (fr->file)
				fprintf(f, "\t%s:%d", fr->file, fr->line);
			fputc('\n', f);
		}
	}
}

struct text_record {
	size_t index;
	int64_t values[2];
};

static int cmp_text_record(const void *a, const void *b)
{
	const struct text_record *x = a, *y = b;
	/* By the last value (delay, count), largest first. */
	int64_t vx = x->values[1], vy = y->values[1];

	return vx < vy ? 1 : vx > vy ? -1 : (x->index > y->index) - (x->index < y->index);
}

int profile__text(const struct collector *c, const struct stack_snapshot *since,
		  struct symbolizer *sym, int debug, char **out, size_t *len)
{
	const struct stack_table *t = c->stacks;
	size_t n = stack_table__len(t), nvalues = stack_table__nvalues(t), nrec = 0;
	bool contention = c->nsample_types == 2 && !strcmp(c->sample_types[0].type, "contentions");
	struct text_record *recs = calloc(n ? n : 1, sizeof(*recs));
	int64_t total = 0, values[16];
	FILE *f;

	(void)debug;
	if (!recs)
		return -ENOMEM;
	if (nvalues > 16) {
		free(recs);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		stack_table__delta(t, since, i, values);
		if (!values[0] && (nvalues < 2 || !values[nvalues - 1]))
			continue;
		recs[nrec].index = i;
		recs[nrec].values[0] = values[0];
		recs[nrec].values[1] = values[nvalues - 1];
		total += values[0];
		nrec++;
	}
	qsort(recs, nrec, sizeof(*recs), cmp_text_record);

	f = open_memstream(out, len);
	if (!f) {
		free(recs);
		return -ENOMEM;
	}
	if (contention)
		/* Delays are in ns: one "cycle" per ns. */
		fprintf(f, "--- %s:\ncycles/second=1000000000\n",
			strcmp(c->name, "mutex") ? "contention" : "mutex");
	else
		fprintf(f, "%s profile: total %" PRId64 "\n", c->name, total);
	for (size_t r = 0; r < nrec; r++) {
		const struct stack *s = stack_table__stack(t, recs[r].index);

		if (contention)
			fprintf(f, "%" PRId64 " %" PRId64 " @", recs[r].values[1], recs[r].values[0]);
		else
			fprintf(f, "%" PRId64 " @", recs[r].values[0]);
		for (uint32_t k = 0; k < s->npcs; k++)
			fprintf(f, " %#" PRIx64, s->pcs[k]);
		fputc('\n', f);
		profile__text_frames(f, s, sym);
		fputc('\n', f);
	}
	free(recs);
	return fclose(f) ? -ENOMEM : 0;
}
