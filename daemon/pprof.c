// SPDX-License-Identifier: MIT
/*
 * pprof.c - profile.proto encoder, see pprof.h.
 *
 * The builder keeps everything as string-table indices and flat arrays; the
 * encoder walks them once and writes protobuf by hand:
 *
 *   - scalars are varints (wire type 0), omitted when zero as proto3 does;
 *   - strings, sub-messages and packed repeated numbers are length-delimited
 *     (wire type 2).  A sub-message is written in place and its tag and length
 *     are inserted in front of it once its size is known (pbuf__end()), so no
 *     size has to be computed twice.
 *
 * Strings and functions are deduplicated through open-addressing hash tables:
 * a profile of a large C++ binary easily has 100k distinct strings.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof.h"

/* Profile.proto field numbers (google/pprof proto/profile.proto). */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
	/* 15 and 16 are never written: newer pprof reads 15 as doc_url. */

	VALUE_TYPE_TYPE = 1,
	VALUE_TYPE_UNIT = 2,

	SAMPLE_LOCATION_ID = 1,
	SAMPLE_VALUE = 2,
	SAMPLE_LABEL = 3,

	LABEL_KEY = 1,
	LABEL_STR = 2,
	LABEL_NUM = 3,
	LABEL_NUM_UNIT = 4,

	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILE_OFFSET = 4,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS_FIELD = 7,
	MAPPING_HAS_FILENAMES_FIELD = 8,
	MAPPING_HAS_LINE_NUMBERS_FIELD = 9,
	MAPPING_HAS_INLINE_FRAMES_FIELD = 10,

	LOCATION_ID = 1,
	LOCATION_MAPPING_ID = 2,
	LOCATION_ADDRESS = 3,
	LOCATION_LINE = 4,

	LINE_FUNCTION_ID = 1,
	LINE_LINE = 2,

	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5,
};

enum { WIRE_VARINT = 0, WIRE_LEN = 2 };

/* Longest varint: 64 bits in 7-bit groups. */
#define VARINT_MAX 10

/*
 * Open-addressing hash table (linear probing, at most half full) mapping a
 * 32-bit hash to an index into one of the builder's arrays.  The low 32 bits
 * of the hash are kept in the slot, so growing needs no rehashing of the keys
 * and most mismatches are rejected without touching the entry.
 */
struct hslot {
	uint32_t idx; /* entry index + 1; 0 = empty */
	uint32_t hash;
};

struct htab {
	struct hslot *slots;
	size_t cap; /* power of two, or 0 */
	size_t count;
};

struct pstring {
	char *s;
	size_t len;
};

struct value_type {
	int64_t type;
	int64_t unit;
};

struct mapping {
	uint64_t start;
	uint64_t limit;
	uint64_t file_offset;
	int64_t filename;
	int64_t build_id;
	unsigned flags;
};

struct function {
	int64_t name;
	int64_t system_name;
	int64_t filename;
	int64_t start_line;
};

struct location {
	uint64_t mapping_id;
	uint64_t address;
	size_t line_off; /* into profile_builder.lines */
	size_t nlines;
};

struct label {
	int64_t key;
	int64_t str;
	int64_t num;
	int64_t num_unit;
};

struct sample {
	size_t location_off; /* into profile_builder.sample_locations */
	size_t nlocations;
	size_t label_off; /* into profile_builder.labels */
	size_t nlabels;
	/* values: nsample_types of them at profile_builder.sample_values[i * nsample_types] */
};

struct profile_builder {
	/*
	 * First allocation failure of any call, even one whose caller ignored
	 * it: the profile is incomplete from then on, and
	 * profile_builder__encode() returns this rather than a partial profile.
	 */
	int err;

	struct pstring *strings;
	size_t nstrings, strings_cap;
	struct htab string_index;

	struct value_type *sample_types;
	size_t nsample_types, sample_types_cap;

	struct value_type period_type;
	int64_t period;
	int64_t time_nanos;
	int64_t duration_nanos;
	int64_t default_sample_type;

	int64_t *comments;
	size_t ncomments, comments_cap;

	struct mapping *mappings;
	size_t nmappings, mappings_cap;

	struct function *functions;
	size_t nfunctions, functions_cap;
	struct htab function_index;

