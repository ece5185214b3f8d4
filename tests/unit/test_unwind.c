// SPDX-License-Identifier: MIT
/*
 * test_unwind.c - DWARF unwinding of a copied stack, on this process's own
 * stacks: a chain of functions built without frame pointers, and a qsort
 * comparison callback (libc has no frame pointers), must unwind to main.
 * Needs no root: the copy is taken the way BPF takes it, from our own
 * registers and stack.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "stacks.h"
#include "symbolize.h"
#include "unwind.h"

#define NOFP __attribute__((noinline, optimize("omit-frame-pointer")))

static struct user_stack_copy copy;

/* The end of the mapping holding addr (our stack), from /proc/self/maps. */
static uint64_t mapping_end(uint64_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	uint64_t end = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi)
			end = hi;
	if (f)
		fclose(f);
	return end;
}

/*
 * Takes registers and stack as BPF would, as if the caller had been sampled
 * at the instruction capture() returns to.  capture() itself keeps a frame
 * pointer, so its frame tells the caller's registers exactly.
 */
/* Reads raw stack, dead frames included, as BPF does: not for ASan's eyes. */
static __attribute__((no_sanitize_address, noinline)) void raw_copy(uint8_t *to, const uint8_t *from,
								   size_t len)
{
	for (size_t i = 0; i < len; i++)
		to[i] = ((const volatile uint8_t *)from)[i];
}

static __attribute__((noinline, optimize("no-omit-frame-pointer"))) void capture(void)
{
	uint64_t *frame = __builtin_frame_address(0), end;

	copy.ip = frame[1];                /* return address */
	copy.bp = frame[0];                /* the caller's rbp, saved by our push */
	copy.sp = (uint64_t)(frame + 2);   /* the caller's rsp after our return */
	/* As BPF copies: whole pages from sp's own, up to the end of the stack. */
	copy.start = copy.sp & ~(uint64_t)(STACK_COPY_CHUNK - 1);
	end = mapping_end(copy.sp);
	copy.len = end - copy.start < STACK_COPY_BYTES ? end - copy.start : STACK_COPY_BYTES;
	raw_copy(copy.stack, (const uint8_t *)copy.start, copy.len);
}

static volatile int sink;

static NOFP void leaf_c(int n)
{
	char pad[64];

	memset(pad, n, sizeof(pad));
	sink = pad[3];
	capture();
	sink++;
}

static NOFP void middle_b(int n)
{
	char pad[200];

	memset(pad, n, sizeof(pad));
	leaf_c(n + pad[7]);
	sink++;
}

static NOFP void outer_a(int n)
{
	middle_b(n + 1);
	sink++;
}

static int captured_in_cmp;

static NOFP int compare_ints(const void *a, const void *b)
{
	if (!captured_in_cmp) {
		captured_in_cmp = 1;
		capture();
	}
	return *(const int *)a - *(const int *)b;
}

static NOFP void sort_numbers(void)
{
	int v[64];

	for (int i = 0; i < 64; i++)
		v[i] = (i * 37) % 64;
	captured_in_cmp = 0;
	qsort(v, 64, sizeof(v[0]), compare_ints);
	sink = v[0];
}

/* The function names of the unwound copy, leaf first, into names. */
static size_t unwind_names(const char **names, size_t max, bool *truncated)
{
	struct symbolizer *sym = symbolizer__new(getpid());
	struct unwinder *u;
	uint64_t pcs[MAX_USER_FRAMES + 1];
	size_t n, k = 0;

	assert_non_null(sym);
	u = unwinder__new(getpid(), sym);
	assert_non_null(u);
	n = unwinder__user_stack(u, &copy, NULL, 0, pcs, MAX_USER_FRAMES + 1);
	*truncated = n && pcs[n - 1] == STACK_PC_TRUNCATED;
	for (size_t i = 0; i < n && k < max; i++) {
		struct symbol_location loc;

		if (pcs[i] == STACK_PC_TRUNCATED)
			continue;
		assert_int_equal(symbolizer__lookup(sym, pcs[i], &loc), 0);
		/* The outermost frame of an inline chain is the real function. */
		names[k++] = loc.nframes ? strdup(loc.frames[loc.nframes - 1].function) : strdup("?");
	}
	unwinder__free(u);
	symbolizer__free(sym);
	return k;
}

static size_t index_of(const char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return i;
	return (size_t)-1;
}

