// SPDX-License-Identifier: MIT
/*
 * test_symbolize.c - the symbolizer on its own process: functions of this
 * binary (built -O2 -g), an inlined function, libc without DWARF of its own,
 * a C++ symbol of libstdc++, a library dlopen'ed after creation, the vdso,
 * kernel addresses.  Needs no root.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cmocka.h>

#include "symbolize.h"

/* --- code to symbolize: lines are checked, keep the layout ----------------- */

static volatile int sink;
static uint64_t recorded_return;

static __attribute__((noinline)) void record_return(void)
{
	recorded_return = (uint64_t)(uintptr_t)__builtin_return_address(0);
	sink++;
}

static const int leaf_decl_line = __LINE__ + 1;
static inline __attribute__((always_inline)) void inlined_leaf(void)
{
	record_return(); /* LEAF_CALL_LINE */
	sink++;
}

static const int outer_decl_line = __LINE__ + 1;
static __attribute__((noinline)) void inline_outer(void)
{
	inlined_leaf(); /* OUTER_CALL_LINE */
	sink++;
}

/* The call lines above, where the tests can see them. */
#define LEAF_CALL_LINE (leaf_decl_line + 2)
#define OUTER_CALL_LINE (outer_decl_line + 2)

static const int target_decl_line = __LINE__ + 1;
__attribute__((noinline)) int symbolize_test_target(int x)
{
	sink += x;
	return sink * 3;
}

/* --- helpers ------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static bool is_hex_build_id(const char *s)
{
	size_t n = strlen(s);

	if (n < 16 || n % 2)
		return false;
	return strspn(s, "0123456789abcdef") == n;
}

static int setup(void **state)
{
	struct symbolizer *s = symbolizer__new(getpid());

	assert_non_null(s);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	symbolizer__free(*state);
	return 0;
}

/* --- tests -------------------------------------------------------------------- */

static void test_no_such_process(void **state)
{
	(void)state;
	errno = 0;
	/* Above any pid_max the kernel allows (4M). */
	assert_null(symbolizer__new(0x7ffffff0));
	assert_int_equal(errno, ESRCH);
	symbolizer__free(NULL);
}

static void test_mappings(void **state)
{
	struct symbolizer *s = *state;
	const struct symbol_mapping *const *maps;
	char exe[PATH_MAX];
	bool have_exe = false, have_libc = false, have_vdso = false;
	ssize_t n;
	size_t count, i;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';

	count = symbolizer__mappings(s, &maps);
	assert_true(count >= 3);
	for (i = 0; i < count; i++) {
		const struct symbol_mapping *m = maps[i];

		assert_non_null(m->path);
		assert_non_null(m->build_id);
		assert_true(m->start < m->limit);
		if (i + 1 < count) {
			assert_false(m->kernel);
			assert_true(m->limit <= maps[i + 1]->start);
		}
		if (!strcmp(m->path, exe)) {
			have_exe = true;
			assert_true(is_hex_build_id(m->build_id));
		}
		if (strstr(m->path, "/libc.so")) {
			have_libc = true;
			assert_true(is_hex_build_id(m->build_id));
		}
		if (!strcmp(m->path, "[vdso]")) {
			have_vdso = true;
			assert_true(is_hex_build_id(m->build_id));
		}
	}
	assert_true(have_exe);
	assert_true(have_libc);
	assert_true(have_vdso);
	assert_true(maps[count - 1]->kernel);
	assert_string_equal(maps[count - 1]->path, "[kernel.kallsyms]");
}

static void test_own_function(void **state)
{
	struct symbolizer *s = *state;
	uint64_t fn = (uint64_t)(uintptr_t)&symbolize_test_target;
	struct symbol_location loc;
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';

	assert_int_equal(symbolizer__lookup(s, fn + 1, &loc), 0);
	assert_non_null(loc.mapping);
	assert_string_equal(loc.mapping->path, exe);
	assert_true(fn >= loc.mapping->start && fn < loc.mapping->limit);
	assert_int_equal(loc.symbol_start, fn);
	assert_int_equal(loc.nframes, 1);
	assert_string_equal(loc.frames[0].function, "symbolize_test_target");
	assert_string_equal(loc.frames[0].system_name, "symbolize_test_target");
	assert_non_null(loc.frames[0].file);
	assert_true(ends_with(loc.frames[0].file, "test_symbolize.c"));
	assert_int_equal(loc.frames[0].start_line, target_decl_line);
	assert_in_range(loc.frames[0].line, target_decl_line, target_decl_line + 4);
}

