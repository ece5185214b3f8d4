/* SPDX-License-Identifier: MIT */
/*
 * sampler.h - what pprofd (daemon/inject.c, daemon/alloc.c) and the tests
 * know of the heap sampler library (libpprofd-sampler.so, sampler.c): the
 * names of its entry points, probe points and globals, looked up in the
 * library's symbol table.  Data only.
 */
#ifndef PPROFD_SAMPLER_H
#define PPROFD_SAMPLER_H

#include <stdint.h>

/* int pprofd_sampler_start(int64_t rate, uintptr_t page): rewrites the
 * allocator's GOT slots of every loaded object; 0 or a negative errno, also
 * left in pprofd_sampler_status (the daemon reads it: the call's result is
 * lost).  page: the page the daemon mapped for the first load, which called
 * it (0: none); unmapped by the next start or stop, called from elsewhere. */
#define SAMPLER_START "pprofd_sampler_start"
/* int pprofd_sampler_stop(void): puts every slot back; the library is inert. */
#define SAMPLER_STOP "pprofd_sampler_stop"
/* The daemon's "done" trampoline (daemon/inject.c): tgkill(%r12, %r13, %r14),
 * then rt_sigreturn; a call into the library returns to it. */
#define SAMPLER_DONE "pprofd_sampler_done"
/* int64_t: the mean bytes between samples; the daemon writes 0 to ask the
 * library to stop by itself at its next sample (when no stop can be called). */
#define SAMPLER_RATE "pprofd_sampler_rate"
/* struct sampler_counters */
#define SAMPLER_COUNTERS "pprofd_sampler_counters"
/* int32_t: the result of the last start or stop; SAMPLER_STATUS_NONE before. */
#define SAMPLER_STATUS "pprofd_sampler_status"
#define SAMPLER_STATUS_NONE 1

/* The probe points: void pprofd_sampled_alloc(void *block, size_t size) for
 * each sampled block, void pprofd_sampled_free(void *block) when one goes. */
#define SAMPLER_PROBE_ALLOC "pprofd_sampled_alloc"
#define SAMPLER_PROBE_FREE "pprofd_sampled_free"

/* Sampled blocks the library keeps at once, at most (SAMPLER_BUCKETS of
 * SAMPLER_BUCKET_SLOTS addresses: a free looks at one cache line). */
#define SAMPLER_BUCKET_BITS 16
#define SAMPLER_BUCKETS (1u << SAMPLER_BUCKET_BITS)
#define SAMPLER_BUCKET_SLOTS 8

struct sampler_counters {
	uint64_t sampled;   /* sampled blocks reported */
	uint64_t freed;     /* sampled blocks freed, reported */
	uint64_t untracked; /* sampled blocks whose bucket was full: their free is not seen */
	uint64_t slots;     /* GOT slots rewritten now */
	uint64_t objects;   /* objects with a rewritten slot now */
	uint64_t starts;    /* pprofd_sampler_start calls that succeeded */
	uint64_t stops;     /* slots put back (stop, or rate 0 seen) */
};

#endif /* PPROFD_SAMPLER_H */
