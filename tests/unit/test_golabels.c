// SPDX-License-Identifier: MIT
/*
 * test_golabels.c - a goroutine's pprof labels from a label map laid out in
 * a fake memory image as Go lays it out (golabels.h), and from hostile ones:
 *
 *   - map[string]string (Go 1.9 to 1.23): one bucket, two buckets with an
 *     overflow chain, a map halfway through growing (an old bucket not yet
 *     evacuated, one evacuated), a nil map;
 *   - the sorted slice of Go 1.24 on, duplicates and order as the parser
 *     leaves them;
 *   - hostile memory: counts and shifts beyond the bounds, a count the
 *     buckets do not hold, an overflow cycle, kernel and unaligned
 *     pointers, strings too long, unreadable or holding a NUL, a slice
 *     longer than its capacity, text beyond STACK_LABELS_TEXT;
 *   - the labels through the stack table into the pprof encoder: one stack
 *     with two label sets is two Samples;
 *   - the format of each Go version.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "golabels.h"
#include "stacks.h"

/* The fake target: one region of memory at BASE. */
#define BASE 0x7f0000000000ULL
#define MEM_SIZE (256 * 1024)

static uint8_t mem[MEM_SIZE];
static size_t used;
static unsigned reads;

static int fake_read(void *ctx, const struct go_mem_range *r, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++) {
		reads++;
		if (r[i].addr < BASE || r[i].addr - BASE > MEM_SIZE ||
		    r[i].len > MEM_SIZE - (r[i].addr - BASE))
			return -EFAULT;
		memcpy(r[i].buf, mem + (r[i].addr - BASE), r[i].len);
	}
	return 0;
}

static int reset(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	used = 8; /* nothing at BASE itself */
	reads = 0;
	return 0;
}

/* Room for len bytes (8-aligned), its address in the target. */
static uint64_t alloc(size_t len)
{
	uint64_t a = BASE + used;

	used += (len + 7) & ~(size_t)7;
	assert_true(used <= MEM_SIZE);
	return a;
}

static void put64(uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - BASE), &v, 8);
}

static uint64_t string_of(const char *s)
{
	uint64_t a = alloc(strlen(s) + 1);

	memcpy(mem + (a - BASE), s, strlen(s));
	return a;
}

/* A string header (ptr, len) at addr. */
static void put_string(uint64_t addr, const char *s)
{
	put64(addr, string_of(s));
	put64(addr + 8, strlen(s));
}

/* map[string]string's bucket: tophash[8], keys[8], values[8], overflow. */
#define BUCKET 272

static uint64_t bucket_array(size_t n)
{
	return alloc(n * BUCKET);
}

static void bucket_put(uint64_t b, int slot, const char *key, const char *value)
{
	mem[b - BASE + slot] = 0x80 | slot; /* a tophash >= minTopHash */
	put_string(b + 8 + 16 * slot, key);
	put_string(b + 136 + 16 * slot, value);
}

/* The labelMap: the map variable (at the returned address) holding the *hmap. */
static uint64_t hmap_of(uint64_t count, uint8_t shift, uint64_t buckets, uint64_t old,
			uint8_t flags)
{
	uint64_t h = alloc(48), var = alloc(8);

	put64(h, count);
	mem[h - BASE + 8] = flags;
	mem[h - BASE + 9] = shift;
	put64(h + 16, buckets);
	put64(h + 24, old);
	put64(var, h);
	return var;
}

static struct go_label_buf buf;

static int parse_map(uint64_t addr)
{
	return go_labels__parse(GO_LABELS_MAP, addr, fake_read, NULL, &buf);
}

static int parse_slice(uint64_t addr)
{
	return go_labels__parse(GO_LABELS_SLICE, addr, fake_read, NULL, &buf);
}

