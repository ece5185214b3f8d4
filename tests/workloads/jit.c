// SPDX-License-Identifier: MIT
/*
 * jit.c - code that lives in no file: a JIT'ed loop announced the way perf
 * expects it, in /tmp/perf-<pid>.map.
 *
 * At start it mmaps an anonymous region, copies a small x86-64 function into
 * it, makes it executable, and writes /tmp/perf-<pid>.map with the line
 * "<start hex> <size hex> jit_hot_loop".  Then, until killed, main() calls
 * run_jit(), which calls the JIT'ed code with a large counter.  The JIT'ed
 * function keeps a frame pointer, so a frame-pointer walk gets through it:
 *
 *	push %rbp; mov %rsp,%rbp; mov %rdi,%rax
 *   1:	sub $1,%rax; jnz 1b
 *	pop %rbp; ret
 *
 * SIGTERM / SIGINT remove the map file before exiting (the tests remove it
 * too, in case of SIGKILL).  x86-64 only: elsewhere it exits with status 77.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static char map_path[64];
static volatile uint64_t sink;

static const unsigned char jit_code[] = {
	0x55,                   /* push %rbp */
	0x48, 0x89, 0xe5,       /* mov %rsp,%rbp */
	0x48, 0x89, 0xf8,       /* mov %rdi,%rax */
	0x48, 0x83, 0xe8, 0x01, /* 1: sub $1,%rax */
	0x75, 0xfa,             /* jnz 1b */
	0x5d,                   /* pop %rbp */
	0xc3,                   /* ret */
};

typedef uint64_t (*jit_fn)(uint64_t);

static void on_signal(int sig)
{
	unlink(map_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Not a tail call, so that run_jit has a frame of its own under the JIT'ed code. */
static NOINLINE uint64_t run_jit(jit_fn fn, uint64_t n)
{
	uint64_t r = fn(n);

	return r + n;
}

int main(void)
{
#if defined(__x86_64__)
	long page = sysconf(_SC_PAGESIZE);
	/* Not at the start of the page: the symbol's start must be read from the map. */
	size_t offset = 64;
	unsigned char *region;
	jit_fn fn;
	FILE *f;

	region = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED) {
		perror("jit: mmap");
		return 1;
	}
	memset(region, 0xcc, page); /* int3 around the code */
	memcpy(region + offset, jit_code, sizeof(jit_code));
	if (mprotect(region, page, PROT_READ | PROT_EXEC)) {
		perror("jit: mprotect");
		return 1;
	}
	fn = (jit_fn)(uintptr_t)(region + offset);

	snprintf(map_path, sizeof(map_path), "/tmp/perf-%d.map", (int)getpid());
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	f = fopen(map_path, "w");
	if (!f) {
		perror(map_path);
		return 1;
	}
	fprintf(f, "%lx %zx jit_hot_loop\n", (unsigned long)(uintptr_t)fn, sizeof(jit_code));
	if (fclose(f)) {
		perror(map_path);
		return 1;
	}
	fprintf(stderr, "jit: jit_hot_loop at %p, %zu bytes, in %s\n", (void *)fn,
		sizeof(jit_code), map_path);

	for (;;)
		sink += run_jit(fn, 1000000);
#else
	fprintf(stderr, "jit: x86-64 only\n");
	return 77;
#endif
}