	struct location *locations;
	size_t nlocations, locations_cap;
	struct profile_line *lines;
	size_t nlines, lines_cap;

	struct sample *samples;
	size_t nsamples, samples_cap;
	uint64_t *sample_locations;
	size_t nsample_locations, sample_locations_cap;
	int64_t *sample_values;
	size_t nsample_values, sample_values_cap;
	struct label *labels;
	size_t nlabels, labels_cap;
};

/*
 * Makes room for need elements of elem_size in *data (capacity *cap, in
 * elements), growing geometrically.  Returns 0 or -ENOMEM; *data is unchanged
 * on failure.
 */
static int array__reserve(void **data, size_t *cap, size_t need, size_t elem_size)
{
	size_t new_cap;
	void *p;

	if (need <= *cap)
		return 0;
	new_cap = *cap ? *cap : 16;
	while (new_cap < need) {
		if (new_cap > SIZE_MAX / 2)
			return -ENOMEM;
		new_cap *= 2;
	}
	if (new_cap > SIZE_MAX / elem_size)
		return -ENOMEM;
	p = realloc(*data, new_cap * elem_size);
	if (!p)
		return -ENOMEM;
	*data = p;
	*cap = new_cap;
	return 0;
}

/* MurmurHash3's 64-bit finalizer: spreads every input bit over the low bits we probe with. */
static uint64_t hash__mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static uint32_t hash__bytes(const char *s, size_t len)
{
	/* FNV-1a 64, then mixed: FNV alone has weak low bits. */
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return (uint32_t)hash__mix(h);
}

static uint32_t hash__function(const struct function *f)
{
	uint64_t h = hash__mix((uint64_t)f->name);

	h = hash__mix(h ^ (uint64_t)f->system_name);
	h = hash__mix(h ^ (uint64_t)f->filename);
	h = hash__mix(h ^ (uint64_t)f->start_line);
	return (uint32_t)h;
}

typedef bool (*htab_eq_fn)(const struct profile_builder *b, size_t idx, const void *key);

/* Returns the slot holding an entry equal to key, or the empty slot where it belongs. */
static struct hslot *htab__find(const struct htab *t, uint32_t hash, htab_eq_fn eq,
				const struct profile_builder *b, const void *key)
{
	size_t i = hash & (t->cap - 1);
	struct hslot *slot;

	for (;; i = (i + 1) & (t->cap - 1)) {
		slot = &t->slots[i];
		if (!slot->idx)
			return slot;
		if (slot->hash == hash && eq(b, slot->idx - 1, key))
			return slot;
	}
}

/* Makes sure one more entry fits with the table at most half full.  Returns 0 or -ENOMEM. */
static int htab__reserve_one(struct htab *t)
{
	struct hslot *slots, *old = t->slots;
	size_t cap, i, j;

	if (t->cap && (t->count + 1) <= t->cap / 2)
		return 0;
	cap = t->cap ? t->cap * 2 : 64;
	if (cap > SIZE_MAX / sizeof(*slots))
		return -ENOMEM;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (!old[i].idx)
			continue;
		for (j = old[i].hash & (cap - 1); slots[j].idx; j = (j + 1) & (cap - 1))
			;
		slots[j] = old[i];
	}
	free(old);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

static void builder__fail(struct profile_builder *b, int err)
{
	if (!b->err)
		b->err = err;
}

struct string_key {
	const char *s;
	size_t len;
};

static bool string__eq(const struct profile_builder *b, size_t idx, const void *key)
{
	const struct string_key *k = key;
	const struct pstring *s = &b->strings[idx];

	return s->len == k->len && !memcmp(s->s, k->s, k->len);
}

/* Appends a string to the table without looking it up.  Returns its index or -ENOMEM. */
static int64_t builder__append_string(struct profile_builder *b, const char *s, size_t len)
{
	char *copy;

	/* Slots keep index + 1 in 32 bits. */
	if (b->nstrings >= UINT32_MAX - 1)
		return -ENOMEM;
	if (array__reserve((void **)&b->strings, &b->strings_cap, b->nstrings + 1,
			   sizeof(*b->strings)))
		return -ENOMEM;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len + 1);
	b->strings[b->nstrings].s = copy;
	b->strings[b->nstrings].len = len;
	return (int64_t)b->nstrings++;
}

