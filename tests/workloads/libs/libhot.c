// SPDX-License-Identifier: MIT
/*
 * libhot.c - the shared library tests/workloads/dlopen.c loads late:
 * build/workloads/libhot.so (-fPIC -shared -g).  hot_lib_spin() is where the
 * CPU goes once it is loaded.
 */
#include <stdint.h>

/* Spins for about `rounds` iterations; the empty asm keeps the loop a loop. */
__attribute__((noinline, visibility("default"))) uint64_t hot_lib_spin(uint64_t seed, long rounds)
{
	uint64_t x = seed;

	for (long i = 0; i < rounds; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		asm volatile("" : "+r"(x));
	}
	return x;
}
