// SPDX-License-Identifier: MIT
/* test_auth.c - loopback detection, the token file, the bearer comparison. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"

static void test_loopback(void **state)
{
	(void)state;
	assert_true(auth__is_loopback("127.0.0.1:6060"));
	assert_true(auth__is_loopback("127.1.2.3:6060"));
	assert_true(auth__is_loopback("[::1]:6060"));
	assert_true(auth__is_loopback("localhost:6060"));
	assert_false(auth__is_loopback("0.0.0.0:6060"));
	assert_false(auth__is_loopback("[::]:6060"));
	assert_false(auth__is_loopback("10.1.2.3:6060"));
	assert_false(auth__is_loopback("[::ffff:10.0.0.1]:6060"));
	assert_false(auth__is_loopback("garbage"));
}

static void test_load(void **state)
{
	char path[] = "/tmp/pprofd-test-token.XXXXXX", err[512];
	struct settings s;
	char *token = (char *)1;
	int fd;

	(void)state;
	settings__defaults(&s);
	/* Loopback, no token: fine. */
	assert_int_equal(auth__load(&s, &token, err, sizeof(err)), 0);
	assert_null(token);
	/* Anything else without a token: refused, saying what to do. */
	strcpy(s.listen, "0.0.0.0:6060");
	assert_int_equal(auth__load(&s, &token, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "auth.token_file"));
	assert_non_null(strstr(err, "0.0.0.0:6060"));

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "s3cret-token-0123456789\n", 24), 24);
	close(fd);
	snprintf(s.auth_token_file, sizeof(s.auth_token_file), "%s", path);
	assert_int_equal(auth__load(&s, &token, err, sizeof(err)), 0);
	assert_string_equal(token, "s3cret-token-0123456789");
	free(token);

	/* Too short, or with spaces: refused. */
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "short\n", 6), 6);
	close(fd);
	assert_int_equal(auth__load(&s, &token, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_int_equal(auth__load(&s, &token, err, sizeof(err)), -ENOENT);
}

static void test_check(void **state)
{
	const char *t = "s3cret-token-0123456789";

	(void)state;
	assert_true(auth__check("Bearer s3cret-token-0123456789", t));
	assert_true(auth__check("bearer s3cret-token-0123456789", t));
	assert_false(auth__check("Bearer s3cret-token-012345678", t));
	assert_false(auth__check("Bearer s3cret-token-01234567890", t));
	assert_false(auth__check("Bearer x3cret-token-0123456789", t));
	assert_false(auth__check("Basic s3cret-token-0123456789", t));
	assert_false(auth__check("Bearer ", t));
	assert_false(auth__check(NULL, t));
	assert_false(auth__check("s3cret-token-0123456789", t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
