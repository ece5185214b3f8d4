// SPDX-License-Identifier: MIT
/*
 * busy_nofp.c - the benchmark target of tests/bench/bench.sh's "dwarf"
 * section: busy.c's shape (two threads, each burning a whole CPU in named
 * functions 6-8 calls deep) but built WITHOUT frame pointers (Makefile:
 * WORKLOAD_CFLAGS_busy_nofp := -fomit-frame-pointer) and calling through
 * libc and libm, which Debian builds without frame pointers too.  A
 * frame-pointer walk loses the callers above the first frame-less frame;
 * only DWARF (CFI) unwinding gives complete stacks here.
 *
 * Usage: busy_nofp         runs until killed
 *
 * Threads (names as pprofd's thread label shows them):
 *	nofp-trig    main -> trig_service -> trig_batch -> trig_step
 *	               -> trig_eval -> sin / cos (libm)          (~70 %)
 *	               -> trig_poly                   (leaf, ~30 %)
 *	nofp-sort    worker_main -> sort_service -> sort_batch -> sort_keys
 *	               -> qsort (libc) -> compare_keys -> key_hash (leaf)
 * below worker_main are libc's start_thread and clone3.  A complete stack
 * reaches main (nofp-trig) or worker_main (nofp-sort): the bench counts
 * the samples that do.
 *
 * Every call is followed by work that uses its result, so no call becomes
 * a tail jump that would drop a frame; noclone: no ".constprop" names.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

static volatile double sink_trig;
static volatile uint64_t sink_sort;

/* ------------------------------------------------------------ nofp-trig */

static NOINLINE double trig_poly(double x)
{
	double acc = 0, p = 1;

	for (int i = 1; i < 24; i++) {
		p *= x / i;
		acc += (i & 1) ? p : -p;
	}
	return acc + 1;
}

static NOINLINE double trig_eval(double x)
{
	double v = sin(x) * cos(x * 0.5);

	return v + trig_poly(x * 0.001) * 1e-9;
}

static NOINLINE double trig_step(int i, double seed)
{
	double v = trig_eval(i * 0.001 + seed);

	return v * 0.5 + 0.25;
}

static NOINLINE double trig_batch(int n, double seed)
{
	double acc = 0;

	for (int i = 0; i < n; i++)
		acc += trig_step(i, seed);
	return acc * 0.999;
}

static NOINLINE void trig_service(void)
{
	for (double seed = 0;; seed += 1e-6) {
		double v = trig_batch(4096, seed);

		sink_trig = sink_trig * 0.5 + v;
	}
}

/* ------------------------------------------------------------ nofp-sort */

static NOINLINE uint32_t key_hash(uint32_t x)
{
	for (int i = 0; i < 8; i++)
		x = x * 2654435761u + (x >> 13) + 1;
	return x;
}

static NOINLINE int compare_keys(const void *a, const void *b)
{
	uint32_t x = key_hash(*(const uint32_t *)a);
	uint32_t y = key_hash(*(const uint32_t *)b);

	return (x > y) - (x < y);
}

/* Returns a key, so that the call to qsort is not a tail call. */
static NOINLINE uint32_t sort_keys(uint32_t *keys, size_t n)
{
	qsort(keys, n, sizeof(*keys), compare_keys);
	return keys[n / 2] ^ keys[0];
}

static NOINLINE uint64_t sort_batch(uint32_t *keys, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		keys[i] = (uint32_t)(i * 2654435761u) ^ seed;
	return sort_keys(keys, n) + seed;
}

static NOINLINE void sort_service(void)
{
	static uint32_t keys[2048];

	for (uint32_t seed = 1;; seed++) {
		uint64_t v = sort_batch(keys, sizeof(keys) / sizeof(keys[0]), seed);

		sink_sort = sink_sort + v;
	}
}

static NOINLINE void *worker_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "nofp-sort");
	sort_service();
	sink_sort = sink_sort + 1;
	return NULL;
}

int main(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, worker_main, NULL)) {
		perror("pthread_create");
		return 1;
	}
	pthread_setname_np(pthread_self(), "nofp-trig");
	trig_service();
	sink_trig = sink_trig + 1;
	return 0;
}