static void test_map_one_bucket(void **state)
{
	uint64_t b = bucket_array(1);

	(void)state;
	bucket_put(b, 3, "worker", "hash");
	bucket_put(b, 0, "tenant", "a");
	assert_int_equal(parse_map(hmap_of(2, 0, b, 0, 0)), 0);
	assert_int_equal(buf.labels.n, 2);
	assert_string_equal(buf.labels.l[0].key, "tenant");
	assert_string_equal(buf.labels.l[0].value, "a");
	assert_string_equal(buf.labels.l[1].key, "worker");
	assert_string_equal(buf.labels.l[1].value, "hash");
}

static void test_map_buckets_and_overflow(void **state)
{
	uint64_t b = bucket_array(2), over = bucket_array(1);
	char k[16], v[16];
	int n = 0;

	(void)state;
	for (int i = 0; i < 8; i++, n++) {
		snprintf(k, sizeof(k), "k%02d", n);
		snprintf(v, sizeof(v), "v%d", n);
		bucket_put(b, i, k, v);
	}
	for (int i = 0; i < 2; i++, n++) {
		snprintf(k, sizeof(k), "k%02d", n);
		snprintf(v, sizeof(v), "v%d", n);
		bucket_put(b + BUCKET, i * 5, k, v);
	}
	put64(b + BUCKET + 264, over);
	bucket_put(over, 7, "k99", "last");
	n++;
	assert_int_equal(parse_map(hmap_of(n, 1, b, 0, 0)), 0);
	assert_int_equal(buf.labels.n, 11);
	assert_string_equal(buf.labels.l[0].key, "k00");
	assert_string_equal(buf.labels.l[9].key, "k09");
	assert_string_equal(buf.labels.l[10].value, "last");
}

/* Growing from one bucket to two: the old one not evacuated holds what the new ones do not. */
static void test_map_growing(void **state)
{
	uint64_t b = bucket_array(2), old = bucket_array(1);

	(void)state;
	bucket_put(b, 0, "new", "1");
	bucket_put(old, 0, "old", "2");
	bucket_put(old, 1, "older", "3");
	assert_int_equal(parse_map(hmap_of(3, 1, b, old, 0)), 0);
	assert_int_equal(buf.labels.n, 3);
	assert_string_equal(buf.labels.l[0].key, "new");
	assert_string_equal(buf.labels.l[1].key, "old");
	assert_string_equal(buf.labels.l[2].key, "older");

	/* Evacuated (tophash[0] evacuatedX): its entries are in the new array only. */
	mem[old - BASE] = 2;
	mem[old - BASE + 1] = 2;
	assert_int_equal(parse_map(hmap_of(1, 1, b, old, 0)), 0);
	assert_int_equal(buf.labels.n, 1);
	assert_string_equal(buf.labels.l[0].key, "new");
}

static void test_nil_and_empty(void **state)
{
	uint64_t var = alloc(8);

	(void)state;
	assert_int_equal(parse_map(0), 0);
	assert_int_equal(buf.labels.n, 0);
	put64(var, 0); /* a nil map */
	assert_int_equal(parse_map(var), 0);
	assert_int_equal(buf.labels.n, 0);
	assert_int_equal(parse_map(hmap_of(0, 0, 0, 0, 0)), 0);
	assert_int_equal(buf.labels.n, 0);
}

