/* SPDX-License-Identifier: MIT */
/*
 * alloc.h - heap and allocation profiles of a native process, from uprobes
 * on the allocator it really uses (the first object of the process that
 * defines malloc: a statically linked or preloaded jemalloc, tcmalloc,
 * mimalloc, else libc), or, in heap.mode inject, from uprobes on the probe
 * points of the sampler library loaded into the target (inject.h,
 * sampler/sampler.c), which sample in the target and trap only for
 * sampled blocks; uprobes are the fallback when it cannot be loaded.
 *
 * One heap tracker serves two collectors: "heap" (inuse_space shown by
 * default) and "allocs" (alloc_space).  It runs from attach (development
 * mode only): allocations made before are unknown.  Allocations are sampled
 * by bytes as Go's MemProfileRate (heap.sample_rate) in BPF; sampled blocks
 * are followed to their free.  An overhead governor pauses the tracking
 * when the probes cost the target more than heap.max_overhead_percent of
 * its CPU time.
 */
#ifndef PPROFD_ALLOC_H
#define PPROFD_ALLOC_H

#include <stddef.h>
#include <stdint.h>

struct collector;
struct collector_env;

/* The collectors' constructors (collectors.c); they share one tracker. */
struct collector *heap_collector__new(const struct collector_env *env, int *error, char *err,
				      size_t errlen);
struct collector *allocs_collector__new(const struct collector_env *env, int *error, char *err,
					size_t errlen);

/*
 * Go's scaleHeapSample: count samples of size bytes in total, taken at one
 * per rate bytes on average, stand for *objs objects of *bytes bytes
 * (1 / (1 - exp(-avg/rate)) each).  rate <= 1: as they are.
 */
void alloc__unsample(int64_t rate, int64_t count, int64_t size, int64_t *objs, int64_t *bytes);

/*
 * n draws of an exponential distribution of the given mean (the BPF
 * countdowns), from a xorshift generator seeded with seed.  mean <= 1: zeros.
 */
void alloc__exponential_draws(uint64_t mean, uint64_t seed, uint64_t *out, size_t n);

/*
 * The size of the events ring at this heap.sample_rate: ALLOC_RING_BYTES
 * at ALLOC_RING_RATE, twice the ring for half the rate, between
 * ALLOC_RING_MIN_BYTES and ALLOC_RING_MAX_BYTES (alloc_events.h).
 */
size_t alloc__ring_bytes(int64_t sample_rate);

#endif /* PPROFD_ALLOC_H */
