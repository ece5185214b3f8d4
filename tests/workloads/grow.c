// SPDX-License-Identifier: MIT
/*
 * grow.c - a process that grows on demand, for the /performance/health
 * thresholds.
 *
 * Usage: grow
 *
 * Idle (blocked in sigwait) until told: SIGUSR1 starts one more thread (it
 * sleeps forever), SIGUSR2 allocates 8 MiB with malloc and touches every
 * page (resident, anonymous: the heap).  Prints "threads N" / "heap N" after
 * each step.  Runs until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_BYTES (8u << 20)

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	sigset_t set;
	int sig, threads = 1;
	size_t heap = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* Blocked before any thread starts: they inherit the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ready\n");
	for (;;) {
		if (sigwait(&set, &sig))
			continue;
		if (sig == SIGUSR1) {
			pthread_t t;

			if (!pthread_create(&t, NULL, sleeper, NULL))
				threads++;
			printf("threads %d\n", threads);
		} else {
			char *p = malloc(STEP_BYTES);

			if (p) {
				memset(p, 0x5a, STEP_BYTES);
				heap += STEP_BYTES;
			}
			printf("heap %zu\n", heap);
		}
	}
}
