/* SPDX-License-Identifier: MIT */
/*
 * offcpu.h - the block collector (/debug/pprof/block): time the target's
 * threads spend off the CPU waiting, by stack (bpf/offcpu.bpf.c); and the
 * longest scheduling delay (runnable, not running) for the health checks.
 */
#ifndef PPROFD_OFFCPU_H
#define PPROFD_OFFCPU_H

#include <stddef.h>
#include <stdint.h>

struct collector;
struct collector_env;

/* A collector_new_fn (collectors.h).  Collects from start. */
struct collector *offcpu_collector__new(const struct collector_env *env, int *error, char *err,
					size_t errlen);

/*
 * The longest time a target thread waited runnable since the previous call
 * (the native counterpart of a GC pause), and which thread.  Resets it.
 * Returns 0, or -ENOTSUP when c is not a running block collector.
 */
int offcpu_collector__take_runq_max(struct collector *c, uint64_t *ns, uint32_t *tid);

/*
 * Turns the scheduler timeline on (fn gets each struct sched_event) or off
 * (fn NULL).  Returns 0, -EBUSY when it is already on, -ENOTSUP when c is
 * not a running block collector.
 */
typedef void (*sched_event_fn)(void *ctx, const void *event, size_t size);
int offcpu_collector__timeline(struct collector *c, sched_event_fn fn, void *ctx);

#endif /* PPROFD_OFFCPU_H */
