// SPDX-License-Identifier: MIT
/*
 * prealloc.so - a stand-in for a preloaded allocator (jemalloc, tcmalloc or
 * mimalloc through LD_PRELOAD): it defines the allocation family itself, on
 * top of glibc's internal entry points, so that the target's malloc is this
 * library's and not libc's.  pprofd must probe it (test_heap, heap_mix
 * preload and dlopen).  No tail calls (KEEP): a block is returned from here,
 * not straight from libc's malloc (of which __libc_malloc is an alias).
 */
#include <errno.h>
#include <stddef.h>

/* After a call: the call cannot become a jump. */
#define KEEP(p) __asm__ volatile("" : "+r"(p))

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

void *malloc(size_t size)
{
	void *p = __libc_malloc(size);

	KEEP(p);
	return p;
}

void *calloc(size_t n, size_t size)
{
	void *p = __libc_calloc(n, size);

	KEEP(p);
	return p;
}

void *realloc(void *p, size_t size)
{
	void *q = __libc_realloc(p, size);

	KEEP(q);
	return q;
}

void free(void *p)
{
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	KEEP(p);
	return p;
}

void *aligned_alloc(size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	KEEP(p);
	return p;
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
