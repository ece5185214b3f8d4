// SPDX-License-Identifier: MIT
/*
 * test_pprof.c - unit tests of the profile.proto encoder (daemon/pprof.c).
 *
 * The encoded profile is read back with a small protobuf decoder written here
 * independently of the encoder, and checked against what `go tool pprof`
 * enforces when it loads a profile (see check_valid()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cmocka.h>

#include "pprof.h"

/* ---- A minimal protobuf decoder ---------------------------------------- */

struct dec {
	const uint8_t *p, *end;
};

static int dec__varint(struct dec *d, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (d->p < d->end && shift < 64) {
		uint8_t c = *d->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

static int dec__key(struct dec *d, unsigned *field, unsigned *wire)
{
	uint64_t k;

	if (dec__varint(d, &k))
		return -1;
	*field = (unsigned)(k >> 3);
	*wire = (unsigned)(k & 7);
	return *field ? 0 : -1;
}

/* Reads a length-delimited field's contents into sub. */
static int dec__sub(struct dec *d, unsigned wire, struct dec *sub)
{
	uint64_t len;

	if (wire != 2 || dec__varint(d, &len) || len > (uint64_t)(d->end - d->p))
		return -1;
	sub->p = d->p;
	sub->end = d->p + len;
	d->p += len;
	return 0;
}

static int dec__scalar(struct dec *d, unsigned wire, uint64_t *v)
{
	return wire == 0 ? dec__varint(d, v) : -1;
}

/* Appends one zeroed element to a growable array (doubling at powers of two). */
#define PUSH(arr, n)                                                                               \
	({                                                                                         \
		if (((n) & ((n)-1)) == 0) {                                                        \
			(arr) = realloc((arr), ((n) ? 2 * (n) : 1) * sizeof(*(arr)));              \
			assert_non_null(arr);                                                      \
		}                                                                                  \
		memset(&(arr)[(n)], 0, sizeof(*(arr)));                                            \
		&(arr)[(n)++];                                                                     \
	})

/* A repeated uint64 field, packed (wire type 2) or not (wire type 0). */
static int dec__repeated(struct dec *d, unsigned wire, uint64_t **arr, size_t *n, bool *packed)
{
	struct dec sub;
	uint64_t v;

	if (wire == 0) {
		if (dec__varint(d, &v))
			return -1;
		*PUSH(*arr, *n) = v;
		*packed = false;
		return 0;
	}
	if (dec__sub(d, wire, &sub))
		return -1;
	while (sub.p < sub.end) {
		if (dec__varint(&sub, &v))
			return -1;
		*PUSH(*arr, *n) = v;
	}
	*packed = true;
	return 0;
}

struct dvalue_type {
	int64_t type, unit;
};

struct dlabel {
	int64_t key, str, num, num_unit;
};

struct dsample {
	uint64_t *locs;
	size_t nlocs;
	uint64_t *values; /* int64 as written on the wire */
	size_t nvalues;
	bool locs_packed, values_packed;
	struct dlabel *labels;
	size_t nlabels;
};

struct dmapping {
	uint64_t id, start, limit, offset;
	int64_t filename, build_id;
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
	uint32_t fields; /* bit n set: field n was present */
};

struct dline {
	uint64_t function_id;
	int64_t line;
};

struct dlocation {
	uint64_t id, mapping_id, address;
	struct dline *lines;
	size_t nlines;
	uint32_t fields;
};

struct dfunction {
	uint64_t id;
	int64_t name, system_name, filename, start_line;
	uint32_t fields;
};

struct dprofile {
	struct dvalue_type *sample_types;
	size_t nsample_types;
	struct dsample *samples;
	size_t nsamples;
	struct dmapping *mappings;
	size_t nmappings;
	struct dlocation *locations;
	size_t nlocations;
	struct dfunction *functions;
	size_t nfunctions;
	char **strings;
	size_t nstrings;
	int ntime_nanos;
	int64_t time_nanos, duration_nanos;
	int nperiod_type;
	struct dvalue_type period_type;
	int64_t period;
	uint64_t *comments;
	size_t ncomments;
	bool comments_packed;
	int64_t default_sample_type;
	uint32_t fields;
};

/*
 * Decodes a message made of scalar fields 1..nfields only: v[n] is field n
 * (0 when absent) and bit n of *present says whether it was there.
 */
static int decode_scalars(struct dec *d, uint64_t *v, unsigned nfields, uint32_t *present)
{
	unsigned field, wire;

	memset(v, 0, (nfields + 1) * sizeof(*v));
	*present = 0;
	while (d->p < d->end) {
		if (dec__key(d, &field, &wire) || field > nfields ||
		    dec__scalar(d, wire, &v[field]))
			return -1;
		*present |= 1u << field;
	}
	return 0;
}

static int decode_value_type(struct dec *d, struct dvalue_type *vt)
{
	uint32_t present;
	uint64_t v[3];

	if (decode_scalars(d, v, 2, &present))
		return -1;
	vt->type = (int64_t)v[1];
	vt->unit = (int64_t)v[2];
	return 0;
}

static int decode_label(struct dec *d, struct dlabel *l)
{
	uint32_t present;
	uint64_t v[5];

	if (decode_scalars(d, v, 4, &present))
		return -1;
	l->key = (int64_t)v[1];
	l->str = (int64_t)v[2];
	l->num = (int64_t)v[3];
	l->num_unit = (int64_t)v[4];
	return 0;
}

static int decode_sample(struct dec *d, struct dsample *s)
{
	unsigned field, wire;
	struct dec sub;

	while (d->p < d->end) {
		if (dec__key(d, &field, &wire))
			return -1;
		if (field == 1) {
			if (dec__repeated(d, wire, &s->locs, &s->nlocs, &s->locs_packed))
				return -1;
		} else if (field == 2) {
			if (dec__repeated(d, wire, &s->values, &s->nvalues, &s->values_packed))
				return -1;
		} else if (field == 3) {
			if (dec__sub(d, wire, &sub) ||
			    decode_label(&sub, PUSH(s->labels, s->nlabels)))
				return -1;
		} else {
			return -1;
		}
	}
	return 0;
}

static int decode_mapping(struct dec *d, struct dmapping *m)
{
	uint64_t v[11];

	if (decode_scalars(d, v, 10, &m->fields))
		return -1;
	m->id = v[1];
	m->start = v[2];
	m->limit = v[3];
	m->offset = v[4];
	m->filename = (int64_t)v[5];
	m->build_id = (int64_t)v[6];
	m->has_functions = v[7];
	m->has_filenames = v[8];
	m->has_line_numbers = v[9];
	m->has_inline_frames = v[10];
	return 0;
}

static int decode_line(struct dec *d, struct dline *l)
{
	uint32_t present;
	uint64_t v[3];

	/* Field 3, column, is never written. */
	if (decode_scalars(d, v, 2, &present))
		return -1;
	l->function_id = v[1];
	l->line = (int64_t)v[2];
	return 0;
}

static int decode_location(struct dec *d, struct dlocation *loc)
{
	unsigned field, wire;
	struct dec sub;
	uint64_t v;

	while (d->p < d->end) {
		if (dec__key(d, &field, &wire) || field > 5)
			return -1;
		loc->fields |= 1u << field;
		if (field == 4) {
			if (dec__sub(d, wire, &sub) ||
			    decode_line(&sub, PUSH(loc->lines, loc->nlines)))
				return -1;
			continue;
		}
		if (dec__scalar(d, wire, &v))
			return -1;
		if (field == 1)
			loc->id = v;
		else if (field == 2)
			loc->mapping_id = v;
		else if (field == 3)
			loc->address = v;
		else
			return -1; /* is_folded: never written */
	}
	return 0;
}

static int decode_function(struct dec *d, struct dfunction *f)
{
	uint64_t v[6];

	if (decode_scalars(d, v, 5, &f->fields))
		return -1;
	f->id = v[1];
	f->name = (int64_t)v[2];
	f->system_name = (int64_t)v[3];
	f->filename = (int64_t)v[4];
	f->start_line = (int64_t)v[5];
	return 0;
}

/* Decodes a plain (not gzipped) profile.  Any field pprofd must not write is an error. */
static int decode_profile(const uint8_t *buf, size_t len, struct dprofile *dp)
{
	struct dec d = {buf, buf + len}, sub;
	unsigned field, wire;
	uint64_t v;
	char **s;

	memset(dp, 0, sizeof(*dp));
	while (d.p < d.end) {
		if (dec__key(&d, &field, &wire) || field > 14)
			return -1;
		dp->fields |= 1u << field;
		switch (field) {
		case 1:
			if (dec__sub(&d, wire, &sub) ||
			    decode_value_type(&sub, PUSH(dp->sample_types, dp->nsample_types)))
				return -1;
			break;
		case 2:
			if (dec__sub(&d, wire, &sub) ||
			    decode_sample(&sub, PUSH(dp->samples, dp->nsamples)))
				return -1;
			break;
		case 3:
			if (dec__sub(&d, wire, &sub) ||
			    decode_mapping(&sub, PUSH(dp->mappings, dp->nmappings)))
				return -1;
			break;
		case 4:
			if (dec__sub(&d, wire, &sub) ||
			    decode_location(&sub, PUSH(dp->locations, dp->nlocations)))
				return -1;
			break;
		case 5:
			if (dec__sub(&d, wire, &sub) ||
			    decode_function(&sub, PUSH(dp->functions, dp->nfunctions)))
				return -1;
			break;
		case 6:
			if (dec__sub(&d, wire, &sub))
				return -1;
			s = PUSH(dp->strings, dp->nstrings);
			*s = strndup((const char *)sub.p, sub.end - sub.p);
			assert_non_null(*s);
			/* No NULs inside: the strings come from C strings. */
			assert_int_equal(strlen(*s), sub.end - sub.p);
			break;
		case 9:
			if (dec__scalar(&d, wire, &v))
				return -1;
			dp->time_nanos = (int64_t)v;
			dp->ntime_nanos++;
			break;
		case 10:
			if (dec__scalar(&d, wire, &v))
				return -1;
			dp->duration_nanos = (int64_t)v;
			break;
		case 11:
			if (dec__sub(&d, wire, &sub) || decode_value_type(&sub, &dp->period_type))
				return -1;
			dp->nperiod_type++;
			break;
		case 12:
			if (dec__scalar(&d, wire, &v))
				return -1;
			dp->period = (int64_t)v;
			break;
		case 13:
			if (dec__repeated(&d, wire, &dp->comments, &dp->ncomments,
					  &dp->comments_packed))
				return -1;
			break;
		case 14:
			if (dec__scalar(&d, wire, &v))
				return -1;
			dp->default_sample_type = (int64_t)v;
			break;
		default:
			/* 7 drop_frames, 8 keep_frames: never written by pprofd. */
			return -1;
		}
	}
	return 0;
}

static void dprofile_free(struct dprofile *dp)
{
	size_t i;

	for (i = 0; i < dp->nsamples; i++) {
		free(dp->samples[i].locs);
		free(dp->samples[i].values);
		free(dp->samples[i].labels);
	}
	for (i = 0; i < dp->nlocations; i++)
		free(dp->locations[i].lines);
	for (i = 0; i < dp->nstrings; i++)
		free(dp->strings[i]);
	free(dp->sample_types);
	free(dp->samples);
	free(dp->mappings);
	free(dp->locations);
	free(dp->functions);
	free(dp->strings);
	free(dp->comments);
	memset(dp, 0, sizeof(*dp));
}

static const char *str(const struct dprofile *dp, int64_t idx)
{
	assert_true(idx >= 0 && (size_t)idx < dp->nstrings);
	return dp->strings[idx];
}

static void assert_str(const struct dprofile *dp, int64_t idx, const char *want)
{
	assert_string_equal(str(dp, idx), want);
}

/* Ids are 1..n in order of creation, so they index the decoded arrays directly. */
static const struct dlocation *loc_by_id(const struct dprofile *dp, uint64_t id)
{
	assert_true(id >= 1 && id <= dp->nlocations);
	assert_int_equal(dp->locations[id - 1].id, id);
	return &dp->locations[id - 1];
}

static const struct dfunction *fn_by_id(const struct dprofile *dp, uint64_t id)
{
	assert_true(id >= 1 && id <= dp->nfunctions);
	assert_int_equal(dp->functions[id - 1].id, id);
	return &dp->functions[id - 1];
}

/* What `go tool pprof` checks when it loads a profile (profile.CheckValid and the decoder). */
static void check_valid(const struct dprofile *dp)
{
	size_t i, j;

	assert_true(dp->nstrings >= 1);
	assert_string_equal(dp->strings[0], "");
	assert_true(dp->ntime_nanos <= 1);
	assert_true(dp->nperiod_type <= 1);
	if (dp->nsamples)
		assert_true(dp->nsample_types >= 1);
	for (i = 0; i < dp->nsample_types; i++) {
		str(dp, dp->sample_types[i].type);
		str(dp, dp->sample_types[i].unit);
	}
	for (i = 0; i < dp->nmappings; i++) {
		assert_int_equal(dp->mappings[i].id, i + 1);
		str(dp, dp->mappings[i].filename);
		str(dp, dp->mappings[i].build_id);
	}
	for (i = 0; i < dp->nfunctions; i++) {
		assert_int_equal(dp->functions[i].id, i + 1);
		str(dp, dp->functions[i].name);
		str(dp, dp->functions[i].system_name);
		str(dp, dp->functions[i].filename);
	}
	for (i = 0; i < dp->nlocations; i++) {
		const struct dlocation *loc = &dp->locations[i];

		assert_int_equal(loc->id, i + 1);
		assert_true(loc->mapping_id <= dp->nmappings);
		for (j = 0; j < loc->nlines; j++)
			fn_by_id(dp, loc->lines[j].function_id);
	}
	for (i = 0; i < dp->nsamples; i++) {
		const struct dsample *s = &dp->samples[i];

		assert_int_equal(s->nvalues, dp->nsample_types);
		/* pprofd writes both packed whenever they are present. */
		assert_true(s->values_packed);
		if (s->nlocs)
			assert_true(s->locs_packed);
		for (j = 0; j < s->nlocs; j++)
			loc_by_id(dp, s->locs[j]);
		for (j = 0; j < s->nlabels; j++) {
			str(dp, s->labels[j].key);
			str(dp, s->labels[j].str);
			str(dp, s->labels[j].num_unit);
		}
	}
	for (i = 0; i < dp->ncomments; i++)
		str(dp, (int64_t)dp->comments[i]);
	str(dp, dp->default_sample_type);
	/* 15 (doc_url in newer pprof) and 16 must never appear: decode_profile() rejects them. */
	assert_false(dp->fields & (1u << 15 | 1u << 16));
}

/* Encodes b without gzip and decodes the result into dp, checking it as pprof would. */
static void encode_decode(struct profile_builder *b, struct dprofile *dp)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	assert_int_equal(profile_builder__encode(b, false, &buf, &len), 0);
	assert_non_null(buf);
	assert_int_equal(decode_profile(buf, len, dp), 0);
	check_valid(dp);
	free(buf);
}

/* ---- Tests ---------------------------------------------------------------- */

static void test_free_null(void **state)
{
	(void)state;
	profile_builder__free(NULL);
}

static void test_empty_profile(void **state)
{
	struct profile_builder *b = profile_builder__new();
	struct dprofile dp;

	(void)state;
	assert_non_null(b);
	encode_decode(b, &dp);
	assert_int_equal(dp.nstrings, 1);
	assert_string_equal(dp.strings[0], "");
	/* Only the string table: every zero scalar is omitted. */
	assert_int_equal(dp.fields, 1u << 6);
	dprofile_free(&dp);
	profile_builder__free(b);
}

static void test_strings(void **state)
{
	enum { N = 100000 };
	struct profile_builder *b = profile_builder__new();
	static int64_t idx[N];
	struct dprofile dp;
	char name[32];
	int64_t foo;
	size_t i;

	(void)state;
	assert_non_null(b);
	assert_int_equal(profile_builder__string(b, NULL), 0);
	assert_int_equal(profile_builder__string(b, ""), 0);
	foo = profile_builder__string(b, "foo");
	assert_int_equal(foo, 1);
	assert_int_equal(profile_builder__string(b, "foo"), foo);
	assert_int_equal(profile_builder__string(b, "bar"), 2);
	assert_int_equal(profile_builder__string(b, "fo"), 3);

	/* Enough strings to grow the hash table many times; ids stay stable. */
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "_ZN5space%zuE", i);
		idx[i] = profile_builder__string(b, name);
		assert_int_equal(idx[i], 4 + i);
	}
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "_ZN5space%zuE", i);
		assert_int_equal(profile_builder__string(b, name), idx[i]);
	}
	assert_int_equal(profile_builder__string(b, "foo"), foo);

	encode_decode(b, &dp);
	assert_int_equal(dp.nstrings, 4 + N);
	assert_str(&dp, foo, "foo");
	assert_str(&dp, 2, "bar");
	assert_str(&dp, 3, "fo");
	for (i = 0; i < N; i += 997) {
		snprintf(name, sizeof(name), "_ZN5space%zuE", i);
		assert_str(&dp, idx[i], name);
	}
	dprofile_free(&dp);
	profile_builder__free(b);
}

