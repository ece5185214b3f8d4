// SPDX-License-Identifier: MIT
/*
 * heap_cxx - C++ allocations for the heap profile tests: after SIGUSR1,
 * heap_new keeps 400 objects of 4 KiB made with new, heap_new_array 400
 * arrays of 4 KiB made with new[]; heap_new_deleted news and deletes as
 * many at once.  Prints "ready", then sleeps holding them.
 */
#include <csignal>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#define COUNT 400

struct Block {
	char bytes[4096];
};

static volatile sig_atomic_t go;
static Block *kept_new[COUNT];
static char *kept_array[COUNT];
static Block *volatile sink; /* keeps new and delete from being elided */

static void on_usr1(int) { go = 1; }

__attribute__((noinline)) static void heap_new()
{
	for (int i = 0; i < COUNT; i++) {
		kept_new[i] = new Block;
		memset(kept_new[i]->bytes, 1, 64);
		if (i % 4 == 3)
			usleep(3000);
	}
}

__attribute__((noinline)) static void heap_new_array()
{
	for (int i = 0; i < COUNT; i++) {
		kept_array[i] = new char[4096];
		memset(kept_array[i], 1, 64);
		if (i % 4 == 3)
			usleep(3000);
	}
}

__attribute__((noinline)) static void heap_new_deleted()
{
	for (int i = 0; i < COUNT; i++) {
		sink = new Block;
		memset(sink->bytes, 1, 64);
		delete sink;
		if (i % 4 == 3)
			usleep(3000);
	}
}

int main()
{
	signal(SIGUSR1, on_usr1);
	printf("waiting for SIGUSR1\n");
	fflush(stdout);
	while (!go)
		usleep(10000);
	heap_new();
	heap_new_array();
	heap_new_deleted();
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
