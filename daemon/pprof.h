/* SPDX-License-Identifier: MIT */
/*
 * pprof.h - profile.proto encoder.
 *
 * The one encoder every collector's output goes through.  A profile is built
 * up in a struct profile_builder (strings, mappings, functions, locations and
 * samples, each deduplicated where profile.proto wants unique ids) and then
 * serialized, gzip-compressed, into a malloc'd buffer.
 *
 * Ids handed out by the builder start at 1 and are unique per kind, as
 * `go tool pprof` requires.  String index 0 is always "".
 */
#ifndef PPROFD_PPROF_H
#define PPROFD_PPROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct profile_builder;

/* One Line of a Location: a function id from profile_builder__function(). */
struct profile_line {
	uint64_t function_id;
	int64_t line;
};

/* One label of a Sample: either a string value (str != NULL) or a number. */
struct profile_label {
	const char *key;
	const char *str;     /* NULL for a numeric label */
	int64_t num;
	const char *num_unit; /* may be NULL */
};

/* Mapping flags, for profile_builder__mapping(). */
enum {
	MAPPING_HAS_FUNCTIONS = 1 << 0,
	MAPPING_HAS_FILENAMES = 1 << 1,
	MAPPING_HAS_LINE_NUMBERS = 1 << 2,
	MAPPING_HAS_INLINE_FRAMES = 1 << 3,
};

/* Returns NULL on allocation failure. */
struct profile_builder *profile_builder__new(void);
/* Safe on NULL. */
void profile_builder__free(struct profile_builder *b);

/* Interns a string, returns its string-table index (0 for "" or NULL). */
int64_t profile_builder__string(struct profile_builder *b, const char *s);

/* Appends a sample type; every sample must then carry one value per type. */
int profile_builder__sample_type(struct profile_builder *b, const char *type, const char *unit);
void profile_builder__period(struct profile_builder *b, const char *type, const char *unit,
			     int64_t period);
void profile_builder__time(struct profile_builder *b, int64_t time_nanos, int64_t duration_nanos);
/* The *type* of the sample type shown by default (e.g. "alloc_space"). */
void profile_builder__default_sample_type(struct profile_builder *b, const char *type);
void profile_builder__comment(struct profile_builder *b, const char *comment);

/*
 * Adds a mapping and returns its id (>0), or 0 on allocation failure.
 * build_id is lowercase hex or NULL.  Mappings are not deduplicated: the
 * caller adds each once.
 */
uint64_t profile_builder__mapping(struct profile_builder *b, uint64_t start, uint64_t limit,
				  uint64_t file_offset, const char *filename,
				  const char *build_id, unsigned flags);
/* Replaces the flags of a mapping added before (they are only known at the end). */
void profile_builder__mapping_flags(struct profile_builder *b, uint64_t mapping_id,
				    unsigned flags);

/*
 * Returns the id of the function with these fields, adding it on first use
 * (deduplicated on all four fields); 0 on allocation failure.
 * system_name NULL means the same as name.
 */
uint64_t profile_builder__function(struct profile_builder *b, const char *name,
				   const char *system_name, const char *filename,
				   int64_t start_line);

/*
 * Adds a location and returns its id, or 0 on allocation failure.  lines are
 * innermost (inlined callee) first; nlines may be 0 for an unresolved address.
 * mapping_id may be 0 (no mapping).  Locations are not deduplicated here: the
 * caller keeps one per address.
 */
uint64_t profile_builder__location(struct profile_builder *b, uint64_t mapping_id,
				   uint64_t address, const struct profile_line *lines,
				   size_t nlines);

/*
 * Adds a sample: location ids leaf first, one value per sample type.
 * Returns 0 or -ENOMEM / -EINVAL (wrong number of values).
 */
int profile_builder__sample(struct profile_builder *b, const uint64_t *location_ids,
			    size_t nlocations, const int64_t *values, size_t nvalues,
			    const struct profile_label *labels, size_t nlabels);

/*
 * Serializes the profile as profile.proto, gzip-compressed when gzip is true.
 * On success *out is a malloc'd buffer the caller frees and returns 0;
 * otherwise a negative errno.
 */
int profile_builder__encode(struct profile_builder *b, bool gzip, uint8_t **out, size_t *len);

#endif /* PPROFD_PPROF_H */
