// SPDX-License-Identifier: MIT
/*
 * stall.c - a scheduling stall on demand, for the health check of runnable
 * waits (the native counterpart of a GC pause).
 *
 * Usage: stall [MS]
 *
 * The main thread spins on CPU 0.  On each SIGUSR1 a second thread, also on
 * CPU 0 but SCHED_FIFO, spins MS milliseconds (default 400): the main thread
 * is runnable and waits that long for the CPU.  Prints "ready", then
 * "stalled MS" after each stall ("no SCHED_FIFO" when it is refused).  Runs
 * until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long stall_ms = 400;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void pin_cpu0(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void *hog(void *arg)
{
	struct sched_param sp = { .sched_priority = 1 };
	sigset_t *set = arg;
	int sig;

	pin_cpu0();
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		printf("no SCHED_FIFO\n");
	for (;;) {
		double end;

		if (sigwait(set, &sig))
			continue;
		end = now_ms() + stall_ms;
		while (now_ms() < end)
			;
		printf("stalled %ld\n", stall_ms);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static sigset_t set;
	volatile unsigned long spins = 0;
	pthread_t t;

	if (argc > 1)
		stall_ms = atol(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pin_cpu0();
	if (pthread_create(&t, NULL, hog, &set))
		return 1;
	printf("ready\n");
	for (;;)
		spins++;
}