static void test_function_dedup(void **state)
{
	struct profile_builder *b = profile_builder__new();
	uint64_t f, g;
	struct dprofile dp;

	(void)state;
	assert_non_null(b);
	f = profile_builder__function(b, "compute", NULL, "app.c", 40);
	assert_int_equal(f, 1);
	assert_int_equal(profile_builder__function(b, "compute", NULL, "app.c", 40), f);
	/* system_name NULL means the same as name. */
	assert_int_equal(profile_builder__function(b, "compute", "compute", "app.c", 40), f);
	/* Any of the four fields differing makes another function. */
	assert_int_equal(profile_builder__function(b, "compute2", NULL, "app.c", 40), 2);
	assert_int_equal(profile_builder__function(b, "compute", "_Z7computev", "app.c", 40), 3);
	assert_int_equal(profile_builder__function(b, "compute", NULL, "app2.c", 40), 4);
	assert_int_equal(profile_builder__function(b, "compute", NULL, "app.c", 41), 5);
	assert_int_equal(profile_builder__function(b, "compute", NULL, NULL, 0), 6);
	assert_int_equal(profile_builder__function(b, "compute", NULL, NULL, 0), 6);
	assert_int_equal(profile_builder__function(b, "compute", "_Z7computev", "app.c", 40), 3);
	assert_int_equal(profile_builder__function(b, "compute", NULL, "app.c", 40), f);

	/* Many functions: still deduplicated after the table grew. */
	for (int64_t i = 0; i < 5000; i++) {
		g = profile_builder__function(b, "many", NULL, "many.c", i);
		assert_int_equal(g, 7 + i);
	}
	for (int64_t i = 0; i < 5000; i++)
		assert_int_equal(profile_builder__function(b, "many", NULL, "many.c", i), 7 + i);

	encode_decode(b, &dp);
	assert_int_equal(dp.nfunctions, 6 + 5000);
	assert_str(&dp, dp.functions[0].name, "compute");
	assert_str(&dp, dp.functions[0].system_name, "compute");
	assert_str(&dp, dp.functions[0].filename, "app.c");
	assert_int_equal(dp.functions[0].start_line, 40);
	assert_str(&dp, dp.functions[2].system_name, "_Z7computev");
	assert_str(&dp, dp.functions[2].name, "compute");
	/* Function 6: no filename, no start line, both fields omitted. */
	assert_int_equal(dp.functions[5].fields, 1u << 1 | 1u << 2 | 1u << 3);
	assert_int_equal(dp.functions[5].filename, 0);
	assert_int_equal(dp.functions[5].start_line, 0);
	/* Start line 0 of the first "many": omitted. */
	assert_false(dp.functions[6].fields & 1u << 5);
	assert_int_equal(dp.functions[7].start_line, 1);
	dprofile_free(&dp);
	profile_builder__free(b);
}

