// SPDX-License-Identifier: MIT
/*
 * dlopen.c - a library that appears after profiling has started.
 *
 * Usage: dlopen [DELAY_SECONDS|usr1 [LIBRARY]]
 *
 * For DELAY_SECONDS (default 2, decimals allowed), or with "usr1" until the
 * process gets SIGUSR1 (the tests send it once their profile runs), it spins
 * in before_dlopen_spin(); then it dlopen()s LIBRARY (default: libhot.so next to
 * this executable) and spins in the library's hot_lib_spin() until killed.
 * Expected: a profile whose window began before the dlopen names
 * hot_lib_spin and lists the library's mapping; its stacks reach main
 * through lib_phase().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile uint64_t sink;
static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static NOINLINE uint64_t before_dlopen_spin(uint64_t x, long rounds)
{
	for (long i = 0; i < rounds; i++) {
		x = x * 2862933555777941757ULL + 3037000493ULL;
		asm volatile("" : "+r"(x));
	}
	return x;
}

typedef uint64_t (*spin_fn)(uint64_t, long);

/* Not a tail call: keeps a frame of its own between main and the library. */
static NOINLINE uint64_t lib_phase(spin_fn spin, uint64_t seed)
{
	uint64_t x = spin(seed, 200000);

	return x ^ seed;
}

int main(int argc, char **argv)
{
	bool on_signal = argc > 1 && !strcmp(argv[1], "usr1");
	double delay = argc > 1 && !on_signal ? atof(argv[1]) : 2;
	char path[PATH_MAX];
	double start = monotonic_s(), end = start + delay;
	void *lib;
	spin_fn spin;
	uint64_t seed = 1;

	if (argc > 2) {
		snprintf(path, sizeof(path), "%s", argv[2]);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n < 0) {
			perror("dlopen: /proc/self/exe");
			return 1;
		}
		self[n] = '\0';
		snprintf(path, sizeof(path), "%s/libhot.so", dirname(self));
	}

	if (on_signal)
		signal(SIGUSR1, on_usr1);
	while (on_signal ? !go : monotonic_s() < end)
		sink += before_dlopen_spin(sink, 100000);
	delay = monotonic_s() - start;

	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	spin = (spin_fn)(uintptr_t)dlsym(lib, "hot_lib_spin");
	if (!spin) {
		fprintf(stderr, "dlopen: dlsym hot_lib_spin: %s\n", dlerror());
		return 1;
	}
	fprintf(stderr, "dlopen: loaded %s after %.1f s\n", path, delay);
	for (;;)
		sink += lib_phase(spin, seed++);
	return 0;
}
