// SPDX-License-Identifier: MIT
/* test_threads.c - thread states as /proc shows them (the goroutine dump's [S, name]). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "threads.h"

static void test_state_letters(void **state)
{
	(void)state;
	assert_int_equal(threads__state_letter(0x0000, 0), 'R');  /* TASK_RUNNING */
	assert_int_equal(threads__state_letter(0x0001, 0), 'S');  /* TASK_INTERRUPTIBLE */
	assert_int_equal(threads__state_letter(0x0002, 0), 'D');  /* TASK_UNINTERRUPTIBLE */
	assert_int_equal(threads__state_letter(0x0004, 0), 'T');  /* __TASK_STOPPED */
	assert_int_equal(threads__state_letter(0x0008, 0), 't');  /* __TASK_TRACED */
	assert_int_equal(threads__state_letter(0x000a, 0), 't');  /* TASK_TRACED */
	assert_int_equal(threads__state_letter(0x0000, 0x20), 'Z'); /* EXIT_ZOMBIE */
	assert_int_equal(threads__state_letter(0x0080, 0x10), 'X'); /* TASK_DEAD, EXIT_DEAD */
	assert_int_equal(threads__state_letter(0x0040, 0), 'P');  /* TASK_PARKED */
	assert_int_equal(threads__state_letter(0x0402, 0), 'I');  /* TASK_IDLE */
	assert_int_equal(threads__state_letter(0x1000, 0), 'D');  /* TASK_RTLOCK_WAIT */
	assert_int_equal(threads__state_letter(0x0101, 0), 'S');  /* interruptible, wakekill */
	assert_int_equal(threads__state_letter(0x8000, 0), 'R');  /* TASK_FROZEN: not reported */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_letters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
