// SPDX-License-Identifier: MIT
/*
 * heap_ctor_block - a thread blocked inside dlopen, in the constructor of
 * libctor_block.so (next to this binary), the loader's lock held, while the
 * main thread allocates and sleeps: the heap sampler must not be loaded
 * through the main thread then (its dlopen would wait for that lock for as
 * long, or for ever), and is once the constructor returned
 * (test_heap_inject).  CTOR_BLOCK_SECONDS: how long the constructor
 * sleeps.  Prints "in ctor" once the thread is in it, "loaded" once dlopen
 * returned, "progress N" every 100 ms.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *opener(void *arg)
{
	char lib[PATH_MAX + 32], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)arg;
	self[n > 0 ? n : 0] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(lib, sizeof(lib), "%s/libctor_block.so", self);
	printf("in ctor\n");
	fflush(stdout);
	if (dlopen(lib, RTLD_NOW | RTLD_LOCAL))
		printf("loaded\n");
	else
		printf("dlopen: %s\n", dlerror());
	fflush(stdout);
	return NULL;
}

int main(void)
{
	pthread_t th;
	unsigned long progress = 0;

	pthread_create(&th, NULL, opener, NULL);
	for (;;) {
		void *p = malloc(4096);

		free(p);
		usleep(100000);
		printf("progress %lu\n", ++progress);
		fflush(stdout);
	}
}
