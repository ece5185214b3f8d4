// SPDX-License-Identifier: MIT
/*
 * heap_mix - a workload with a known heap, for the heap profile tests.
 *
 * Waits for SIGUSR1 (so that pprofd is attached: heap tracking sees only
 * allocations made after), then allocates and keeps, each from its own
 * function, the same number of bytes (per_function):
 *   heap_malloc     malloc
 *   heap_calloc     calloc, blocks twice as large
 *   heap_memalign   posix_memalign, blocks four times as large
 *   heap_realloc    blocks grown by realloc in REALLOC_STEPS steps to ten times
 *   heap_thread     malloc in THREADS threads
 * and heap_transient mallocs and frees as many bytes at once (nothing live).
 * Prints "ready" after the allocations, then sleeps holding them.
 *
 * Usage: heap_mix [small|large|preload|dlopen]
 *   small: 1600 KiB per function in 4 KiB blocks (rate 1 tests), paced so
 *          that pprofd keeps up with every event;
 *   large: 128 MiB per function in 64 KiB blocks (default rate tests; only
 *          the first bytes of each block are touched), a little paced too;
 *   preload: small, with prealloc.so (next to this binary) preloaded: the
 *          process's allocator is that library's, not libc's;
 *   dlopen:  only heap_dlopen: after SIGUSR1, loads prealloc.so (an object
 *          with an allocator of its own, loaded later), waits 3 s, then keeps
 *          400 blocks of 4 KiB from its malloc;
 *   block32: after SIGUSR1, heap_block32 keeps one 32 MiB block;
 *   late:    after SIGUSR1, loads liblate.so (an object calling libc's malloc
 *          through its own GOT, loaded later), then heap_late has it keep
 *          400 blocks of 4 KiB (late_alloc_hold).
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define REALLOC_STEPS 10
#define MAX_BLOCKS 2048

static size_t per_function; /* bytes kept by each function */
static size_t block;        /* bytes per malloc block */
static int paced;
static volatile sig_atomic_t go;

/* Where the blocks are kept: static, so that keeping them allocates nothing. */
static void *kept_malloc[MAX_BLOCKS], *kept_calloc[MAX_BLOCKS], *kept_memalign[MAX_BLOCKS];
static void *kept_realloc[MAX_BLOCKS], *kept_thread[THREADS][MAX_BLOCKS];

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

/* Small runs go slowly enough for pprofd to unwind every event. */
static void pace(size_t i)
{
	if (paced && i % 4 == 3)
		usleep(3000);
	/* Large: ~1 block in 8 is sampled; 16 blocks per ms keep bursts small. */
	if (!paced && i % 16 == 15)
		usleep(1000);
}

static void touch(void *p)
{
	if (!p) {
		perror("heap_mix: allocation failed");
		exit(1);
	}
	memset(p, 1, 64);
}

__attribute__((noinline)) static void heap_malloc(void)
{
	for (size_t i = 0; i < per_function / block; i++) {
		kept_malloc[i] = malloc(block);
		touch(kept_malloc[i]);
		pace(i);
	}
}

__attribute__((noinline)) static void heap_calloc(void)
{
	for (size_t i = 0; i < per_function / (2 * block); i++) {
		kept_calloc[i] = calloc(2, block);
		touch(kept_calloc[i]);
		pace(i);
	}
}

__attribute__((noinline)) static void heap_memalign(void)
{
	for (size_t i = 0; i < per_function / (4 * block); i++) {
		if (posix_memalign(&kept_memalign[i], 64, 4 * block))
			kept_memalign[i] = NULL;
		touch(kept_memalign[i]);
		pace(i);
	}
}

__attribute__((noinline)) static void heap_realloc(void)
{
	for (size_t i = 0; i < per_function / (REALLOC_STEPS * block); i++) {
		void *p = NULL;

		for (int step = 1; step <= REALLOC_STEPS; step++) {
			p = realloc(p, step * block);
			touch(p);
			pace(step);
		}
		kept_realloc[i] = p;
	}
}

