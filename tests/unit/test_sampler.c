// SPDX-License-Identifier: MIT
/*
 * test_sampler.c - the heap sampler library (sampler/sampler.c), loaded
 * into this process with dlopen as pprofd loads it into a target: every
 * allocation function counted at rate 1 and its frees seen, the byte
 * countdown's mean at the default rate, threads, fork, a library dlopen'ed
 * after start, stop (and a stop asked for through the rate) putting every
 * slot back, and start/stop rounds while threads allocate.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sampler.h"

static void *lib;
static int (*start)(int64_t, uintptr_t);
static int (*stop)(void);
static volatile int64_t *rate;
static struct sampler_counters *counters;
static void *volatile keep[4096];

static int setup(void **state)
{
	const char *out = getenv("OUTPUT");
	char path[4096];

	(void)state;
	snprintf(path, sizeof(path), "%s/libpprofd-sampler.so", out ? out : "build");
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "# %s\n", dlerror());
		return -1;
	}
	start = (int (*)(int64_t, uintptr_t))dlsym(lib, SAMPLER_START);
	stop = (int (*)(void))dlsym(lib, SAMPLER_STOP);
	rate = dlsym(lib, SAMPLER_RATE);
	counters = dlsym(lib, SAMPLER_COUNTERS);
	return start && stop && rate && counters ? 0 : -1;
}

/* malloc + free that the compiler cannot drop as a pair. */
static void pair(size_t n)
{
	void *volatile p = malloc(n);

	free(p);
}

/* Volatile reads (whole aligned words), not __atomic_load_n, which GCC's
 * -fsanitize build takes for a write into an object of unknown size. */
static uint64_t sampled(void)
{
	return ((volatile struct sampler_counters *)counters)->sampled;
}

static uint64_t freed(void)
{
	return ((volatile struct sampler_counters *)counters)->freed;
}

static void test_rate_one_every_function(void **state)
{
	uint64_t s0, f0;
	void *p = NULL;

	(void)state;
	assert_int_equal(start(1, 0), 0);
	assert_true(counters->slots > 0);
	s0 = sampled();
	f0 = freed();
	for (int i = 0; i < 100; i++)
		keep[i] = malloc(100 + i);
	assert_int_equal(sampled() - s0, 100);
	for (int i = 0; i < 100; i++)
		free(keep[i]);
	assert_int_equal(freed() - f0, 100);

	s0 = sampled();
	f0 = freed();
	keep[0] = calloc(10, 10);
	keep[1] = realloc(NULL, 50);
	keep[1] = realloc(keep[1], 5000);        /* the old block freed, a new one */
	keep[2] = reallocarray(NULL, 4, 8);
	keep[3] = aligned_alloc(64, 128);
	keep[4] = memalign(64, 256);
	keep[5] = valloc(100);
	assert_int_equal(posix_memalign(&p, 64, 512), 0);
	keep[6] = p;
	assert_int_equal(sampled() - s0, 8);
	assert_int_equal(freed() - f0, 1);
	for (int i = 0; i < 7; i++)
		free(keep[i]);
	assert_int_equal(freed() - f0, 8);
	/* malloc(0) and free(NULL) are not blocks. */
	s0 = sampled();
	free(NULL);
	keep[0] = malloc(0);
	free(keep[0]);
	assert_int_equal(sampled() - s0, 0);
	assert_int_equal(stop(), 0);
	assert_int_equal(counters->slots, 0);
}

static void test_stop_puts_slots_back(void **state)
{
	uint64_t s0;

	(void)state;
	assert_int_equal(start(1, 0), 0);
	keep[0] = malloc(64);
	assert_int_equal(stop(), 0);
	assert_int_equal(counters->slots, 0);
	s0 = sampled();
	for (int i = 0; i < 100; i++)
		pair(64);
	assert_int_equal(sampled(), s0);
	/* A block sampled before the stop is freed by the same allocator. */
	free(keep[0]);
	/* Started again: sampled again. */
	assert_int_equal(start(1, 0), 0);
	pair(64);
	assert_int_equal(sampled(), s0 + 1);
	/* The daemon's way when it cannot call stop: rate 0, the next sample stops. */
	*rate = 0;
	pair(64);
	assert_int_equal(counters->slots, 0);
	s0 = sampled();
	pair(64);
	assert_int_equal(sampled(), s0);
	assert_int_equal(start(-1, 0), -22);
}

