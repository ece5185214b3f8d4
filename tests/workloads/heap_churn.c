// SPDX-License-Identifier: MIT
/*
 * heap_churn - allocation traffic from many threads while pprofd loads and
 * unloads its heap sampler (test_heap_inject): THREADS threads malloc,
 * calloc, realloc, posix_memalign and free blocks of 16 B to 16 KiB, each
 * filled with a pattern checked before it is freed, and one thread dlopen's
 * and dlclose's liblate.so (next to this binary), allocating through it.
 * Prints "progress N" (rounds done by every thread, summed) each 100 ms;
 * "CORRUPT" and exits 3 when a block does not hold its pattern.
 *
 * Usage: heap_churn [THREADS]   (default 8)
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP 64
#define MAX_THREADS 64

static unsigned long progress[MAX_THREADS];

static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

struct block {
	unsigned char *p;
	size_t size;
	unsigned char tag;
};

static void fill(struct block *b)
{
	memset(b->p, b->tag, b->size);
}

static void check(const struct block *b)
{
	for (size_t i = 0; i < b->size; i += 61)
		if (b->p[i] != b->tag) {
			printf("CORRUPT at %p+%zu\n", (void *)b->p, i);
			fflush(stdout);
			_exit(3);
		}
}

static void *churn(void *arg)
{
	long id = (long)arg;
	uint64_t x = 0x9e3779b97f4a7c15ULL * (id + 1);
	struct block kept[KEEP] = { 0 };

	for (unsigned long round = 0;; round++) {
		struct block *b = &kept[next(&x) % KEEP];
		size_t size = 16 + next(&x) % 16384;
		void *p = NULL;

		if (b->p) {
			check(b);
			if (round % 5 == 0) { /* grown or shrunk in place of a free */
				b->p = realloc(b->p, size);
				b->size = b->size < size ? b->size : size;
				check(b);
				b->size = size;
				b->tag = (unsigned char)next(&x);
				fill(b);
				continue;
			}
			free(b->p);
			b->p = NULL;
		}
		switch (round % 4) {
		case 0:
			p = malloc(size);
			break;
		case 1:
			p = calloc(1, size);
			break;
		case 2:
			if (posix_memalign(&p, 64, size))
				p = NULL;
			break;
		default:
			p = realloc(NULL, size);
			break;
		}
		if (!p)
			continue;
		b->p = p;
		b->size = size;
		b->tag = (unsigned char)next(&x);
		fill(b);
		__atomic_store_n(&progress[id], round, __ATOMIC_RELAXED);
	}
	return NULL;
}

/* Objects come and go while slots are rewritten and put back. */
static void *loader(void *arg)
{
	char lib[PATH_MAX + 16], self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	(void)arg;
	self[n > 0 ? n : 0] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(lib, sizeof(lib), "%s/liblate.so", self);
	for (;;) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		int (*hold)(int, size_t);
		void (*free_all)(void);

		if (!h) {
			usleep(10000);
			continue;
		}
		hold = (int (*)(int, size_t))dlsym(h, "late_alloc_hold");
		free_all = (void (*)(void))dlsym(h, "late_free_all");
		if (hold && free_all) {
			hold(50, 1024);
			free_all();
		}
		dlclose(h);
		usleep(2000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = argc > 1 ? atol(argv[1]) : 8;
	pthread_t th;

	if (threads < 1 || threads > MAX_THREADS)
		threads = 8;
	for (long i = 0; i < threads; i++)
		pthread_create(&th, NULL, churn, (void *)i);
	pthread_create(&th, NULL, loader, NULL);
	for (;;) {
		unsigned long sum = 0;

		usleep(100000);
		for (long i = 0; i < threads; i++)
			sum += __atomic_load_n(&progress[i], __ATOMIC_RELAXED);
		printf("progress %lu\n", sum);
		fflush(stdout);
	}
}
