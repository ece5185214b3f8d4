// SPDX-License-Identifier: MIT
/*
 * late_thread.c - a thread that appears after profiling has started.
 *
 * Usage: late_thread [DELAY_SECONDS|usr1 [IGNORED...]]
 *
 * With "usr1" the thread starts when the process gets SIGUSR1 (the tests
 * send it once the profile runs, whatever the daemon's start-up took).
 * Expected CPU profile: the main thread ("late_thread") spins in
 * main_spin() from the start; DELAY_SECONDS (default 2) seconds later a
 * second thread named "late-worker" starts and spins in late_worker_spin().
 * A profile whose window began before the thread existed must still show
 * late_worker_spin with the label thread=late-worker and the new thread's tid.
 * Extra arguments are ignored (the tests use them to check /cmdline).
 *
 * Runs until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Spins until the monotonic clock passes end_ns (forever when end_ns < 0).
 * The clock is read every 50000 iterations (tens of µs) so it stays out of
 * the samples; the empty asm keeps the loop from being folded away.
 */
#define SPIN_UNTIL(end_ns, seed)                                                                   \
	do {                                                                                       \
		uint64_t x = (seed);                                                               \
		do {                                                                               \
			for (int i = 0; i < 50000; i++) {                                          \
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;           \
				__asm__ volatile("" : "+r"(x));                                    \
			}                                                                          \
		} while ((end_ns) < 0 || monotonic_ns() < (end_ns));                               \
	} while (0)

__attribute__((noinline)) void main_spin(int64_t end_ns)
{
	SPIN_UNTIL(end_ns, 1);
}

__attribute__((noinline)) void late_worker_spin(void)
{
	SPIN_UNTIL(-1, 2);
}

static void *late_worker(void *arg)
{
	(void)arg;
	/* Named before it spins, so every sample of late_worker_spin carries it. */
	pthread_setname_np(pthread_self(), "late-worker");
	late_worker_spin();
	return NULL;
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	int delay = argc > 1 ? atoi(argv[1]) : 2;
	pthread_t thread;
	int err;

	if (argc > 1 && !strcmp(argv[1], "usr1")) {
		signal(SIGUSR1, on_usr1);
		while (!go)
			main_spin(monotonic_ns() + 10000000LL);
	} else {
		main_spin(monotonic_ns() + (int64_t)delay * 1000000000LL);
	}

	err = pthread_create(&thread, NULL, late_worker, NULL);
	if (err) {
		fprintf(stderr, "late_thread: pthread_create: error %d\n", err);
		return 1;
	}
	main_spin(-1);
	return 0;
}