__attribute__((noinline)) static void heap_transient(void)
{
	for (size_t i = 0; i < per_function / block; i++) {
		void *p = malloc(block);

		touch(p);
		free(p);
		pace(i);
	}
}

__attribute__((noinline)) static void *heap_thread(void *arg)
{
	void **kept = arg;

	for (size_t i = 0; i < per_function / block / THREADS; i++) {
		kept[i] = malloc(block);
		touch(kept[i]);
		pace(i);
	}
	return NULL;
}

/* The path of prealloc.so, next to this executable. */
static void prealloc_path(char *lib, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	self[n > 0 ? n : 0] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(lib, len, "%s/prealloc.so", self);
}

__attribute__((noinline)) static void heap_dlopen(void *(*lib_malloc)(size_t))
{
	for (size_t i = 0; i < 400; i++) {
		kept_malloc[i] = lib_malloc(4096);
		touch(kept_malloc[i]);
		pace(i);
	}
}

__attribute__((noinline)) static void *heap_block32(void)
{
	void *p = malloc(32 << 20);

	touch(p);
	return p;
}

/* Paced as small: 100 blocks at a time. */
__attribute__((noinline)) static void heap_late(int (*hold)(int, size_t))
{
	for (int i = 0; i < 4; i++) {
		if (hold(100, 4096) != 100)
			exit(1);
		usleep(30000);
	}
}

int main(int argc, char **argv)
{
	int large = argc > 1 && !strcmp(argv[1], "large");
	pthread_t threads[THREADS];

	if (argc > 1 && !strcmp(argv[1], "preload") && !getenv("LD_PRELOAD")) {
		char self[PATH_MAX], lib[PATH_MAX + 16];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		if (n <= 0)
			return 1;
		self[n] = '\0';
		slash = strrchr(self, '/');
		*slash = '\0';
		snprintf(lib, sizeof(lib), "%s/prealloc.so", self);
		*slash = '/';
		setenv("LD_PRELOAD", lib, 1);
		/* Same PID, same executable: now with the preloaded allocator. */
		execl(self, self, "small", (char *)NULL);
		perror("heap_mix: exec");
		return 1;
	}

	block = large ? 65536 : 4096;
	per_function = large ? 128 << 20 : 1600 << 10;
	paced = !large;
	signal(SIGUSR1, on_usr1);
	printf("waiting for SIGUSR1\n");
	fflush(stdout);
	while (!go)
		usleep(10000);

	if (argc > 1 && !strcmp(argv[1], "block32")) {
		kept_malloc[0] = heap_block32();
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (argc > 1 && !strcmp(argv[1], "late")) {
		char lib[PATH_MAX + 16];
		int (*hold)(int, size_t);
		void *h;

		prealloc_path(lib, sizeof(lib));
		strcpy(strrchr(lib, '/'), "/liblate.so");
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		hold = h ? (int (*)(int, size_t))dlsym(h, "late_alloc_hold") : NULL;
		if (!hold) {
			fprintf(stderr, "heap_mix: %s\n", dlerror());
			return 1;
		}
		heap_late(hold);
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (argc > 1 && !strcmp(argv[1], "dlopen")) {
		char lib[PATH_MAX + 16];
		void *h;

		prealloc_path(lib, sizeof(lib));
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "heap_mix: %s\n", dlerror());
			return 1;
		}
		sleep(3); /* pprofd looks for objects loaded later every 2 s */
		heap_dlopen((void *(*)(size_t))dlsym(h, "malloc"));
		printf("ready\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	heap_malloc();
	heap_calloc();
	heap_memalign();
	heap_realloc();
	heap_transient();
	for (int i = 0; i < THREADS; i++)
		pthread_create(&threads[i], NULL, heap_thread, kept_thread[i]);
	for (int i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
