// SPDX-License-Identifier: MIT
/*
 * contention.c - known waiting, for the block and mutex profiles.
 *
 *   waiter      wait_for_signal(): pthread_cond_timedwait, 5 s at a time,
 *               never signalled: ~1 s of off-CPU delay per second.
 *   holder-1/2  hold_lock(): take one mutex, keep it ~5 ms (sleeping),
 *               release; then a little work.  Each waits on the other's
 *               hold: mutex contention charged to hold_lock (the releaser).
 *
 * What a test can count on: a hold lasts at least 5 ms (nanosleep does not
 * return early), so the lock changes hands at most 200 times a second; a
 * holder sleeps only in that nanosleep and in the futex wait for the lock,
 * which only the other holder's unlock ends.  contention_holds[N] counts
 * holder-N's holds (read from /proc/PID/mem): its voluntary context
 * switches minus its holds are the times the other holder woke it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile unsigned long sink;
volatile unsigned long contention_holds[3]; /* [1], [2]: holds of holder-1, holder-2 */

static NOINLINE void wait_for_signal(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	pthread_mutex_lock(&cond_lock);
	pthread_cond_timedwait(&never, &cond_lock, &until);
	pthread_mutex_unlock(&cond_lock);
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "waiter");
	for (;;)
		wait_for_signal();
	return NULL;
}

static NOINLINE void hold_lock(void)
{
	struct timespec hold = { 0, 5 * 1000 * 1000 };

	pthread_mutex_lock(&lock);
	nanosleep(&hold, NULL);
	pthread_mutex_unlock(&lock);
}

static NOINLINE void little_work(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i;
}

static void *holder(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "holder-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		hold_lock();
		contention_holds[(long)arg]++;
		little_work();
	}
	return NULL;
}

int main(void)
{
	pthread_t t;

	pthread_create(&t, NULL, waiter, NULL);
	pthread_create(&t, NULL, holder, (void *)1L);
	pthread_create(&t, NULL, holder, (void *)2L);
	for (;;)
		pause();
	return 0;
}