/* Profile used by several tests: a CPU profile with inline frames, labels and two mappings. */
struct fixture {
	struct profile_builder *b;
	uint64_t m_app, m_libc;
	uint64_t f_main, f_compute, f_helper, f_memcpy;
	uint64_t l_inline, l_main, l_libc;
};

static void build_cpu_profile(struct fixture *fx)
{
	struct profile_builder *b = profile_builder__new();
	struct profile_line lines[2];
	const struct profile_label labels[] = {
	    {.key = "thread_name", .str = "worker"},
	    {.key = "bytes", .num = 4096, .num_unit = "bytes"},
	    {.key = "tid", .num = 1234},
	};
	uint64_t locs[3];
	int64_t values[2];

	assert_non_null(b);
	fx->b = b;
	assert_int_equal(profile_builder__sample_type(b, "samples", "count"), 0);
	assert_int_equal(profile_builder__sample_type(b, "cpu", "nanoseconds"), 0);
	profile_builder__period(b, "cpu", "nanoseconds", 10000000);
	profile_builder__time(b, 1700000000123456789LL, 30000000000LL);
	profile_builder__comment(b, "pprofd test");
	profile_builder__comment(b, "second comment");
	profile_builder__default_sample_type(b, "cpu");

	fx->m_app = profile_builder__mapping(b, 0x400000, 0x500000, 0, "/usr/bin/app",
					     "0123456789abcdef", MAPPING_HAS_FUNCTIONS);
	assert_int_equal(fx->m_app, 1);
	fx->m_libc = profile_builder__mapping(b, 0x7f0000000000, 0x7f0000200000, 0x28000,
					      "/lib/x86_64-linux-gnu/libc.so.6", NULL, 0);
	assert_int_equal(fx->m_libc, 2);
	/* The flags are only known once every location is symbolized. */
	profile_builder__mapping_flags(b, fx->m_app,
				       MAPPING_HAS_FUNCTIONS | MAPPING_HAS_FILENAMES |
					   MAPPING_HAS_LINE_NUMBERS | MAPPING_HAS_INLINE_FRAMES);
	/* Unknown ids are ignored. */
	profile_builder__mapping_flags(b, 0, MAPPING_HAS_FUNCTIONS);
	profile_builder__mapping_flags(b, 99, MAPPING_HAS_FUNCTIONS);

	fx->f_main = profile_builder__function(b, "main", NULL, "app.c", 5);
	fx->f_compute = profile_builder__function(b, "compute", NULL, "app.c", 30);
	fx->f_helper = profile_builder__function(b, "helper", NULL, "helper.h", 10);
	fx->f_memcpy = profile_builder__function(b, "__memmove_avx_unaligned_erms", NULL, NULL, 0);
	assert_int_not_equal(fx->f_memcpy, 0);

	/* helper() inlined into compute(): innermost first. */
	lines[0] = (struct profile_line){fx->f_helper, 12};
	lines[1] = (struct profile_line){fx->f_compute, 40};
	fx->l_inline = profile_builder__location(b, fx->m_app, 0x401234, lines, 2);
	lines[0] = (struct profile_line){fx->f_main, 7};
	fx->l_main = profile_builder__location(b, fx->m_app, 0x401500, lines, 1);
	/* Unresolved address in libc. */
	fx->l_libc = profile_builder__location(b, fx->m_libc, 0x7f0000001234, NULL, 0);
	assert_int_equal(fx->l_inline, 1);
	assert_int_equal(fx->l_main, 2);
	assert_int_equal(fx->l_libc, 3);

	locs[0] = fx->l_inline;
	locs[1] = fx->l_main;
	values[0] = 3;
	values[1] = 30000000;
	assert_int_equal(profile_builder__sample(b, locs, 2, values, 2, labels, 3), 0);

	locs[0] = fx->l_libc;
	locs[1] = fx->l_inline;
	locs[2] = fx->l_main;
	values[0] = 1;
	values[1] = 10000000;
	assert_int_equal(profile_builder__sample(b, locs, 3, values, 2, NULL, 0), 0);

	/* Delta profiles have negative values; zero values are still written. */
	values[0] = -2;
	values[1] = 0;
	assert_int_equal(profile_builder__sample(b, locs + 2, 1, values, 2, labels, 1), 0);
}

