// SPDX-License-Identifier: MIT
/*
 * nofp.c - a workload built WITHOUT frame pointers (-fomit-frame-pointer, as
 * Debian's libc and most -O2 code), for complete-stack tests: a frame-pointer
 * walk loses every caller above the first frame-less frame; DWARF unwinding
 * must not.
 *
 * One thread, until killed, alternating between:
 *   trig_work()  -> sin() and cos() in libm         (~50% of the CPU)
 *   sort_work()  -> qsort() -> compare_keys()        (~50%)
 * Expected: every sample's stack reaches main; samples in libm's sin keep
 * trig_work as caller; samples in compare_keys keep qsort and sort_work.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile double sink;

static NOINLINE double trig_work(int rounds)
{
	double acc = 0;

	for (int i = 0; i < rounds; i++)
		acc += sin(i * 0.001 + sink) * cos(i * 0.002);
	return acc;
}

static NOINLINE int compare_keys(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;

	/* A little work per comparison, so that samples land here. */
	for (int i = 0; i < 8; i++) {
		x = x * 2654435761u + 1;
		y = y * 2654435761u + 1;
	}
	return (x > y) - (x < y);
}

/* Returns a key so that the call to qsort is not a tail call (which would
 * leave no sort_work frame to find). */
static NOINLINE unsigned sort_work(unsigned *keys, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		keys[i] = (unsigned)(i * 2654435761u) ^ seed;
	qsort(keys, n, sizeof(*keys), compare_keys);
	return keys[n / 2];
}

static double thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(void)
{
	static unsigned keys[20000];
	unsigned seed = 1;

	for (;;) {
		double t0 = thread_cpu_ms();

		/* ~5 ms of each, measured, so the split holds on a busy machine. */
		while (thread_cpu_ms() - t0 < 5)
			sink += trig_work(2000);
		t0 = thread_cpu_ms();
		while (thread_cpu_ms() - t0 < 5)
			sink += sort_work(keys, sizeof(keys) / sizeof(keys[0]) / 8, seed++);
	}
	return 0;
}