/* Like profile_builder__string() but returns -ENOMEM instead of recording the failure. */
static int64_t builder__intern(struct profile_builder *b, const char *s)
{
	struct string_key key;
	struct hslot *slot;
	uint32_t hash;
	int64_t idx;

	if (!s || !*s)
		return 0;
	key.s = s;
	key.len = strlen(s);
	hash = hash__bytes(s, key.len);
	if (htab__reserve_one(&b->string_index))
		return -ENOMEM;
	slot = htab__find(&b->string_index, hash, string__eq, b, &key);
	if (slot->idx)
		return slot->idx - 1;
	idx = builder__append_string(b, s, key.len);
	if (idx < 0)
		return idx;
	slot->idx = (uint32_t)idx + 1;
	slot->hash = hash;
	b->string_index.count++;
	return idx;
}

struct profile_builder *profile_builder__new(void)
{
	struct profile_builder *b;

	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	/* string_table[0] must be "": it is never in the index, interning "" short-cuts to 0. */
	if (builder__append_string(b, "", 0) != 0) {
		profile_builder__free(b);
		return NULL;
	}
	return b;
}

void profile_builder__free(struct profile_builder *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->nstrings; i++)
		free(b->strings[i].s);
	free(b->strings);
	free(b->string_index.slots);
	free(b->sample_types);
	free(b->comments);
	free(b->mappings);
	free(b->functions);
	free(b->function_index.slots);
	free(b->locations);
	free(b->lines);
	free(b->samples);
	free(b->sample_locations);
	free(b->sample_values);
	free(b->labels);
	free(b);
}

int64_t profile_builder__string(struct profile_builder *b, const char *s)
{
	int64_t idx = builder__intern(b, s);

	if (idx < 0) {
		builder__fail(b, (int)idx);
		return 0;
	}
	return idx;
}

int profile_builder__sample_type(struct profile_builder *b, const char *type, const char *unit)
{
	struct value_type vt;

	/* Samples already added carry one value per type known then. */
	if (b->nsamples)
		return -EINVAL;
	vt.type = builder__intern(b, type);
	vt.unit = builder__intern(b, unit);
	if (vt.type < 0 || vt.unit < 0 ||
	    array__reserve((void **)&b->sample_types, &b->sample_types_cap, b->nsample_types + 1,
			   sizeof(*b->sample_types))) {
		builder__fail(b, -ENOMEM);
		return -ENOMEM;
	}
	b->sample_types[b->nsample_types++] = vt;
	return 0;
}

void profile_builder__period(struct profile_builder *b, const char *type, const char *unit,
			     int64_t period)
{
	b->period_type.type = profile_builder__string(b, type);
	b->period_type.unit = profile_builder__string(b, unit);
	b->period = period;
}

void profile_builder__time(struct profile_builder *b, int64_t time_nanos, int64_t duration_nanos)
{
	b->time_nanos = time_nanos;
	b->duration_nanos = duration_nanos;
}

void profile_builder__default_sample_type(struct profile_builder *b, const char *type)
{
	b->default_sample_type = profile_builder__string(b, type);
}

void profile_builder__comment(struct profile_builder *b, const char *comment)
{
	int64_t idx = builder__intern(b, comment);

	if (idx < 0 || array__reserve((void **)&b->comments, &b->comments_cap, b->ncomments + 1,
				      sizeof(*b->comments))) {
		builder__fail(b, -ENOMEM);
		return;
	}
	b->comments[b->ncomments++] = idx;
}

uint64_t profile_builder__mapping(struct profile_builder *b, uint64_t start, uint64_t limit,
				  uint64_t file_offset, const char *filename, const char *build_id,
				  unsigned flags)
{
	struct mapping m;

	m.start = start;
	m.limit = limit;
	m.file_offset = file_offset;
	m.flags = flags;
	m.filename = builder__intern(b, filename);
	m.build_id = builder__intern(b, build_id);
	if (m.filename < 0 || m.build_id < 0 ||
	    array__reserve((void **)&b->mappings, &b->mappings_cap, b->nmappings + 1,
			   sizeof(*b->mappings))) {
		builder__fail(b, -ENOMEM);
		return 0;
	}
	b->mappings[b->nmappings++] = m;
	return b->nmappings;
}