static void test_inline_frames(void **state)
{
	struct symbolizer *s = *state;
	struct symbol_location loc;

	inline_outer();
	assert_true(recorded_return != 0);
	/* Inside the call instruction, as the caller does for return addresses. */
	assert_int_equal(symbolizer__lookup(s, recorded_return - 1, &loc), 0);
	assert_int_equal(loc.nframes, 2);
	assert_int_equal(loc.symbol_start, (uint64_t)(uintptr_t)&inline_outer);

	assert_string_equal(loc.frames[0].function, "inlined_leaf");
	assert_true(ends_with(loc.frames[0].file, "test_symbolize.c"));
	assert_int_equal(loc.frames[0].line, LEAF_CALL_LINE);
	assert_int_equal(loc.frames[0].start_line, leaf_decl_line);

	assert_string_equal(loc.frames[1].function, "inline_outer");
	assert_true(ends_with(loc.frames[1].file, "test_symbolize.c"));
	assert_int_equal(loc.frames[1].line, OUTER_CALL_LINE);
	assert_int_equal(loc.frames[1].start_line, outer_decl_line);
}

static void test_libc(void **state)
{
	struct symbolizer *s = *state;
	struct symbol_location loc;
	void *libc;
	uint64_t fn;

	/* libc's own, not a sanitizer's interceptor of the same name. */
	libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	assert_non_null(libc);
	fn = (uint64_t)(uintptr_t)dlsym(libc, "qsort");
	dlclose(libc);
	assert_true(fn != 0);
	assert_int_equal(symbolizer__lookup(s, fn, &loc), 0);
	assert_non_null(loc.mapping);
	assert_non_null(strstr(loc.mapping->path, "/libc.so"));
	assert_int_equal(loc.symbol_start, fn);
	assert_true(loc.nframes >= 1);
	/* "qsort" from DWARF (libc6-dbg) or one of its ELF aliases. */
	assert_non_null(strstr(loc.frames[loc.nframes - 1].function, "qsort"));
}

/* libstdc++ ships without DWARF: names come from its symbol table, demangled. */
static void test_cxx_demangle(void **state)
{
	const struct symbol_mapping *const *maps;
	struct symbolizer *s;
	struct symbol_location loc;
	void *lib, *fn;

	(void)state;
	lib = dlopen("libstdc++.so.6", RTLD_NOW);
	if (!lib)
		skip();
	fn = dlsym(lib, "_ZNKSt9exception4whatEv"); /* std::exception::what() const */
	assert_non_null(fn);

	s = symbolizer__new(getpid());
	assert_non_null(s);
	assert_true(symbolizer__mappings(s, &maps) > 0);
	assert_int_equal(symbolizer__lookup(s, (uint64_t)(uintptr_t)fn, &loc), 0);
	assert_non_null(loc.mapping);
	assert_non_null(strstr(loc.mapping->path, "libstdc++"));
	assert_int_equal(loc.symbol_start, (uint64_t)(uintptr_t)fn);
	assert_true(loc.nframes >= 1);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "std::exception::what() const");
	assert_string_equal(loc.frames[loc.nframes - 1].system_name, "_ZNKSt9exception4whatEv");
	symbolizer__free(s);
	dlclose(lib);
}

