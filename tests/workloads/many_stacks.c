// SPDX-License-Identifier: MIT
/*
 * many_stacks.c - N live heap blocks, each allocated from a call path of
 * its own, for timing a profile of N unique stacks.
 *
 * Usage: many_stacks N [BATCH]
 *
 * Block i (0 <= i < N, N <= 2^LEVELS) is allocated LEVELS calls deep: at
 * level l, bit l of i picks one of two functions (left, right), each calling
 * down from its own call site, so that no two blocks share a stack.  Prints
 * "ready" and waits for SIGUSR1 (attach the profiler first: heap tracking
 * starts at attach), then allocates BATCH blocks (default 1000) every 50 ms,
 * so that a profiler's ring buffer is not outrun, prints "done N" and keeps
 * them live until killed.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LEVELS 17 /* 131072 paths */

static void *descend(int level, unsigned path);

__attribute__((noinline)) static void *left(int level, unsigned path)
{
	void *p = descend(level + 1, path);

	__asm__ volatile(""); /* no tail call: this frame stays on the stack */
	return p;
}

__attribute__((noinline)) static void *right(int level, unsigned path)
{
	void *p = descend(level + 1, path);

	__asm__ volatile("");
	return p;
}

__attribute__((noinline)) static void *descend(int level, unsigned path)
{
	void *p;

	if (level == LEVELS)
		return malloc(64);
	p = (path >> level) & 1 ? left(level, path) : right(level, path);
	__asm__ volatile("");
	return p;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	long batch = argc > 2 ? atol(argv[2]) : 1000;
	const struct timespec pause = { .tv_nsec = 50 * 1000 * 1000 };
	void **blocks;
	sigset_t set;
	int sig;

	if (n < 1 || n > (1L << LEVELS) || batch < 1) {
		fprintf(stderr, "usage: many_stacks N [BATCH] (1 <= N <= %ld)\n", 1L << LEVELS);
		return 2;
	}
	blocks = calloc(n, sizeof(*blocks));
	if (!blocks)
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	sigwait(&set, &sig);
	for (long i = 0; i < n; i++) {
		blocks[i] = descend(0, (unsigned)i);
		if ((i + 1) % batch == 0)
			nanosleep(&pause, NULL);
	}
	printf("done %ld\n", n);
	fflush(stdout);
	for (;;)
		sigwait(&set, &sig);
}