static void test_map_hostile(void **state)
{
	uint64_t b = bucket_array(2), var;

	(void)state;
	bucket_put(b, 0, "a", "1");
	/* More than the bounds. */
	assert_int_equal(parse_map(hmap_of(1, 60, b, 0, 0)), -E2BIG);
	assert_int_equal(parse_map(hmap_of(1ULL << 40, 0, b, 0, 0)), -E2BIG);
	assert_int_equal(parse_map(hmap_of(STACK_MAX_LABELS + 1, 0, b, 0, 0)), -E2BIG);
	/* A count the buckets do not hold. */
	assert_int_equal(parse_map(hmap_of(2, 0, b, 0, 0)), -EINVAL);
	/* Pointers that are none: kernel, unaligned, unmapped. */
	assert_int_equal(parse_map(hmap_of(1, 0, 0xffff888000000000ULL, 0, 0)), -EINVAL);
	assert_int_equal(parse_map(hmap_of(1, 0, b + 3, 0, 0)), -EINVAL);
	assert_int_equal(parse_map(hmap_of(1, 0, 0x1000, 0, 0)), -EFAULT);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0xffffffffffff0000ULL, 0)), -EINVAL);
	var = alloc(8);
	put64(var, BASE + 4);
	assert_int_equal(parse_map(var), -EINVAL);
	assert_int_equal(parse_map(BASE + 3), -EINVAL);
	assert_int_equal(parse_map(0xfffffffffffffff8ULL), -EINVAL);
	/* An overflow chain that loops: bounded. */
	put64(b + 264, b);
	reads = 0;
	assert_int_equal(parse_map(hmap_of(9, 0, b, 0, 0)), -E2BIG);
	assert_true(reads <= GO_LABELS_MAX_BUCKETS + 2);
	put64(b + 264, 0);
	/* Strings: too long, kernel, wrapping, unreadable, with a NUL. */
	put64(b + 136 + 8, GO_LABELS_MAX_VALUE + 1);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0, 0)), -E2BIG);
	put64(b + 136 + 8, 1);
	put64(b + 8, 0xffff800000000000ULL);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0, 0)), -EINVAL);
	put64(b + 8, (1ULL << 47) - 1);
	put64(b + 16, 16);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0, 0)), -EINVAL);
	put64(b + 8, 0x1000);
	put64(b + 16, 1);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0, 0)), -EFAULT);
	put_string(b + 8, "a\0b");
	put64(b + 16, 3);
	assert_int_equal(parse_map(hmap_of(1, 0, b, 0, 0)), -EINVAL);
	assert_int_equal(buf.labels.n, 0);
}

/* A LabelSet: the slice header at the returned address, then the labels. */
static uint64_t slice_of(const char *const *kv, size_t n, uint64_t len, uint64_t cap)
{
	uint64_t hdr = alloc(24), list = alloc(n * 32 + 8);

	for (size_t i = 0; i < n; i++) {
		put_string(list + 32 * i, kv[2 * i]);
		put_string(list + 32 * i + 16, kv[2 * i + 1]);
	}
	put64(hdr, list);
	put64(hdr + 8, len);
	put64(hdr + 16, cap);
	return hdr;
}

static void test_slice(void **state)
{
	static const char *const kv[] = {"worker", "sort", "tenant", "b", "tenant", "c", "", "x"};
	uint64_t s;

	(void)state;
	assert_int_equal(parse_slice(slice_of(kv, 2, 2, 4)), 0);
	assert_int_equal(buf.labels.n, 2);
	assert_string_equal(buf.labels.l[0].key, "tenant");
	assert_string_equal(buf.labels.l[1].key, "worker");
	/* A repeated key: the later one stays; an empty key is a key. */
	assert_int_equal(parse_slice(slice_of(kv, 4, 4, 4)), 0);
	assert_int_equal(buf.labels.n, 3);
	assert_string_equal(buf.labels.l[0].key, "");
	assert_string_equal(buf.labels.l[1].value, "c");
	/* Empty, then hostile: len > cap, too many, a list that is no pointer. */
	assert_int_equal(parse_slice(slice_of(kv, 0, 0, 0)), 0);
	assert_int_equal(buf.labels.n, 0);
	assert_int_equal(parse_slice(slice_of(kv, 2, 3, 2)), -EINVAL);
	assert_int_equal(parse_slice(slice_of(kv, 2, 1000, 1000)), -E2BIG);
	s = slice_of(kv, 2, 2, 2);
	put64(s, 0xffffffff00000000ULL);
	assert_int_equal(parse_slice(s), -EINVAL);
	put64(s, BASE + MEM_SIZE - 16);
	assert_int_equal(parse_slice(s), -EFAULT);
}

