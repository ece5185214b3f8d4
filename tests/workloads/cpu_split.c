// SPDX-License-Identifier: MIT
/*
 * cpu_split.c - one thread whose CPU time splits a known way.
 *
 * Expected CPU profile: the main thread (and only thread, "cpu_split") spends
 * its time in three functions, flat, in the ratio
 *
 *	burn_50pct  50 %
 *	burn_30pct  30 %
 *	burn_20pct  20 %
 *
 * Each round spins in each function for 5, 3 and 2 ms of the thread's own CPU
 * time (CLOCK_THREAD_CPUTIME_ID), so the split holds however much of a CPU the
 * thread gets.  The clock is read only every SPIN_CHUNK iterations (about
 * 50 µs of work) so the clock_gettime() system call stays well under 1 % of
 * the samples.  The spin loop is written out in each function (a macro, not
 * an inline helper) so that no inline frame takes the flat time.
 *
 * Runs until killed.
 */
#include <stdint.h>
#include <time.h>

/* Iterations between two clock reads: about 50 µs at ~1 ns per iteration. */
#define SPIN_CHUNK 50000
#define NSEC_PER_MSEC 1000000LL

static int64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/*
 * Spins for ns nanoseconds of thread CPU time.  The empty asm keeps the
 * compiler from folding the loop away; the seed makes each copy's body
 * different, so identical-code folding cannot merge the three functions.
 */
#define SPIN_FOR(ns, seed)                                                                         \
	do {                                                                                       \
		int64_t end = thread_cpu_ns() + (ns);                                              \
		uint64_t x = (seed);                                                               \
		do {                                                                               \
			for (int i = 0; i < SPIN_CHUNK; i++) {                                     \
				x = x * 6364136223846793005ULL + 1442695040888963407ULL;           \
				__asm__ volatile("" : "+r"(x));                                    \
			}                                                                          \
		} while (thread_cpu_ns() < end);                                                   \
	} while (0)

__attribute__((noinline)) void burn_50pct(void)
{
	SPIN_FOR(5 * NSEC_PER_MSEC, 50);
}

__attribute__((noinline)) void burn_30pct(void)
{
	SPIN_FOR(3 * NSEC_PER_MSEC, 30);
}

__attribute__((noinline)) void burn_20pct(void)
{
	SPIN_FOR(2 * NSEC_PER_MSEC, 20);
}

int main(void)
{
	for (;;) {
		burn_50pct();
		burn_30pct();
		burn_20pct();
	}
}
