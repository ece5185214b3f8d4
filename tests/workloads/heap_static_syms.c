// SPDX-License-Identifier: MIT
/*
 * heap_static_syms - heap_static built static with its symbols: the
 * allocator is found (in the executable) but the sampler cannot be loaded
 * (no libc.so.6, no dlopen): test_heap_inject's refusal.
 */
#include "heap_static.c"