static void print_stack(const char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		print_message("#   %zu %s\n", i, names[i]);
}

static void test_chain_without_frame_pointers(void **state)
{
	const char *names[64];
	bool truncated;
	size_t n, c, b, a, m;

	(void)state;
	outer_a(1);
	n = unwind_names(names, 64, &truncated);
	c = index_of(names, n, "leaf_c");
	b = index_of(names, n, "middle_b");
	a = index_of(names, n, "outer_a");
	m = index_of(names, n, "main");
	if (!(c == 0 && b == 1 && a == 2 && m != (size_t)-1 && m > a))
		print_stack(names, n);
	assert_int_equal(c, 0);
	assert_int_equal(b, 1);
	assert_int_equal(a, 2);
	assert_true(m != (size_t)-1 && m > a);
	assert_false(truncated);
	for (size_t i = 0; i < n; i++)
		free((void *)names[i]);
}

static void test_through_libc_qsort(void **state)
{
	const char *names[64];
	bool truncated;
	size_t n, cmp, sort, m;

	(void)state;
	sort_numbers();
	n = unwind_names(names, 64, &truncated);
	cmp = index_of(names, n, "compare_ints");
	sort = index_of(names, n, "sort_numbers");
	m = index_of(names, n, "main");
	if (cmp != 0 || sort == (size_t)-1 || m == (size_t)-1)
		print_stack(names, n);
	assert_int_equal(cmp, 0);
	/* Above the callback: qsort's own frames (libc, no frame pointers), then us. */
	assert_true(sort != (size_t)-1 && sort > 1);
	assert_true(m != (size_t)-1 && m > sort);
	assert_false(truncated);
	for (size_t i = 0; i < n; i++)
		free((void *)names[i]);
}

static void test_short_copy_is_truncated(void **state)
{
	const char *names[64];
	bool truncated;
	size_t n;

	(void)state;
	outer_a(1);
	copy.len = copy.sp - copy.start + 16; /* not even leaf_c's frame */
	n = unwind_names(names, 64, &truncated);
	assert_true(truncated);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++)
		free((void *)names[i]);
}

/* Unwinds copy with u; true when the stack reached its outermost frame. */
static bool unwinds_whole(struct unwinder *u)
{
	uint64_t pcs[MAX_USER_FRAMES + 1];
	size_t n = unwinder__user_stack(u, &copy, NULL, 0, pcs, MAX_USER_FRAMES + 1);

	return n && pcs[n - 1] != STACK_PC_TRUNCATED;
}

/* What the unwinder says a stack needed is enough to unwind it, and is needed. */
static void test_need_is_what_unwinding_reads(void **state)
{
	struct symbolizer *sym = symbolizer__new(getpid());
	struct unwinder *u = unwinder__new(getpid(), sym);
	uint32_t need, again;
	bool cut;

	(void)state;
	assert_non_null(u);
	outer_a(1);
	assert_true(unwinds_whole(u));
	unwinder__last_need(u, &need, &cut);
	assert_false(cut);
	assert_true(need > 200 + 64); /* middle_b's and leaf_c's pads at least */
	assert_true(copy.sp - copy.start + need <= copy.len);
	/* A copy of exactly that much still unwinds whole, to the same need. */
	copy.len = copy.sp - copy.start + need;
	assert_true(unwinds_whole(u));
	unwinder__last_need(u, &again, &cut);
	assert_int_equal(again, need);
	assert_false(cut);
	/* A word less is cut. */
	copy.len -= 8;
	assert_false(unwinds_whole(u));
	unwinder__last_need(u, &again, &cut);
	assert_true(cut);
	unwinder__free(u);
	symbolizer__free(sym);
}

/*
 * The budget: the whole copy until a round has been seen, then the most a
 * stack of the round needed with its margin; a stack the limit cut doubles
 * it for good, a cut where the stack itself ended does not.
 */