static void test_cpu_profile(void **state)
{
	struct fixture fx;
	struct dprofile dp;
	const struct dsample *s;
	const struct dlocation *loc;
	const struct dmapping *m;

	(void)state;
	build_cpu_profile(&fx);
	encode_decode(fx.b, &dp);

	assert_string_equal(dp.strings[0], "");
	assert_int_equal(dp.nsample_types, 2);
	assert_str(&dp, dp.sample_types[0].type, "samples");
	assert_str(&dp, dp.sample_types[0].unit, "count");
	assert_str(&dp, dp.sample_types[1].type, "cpu");
	assert_str(&dp, dp.sample_types[1].unit, "nanoseconds");
	assert_int_equal(dp.nperiod_type, 1);
	assert_str(&dp, dp.period_type.type, "cpu");
	assert_str(&dp, dp.period_type.unit, "nanoseconds");
	assert_int_equal(dp.period, 10000000);
	assert_int_equal(dp.ntime_nanos, 1);
	assert_int_equal(dp.time_nanos, 1700000000123456789LL);
	assert_int_equal(dp.duration_nanos, 30000000000LL);
	assert_int_equal(dp.ncomments, 2);
	assert_str(&dp, (int64_t)dp.comments[0], "pprofd test");
	assert_str(&dp, (int64_t)dp.comments[1], "second comment");
	/* default_sample_type is the string index of the type "cpu", the same as sample_types[1].
	 */
	assert_int_equal(dp.default_sample_type, dp.sample_types[1].type);
	assert_str(&dp, dp.default_sample_type, "cpu");

	/* Samples: values and leaf-first location ids as given. */
	assert_int_equal(dp.nsamples, 3);
	s = &dp.samples[0];
	assert_int_equal(s->nlocs, 2);
	assert_int_equal(s->locs[0], fx.l_inline);
	assert_int_equal(s->locs[1], fx.l_main);
	assert_int_equal(s->nvalues, 2);
	assert_int_equal((int64_t)s->values[0], 3);
	assert_int_equal((int64_t)s->values[1], 30000000);
	assert_int_equal(s->nlabels, 3);
	assert_str(&dp, s->labels[0].key, "thread_name");
	assert_str(&dp, s->labels[0].str, "worker");
	assert_int_equal(s->labels[0].num, 0);
	assert_int_equal(s->labels[0].num_unit, 0);
	assert_str(&dp, s->labels[1].key, "bytes");
	assert_int_equal(s->labels[1].str, 0);
	assert_int_equal(s->labels[1].num, 4096);
	assert_str(&dp, s->labels[1].num_unit, "bytes");
	assert_str(&dp, s->labels[2].key, "tid");
	assert_int_equal(s->labels[2].num, 1234);
	assert_int_equal(s->labels[2].num_unit, 0);

	s = &dp.samples[1];
	assert_int_equal(s->nlocs, 3);
	assert_int_equal(s->locs[0], fx.l_libc);
	assert_int_equal(s->locs[1], fx.l_inline);
	assert_int_equal(s->locs[2], fx.l_main);
	assert_int_equal((int64_t)s->values[0], 1);
	assert_int_equal((int64_t)s->values[1], 10000000);
	assert_int_equal(s->nlabels, 0);

	s = &dp.samples[2];
	assert_int_equal(s->nlocs, 1);
	assert_int_equal(s->locs[0], fx.l_main);
	assert_int_equal(s->nvalues, 2);
	assert_int_equal((int64_t)s->values[0], -2);
	assert_int_equal((int64_t)s->values[1], 0);
	assert_int_equal(s->nlabels, 1);

	/* Mappings, with the flags replaced after the fact. */
	assert_int_equal(dp.nmappings, 2);
	m = &dp.mappings[0];
	assert_int_equal(m->id, 1);
	assert_int_equal(m->start, 0x400000);
	assert_int_equal(m->limit, 0x500000);
	assert_int_equal(m->offset, 0);
	assert_false(m->fields & 1u << 4); /* file_offset 0: omitted */
	assert_str(&dp, m->filename, "/usr/bin/app");
	assert_str(&dp, m->build_id, "0123456789abcdef");
	assert_true(m->has_functions);
	assert_true(m->has_filenames);
	assert_true(m->has_line_numbers);
	assert_true(m->has_inline_frames);
	m = &dp.mappings[1];
	assert_int_equal(m->id, 2);
	assert_int_equal(m->start, 0x7f0000000000);
	assert_int_equal(m->limit, 0x7f0000200000);
	assert_int_equal(m->offset, 0x28000);
	assert_str(&dp, m->filename, "/lib/x86_64-linux-gnu/libc.so.6");
	assert_int_equal(m->build_id, 0);
	/* No build id, no flags: only id, start, limit, offset, filename. */
	assert_int_equal(m->fields, 1u << 1 | 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5);

	/* Locations: inline lines innermost first. */
	assert_int_equal(dp.nlocations, 3);
	loc = loc_by_id(&dp, fx.l_inline);
	assert_int_equal(loc->mapping_id, fx.m_app);
	assert_int_equal(loc->address, 0x401234);
	assert_int_equal(loc->nlines, 2);
	assert_int_equal(loc->lines[0].function_id, fx.f_helper);
	assert_int_equal(loc->lines[0].line, 12);
	assert_int_equal(loc->lines[1].function_id, fx.f_compute);
	assert_int_equal(loc->lines[1].line, 40);
	assert_str(&dp, fn_by_id(&dp, loc->lines[0].function_id)->name, "helper");
	assert_str(&dp, fn_by_id(&dp, loc->lines[0].function_id)->filename, "helper.h");
	assert_str(&dp, fn_by_id(&dp, loc->lines[1].function_id)->name, "compute");
	loc = loc_by_id(&dp, fx.l_main);
	assert_int_equal(loc->nlines, 1);
	assert_str(&dp, fn_by_id(&dp, loc->lines[0].function_id)->name, "main");
	assert_int_equal(loc->lines[0].line, 7);
	loc = loc_by_id(&dp, fx.l_libc);
	assert_int_equal(loc->mapping_id, fx.m_libc);
	assert_int_equal(loc->address, 0x7f0000001234);
	assert_int_equal(loc->nlines, 0);

	assert_int_equal(dp.nfunctions, 4);
	assert_int_equal(fn_by_id(&dp, fx.f_compute)->start_line, 30);

	dprofile_free(&dp);
	profile_builder__free(fx.b);
}

