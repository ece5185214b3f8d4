// SPDX-License-Identifier: MIT
/*
 * idle_threads.c - threads that sleep, for the goroutine and threadcreate
 * profiles.
 *
 * Usage: idle_threads [LATE_SECONDS|usr1]
 *
 * Six threads named idle-1 .. idle-6 each block forever in idle_wait() on a
 * condition variable (pthread_cond_wait: a futex wait, state S); the main
 * thread ("idle_threads") blocks in main_wait() the same way.  LATE_SECONDS
 * (default 3) seconds after start, or with "usr1" when the process gets
 * SIGUSR1 (whatever the daemon's start-up took: the tests send it once
 * their window is open), the main thread creates one more thread,
 * "idle-late", from spawn_late_thread(): a threadcreate profile taken by a
 * daemon attached before then shows that function; afterwards the goroutine
 * profile counts 8 threads.  Prints "ready" once the six are waiting.
 *
 * Runs until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_THREADS 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER;
static int waiting;

/* Blocks forever: nobody signals "never". */
__attribute__((noinline)) void idle_wait(void)
{
	pthread_mutex_lock(&lock);
	waiting++;
	pthread_cond_broadcast(&arrived);
	for (;;)
		pthread_cond_wait(&never, &lock);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	idle_wait();
	return NULL;
}

__attribute__((noinline)) void main_wait(void)
{
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
}

__attribute__((noinline)) void spawn_late_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle_thread, NULL)) {
		perror("pthread_create");
		exit(1);
	}
	pthread_setname_np(t, "idle-late");
}

int main(int argc, char **argv)
{
	bool on_signal = argc > 1 && !strcmp(argv[1], "usr1");
	int late = argc > 1 && !on_signal ? atoi(argv[1]) : 3;
	sigset_t usr1;

	/* Blocked in every thread (they inherit it): sigwait() below takes it. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);

	for (int i = 0; i < IDLE_THREADS; i++) {
		char name[16];
		pthread_t t;

		if (pthread_create(&t, NULL, idle_thread, NULL)) {
			perror("pthread_create");
			return 1;
		}
		snprintf(name, sizeof(name), "idle-%d", i + 1);
		pthread_setname_np(t, name);
	}
	pthread_mutex_lock(&lock);
	while (waiting < IDLE_THREADS)
		pthread_cond_wait(&arrived, &lock);
	pthread_mutex_unlock(&lock);
	printf("ready\n");
	fflush(stdout);

	if (on_signal) {
		int sig;

		sigwait(&usr1, &sig);
	} else {
		sleep(late);
	}
	spawn_late_thread();
	main_wait();
	return 0;
}
