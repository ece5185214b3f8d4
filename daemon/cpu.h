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

#endif /* PPROFD_CPU_H */