static void test_location_without_mapping(void **state)
{
	struct profile_builder *b = profile_builder__new();
	struct profile_line line;
	struct dprofile dp;
	uint64_t loc;

	(void)state;
	assert_non_null(b);
	line.function_id = profile_builder__function(b, "f", NULL, NULL, 0);
	line.line = 0;
	loc = profile_builder__location(b, 0, 0x1000, &line, 1);
	assert_int_equal(loc, 1);
	encode_decode(b, &dp);
	assert_int_equal(dp.nlocations, 1);
	/* mapping_id 0 and line 0 are omitted. */
	assert_int_equal(dp.locations[0].fields, 1u << 1 | 1u << 3 | 1u << 4);
	assert_int_equal(dp.locations[0].lines[0].line, 0);
	dprofile_free(&dp);
	profile_builder__free(b);
}

static void test_invalid_arguments(void **state)
{
	struct profile_builder *b = profile_builder__new();
	struct profile_line line = {0, 1};
	int64_t values[3] = {1, 2, 3};
	struct dprofile dp;
	uint64_t loc, fn;

	(void)state;
	assert_non_null(b);
	fn = profile_builder__function(b, "f", NULL, NULL, 0);
	loc = profile_builder__location(b, 0, 0x1000, NULL, 0);
	assert_int_equal(loc, 1);

	/* No sample types yet: pprof rejects samples then. */
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 0, NULL, 0), -EINVAL);

	assert_int_equal(profile_builder__sample_type(b, "alloc_objects", "count"), 0);
	assert_int_equal(profile_builder__sample_type(b, "alloc_space", "bytes"), 0);
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 1, NULL, 0), -EINVAL);
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 3, NULL, 0), -EINVAL);
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 0, NULL, 0), -EINVAL);

	/* Location ids that do not resolve. */
	loc = 0;
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 2, NULL, 0), -EINVAL);
	loc = 2;
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 2, NULL, 0), -EINVAL);

	/* Unknown mapping or function ids: no location. */
	assert_int_equal(profile_builder__location(b, 1, 0x1000, NULL, 0), 0);
	assert_int_equal(profile_builder__location(b, 0, 0x1000, &line, 1), 0);
	line.function_id = fn + 1;
	assert_int_equal(profile_builder__location(b, 0, 0x1000, &line, 1), 0);

	loc = 1;
	assert_int_equal(profile_builder__sample(b, &loc, 1, values, 2, NULL, 0), 0);
	/* A sample type added after samples would leave them one value short. */
	assert_int_equal(profile_builder__sample_type(b, "inuse_space", "bytes"), -EINVAL);

	/* The rejected calls left nothing behind. */
	encode_decode(b, &dp);
	assert_int_equal(dp.nsample_types, 2);
	assert_int_equal(dp.nsamples, 1);
	assert_int_equal(dp.nlocations, 1);
	assert_int_equal((int64_t)dp.samples[0].values[0], 1);
	assert_int_equal((int64_t)dp.samples[0].values[1], 2);
	/* No default_sample_type, period, time or comment set: none written. */
	assert_false(dp.fields & (1u << 9 | 1u << 10 | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 14));
	dprofile_free(&dp);
	profile_builder__free(b);
}

