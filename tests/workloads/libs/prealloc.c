// SPDX-License-Identifier: MIT
/*
 * prealloc.so - a stand-in for a preloaded allocator (jemalloc, tcmalloc or
 * mimalloc through LD_PRELOAD): it defines the allocation family itself, on
 * top of glibc's internal entry points, so that the target's malloc is this
 * library's and not libc's.  pprofd must probe it (test_heap, heap_mix
 * preload).
 */
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

void *malloc(size_t size)
{
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	return __libc_realloc(p, size);
}

void free(void *p)
{
	__libc_free(p);
}

void *memalign(size_t align, size_t size)
{
	return __libc_memalign(align, size);
}

void *aligned_alloc(size_t align, size_t size)
{
	return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
	void *p = __libc_memalign(align, size);

	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