/* More text than a label set may hold: refused whole, nothing half-read. */
static void test_text_bound(void **state)
{
	static char big[GO_LABELS_MAX_VALUE + 1];
	const char *kv[2 * 4];
	char keys[4][8];

	(void)state;
	memset(big, 'v', GO_LABELS_MAX_VALUE);
	for (int i = 0; i < 4; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		kv[2 * i] = keys[i];
		kv[2 * i + 1] = big;
	}
	assert_int_equal(parse_slice(slice_of(kv, 1, 1, 1)), 0);
	assert_int_equal(strlen(buf.labels.l[0].value), GO_LABELS_MAX_VALUE);
	assert_int_equal(parse_slice(slice_of(kv, 4, 4, 4)), -E2BIG);
	assert_int_equal(buf.labels.n, 0);
}

/* The labels as stack keys: one stack, two label sets, two entries; the same set, one. */
static void test_stack_table_labels(void **state)
{
	struct stack_table *t = stack_table__new(1);
	struct stack_labels a = {2, {{"worker", "hash"}, {"tenant", "a"}}};
	struct stack_labels b = {1, {{"worker", "sort"}}};
	struct stack_labels a2 = {2, {{"tenant", "a"}, {"worker", "hash"}}};
	uint64_t pcs[] = {0x10, 0x20};
	int64_t one = 1;

	(void)state;
	assert_non_null(t);
	stack_labels__sort(&a);
	assert_string_equal(a.l[0].key, "tenant");
	assert_int_equal(stack_table__add_labeled(t, pcs, 2, 1, "t", &a, &one), 0);
	assert_int_equal(stack_table__add_labeled(t, pcs, 2, 1, "t", &b, &one), 0);
	assert_int_equal(stack_table__add_labeled(t, pcs, 2, 1, "t", &a2, &one), 0);
	assert_int_equal(stack_table__add(t, pcs, 2, 1, "t", &one), 0);
	assert_int_equal(stack_table__len(t), 3);
	assert_int_equal(stack_table__values(t, 0)[0], 2);
	assert_int_equal(stack_table__stack(t, 0)->labels->n, 2);
	assert_string_equal(stack_table__stack(t, 1)->labels->l[0].value, "sort");
	assert_null(stack_table__stack(t, 2)->labels);
	/* The table keeps its own copy: the caller's strings may go. */
	assert_true(stack_table__stack(t, 0)->labels->l[0].key != a.l[0].key);
	stack_table__clear(t);
	assert_int_equal(stack_table__add_labeled(t, pcs, 2, 1, "t", &b, &one), 0);
	assert_int_equal(stack_table__len(t), 1);
	stack_table__free(t);
}

static void test_format_of(void **state)
{
	enum go_label_format f;

	(void)state;
	assert_int_equal(go_labels__format_of("go1.19.8", &f), 0);
	assert_int_equal(f, GO_LABELS_MAP);
	assert_int_equal(go_labels__format_of("go1.23.8", &f), 0);
	assert_int_equal(f, GO_LABELS_MAP);
	assert_int_equal(go_labels__format_of("go1.24", &f), 0);
	assert_int_equal(f, GO_LABELS_SLICE);
	assert_int_equal(go_labels__format_of("go1.26.5", &f), 0);
	assert_int_equal(f, GO_LABELS_SLICE);
	assert_int_equal(go_labels__format_of("go1.8", &f), -ENOTSUP);
	assert_int_equal(go_labels__format_of("", &f), -ENOTSUP);
	assert_int_equal(go_labels__format_of("devel", &f), -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_map_one_bucket, reset),
	    cmocka_unit_test_setup(test_map_buckets_and_overflow, reset),
	    cmocka_unit_test_setup(test_map_growing, reset),
	    cmocka_unit_test_setup(test_nil_and_empty, reset),
	    cmocka_unit_test_setup(test_map_hostile, reset),
	    cmocka_unit_test_setup(test_slice, reset),
	    cmocka_unit_test_setup(test_text_bound, reset),
	    cmocka_unit_test(test_stack_table_labels),
	    cmocka_unit_test(test_format_of),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
