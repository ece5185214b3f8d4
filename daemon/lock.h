/* SPDX-License-Identifier: MIT */
/*
 * lock.h - the mutex collector (/debug/pprof/mutex): futex contention of
 * the target, each waiter's delay charged to the stack that released the
 * lock (bpf/lock.bpf.c, from the scheduler: no system call probe), as Go's
 * mutex profile.
 */
#ifndef PPROFD_LOCK_H
#define PPROFD_LOCK_H

#include <stddef.h>

struct collector;
struct collector_env;

/* A collector_new_fn (collectors.h).  Collects from start. */
struct collector *lock_collector__new(const struct collector_env *env, int *error, char *err,
				      size_t errlen);

#endif /* PPROFD_LOCK_H */