void profile_builder__mapping_flags(struct profile_builder *b, uint64_t mapping_id, unsigned flags)
{
	if (mapping_id == 0 || mapping_id > b->nmappings)
		return;
	b->mappings[mapping_id - 1].flags = flags;
}

static bool function__eq(const struct profile_builder *b, size_t idx, const void *key)
{
	return !memcmp(&b->functions[idx], key, sizeof(struct function));
}

uint64_t profile_builder__function(struct profile_builder *b, const char *name,
				   const char *system_name, const char *filename,
				   int64_t start_line)
{
	struct function f;
	struct hslot *slot;
	uint32_t hash;

	/* memset, not an initializer: function__eq() compares the bytes, padding included. */
	memset(&f, 0, sizeof(f));
	f.name = builder__intern(b, name);
	f.system_name = builder__intern(b, system_name ? system_name : name);
	f.filename = builder__intern(b, filename);
	f.start_line = start_line;
	if (f.name < 0 || f.system_name < 0 || f.filename < 0)
		goto enomem;
	if (htab__reserve_one(&b->function_index))
		goto enomem;
	hash = hash__function(&f);
	slot = htab__find(&b->function_index, hash, function__eq, b, &f);
	if (slot->idx)
		return slot->idx;
	if (b->nfunctions >= UINT32_MAX - 1 ||
	    array__reserve((void **)&b->functions, &b->functions_cap, b->nfunctions + 1,
			   sizeof(*b->functions)))
		goto enomem;
	b->functions[b->nfunctions++] = f;
	slot->idx = (uint32_t)b->nfunctions;
	slot->hash = hash;
	b->function_index.count++;
	/* Function ids are index + 1, the same as slot->idx. */
	return b->nfunctions;
enomem:
	builder__fail(b, -ENOMEM);
	return 0;
}

uint64_t profile_builder__location(struct profile_builder *b, uint64_t mapping_id, uint64_t address,
				   const struct profile_line *lines, size_t nlines)
{
	struct location *loc;
	size_t i;

	/* An unknown id would make pprof reject the whole profile: refuse it here. */
	if (mapping_id > b->nmappings)
		return 0;
	for (i = 0; i < nlines; i++) {
		if (lines[i].function_id == 0 || lines[i].function_id > b->nfunctions)
			return 0;
	}
	if (nlines > SIZE_MAX - b->nlines ||
	    array__reserve((void **)&b->lines, &b->lines_cap, b->nlines + nlines,
			   sizeof(*b->lines)) ||
	    array__reserve((void **)&b->locations, &b->locations_cap, b->nlocations + 1,
			   sizeof(*b->locations))) {
		builder__fail(b, -ENOMEM);
		return 0;
	}
	if (nlines)
		memcpy(&b->lines[b->nlines], lines, nlines * sizeof(*lines));
	loc = &b->locations[b->nlocations++];
	loc->mapping_id = mapping_id;
	loc->address = address;
	loc->line_off = b->nlines;
	loc->nlines = nlines;
	b->nlines += nlines;
	return b->nlocations;
}