/* A library loaded after creation resolves (the unknown address rereads maps). */
static void test_dlopen_after_creation(void **state)
{
	struct symbolizer *s = symbolizer__new(getpid());
	struct symbol_location before, loc, again;
	char *name_before;
	void *lib, *fn;

	(void)state;
	assert_non_null(s);
	/* Something resolved before the reload, to check it survives. */
	assert_int_equal(symbolizer__lookup(s, (uint64_t)(uintptr_t)&symbolize_test_target,
					    &before), 0);
	assert_int_equal(before.nframes, 1);
	name_before = strdup(before.frames[0].function);

	/* Lazy: it leaves ps_* for the debugger to define. */
	lib = dlopen("libthread_db.so.1", RTLD_LAZY);
	if (!lib) {
		free(name_before);
		symbolizer__free(s);
		skip();
	}
	fn = dlsym(lib, "td_init");
	assert_non_null(fn);

	assert_int_equal(symbolizer__lookup(s, (uint64_t)(uintptr_t)fn, &loc), 0);
	assert_non_null(loc.mapping);
	assert_non_null(strstr(loc.mapping->path, "libthread_db"));
	assert_true(loc.nframes >= 1);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "td_init");

	/* An explicit reload with nothing changed is a no-op. */
	assert_int_equal(symbolizer__reload(s), 0);
	assert_int_equal(symbolizer__lookup(s, (uint64_t)(uintptr_t)fn, &again), 0);
	assert_ptr_equal(again.frames, loc.frames);

	/* After the library is gone, what was handed out is still readable. */
	dlclose(lib);
	assert_int_equal(symbolizer__reload(s), 0);
	assert_string_equal(loc.frames[loc.nframes - 1].function, "td_init");
	assert_non_null(strstr(loc.mapping->path, "libthread_db"));
	assert_string_equal(before.frames[0].function, name_before);
	free(name_before);
	symbolizer__free(s);
}

static void test_cache_hits(void **state)
{
	struct symbolizer *s = *state, *s2;
	uint64_t fn = (uint64_t)(uintptr_t)&symbolize_test_target;
	struct symbol_location a, b, c;

	assert_int_equal(symbolizer__lookup(s, fn + 2, &a), 0);
	assert_int_equal(symbolizer__lookup(s, fn + 2, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));

	/* A second symbolizer: same answer, its own memory. */
	s2 = symbolizer__new(getpid());
	assert_non_null(s2);
	assert_int_equal(symbolizer__lookup(s2, fn + 2, &c), 0);
	assert_int_equal(c.nframes, a.nframes);
	assert_int_equal(c.symbol_start, a.symbol_start);
	assert_string_equal(c.frames[0].function, a.frames[0].function);
	assert_string_equal(c.frames[0].file, a.frames[0].file);
	assert_int_equal(c.frames[0].line, a.frames[0].line);
	assert_ptr_not_equal(c.frames, a.frames);
	symbolizer__free(s2);
	/* s's answer outlives s2. */
	assert_string_equal(a.frames[0].function, "symbolize_test_target");
}

static void test_vdso(void **state)
{
	struct symbolizer *s = *state;
	uint64_t base = getauxval(AT_SYSINFO_EHDR);
	struct symbol_location loc;

	if (!base)
		skip();
	/* The ELF header is mapped: the address is in the vdso mapping. */
	assert_int_equal(symbolizer__lookup(s, base + 16, &loc), 0);
	assert_non_null(loc.mapping);
	assert_string_equal(loc.mapping->path, "[vdso]");
}

static void test_kernel(void **state)
{
	struct symbolizer *s = *state;
	struct symbol_location loc;

	assert_int_equal(symbolizer__lookup(s, 0xffffffff81000010ULL, &loc), 0);
	assert_non_null(loc.mapping);
	assert_true(loc.mapping->kernel);
	assert_string_equal(loc.mapping->path, "[kernel.kallsyms]");
	/* Resolved only where /proc/kallsyms shows addresses (privilege). */
	if (loc.nframes) {
		assert_int_equal(loc.nframes, 1);
		assert_non_null(loc.frames[0].function);
		assert_null(loc.frames[0].file);
		assert_true(loc.symbol_start <= 0xffffffff81000010ULL);
	}
}

static void test_unmapped(void **state)
{
	struct symbolizer *s = *state;
	struct symbol_location loc;

	assert_int_equal(symbolizer__lookup(s, 0x1000, &loc), 0);
	assert_null(loc.mapping);
	assert_int_equal(loc.nframes, 0);
	/* Rate-limited: the second miss right after does not reread the maps. */
	assert_int_equal(symbolizer__lookup(s, 0x1000, &loc), 0);
	assert_null(loc.mapping);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_such_process),
		cmocka_unit_test_setup_teardown(test_mappings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_function, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inline_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_libc, setup, teardown),
		cmocka_unit_test(test_cxx_demangle),
		cmocka_unit_test(test_dlopen_after_creation),
		cmocka_unit_test_setup_teardown(test_cache_hits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vdso, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmapped, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
