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

#endif /* PPROFD_CPU_H */
