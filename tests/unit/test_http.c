// SPDX-License-Identifier: MIT
/* test_http.c - query-string, symbol-request and address parsing. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

static void test_query_int(void **state)
{
	long v = -1;

	(void)state;
	assert_int_equal(http__query_int("seconds=5", "seconds", 1, LONG_MAX, &v), 0);
	assert_int_equal(v, 5);
	assert_int_equal(http__query_int("hz=1000&seconds=7", "seconds", 1, LONG_MAX, &v), 0);
	assert_int_equal(v, 7);
	v = -1;
	assert_int_equal(http__query_int("hz=1000", "seconds", 1, LONG_MAX, &v), 1);
	assert_int_equal(http__query_int(NULL, "seconds", 1, LONG_MAX, &v), 1);
	assert_int_equal(v, -1);
	assert_int_equal(http__query_int("seconds=abc", "seconds", 1, LONG_MAX, &v), -EINVAL);
	assert_int_equal(http__query_int("seconds=", "seconds", 1, LONG_MAX, &v), -EINVAL);
	assert_int_equal(http__query_int("seconds=0", "seconds", 1, LONG_MAX, &v), -EINVAL);
	assert_int_equal(http__query_int("seconds=-3", "seconds", 1, LONG_MAX, &v), -EINVAL);
	assert_int_equal(http__query_int("seconds=5s", "seconds", 1, LONG_MAX, &v), -EINVAL);
	assert_int_equal(http__query_int("seconds=99999999999999999999", "seconds", 1, LONG_MAX, &v),
			 -EINVAL);
	assert_int_equal(http__query_int("hz=10001", "hz", 1, 10000, &v), -EINVAL);
	assert_int_equal(http__query_int("hz=10000", "hz", 1, 10000, &v), 0);
	assert_int_equal(v, 10000);
}

static void test_symbol_addresses(void **state)
{
	unsigned long long a[8];

	(void)state;
	assert_int_equal(http__symbol_addresses("0x401000+0x402abc", a, 8), 2);
	assert_true(a[0] == 0x401000ULL && a[1] == 0x402abcULL);
	assert_int_equal(http__symbol_addresses("4198400", a, 8), 1);
	assert_true(a[0] == 4198400ULL);
	assert_int_equal(http__symbol_addresses("0x10+junk+0x20", a, 8), 2);
	assert_true(a[0] == 0x10 && a[1] == 0x20);
	assert_int_equal(http__symbol_addresses("", a, 8), 0);
	assert_int_equal(http__symbol_addresses(NULL, a, 8), 0);
	assert_int_equal(http__symbol_addresses("1+2+3", a, 2), 2);
}

static void test_split_address(void **state)
{
	char host[64], port[8];

	(void)state;
	assert_int_equal(http__split_address("127.0.0.1:6060", host, sizeof(host), port,
					     sizeof(port)),
			 0);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "6060");
	assert_int_equal(http__split_address("[::1]:80", host, sizeof(host), port, sizeof(port)), 0);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "80");
	assert_int_equal(http__split_address("localhost:6060", host, sizeof(host), port,
					     sizeof(port)),
			 0);
	assert_int_equal(http__split_address("6060", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
	assert_int_equal(http__split_address(":6060", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
	assert_int_equal(http__split_address("h:", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
	assert_int_equal(http__split_address("h:http", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
	assert_int_equal(http__split_address("h:70000", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
	assert_int_equal(http__split_address("[::1]6060", host, sizeof(host), port, sizeof(port)),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_int),
		cmocka_unit_test(test_symbol_addresses),
		cmocka_unit_test(test_split_address),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
