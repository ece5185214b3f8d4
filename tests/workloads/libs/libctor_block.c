// SPDX-License-Identifier: MIT
/*
 * libctor_block.c - a library whose constructor sleeps CTOR_BLOCK_SECONDS
 * (default 3600): the thread that dlopen's it holds the loader's lock for
 * that long (heap_ctor_block, test_heap_inject).
 */
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void block(void)
{
	const char *s = getenv("CTOR_BLOCK_SECONDS");
	unsigned left = s ? (unsigned)atoi(s) : 3600;

	while (left)
		left = sleep(left);
}
