// SPDX-License-Identifier: MIT
/*
 * heap_loop - a malloc-heavy loop for the heap bench: after SIGUSR1 (or at
 * once with "now"), N malloc(64) + free pairs, a few blocks kept at a time;
 * prints "ns_per_pair <ns>" (the thread's CPU time in the loop / N: what
 * the pairs cost, traps included, however busy the machine is) and
 * "wall_ns_per_pair <ns>", and exits.
 *
 * Usage: heap_loop N [now]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEEP 16

static volatile sig_atomic_t go;
static void *volatile ring[KEEP];

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

__attribute__((noinline)) static void churn(long n)
{
	for (long i = 0; i < n; i++) {
		free(ring[i % KEEP]);
		ring[i % KEEP] = malloc(64);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct timespec a, b, wa, wb;

	if (argc < 3 || strcmp(argv[2], "now")) {
		signal(SIGUSR1, on_usr1);
		printf("waiting for SIGUSR1\n");
		fflush(stdout);
		while (!go)
			usleep(1000);
	}
	clock_gettime(CLOCK_MONOTONIC, &wa);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	churn(n);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	clock_gettime(CLOCK_MONOTONIC, &wb);
	printf("ns_per_pair %.1f\n",
	       ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / (double)n);
	printf("wall_ns_per_pair %.1f\n",
	       ((wb.tv_sec - wa.tv_sec) * 1e9 + (wb.tv_nsec - wa.tv_nsec)) / (double)n);
	return 0;
}
