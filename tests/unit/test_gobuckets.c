// SPDX-License-Identifier: MIT
/*
 * test_gobuckets.c - the Go runtime's profile bucket lists (goruntime.h:
 * go_buckets__walk, go_block_record__decode) on a fake memory image laid
 * out as Go 1.19 lays out runtime.bucket, its stack and its blockRecord,
 * and on hostile ones:
 *
 *   - a list of block buckets: every bucket once, its stack, count and
 *     cycles; a block record of count 0 counts 1 (BlockProfile), a mutex
 *     one stays 0; a stack deeper than GO_MAX_FRAMES keeps its first
 *     frames; a logical stack's sentinel is dropped;
 *   - hostile memory: a cycle (to itself, of two, after a tail), a
 *     misaligned or unreadable allnext, a bucket of another type, nstk
 *     beyond 1024, a record whose count is NaN, infinite, negative or
 *     beyond 2^62, negative cycles; a layout or head that cannot be walked.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "goruntime.h"

#define BASE 0x7f0000000000ULL
#define MEM_SIZE (64 * 1024)
#define HEAD BASE /* runtime.bbuckets: the first word */

static uint8_t mem[MEM_SIZE];
static size_t used;
static unsigned reads;
static struct go_layout layout;

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	reads++;
	if (addr < BASE || addr - BASE > MEM_SIZE || len > MEM_SIZE - (addr - BASE))
		return -EFAULT;
	memcpy(buf, mem + (addr - BASE), len);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	used = 8; /* the head */
	reads = 0;
	layout = *go_layout__for_version("go1.19");
	return 0;
}

static void put_u64(uint64_t addr, uint64_t v)
{
	memcpy(mem + (addr - BASE), &v, 8);
}

/* A bucket of type typ with nstk frames (pc 0x401000 + i) and a blockRecord; its address. */
static uint64_t bucket(uint64_t typ, uint64_t nstk, double count, int64_t cycles)
{
	uint64_t a = BASE + used;

	used += 48 + nstk * 8 + 16;
	assert_true(used <= MEM_SIZE);
	put_u64(a + 16, typ);
	put_u64(a + 40, nstk);
	for (uint64_t i = 0; i < nstk; i++)
		put_u64(a + 48 + 8 * i, 0x401000 + i);
	memcpy(mem + (a + 48 + nstk * 8 - BASE), &count, 8);
	memcpy(mem + (a + 48 + nstk * 8 + 8 - BASE), &cycles, 8);
	return a;
}

/* head -> a -> b ... (allnext at +8), 0-terminated. */
static void link(const uint64_t *b, size_t n)
{
	put_u64(HEAD, n ? b[0] : 0);
	for (size_t i = 0; i + 1 < n; i++)
		put_u64(b[i] + 8, b[i + 1]);
}

struct seen {
	enum go_contention which;
	size_t n, invalid;
	struct go_block_record r[8];
};

static int on_bucket(void *ctx, const struct go_bucket *b)
{
	struct seen *s = ctx;
	struct go_block_record r;

	if (go_block_record__decode(&layout, s->which, b, &r)) {
		s->invalid++;
		return 0;
	}
	if (s->n < 8)
		s->r[s->n] = r;
	s->n++;
	return 0;
}

static int walk(uint64_t typ, struct seen *s)
{
	return go_buckets__walk(&layout, HEAD, typ, 16, fake_read, NULL, on_bucket, s);
}

static void test_list(void **state)
{
	uint64_t b[3] = {bucket(2, 3, 2.9, 1000), bucket(2, 1, 0, 5), bucket(2, 200, 7, 9)};
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	link(b, 3);
	assert_int_equal(walk(2, &s), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.r[0].count, 2); /* int64(2.9) */
	assert_int_equal(s.r[0].cycles, 1000);
	assert_int_equal(s.r[0].nstk, 3);
	assert_int_equal(s.r[0].stk[2], 0x401002);
	assert_int_equal(s.r[1].count, 1); /* 0 counts 1 in the block profile */
	assert_int_equal(s.r[2].nstk, GO_MAX_FRAMES);
	assert_int_equal(s.r[2].stk[GO_MAX_FRAMES - 1], 0x401000 + GO_MAX_FRAMES - 1);
}

