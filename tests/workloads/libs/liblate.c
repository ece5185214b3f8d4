// SPDX-License-Identifier: MIT
/*
 * liblate.c - a library that allocates through its own GOT slots, loaded
 * with dlopen after the heap sampler started (test_sampler, test_inject):
 * build/workloads/liblate.so.  late_alloc_hold() keeps its blocks live.
 */
#include <stdlib.h>

#define LATE_MAX 4096

static void *volatile held[LATE_MAX];

/* n blocks of size bytes, kept until late_free_all(); returns how many. */
__attribute__((noinline, visibility("default"))) int late_alloc_hold(int n, size_t size)
{
	int i;

	for (i = 0; i < n && i < LATE_MAX; i++)
		held[i] = malloc(size);
	return i;
}

__attribute__((noinline, visibility("default"))) void late_free_all(void)
{
	for (int i = 0; i < LATE_MAX; i++) {
		free(held[i]);
		held[i] = NULL;
	}
}
