// SPDX-License-Identifier: MIT
/*
 * test_alloc.c - the heap tracker's arithmetic: Go's unsampling formula
 * (scaleHeapSample), the exponential countdowns the BPF side draws from,
 * and the events ring's size at a sample rate.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "alloc.h"
#include "config.h"

static void test_unsample_rate_one_is_exact(void **state)
{
	int64_t objs, bytes;

	(void)state;
	alloc__unsample(1, 3, 300, &objs, &bytes);
	assert_int_equal(objs, 3);
	assert_int_equal(bytes, 300);
	alloc__unsample(0, 1, 17, &objs, &bytes);
	assert_int_equal(objs, 1);
	assert_int_equal(bytes, 17);
}

static void test_unsample_zero(void **state)
{
	int64_t objs = 7, bytes = 7;

	(void)state;
	alloc__unsample(524288, 0, 0, &objs, &bytes);
	assert_int_equal(objs, 0);
	assert_int_equal(bytes, 0);
}

/* Go: scale = 1 / (1 - exp(-avg / rate)); values truncated as int64. */
static void test_unsample_go_formula(void **state)
{
	int64_t objs, bytes;

	(void)state;
	/* One 64-byte block at 512 KiB: it stands for ~8192.5 of them. */
	alloc__unsample(524288, 1, 64, &objs, &bytes);
	assert_int_equal(objs, (int64_t)(1 / (1 - exp(-64.0 / 524288))));
	assert_int_equal(bytes, (int64_t)(64 / (1 - exp(-64.0 / 524288))));
	assert_true(objs >= 8192 && objs <= 8193);
	/* A block as large as the rate: 1 / (1 - 1/e) = 1.582 */
	alloc__unsample(524288, 1, 524288, &objs, &bytes);
	assert_int_equal(objs, 1);
	assert_int_equal(bytes, (int64_t)(524288 / (1 - exp(-1.0))));
	/* Huge blocks are (almost) always sampled: scale 1. */
	alloc__unsample(524288, 2, 2LL << 30, &objs, &bytes);
	assert_int_equal(objs, 2);
	assert_int_equal(bytes, 2LL << 30);
	/* Averages: 10 samples of 100 bytes each, as one bucket. */
	alloc__unsample(4096, 10, 1000, &objs, &bytes);
	assert_int_equal(objs, (int64_t)(10 / (1 - exp(-100.0 / 4096))));
}

/* The draws average the rate (within 3% over 200k) and are spread as an
 * exponential: about 1/e of them above the mean. */
static void test_exponential_draws(void **state)
{
	const size_t n = 200000;
	uint64_t *d = malloc(n * sizeof(*d));
	double sum = 0;
	size_t above = 0;

	(void)state;
	assert_non_null(d);
	alloc__exponential_draws(524288, 12345, d, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(d[i] >= 1);
		sum += d[i];
		above += d[i] > 524288;
	}
	assert_true(fabs(sum / n / 524288 - 1) < 0.03);
	assert_true(fabs((double)above / n - exp(-1)) < 0.01);
	/* Rate 1: every allocation, countdowns of 0. */
	alloc__exponential_draws(1, 1, d, 16);
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(d[i], 0);
	free(d);
}

static void test_settings_defaults(void **state)
{
	struct settings s;

	(void)state;
	settings__defaults(&s);
	assert_int_equal(s.heap_sample_rate, 524288);
	assert_int_equal(s.heap_max_overhead_percent, 10);
}

static void test_ring_bytes(void **state)
{
	(void)state;
	/* Go's default rate: 4 MiB. */
	assert_int_equal(alloc__ring_bytes(524288), 4 << 20);
	/* The same traffic fills the ring at the same pace: twice the rate, half the ring. */
	assert_int_equal(alloc__ring_bytes(524288 * 2 - 1), 4 << 20);
	assert_int_equal(alloc__ring_bytes(524288 * 2), 2 << 20);
	assert_int_equal(alloc__ring_bytes(524288 * 4), 1 << 20);
	assert_int_equal(alloc__ring_bytes(1 << 30), 1 << 20);
	assert_int_equal(alloc__ring_bytes(524287), 8 << 20);
	assert_int_equal(alloc__ring_bytes(65536), 8 << 20);
	assert_int_equal(alloc__ring_bytes(1), 8 << 20);
	assert_int_equal(alloc__ring_bytes(0), 8 << 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsample_rate_one_is_exact),
		cmocka_unit_test(test_unsample_zero),
		cmocka_unit_test(test_unsample_go_formula),
		cmocka_unit_test(test_exponential_draws),
		cmocka_unit_test(test_settings_defaults),
		cmocka_unit_test(test_ring_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
