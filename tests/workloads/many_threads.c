// SPDX-License-Identifier: MIT
/*
 * many_threads.c - many threads asleep at a known depth, for timing a
 * goroutine dump.
 *
 * Usage: many_threads [THREADS]
 *
 * THREADS (default 100, the main thread included) threads block forever in
 * park() (a condition variable wait), three calls deep below their start
 * function (worker_level1 -> worker_level2 -> park); the main thread parks
 * too, once all of them are waiting.  Prints "ready" then.
 *
 * Runs until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static int waiting;

__attribute__((noinline)) void park(void)
{
	pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_broadcast(&arrived);
	for (;;)
		pthread_cond_wait(&never, &lock);
}

__attribute__((noinline)) void worker_level2(void)
{
	park();
	__asm__ volatile("");
}

__attribute__((noinline)) void worker_level1(void)
{
	worker_level2();
	__asm__ volatile("");
}

static void *worker(void *arg)
{
	(void)arg;
	worker_level1();
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;

	for (int i = 1; i < n; i++) {
		char name[16];
		pthread_t t;

		if (pthread_create(&t, NULL, worker, NULL)) {
			perror("pthread_create");
			return 1;
		}
		snprintf(name, sizeof(name), "worker-%d", i);
		pthread_setname_np(t, name);
	}
	pthread_mutex_lock(&lock);
	while (waiting < n - 1)
		pthread_cond_wait(&arrived, &lock);
	pthread_mutex_unlock(&lock);
	printf("ready\n");
	fflush(stdout);
	park();
	return 0;
}
