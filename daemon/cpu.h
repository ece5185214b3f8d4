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
struct event_base;
struct unwinder;

/*
 * Loads the BPF program (not yet attached: perf events are opened while a
 * profile is requested).  The unwinder is borrowed.  Returns NULL with a
 * negative errno in *error and a one-line reason in err.
 */
struct collector *cpu_collector__new(pid_t pid, struct event_base *base, struct unwinder *uw,
				     int *error, char *err, size_t errlen);

struct cpu_stats {
	uint64_t samples;     /* target samples received */
	uint64_t lost;        /* dropped in BPF: ring buffer full */
	uint64_t user_errors; /* user stack unreadable */
	int hz;               /* current rate, 0 when stopped */
};
void cpu_collector__stats(const struct collector *c, struct cpu_stats *out);

#endif /* PPROFD_CPU_H */