/* 256 MiB in 4 KiB blocks at 512 KiB: 1 - exp(-1/128) of them, ~510. */
static void test_default_rate_mean(void **state)
{
	uint64_t s0, n;

	(void)state;
	assert_int_equal(start(524288, 0), 0);
	s0 = sampled();
	for (int i = 0; i < 65536; i++)
		pair(4096);
	n = sampled() - s0;
	assert_int_equal(stop(), 0);
	print_message("# %llu of 65536 blocks sampled (expected ~510)\n", (unsigned long long)n);
	assert_true(n > 400 && n < 620);
}

static void *churn(void *arg)
{
	long n = (long)arg;

	for (long i = 0; i < n; i++) {
		void *volatile p = malloc(64);

		free(p);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t th[4];
	uint64_t s0, f0;

	(void)state;
	assert_int_equal(start(1, 0), 0);
	s0 = sampled();
	f0 = freed();
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn, (void *)10000L), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(sampled() - s0 >= 40000);
	assert_true(freed() - f0 >= 40000);
	assert_int_equal(stop(), 0);
}

static void test_fork(void **state)
{
	int status;
	pid_t pid;

	(void)state;
	assert_int_equal(start(1, 0), 0);
	keep[0] = malloc(64);
	pid = fork();
	if (!pid) {
		uint64_t s0 = sampled(), f0 = freed();

		for (int i = 0; i < 100; i++)
			pair(32);
		free(keep[0]); /* sampled in the parent: seen freed here too */
		if (sampled() - s0 != 100 || freed() - f0 != 101) {
			fprintf(stderr, "# child: %llu sampled, %llu freed\n",
				(unsigned long long)(sampled() - s0), (unsigned long long)(freed() - f0));
			_exit(1);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	free(keep[0]);
	assert_int_equal(stop(), 0);
}

static void test_dlopen_after_start(void **state)
{
	const char *out = getenv("OUTPUT");
	int (*hold)(int, size_t);
	void (*free_all)(void);
	char path[4096];
	uint64_t s0, f0;
	void *h;

	(void)state;
	assert_int_equal(start(1, 0), 0);
	snprintf(path, sizeof(path), "%s/workloads/liblate.so", out ? out : "build");
	h = dlopen(path, RTLD_NOW);
	if (!h) {
		stop();
		skip();
	}
	hold = (int (*)(int, size_t))dlsym(h, "late_alloc_hold");
	free_all = (void (*)(void))dlsym(h, "late_free_all");
	assert_non_null(hold);
	/* The first sample after the load sees the new object. */
	pair(16);
	s0 = sampled();
	f0 = freed();
	assert_int_equal(hold(10, 1000), 10);
	assert_int_equal(sampled() - s0, 10);
	free_all();
	assert_int_equal(freed() - f0, 10);
	assert_int_equal(stop(), 0);
}

static volatile int running;

static void *churn_until_stopped(void *arg)
{
	(void)arg;
	while (__atomic_load_n(&running, __ATOMIC_RELAXED)) {
		void *volatile p = malloc(128);
		void *volatile q = calloc(2, 64);

		p = realloc(p, 4096);
		free(q);
		free(p);
	}
	return NULL;
}

static void test_start_stop_while_allocating(void **state)
{
	pthread_t th[4];

	(void)state;
	running = 1;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn_until_stopped, NULL), 0);
	for (int round = 0; round < 100; round++) {
		assert_int_equal(start(round % 2 ? 1 : 4096, 0), 0);
		usleep(200);
		assert_int_equal(stop(), 0);
		assert_int_equal(counters->slots, 0);
	}
	running = 0;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rate_one_every_function),
		cmocka_unit_test(test_stop_puts_slots_back),
		cmocka_unit_test(test_default_rate_mean),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
		cmocka_unit_test(test_dlopen_after_start),
		cmocka_unit_test(test_start_stop_while_allocating),
	};

#if defined(__SANITIZE_ADDRESS__)
	/* The sanitizer's allocator is in the executable: nothing to rewrite. */
	printf("1..0 # SKIP sampler under AddressSanitizer\n");
	return 0;
#endif
	return cmocka_run_group_tests(tests, setup, NULL);
}
