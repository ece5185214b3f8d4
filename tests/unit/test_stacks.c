// SPDX-License-Identifier: MIT
/* test_stacks.c - the stack table: dedup, labels, growth, snapshots and deltas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "stacks.h"

static void test_dedup_and_labels(void **state)
{
	struct stack_table *t = stack_table__new(2);
	uint64_t a[] = { 0x10, 0x20, 0x30 }, b[] = { 0x10, 0x20 };
	int64_t one[] = { 1, 10 };

	(void)state;
	assert_non_null(t);
	assert_int_equal(stack_table__add(t, a, 3, 7, "worker", one), 0);
	assert_int_equal(stack_table__add(t, a, 3, 7, "worker", one), 0);
	assert_int_equal(stack_table__add(t, b, 2, 7, "worker", one), 0);
	assert_int_equal(stack_table__add(t, a, 3, 8, "worker", one), 0);
	assert_int_equal(stack_table__add(t, a, 3, 7, "other", one), 0);
	assert_int_equal(stack_table__len(t), 4);
	assert_int_equal(stack_table__values(t, 0)[0], 2);
	assert_int_equal(stack_table__values(t, 0)[1], 20);
	assert_int_equal(stack_table__stack(t, 0)->tid, 7);
	assert_string_equal(stack_table__stack(t, 0)->thread, "worker");
	assert_int_equal(stack_table__stack(t, 1)->npcs, 2);
	assert_null(stack_table__stack(t, 4));
	stack_table__free(t);
	stack_table__free(NULL);
}

static void test_growth(void **state)
{
	struct stack_table *t = stack_table__new(1);
	int64_t one = 1;

	(void)state;
	for (uint64_t i = 0; i < 50000; i++) {
		uint64_t pcs[2] = { i, i * 3 };

		assert_int_equal(stack_table__add(t, pcs, 2, 1, "t", &one), 0);
	}
	for (uint64_t i = 0; i < 50000; i += 7) {
		uint64_t pcs[2] = { i, i * 3 };

		assert_int_equal(stack_table__add(t, pcs, 2, 1, "t", &one), 0);
	}
	assert_int_equal(stack_table__len(t), 50000);
	assert_int_equal(stack_table__values(t, 7)[0], 2);
	assert_int_equal(stack_table__values(t, 8)[0], 1);
	stack_table__free(t);
}

static void test_snapshot_delta(void **state)
{
	struct stack_table *t = stack_table__new(2);
	uint64_t a[] = { 1 }, b[] = { 2 };
	int64_t v[] = { 3, 30 }, out[2];
	struct stack_snapshot *snap;

	(void)state;
	stack_table__add(t, a, 1, 0, "", v);
	snap = stack_table__snapshot(t);
	assert_non_null(snap);
	stack_table__add(t, a, 1, 0, "", v);
	stack_table__add(t, b, 1, 0, "", v);
	stack_table__delta(t, snap, 0, out);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 30);
	stack_table__delta(t, snap, 1, out);
	assert_int_equal(out[0], 3);
	stack_table__delta(t, NULL, 0, out);
	assert_int_equal(out[0], 6);
	stack_snapshot__free(snap);
	stack_table__clear(t);
	assert_int_equal(stack_table__len(t), 0);
	stack_table__add(t, b, 1, 0, "", v);
	assert_int_equal(stack_table__len(t), 1);
	stack_table__free(t);
}

/* A snapshot collector recounts into the same table: stacks stay, deltas by index. */
static void test_zero(void **state)
{
	struct stack_table *t = stack_table__new(1);
	uint64_t a[] = { 1, 2 }, b[] = { 3 };
	int64_t one = 1, out;
	struct stack_snapshot *snap;

	(void)state;
	stack_table__zero(t); /* empty: nothing to do */
	stack_table__add(t, a, 2, 10, "x", &one);
	stack_table__add(t, b, 1, 11, "y", &one);
	snap = stack_table__snapshot(t);
	assert_non_null(snap);
	stack_table__zero(t);
	assert_int_equal(stack_table__len(t), 2);
	assert_int_equal(stack_table__values(t, 0)[0], 0);
	assert_int_equal(stack_table__values(t, 1)[0], 0);
	assert_int_equal(stack_table__stack(t, 1)->tid, 11);
	/* Thread 10 is still there, 11 has gone, 12 is new. */
	stack_table__add(t, a, 2, 10, "x", &one);
	stack_table__add(t, b, 1, 12, "z", &one);
	assert_int_equal(stack_table__len(t), 3);
	assert_int_equal(stack_table__values(t, 0)[0], 1);
	stack_table__delta(t, snap, 0, &out);
	assert_int_equal(out, 0);
	stack_table__delta(t, snap, 1, &out);
	assert_int_equal(out, -1);
	stack_table__delta(t, snap, 2, &out);
	assert_int_equal(out, 1);
	stack_snapshot__free(snap);
	stack_table__free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_and_labels),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_snapshot_delta),
		cmocka_unit_test(test_zero),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