int profile_builder__sample(struct profile_builder *b, const uint64_t *location_ids,
			    size_t nlocations, const int64_t *values, size_t nvalues,
			    const struct profile_label *labels, size_t nlabels)
{
	struct sample *s;
	size_t i;

	/* pprof rejects samples without sample types or with a different number of values. */
	if (!b->nsample_types || nvalues != b->nsample_types)
		return -EINVAL;
	for (i = 0; i < nlocations; i++) {
		if (location_ids[i] == 0 || location_ids[i] > b->nlocations)
			return -EINVAL;
	}
	/* Reserve everything first so that a failure leaves no partial sample behind. */
	if (nlocations > SIZE_MAX - b->nsample_locations || nlabels > SIZE_MAX - b->nlabels ||
	    array__reserve((void **)&b->samples, &b->samples_cap, b->nsamples + 1,
			   sizeof(*b->samples)) ||
	    array__reserve((void **)&b->sample_locations, &b->sample_locations_cap,
			   b->nsample_locations + nlocations, sizeof(*b->sample_locations)) ||
	    array__reserve((void **)&b->sample_values, &b->sample_values_cap,
			   b->nsample_values + nvalues, sizeof(*b->sample_values)) ||
	    array__reserve((void **)&b->labels, &b->labels_cap, b->nlabels + nlabels,
			   sizeof(*b->labels)))
		goto enomem;
	for (i = 0; i < nlabels; i++) {
		struct label *l = &b->labels[b->nlabels + i];

		/* Strings interned before a failure stay in the table: unused, harmless. */
		l->key = builder__intern(b, labels[i].key);
		l->str = builder__intern(b, labels[i].str);
		l->num = labels[i].str ? 0 : labels[i].num;
		l->num_unit = builder__intern(b, labels[i].str ? NULL : labels[i].num_unit);
		if (l->key < 0 || l->str < 0 || l->num_unit < 0)
			goto enomem;
	}

	s = &b->samples[b->nsamples++];
	s->location_off = b->nsample_locations;
	s->nlocations = nlocations;
	s->label_off = b->nlabels;
	s->nlabels = nlabels;
	if (nlocations)
		memcpy(&b->sample_locations[b->nsample_locations], location_ids,
		       nlocations * sizeof(*location_ids));
	memcpy(&b->sample_values[b->nsample_values], values, nvalues * sizeof(*values));
	b->nsample_locations += nlocations;
	b->nsample_values += nvalues;
	b->nlabels += nlabels;
	return 0;
enomem:
	builder__fail(b, -ENOMEM);
	return -ENOMEM;
}

/*
 * Protobuf output buffer.  Allocation failure is sticky (err) so that the
 * writers need no error paths; profile_builder__encode() checks it once.
 */
struct pbuf {
	uint8_t *data;
	size_t len, cap;
	int err;
};

static bool pbuf__reserve(struct pbuf *p, size_t n)
{
	if (p->err)
		return false;
	if (n > SIZE_MAX - p->len || array__reserve((void **)&p->data, &p->cap, p->len + n, 1)) {
		p->err = -ENOMEM;
		return false;
	}
	return true;
}

