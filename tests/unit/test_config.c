// SPDX-License-Identifier: MIT
/* test_config.c - settings: defaults, JSON file, environment; errors name file, line, key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static void test_defaults(void **state)
{
	struct settings s;

	(void)state;
	settings__defaults(&s);
	assert_string_equal(s.listen, "127.0.0.1:6060");
	assert_int_equal(s.environment, ENV_PRODUCTION);
	assert_int_equal(s.cpu_hz, 100);
	assert_int_equal(s.profile_max_seconds, 300);
	assert_int_equal(s.profile_default_seconds, 30);
}

/* config/pprofd.json documents the defaults: it must load and change nothing. */
static void test_documented_file_is_the_defaults(void **state)
{
	struct settings def, s;
	char err[512];

	(void)state;
	settings__defaults(&def);
	/* The default the measurements favour (README, heap.mode). */
	assert_int_equal(def.heap_mode, HEAP_MODE_INJECT);
	settings__defaults(&s);
	assert_int_equal(settings__load_file(&s, "config/pprofd.json", err, sizeof(err)), 0);
	assert_string_equal(s.config_path, "config/pprofd.json");
	memset(s.config_path, 0, sizeof(s.config_path));
	assert_memory_equal(&s, &def, sizeof(s));
}

static void test_values(void **state)
{
	struct settings s;
	char err[512];

	(void)state;
	settings__defaults(&s);
	assert_int_equal(settings__load_json(&s, "t.json",
					     "{\"environment\":\"debug\",\"listen\":\"[::1]:7000\","
					     "\"cpu\":{\"hz\":997},\"profile\":{\"max_seconds\":60}}",
					     err, sizeof(err)),
			 0);
	assert_int_equal(s.environment, ENV_DEBUG);
	assert_string_equal(s.listen, "[::1]:7000");
	assert_int_equal(s.cpu_hz, 997);
	assert_int_equal(s.profile_max_seconds, 60);
	assert_int_equal(s.profile_default_seconds, 30);
	assert_int_equal(settings__load_json(&s, "t.json", "{\"heap\":{\"mode\":\"off\"}}", err,
					     sizeof(err)),
			 0);
	assert_int_equal(s.heap_mode, HEAP_MODE_OFF);
	assert_int_equal(settings__load_json(&s, "t.json", "{\"heap\":{\"mode\":\"inject\"}}", err,
					     sizeof(err)),
			 0);
	assert_int_equal(s.heap_mode, HEAP_MODE_INJECT);
}

static void expect_error(const char *text, const char *want)
{
	struct settings s, before;
	char err[512] = "";

	settings__defaults(&s);
	before = s;
	assert_int_not_equal(settings__load_json(&s, "bad.json", text, err, sizeof(err)), 0);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not contain \"%s\"", err, want);
	/* A bad file changes nothing. */
	assert_memory_equal(&s, &before, sizeof(s));
}

static void test_errors_name_file_line_key(void **state)
{
	(void)state;
	expect_error("{\n \"cpu\": {\n  \"hz\": 100,\n  \"hertz\": 5\n }\n}",
		     "bad.json:4: key \"cpu.hertz\": unknown key");
	expect_error("{\"cpu\": {\"hz\": \"fast\"}}", "key \"cpu.hz\": expected an integer");
	expect_error("{\"cpu\": {\"hz\": 1.5}}", "key \"cpu.hz\": expected an integer");
	expect_error("{\"cpu\": {\"hz\": 0}}", "key \"cpu.hz\": 0 is out of range");
	expect_error("{\"cpu\": {\"hz\": 10001}}", "out of range: expected 1 to 10000");
	/* Beyond long long (fuzz_config found the cast undefined): out of range, not UB. */
	expect_error("{\"cpu\": {\"hz\": 2.1e56}}", "key \"cpu.hz\": 2");
	expect_error("{\"heap\": {\"sample_rate\": -9.3e18}}", "out of range");
	expect_error("{\"cpu\": 100}", "key \"cpu\": expected an object");
	expect_error("{\"environment\": \"staging\"}", "key \"environment\": expected \"production\"");
	expect_error("{\"listen\": 6060}", "key \"listen\": expected a string");
	expect_error("{\n \"heap\": {\n  \"mode\": \"preload\"\n }\n}",
		     "bad.json:3: key \"heap.mode\": expected \"inject\", \"uprobe\" or \"off\"");
	expect_error("{\"heap\": {\"mode\": 1}}", "key \"heap.mode\": expected \"inject\"");
	expect_error("{\"symbols\": {\"cache_dir\": \"cache\"}}",
		     "key \"symbols.cache_dir\": expected an absolute path");
	expect_error("{\"symbols\": {\"cache_max_mb\": 0}}",
		     "key \"symbols.cache_max_mb\": 0 is out of range");
	expect_error("{\n \"limits\": {\n  \"max_connections\": 0\n }\n}",
		     "bad.json:3: key \"limits.max_connections\": 0 is out of range");
	expect_error("{\"limits\": {\"max_connections\": \"many\"}}",
		     "key \"limits.max_connections\": expected an integer");
	expect_error("{\n\"cpu\": {\n\"hz\": 100,,\n}}", "bad.json:3: malformed JSON");
	expect_error("[1, 2]", "expected a JSON object");
	expect_error("{\"listen\": \"a\"} trailing", "malformed JSON");
}

static void test_missing_file(void **state)
{
	struct settings s;
	char err[512];

	(void)state;
	settings__defaults(&s);
	assert_int_not_equal(settings__load_file(&s, "/nonexistent/pprofd.json", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/pprofd.json: cannot read config file"));
}

static void test_environment(void **state)
{
	struct settings s;
	char err[512];

	(void)state;
	settings__defaults(&s);
	setenv("APP_ENVIRONMENT", "development", 1);
	assert_int_equal(settings__load_env(&s, err, sizeof(err)), 0);
	assert_true(settings__profiling_enabled(&s));
	setenv("APP_ENVIRONMENT", "prod", 1);
	assert_int_not_equal(settings__load_env(&s, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "APP_ENVIRONMENT=prod"));
	unsetenv("APP_ENVIRONMENT");
	settings__defaults(&s);
	assert_int_equal(settings__load_env(&s, err, sizeof(err)), 0);
	assert_false(settings__profiling_enabled(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_documented_file_is_the_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors_name_file_line_key),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
