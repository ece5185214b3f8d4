// SPDX-License-Identifier: MIT
/* test_perfmap.c - the perf map parser (perfmap.c) on fixture text. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "perfmap.h"

static struct perf_map *parsed(const char *text, size_t len)
{
	struct perf_map *m = perf_map__new(0);

	assert_non_null(m);
	assert_int_equal(perf_map__parse(m, text, len), 0);
	return m;
}

static void test_lines(void **state)
{
	static const char text[] = "7f1c2d3e4040 f jit_hot_loop\n"
				   "0x400000 0x100 with_0x\r\n"
				   "500000 10\t  tabbed name  \n"
				   "600000 0 zero_size\n"
				   "not a line\n"
				   "ffffffffffffff00 1000 wraps\n"
				   "700000 10 last without newline";
	struct perf_map *m = parsed(text, sizeof(text) - 1);

	(void)state;
	assert_string_equal(perf_map__find(m, 0x7f1c2d3e4040), "jit_hot_loop");
	assert_string_equal(perf_map__find(m, 0x7f1c2d3e404e), "jit_hot_loop");
	assert_null(perf_map__find(m, 0x7f1c2d3e404f));
	assert_string_equal(perf_map__find(m, 0x4000ff), "with_0x");
	assert_string_equal(perf_map__find(m, 0x500000), "tabbed name");
	assert_null(perf_map__find(m, 0x600000));
	assert_null(perf_map__find(m, 0xffffffffffffff00));
	assert_string_equal(perf_map__find(m, 0x700001), "last without newline");
	perf_map__free(m);
}

/* An empty name is "[jit]", never the next line (sscanf's ' ' matched the newline). */
static void test_empty_name_and_nul(void **state)
{
	static const char text[] = "1000 10\n2000 10 second\n3000 8\0hidden\n4000 8 x\0y\n";
	struct perf_map *m = parsed(text, sizeof(text) - 1);

	(void)state;
	assert_string_equal(perf_map__find(m, 0x1000), "[jit]");
	assert_string_equal(perf_map__find(m, 0x2000), "second");
	assert_string_equal(perf_map__find(m, 0x3000), "[jit]"); /* fuzz_perfmap: NUL ends it */
	assert_string_equal(perf_map__find(m, 0x4000), "x");
	perf_map__free(m);
}

static void test_long_name_is_cut(void **state)
{
	size_t n = PERF_MAP_MAX_NAME * 3;
	char *text = malloc(n + 16);
	struct perf_map *m;

	(void)state;
	assert_non_null(text);
	memcpy(text, "1000 10 ", 8);
	memset(text + 8, 'a', n);
	m = parsed(text, n + 8);
	assert_int_equal(strlen(perf_map__find(m, 0x1000)), PERF_MAP_MAX_NAME);
	perf_map__free(m);
	free(text);
}

/* The names of every version are kept: at most PERF_MAP_MAX_KEPT bytes of them. */
static void test_names_kept_are_bounded(void **state)
{
	size_t n = PERF_MAP_MAX_KEPT / 4;
	char *text = malloc(n);
	struct perf_map *m = perf_map__new(0);
	size_t off = 0;
	int i, err = 0;

	(void)state;
	assert_non_null(text);
	while (off + 1100 < n)
		off += snprintf(text + off, n - off, "%zx 1 %01000d\n", off, 7);
	for (i = 0; i < 8 && !err; i++)
		err = perf_map__parse(m, text, off);
	assert_int_equal(err, -EFBIG);
	assert_true(i > 2 && i <= 5);
	assert_non_null(perf_map__find(m, 0)); /* the last version accepted stays */
	perf_map__free(m);
	free(text);
}

static void test_namespace_pid(void **state)
{
	(void)state;
	assert_int_equal(perf_map__namespace_pid("Name:\tx\nNSpid:\t4242\t17\t1\n", 9), 1);
	assert_int_equal(perf_map__namespace_pid("Name:\tx\nNSpid:\t4242\n", 9), 4242);
	assert_int_equal(perf_map__namespace_pid("Name:\tx\n", 9), 9);
	assert_int_equal(perf_map__namespace_pid("NSpid:\t-5\tabc\n", 9), 9);
	assert_int_equal(perf_map__namespace_pid("NSpid:", 9), 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_empty_name_and_nul),
		cmocka_unit_test(test_long_name_is_cut),
		cmocka_unit_test(test_names_kept_are_bounded),
		cmocka_unit_test(test_namespace_pid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