static void test_mutex_zero_count(void **state)
{
	uint64_t b = bucket(3, 2, 0, 5);
	struct seen s = {.which = GO_MUTEX_PROFILE};

	(void)state;
	link(&b, 1);
	assert_int_equal(walk(3, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.r[0].count, 0);
	/* The same list is no block list. */
	s = (struct seen){.which = GO_BLOCK_PROFILE};
	assert_int_equal(walk(2, &s), -EIO);
}

static void test_sentinel(void **state)
{
	uint64_t b = bucket(2, 3, 1, 1);
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	put_u64(b + 48, UINT64_MAX);
	link(&b, 1);
	assert_int_equal(walk(2, &s), 0);
	assert_int_equal(s.r[0].nstk, 2);
	assert_int_equal(s.r[0].stk[0], 0x401001);
}

static void test_empty(void **state)
{
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	assert_int_equal(walk(2, &s), 0);
	assert_int_equal(s.n, 0);
}

static void test_cycles_in_list(void **state)
{
	uint64_t b[6];
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	/* To itself. */
	b[0] = bucket(2, 1, 1, 1);
	link(b, 1);
	put_u64(b[0] + 8, b[0]);
	assert_int_equal(walk(2, &s), -EIO);
	/* Of two. */
	b[1] = bucket(2, 1, 1, 1);
	link(b, 2);
	put_u64(b[1] + 8, b[0]);
	reads = 0;
	assert_int_equal(walk(2, &s), -EIO);
	assert_true(reads < 64);
	/* A tail of three into a loop of three: found in a few dozen steps. */
	for (int i = 2; i < 6; i++)
		b[i] = bucket(2, 1, 1, 1);
	link(b, 6);
	put_u64(b[5] + 8, b[3]);
	reads = 0;
	s.n = 0;
	assert_int_equal(walk(2, &s), -EIO);
	assert_true(reads < 200);
}

static void test_hostile_links(void **state)
{
	uint64_t b[2] = {bucket(2, 1, 1, 1), bucket(2, 1, 1, 1)};
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	link(b, 2);
	put_u64(b[0] + 8, b[1] + 4); /* misaligned */
	assert_int_equal(walk(2, &s), -EIO);
	put_u64(b[0] + 8, 0xffff880000000000ULL); /* unreadable */
	assert_int_equal(walk(2, &s), -EIO);
	put_u64(b[0] + 8, b[1]);
	put_u64(b[1] + 40, 1025); /* nstk beyond profstackdepth's most */
	assert_int_equal(walk(2, &s), -EIO);
	put_u64(b[1] + 40, (uint64_t)-1);
	assert_int_equal(walk(2, &s), -EIO);
	/* A stack running off the end of memory. */
	used = MEM_SIZE - 48 - 8 - 16;
	b[1] = bucket(2, 1, 1, 1);
	put_u64(b[0] + 8, b[1]);
	assert_int_equal(walk(2, &s), 0);
	put_u64(b[1] + 40, 1024);
	assert_int_equal(walk(2, &s), -EIO);
	/* An unreadable head. */
	assert_int_equal(go_buckets__walk(&layout, 0x10, 2, 16, fake_read, NULL, on_bucket, &s),
			 -EFAULT);
}

static void test_hostile_records(void **state)
{
	const double counts[] = {NAN, INFINITY, -1.0, 1e19};
	struct seen s = {.which = GO_BLOCK_PROFILE};

	(void)state;
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		uint64_t b;

		reset(NULL);
		b = bucket(2, 1, counts[i], 1);
		link(&b, 1);
		s = (struct seen){.which = GO_BLOCK_PROFILE};
		assert_int_equal(walk(2, &s), 0);
		assert_int_equal(s.n, 0);
		assert_int_equal(s.invalid, 1);
	}
	reset(NULL);
	{
		uint64_t b = bucket(2, 1, 1, -5);

		link(&b, 1);
		s = (struct seen){.which = GO_BLOCK_PROFILE};
		assert_int_equal(walk(2, &s), 0);
		assert_int_equal(s.invalid, 1);
	}
}

static void test_bad_layout(void **state)
{
	struct seen s = {.which = GO_BLOCK_PROFILE};
	struct go_layout l = layout;

	(void)state;
	assert_int_equal(go_buckets__walk(&layout, 0, 2, 16, fake_read, NULL, on_bucket, &s),
			 -ENOTSUP);
	l.bucket_size = 0;
	assert_int_equal(go_buckets__walk(&l, HEAD, 2, 16, fake_read, NULL, on_bucket, &s),
			 -ENOTSUP);
	l = layout;
	l.bucket_nstk = 4000;
	assert_int_equal(go_buckets__walk(&l, HEAD, 2, 16, fake_read, NULL, on_bucket, &s),
			 -ENOTSUP);
	assert_int_equal(go_buckets__walk(&layout, HEAD, 2, 1 << 20, fake_read, NULL, on_bucket, &s),
			 -ENOTSUP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_list, reset),
	    cmocka_unit_test_setup(test_mutex_zero_count, reset),
	    cmocka_unit_test_setup(test_sentinel, reset),
	    cmocka_unit_test_setup(test_empty, reset),
	    cmocka_unit_test_setup(test_cycles_in_list, reset),
	    cmocka_unit_test_setup(test_hostile_links, reset),
	    cmocka_unit_test_setup(test_hostile_records, reset),
	    cmocka_unit_test_setup(test_bad_layout, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
