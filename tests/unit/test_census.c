// SPDX-License-Identifier: MIT
/*
 * test_census.c - the census of a process's memory, on this test process
 * (its own /proc needs no root): threads blocked in a condition variable
 * have their stacks counted as stacks, a large touched malloc block as
 * heap; a later census reads no stack pointer it knows; another target is
 * measured once the daemon's pid changes.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "census.h"
#include "daemon.h"

#define THREADS 8
#define BLOCK (4 << 20)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int waiting;
static bool release;

static void *parked(void *arg)
{
	volatile char touch[16384]; /* a few pages of this thread's stack resident */

	(void)arg;
	for (size_t i = 0; i < sizeof(touch); i += 64)
		touch[i] = 1;
	pthread_mutex_lock(&lock);
	waiting++;
	while (!release)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* Runs d's loop until census c has completed n censuses (10 s at most). */
static void run_until(struct daemon *d, struct census *c, unsigned n)
{
	for (int i = 0; i < 1000 && census__count(c) < n; i++) {
		struct timeval tv = { .tv_usec = 10000 };

		event_base_loopexit(d->base, &tv);
		event_base_dispatch(d->base);
	}
	assert_true(census__count(c) >= n);
}

static void test_census_self(void **state)
{
	struct daemon d = { .base = event_base_new(), .pid = getpid() };
	pthread_t t[THREADS];
	const struct census_result *r;
	const char *why = NULL;
	struct census *c;
	uint64_t stacks;
	char *block;

	(void)state;
	assert_non_null(d.base);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parked, NULL), 0);
	for (;;) {
		pthread_mutex_lock(&lock);
		if (waiting == THREADS) {
			pthread_mutex_unlock(&lock);
			break;
		}
		pthread_mutex_unlock(&lock);
		usleep(1000);
	}
	block = malloc(BLOCK); /* above the mmap threshold: a mapping of its own */
	assert_non_null(block);
	memset(block, 0x5a, BLOCK);

	c = census__new(&d); /* the first census runs now */
	assert_non_null(c);
	r = census__last(c, getpid(), 0, &why);
	assert_non_null(r);
	assert_true(r->ok);
	assert_int_equal(r->pid, getpid());
	assert_int_equal(r->threads, THREADS + 1);
	/* Every parked thread is blocked: its stack pointer is read. */
	assert_true(r->stack_pointers >= THREADS);
	assert_int_equal(r->pointers_read, r->threads);
	assert_true(r->stacks >= THREADS * 16384ULL);
	assert_true(r->heap_anon >= BLOCK);
	assert_true(r->mappings > THREADS);
	assert_true(r->ntop > 0 && r->ntop <= CENSUS_TOP_MAPPINGS);
	for (size_t i = 1; i < r->ntop; i++)
		assert_true(r->top[i - 1].rss >= r->top[i].rss);
	assert_true(r->top[0].rss >= BLOCK);
	stacks = r->stacks;

	/* The next census knows the parked threads' stack pointers. */
	run_until(&d, c, 2);
	r = census__last(c, getpid(), 0, &why);
	assert_non_null(r);
	assert_true(r->ok);
	assert_true(r->pointers_read <= 1); /* the main thread: running or new */
	assert_true(r->stacks >= THREADS * 16384ULL && r->stacks <= stacks + (1 << 20));
	assert_true(r->heap_anon >= BLOCK);

	pthread_mutex_lock(&lock);
	release = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	free(block);
	census__free(c);
	event_base_free(d.base);
}

/* Another target (a restart): "measuring" until a census of it is done. */
static void test_census_new_target(void **state)
{
	struct daemon d = { .base = event_base_new(), .pid = getpid() };
	const struct census_result *r;
	const char *why = NULL;
	struct census *c;
	unsigned n;
	pid_t child;

	(void)state;
	assert_non_null(d.base);
	c = census__new(&d);
	assert_non_null(c);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves nothing behind */
		if (getppid() == 1)
			_exit(0);
		pause();
		_exit(0);
	}
	d.pid = child;
	n = census__count(c);
	r = census__last(c, child, 0, &why);
	assert_null(r);
	assert_non_null(why);
	run_until(&d, c, n + 1);
	r = census__last(c, child, 0, &why);
	assert_non_null(r);
	assert_int_equal(r->pid, child);
	assert_true(r->ok);
	assert_int_equal(r->threads, 1);
	/* Another process with the pid (starttime differs): not this census. */
	assert_null(census__last(c, child, r->starttime + 1, &why));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	census__free(c);
	event_base_free(d.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_census_self),
		cmocka_unit_test(test_census_new_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