/* Writes a varint into dst, which has room for VARINT_MAX bytes; returns its length. */
static size_t varint__put(uint8_t *dst, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		dst[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	dst[n++] = (uint8_t)v;
	return n;
}

static void pbuf__varint(struct pbuf *p, uint64_t v)
{
	if (!pbuf__reserve(p, VARINT_MAX))
		return;
	p->len += varint__put(p->data + p->len, v);
}

static uint64_t proto__key(unsigned field, unsigned wire_type)
{
	return (uint64_t)field << 3 | wire_type;
}

/* A uint64 field, omitted when 0. */
static void pbuf__uint(struct pbuf *p, unsigned field, uint64_t v)
{
	if (!v)
		return;
	pbuf__varint(p, proto__key(field, WIRE_VARINT));
	pbuf__varint(p, v);
}

/* An int64 field (negative values take ten bytes, as in protobuf), omitted when 0. */
static void pbuf__int(struct pbuf *p, unsigned field, int64_t v)
{
	pbuf__uint(p, field, (uint64_t)v);
}

static void pbuf__bool(struct pbuf *p, unsigned field, bool v)
{
	pbuf__uint(p, field, v);
}

/* A length-delimited field, always written (string_table[0] is an empty one). */
static void pbuf__bytes(struct pbuf *p, unsigned field, const void *data, size_t len)
{
	pbuf__varint(p, proto__key(field, WIRE_LEN));
	pbuf__varint(p, len);
	if (!pbuf__reserve(p, len))
		return;
	if (len)
		memcpy(p->data + p->len, data, len);
	p->len += len;
}

/* Starts a length-delimited field: write its contents, then call pbuf__end(). */
static size_t pbuf__begin(struct pbuf *p)
{
	return p->len;
}

/* Ends the length-delimited field begun at start: inserts its key and length in front. */
static void pbuf__end(struct pbuf *p, unsigned field, size_t start)
{
	uint8_t head[2 * VARINT_MAX];
	size_t body, n;

	if (p->err)
		return;
	body = p->len - start;
	n = varint__put(head, proto__key(field, WIRE_LEN));
	n += varint__put(head + n, body);
	if (!pbuf__reserve(p, n))
		return;
	memmove(p->data + start + n, p->data + start, body);
	memcpy(p->data + start, head, n);
	p->len += n;
}

static void encode__value_type(struct pbuf *p, unsigned field, const struct value_type *vt)
{
	size_t m = pbuf__begin(p);

	pbuf__int(p, VALUE_TYPE_TYPE, vt->type);
	pbuf__int(p, VALUE_TYPE_UNIT, vt->unit);
	pbuf__end(p, field, m);
}

static void encode__sample(struct pbuf *p, const struct profile_builder *b, size_t i)
{
	const struct sample *s = &b->samples[i];
	const int64_t *values = &b->sample_values[i * b->nsample_types];
	size_t m, f, j;

	m = pbuf__begin(p);
	if (s->nlocations) {
		f = pbuf__begin(p);
		for (j = 0; j < s->nlocations; j++)
			pbuf__varint(p, b->sample_locations[s->location_off + j]);
		pbuf__end(p, SAMPLE_LOCATION_ID, f);
	}
	f = pbuf__begin(p);
	for (j = 0; j < b->nsample_types; j++)
		pbuf__varint(p, (uint64_t)values[j]);
	pbuf__end(p, SAMPLE_VALUE, f);
	for (j = 0; j < s->nlabels; j++) {
		const struct label *l = &b->labels[s->label_off + j];

		f = pbuf__begin(p);
		pbuf__int(p, LABEL_KEY, l->key);
		pbuf__int(p, LABEL_STR, l->str);
		pbuf__int(p, LABEL_NUM, l->num);
		pbuf__int(p, LABEL_NUM_UNIT, l->num_unit);
		pbuf__end(p, SAMPLE_LABEL, f);
	}
	pbuf__end(p, PROFILE_SAMPLE, m);
}

static void encode__mapping(struct pbuf *p, const struct profile_builder *b, size_t i)
{
	const struct mapping *mp = &b->mappings[i];
	size_t m = pbuf__begin(p);

	pbuf__uint(p, MAPPING_ID, i + 1);
	pbuf__uint(p, MAPPING_MEMORY_START, mp->start);
	pbuf__uint(p, MAPPING_MEMORY_LIMIT, mp->limit);
	pbuf__uint(p, MAPPING_FILE_OFFSET, mp->file_offset);
	pbuf__int(p, MAPPING_FILENAME, mp->filename);
	pbuf__int(p, MAPPING_BUILD_ID, mp->build_id);
	pbuf__bool(p, MAPPING_HAS_FUNCTIONS_FIELD, mp->flags & MAPPING_HAS_FUNCTIONS);
	pbuf__bool(p, MAPPING_HAS_FILENAMES_FIELD, mp->flags & MAPPING_HAS_FILENAMES);
	pbuf__bool(p, MAPPING_HAS_LINE_NUMBERS_FIELD, mp->flags & MAPPING_HAS_LINE_NUMBERS);
	pbuf__bool(p, MAPPING_HAS_INLINE_FRAMES_FIELD, mp->flags & MAPPING_HAS_INLINE_FRAMES);
	pbuf__end(p, PROFILE_MAPPING, m);
}

static void encode__location(struct pbuf *p, const struct profile_builder *b, size_t i)
{
	const struct location *loc = &b->locations[i];
	size_t m, f, j;

	m = pbuf__begin(p);
	pbuf__uint(p, LOCATION_ID, i + 1);
	pbuf__uint(p, LOCATION_MAPPING_ID, loc->mapping_id);
	pbuf__uint(p, LOCATION_ADDRESS, loc->address);
	for (j = 0; j < loc->nlines; j++) {
		const struct profile_line *line = &b->lines[loc->line_off + j];

		f = pbuf__begin(p);
		pbuf__uint(p, LINE_FUNCTION_ID, line->function_id);
		pbuf__int(p, LINE_LINE, line->line);
		pbuf__end(p, LOCATION_LINE, f);
	}
	pbuf__end(p, PROFILE_LOCATION, m);
}

static void encode__function(struct pbuf *p, const struct profile_builder *b, size_t i)
{
	const struct function *fn = &b->functions[i];
	size_t m = pbuf__begin(p);

	pbuf__uint(p, FUNCTION_ID, i + 1);
	pbuf__int(p, FUNCTION_NAME, fn->name);
	pbuf__int(p, FUNCTION_SYSTEM_NAME, fn->system_name);
	pbuf__int(p, FUNCTION_FILENAME, fn->filename);
	pbuf__int(p, FUNCTION_START_LINE, fn->start_line);
	pbuf__end(p, PROFILE_FUNCTION, m);
}

/* Serializes the profile into p, in field-number order like Go's encoder. */
static void encode__profile(struct pbuf *p, const struct profile_builder *b)
{
	size_t i;

	for (i = 0; i < b->nsample_types; i++)
		encode__value_type(p, PROFILE_SAMPLE_TYPE, &b->sample_types[i]);
	for (i = 0; i < b->nsamples; i++)
		encode__sample(p, b, i);
	for (i = 0; i < b->nmappings; i++)
		encode__mapping(p, b, i);
	for (i = 0; i < b->nlocations; i++)
		encode__location(p, b, i);
	for (i = 0; i < b->nfunctions; i++)
		encode__function(p, b, i);
	for (i = 0; i < b->nstrings; i++)
		pbuf__bytes(p, PROFILE_STRING_TABLE, b->strings[i].s, b->strings[i].len);
	/* Scalars at most once: a second time_nanos reads as a concatenated profile. */
	pbuf__int(p, PROFILE_TIME_NANOS, b->time_nanos);
	pbuf__int(p, PROFILE_DURATION_NANOS, b->duration_nanos);
	if (b->period_type.type || b->period_type.unit)
		encode__value_type(p, PROFILE_PERIOD_TYPE, &b->period_type);
	pbuf__int(p, PROFILE_PERIOD, b->period);
	/* Not packed: Go writes comments as one field per string. */
	for (i = 0; i < b->ncomments; i++)
		pbuf__int(p, PROFILE_COMMENT, b->comments[i]);
	pbuf__int(p, PROFILE_DEFAULT_SAMPLE_TYPE, b->default_sample_type);
}

/*
 * Compresses in[0..len) into a gzip stream in a malloc'd *out.  Best speed,
 * like Go's runtime/pprof: profiles are served on demand and compress well
 * anyway.  Returns 0, -ENOMEM or -EIO.
 */
static int gzip__compress(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
	struct pbuf dst = {};
	z_stream zs = {};
	size_t chunk;
	int err, zerr;

	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
	zerr = deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	if (zerr != Z_OK)
		return zerr == Z_MEM_ERROR ? -ENOMEM : -EIO;

	/* deflateBound() includes the gzip wrapper; usually one pass is enough. */
	if (!pbuf__reserve(&dst, deflateBound(&zs, (uLong)len))) {
		err = -ENOMEM;
		goto cleanup;
	}
	zs.next_in = (Bytef *)in;
	do {
		/* avail_in and avail_out are 32-bit: feed and drain in pieces. */
		if (!zs.avail_in && len) {
			chunk = len > UINT_MAX ? UINT_MAX : len;
			zs.avail_in = (uInt)chunk;
			len -= chunk;
		}
		if (dst.cap == dst.len && !pbuf__reserve(&dst, dst.cap)) {
			err = -ENOMEM;
			goto cleanup;
		}
		chunk = dst.cap - dst.len > UINT_MAX ? UINT_MAX : dst.cap - dst.len;
		zs.next_out = dst.data + dst.len;
		zs.avail_out = (uInt)chunk;
		zerr = deflate(&zs, len ? Z_NO_FLUSH : Z_FINISH);
		dst.len += chunk - zs.avail_out;
		if (zerr == Z_STREAM_ERROR) {
			err = -EIO;
			goto cleanup;
		}
	} while (zerr != Z_STREAM_END);

	*out = dst.data;
	*out_len = dst.len;
	dst.data = NULL;
	err = 0;
cleanup:
	deflateEnd(&zs);
	free(dst.data);
	return err;
}

int profile_builder__encode(struct profile_builder *b, bool gzip, uint8_t **out, size_t *len)
{
	struct pbuf p = {};
	int err;

	if (b->err)
		return b->err;
	encode__profile(&p, b);
	if (p.err) {
		err = p.err;
		goto cleanup;
	}
	if (gzip) {
		err = gzip__compress(p.data, p.len, out, len);
		goto cleanup;
	}
	*out = p.data;
	*len = p.len;
	p.data = NULL;
	err = 0;
cleanup:
	free(p.data);
	return err;
}