/* Inflates a gzip stream into a malloc'd buffer. */
static uint8_t *gunzip(const uint8_t *in, size_t len, size_t *out_len)
{
	z_stream zs;
	size_t cap = 4 * len + 64, n = 0;
	uint8_t *out = malloc(cap);
	int zerr;

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	do {
		if (n == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		zs.next_out = out + n;
		zs.avail_out = (uInt)(cap - n);
		zerr = inflate(&zs, Z_NO_FLUSH);
		assert_true(zerr == Z_OK || zerr == Z_STREAM_END);
		n = cap - zs.avail_out;
	} while (zerr != Z_STREAM_END);
	/* Exactly one gzip member, nothing after it. */
	assert_int_equal(zs.avail_in, 0);
	inflateEnd(&zs);
	*out_len = n;
	return out;
}

static void check_gzip(struct profile_builder *b)
{
	uint8_t *plain = NULL, *again = NULL, *gz = NULL, *inflated;
	size_t plain_len, again_len, gz_len, inflated_len;

	assert_int_equal(profile_builder__encode(b, false, &plain, &plain_len), 0);
	assert_int_equal(profile_builder__encode(b, true, &gz, &gz_len), 0);
	/* Encoding does not consume the builder. */
	assert_int_equal(profile_builder__encode(b, false, &again, &again_len), 0);
	assert_int_equal(again_len, plain_len);
	assert_memory_equal(again, plain, plain_len);

	assert_true(gz_len >= 18);
	assert_int_equal(gz[0], 0x1f);
	assert_int_equal(gz[1], 0x8b);
	inflated = gunzip(gz, gz_len, &inflated_len);
	assert_int_equal(inflated_len, plain_len);
	assert_memory_equal(inflated, plain, plain_len);
	free(inflated);
	free(plain);
	free(again);
	free(gz);
}

static void test_gzip(void **state)
{
	struct profile_builder *b = profile_builder__new();
	struct fixture fx;

	(void)state;
	/* Empty profile: still a valid gzip stream of the two-byte string table. */
	assert_non_null(b);
	check_gzip(b);
	profile_builder__free(b);

	build_cpu_profile(&fx);
	check_gzip(fx.b);
	profile_builder__free(fx.b);
}

/* A profile the size of a busy C++ service: growth of every buffer, and a multi-MB encoding. */
static void test_large_profile(void **state)
{
	enum { NFUNC = 20000, NLOC = 60000, NSAMPLE = 100000, DEPTH = 24 };
	struct profile_builder *b = profile_builder__new();
	struct profile_line lines[3];
	struct profile_label label = {.key = "tid"};
	uint64_t locs[DEPTH], mapping;
	int64_t values[2];
	struct dprofile dp;
	char name[64];
	size_t i, j;

	(void)state;
	assert_non_null(b);
	assert_int_equal(profile_builder__sample_type(b, "samples", "count"), 0);
	assert_int_equal(profile_builder__sample_type(b, "cpu", "nanoseconds"), 0);
	mapping = profile_builder__mapping(b, 0x400000, 0x40000000, 0, "/usr/bin/big", "ab", 0);
	for (i = 0; i < NFUNC; i++) {
		snprintf(name, sizeof(name), "ns::Class%zu::method(int)", i);
		assert_int_equal(profile_builder__function(b, name, NULL, "big.cc", i), i + 1);
	}
	for (i = 0; i < NLOC; i++) {
		size_t n = 1 + i % 3;

		for (j = 0; j < n; j++) {
			lines[j].function_id = 1 + (i * 7 + j) % NFUNC;
			lines[j].line = (int64_t)(i + j);
		}
		assert_int_equal(profile_builder__location(b, mapping, 0x400000 + 16 * i, lines, n),
				 i + 1);
	}
	for (i = 0; i < NSAMPLE; i++) {
		size_t depth = 1 + i % DEPTH;

		for (j = 0; j < depth; j++)
			locs[j] = 1 + (i * 13 + j * 101) % NLOC;
		values[0] = (int64_t)(i % 5 + 1);
		values[1] = values[0] * 10000000;
		label.num = (int64_t)(i % 64);
		assert_int_equal(profile_builder__sample(b, locs, depth, values, 2, &label, 1), 0);
	}

	encode_decode(b, &dp);
	assert_int_equal(dp.nfunctions, NFUNC);
	assert_int_equal(dp.nlocations, NLOC);
	assert_int_equal(dp.nsamples, NSAMPLE);
	for (i = 0; i < NSAMPLE; i += 1009) {
		const struct dsample *s = &dp.samples[i];

		assert_int_equal(s->nlocs, 1 + i % DEPTH);
		for (j = 0; j < s->nlocs; j++)
			assert_int_equal(s->locs[j], 1 + (i * 13 + j * 101) % NLOC);
		assert_int_equal((int64_t)s->values[1], (int64_t)(i % 5 + 1) * 10000000);
		assert_int_equal(s->labels[0].num, i % 64);
	}
	for (i = 0; i < NLOC; i += 997) {
		assert_int_equal(dp.locations[i].nlines, 1 + i % 3);
		assert_int_equal(dp.locations[i].address, 0x400000 + 16 * i);
		assert_int_equal(dp.locations[i].lines[0].function_id, 1 + (i * 7) % NFUNC);
	}
	snprintf(name, sizeof(name), "ns::Class%d::method(int)", NFUNC - 1);
	assert_str(&dp, dp.functions[NFUNC - 1].name, name);
	dprofile_free(&dp);

	check_gzip(b);
	profile_builder__free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_free_null),
	    cmocka_unit_test(test_empty_profile),
	    cmocka_unit_test(test_strings),
	    cmocka_unit_test(test_function_dedup),
	    cmocka_unit_test(test_cpu_profile),
	    cmocka_unit_test(test_location_without_mapping),
	    cmocka_unit_test(test_invalid_arguments),
	    cmocka_unit_test(test_gzip),
	    cmocka_unit_test(test_large_profile),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