static void test_copy_budget(void **state)
{
	struct symbolizer *sym = symbolizer__new(getpid());
	struct unwinder *u = unwinder__new(getpid(), sym);
	struct copy_budget b;
	uint32_t need, want;
	uint32_t full_len;
	bool cut, changed = false;

	(void)state;
	assert_non_null(u);
	copy_budget__init(&b);
	assert_int_equal(b.limit, STACK_COPY_BYTES);
	outer_a(1);
	full_len = copy.len;
	copy.limited = 0;
	for (int i = 0; i < COPY_BUDGET_ROUND; i++) {
		assert_true(unwinds_whole(u));
		assert_false(changed);
		changed = copy_budget__update(&b, u, &copy);
	}
	assert_true(changed);
	unwinder__last_need(u, &need, &cut);
	want = (need + need / 4 + 512 + 255) & ~255u;
	if (want < COPY_BUDGET_MIN)
		want = COPY_BUDGET_MIN;
	assert_int_equal(b.limit, want);
	assert_true(b.limit < STACK_COPY_BYTES);
	assert_int_equal(b.cut, 0);
	/* The stack ends before the copy (an unmapped page): not the limit's doing. */
	copy.len = copy.sp - copy.start + 16;
	copy.limited = 0;
	assert_false(unwinds_whole(u));
	assert_false(copy_budget__update(&b, u, &copy));
	assert_int_equal(b.cut, 0);
	assert_int_equal(b.limit, want);
	/* The copy stopped at the limit and the unwinder ran out: doubled. */
	copy.limited = 1;
	assert_false(unwinds_whole(u));
	assert_true(copy_budget__update(&b, u, &copy));
	assert_int_equal(b.cut, 1);
	assert_int_equal(b.limit, 2 * want);
	/* Whole stacks after that never lower it again. */
	copy.len = full_len;
	copy.limited = 0;
	for (int i = 0; i < 2 * COPY_BUDGET_ROUND; i++) {
		assert_true(unwinds_whole(u));
		assert_false(copy_budget__update(&b, u, &copy));
	}
	assert_int_equal(b.limit, 2 * want);
	/* Cut after cut: the whole copy at most. */
	copy.len = copy.sp - copy.start + 16;
	copy.limited = 1;
	for (int i = 0; i < 8; i++) {
		assert_false(unwinds_whole(u));
		copy_budget__update(&b, u, &copy);
	}
	assert_int_equal(b.limit, STACK_COPY_BYTES);
	copy.len = full_len;
	copy.limited = 0;
	unwinder__free(u);
	symbolizer__free(sym);
}

/* A packed record's user part (pprofd.h): its header and size must agree. */
static void test_unpack_packed_stack(void **state)
{
	static struct user_stack_copy out;
	static uint8_t rec[USER_STACK_HEAD + 64];
	struct user_stack_copy head = {
		.sp = 0x7000 + 8, .start = 0x7000 + 8, .len = 40,
		.other_start = 0x9000, .other_off = 40, .other_len = 24,
	};

	(void)state;
	memcpy(rec, &head, USER_STACK_HEAD);
	for (size_t i = 0; i < 64; i++)
		rec[USER_STACK_HEAD + i] = (uint8_t)i;
	assert_int_equal(user_stack_copy__unpack(&out, rec, sizeof(rec)), 0);
	assert_int_equal(out.len, 40);
	assert_int_equal(out.stack[39], 39);
	assert_int_equal(out.stack[out.other_off], 40); /* the second window follows */
	/* Short, long, or a header that does not add up: refused. */
	assert_int_equal(user_stack_copy__unpack(&out, rec, sizeof(rec) - 1), -1);
	assert_int_equal(user_stack_copy__unpack(&out, rec, USER_STACK_HEAD - 1), -1);
	head.other_off = 0;
	memcpy(rec, &head, USER_STACK_HEAD);
	assert_int_equal(user_stack_copy__unpack(&out, rec, sizeof(rec)), -1);
	head.other_off = head.len = STACK_COPY_BYTES + 1;
	head.other_len = 0;
	memcpy(rec, &head, USER_STACK_HEAD);
	assert_int_equal(user_stack_copy__unpack(&out, rec, sizeof(rec)), -1);
	head.len = head.other_off = 40;
	head.other_len = UINT32_MAX - 20; /* len + other_len wraps in 32 bits */
	memcpy(rec, &head, USER_STACK_HEAD);
	assert_int_equal(user_stack_copy__unpack(&out, rec, sizeof(rec)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_without_frame_pointers),
		cmocka_unit_test(test_through_libc_qsort),
		cmocka_unit_test(test_short_copy_is_truncated),
		cmocka_unit_test(test_need_is_what_unwinding_reads),
		cmocka_unit_test(test_copy_budget),
		cmocka_unit_test(test_unpack_packed_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
