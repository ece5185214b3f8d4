/* SPDX-License-Identifier: MIT */
/*
 * cpu.h - the CPU collector (/debug/pprof/profile): cpu-clock perf events on
 * every CPU, a BPF program keeping the target's samples with their stacks.
 */
#ifndef PPROFD_CPU_H
#define PPROFD_CPU_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/types.h>

#include "pprofd.h" /* CPU_CONTEXT_MAX_LOADS */

struct cJSON;
struct collector;
struct collector_env;

/*
 * Loads the BPF program (not yet attached: perf events are opened while a
 * profile is requested).  A collector_new_fn (collectors.h).
 */
struct collector *cpu_collector__new(const struct collector_env *env, int *error, char *err,
				     size_t errlen);

struct cpu_stats {
	uint64_t samples;     /* target samples received */
	uint64_t lost;        /* dropped in BPF: ring buffer full */
	uint64_t user_errors; /* user stack unreadable */
	int hz;               /* current rate, 0 when stopped */
};
void cpu_collector__stats(const struct collector *c, struct cpu_stats *out);

/*
 * Also hands every sample to fn (the trace timeline), until set to NULL:
 * thread, CLOCK_MONOTONIC time, and its stack (as the stack table gets it).
 */
typedef void (*cpu_sample_fn)(void *ctx, uint32_t tid, uint64_t time_ns, const uint64_t *pcs,
			      size_t npcs);
void cpu_collector__set_sample_hook(struct collector *c, cpu_sample_fn fn, void *ctx);

/*
 * Labels for the samples from the target's own state, read at each sample
 * (struct cpu_sample's context word, pprofd.h): the sampler follows the
 * chain of loads; labels() turns a nonzero word into the sample's labels
 * at drain.  A Go target's pprof labels (golabels.h) are one.
 */
struct stack_labels;

struct cpu_labeler {
	uint32_t nloads;		       /* 1 to CPU_CONTEXT_MAX_LOADS */
	int64_t offsets[CPU_CONTEXT_MAX_LOADS]; /* [0] from the TLS pointer */
	/*
	 * The labels of a sample of thread tid whose word is word, into out
	 * (its strings valid until the next call).  0 (out->n 0: none), or a
	 * negative errno: the sample is kept without labels, and counted.
	 */
	int (*labels)(void *ctx, uint32_t tid, uint64_t word, struct stack_labels *out);
	/* Adds the labeler's own counters to the collector's stats; may be NULL. */
	void (*stats)(void *ctx, struct cJSON *out);
	void (*free)(void *ctx);
	void *ctx;
};

/*
 * Gives the collector its labeler (a copy; the collector frees l->ctx with
 * l->free when it is freed, or when another is set).  Takes effect at the
 * next start of sampling.
 */
void cpu_collector__set_labeler(struct collector *c, const struct cpu_labeler *l);

#endif /* PPROFD_CPU_H */
