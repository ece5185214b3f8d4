/* SPDX-License-Identifier: MIT */
/*
 * threads.h - two collectors of the target's threads (bpf/threads.bpf.c):
 *
 *   threads       (COLLECT_SNAPSHOT) every thread of the target with its
 *                 current stack, kernel then user, taken on each request by
 *                 a BPF task iterator: no thread is stopped, not even
 *                 briefly.  ?debug=2 is a full dump, one block per thread,
 *                 with "created by" (from threadcreate) for threads created
 *                 since attach.  The same under the name goroutine is a
 *                 native process's goroutine profile.
 *   threadcreate  (COLLECT_CUMULATIVE, from start-up) the stacks that
 *                 created the target's threads since the daemon attached.
 */
#ifndef PPROFD_THREADS_H
#define PPROFD_THREADS_H

#include <stddef.h>
#include <stdint.h>

struct collector;
struct collector_env;

/*
 * Loads and attaches the task iterator, as /debug/pprof/threads.  A
 * collector_new_fn (collectors.h).
 */
struct collector *threads_collector__new(const struct collector_env *env, int *error, char *err,
					 size_t errlen);
/* The same named goroutine: what a target without goroutines answers there. */
struct collector *thread_goroutine_collector__new(const struct collector_env *env, int *error,
						  char *err, size_t errlen);

/*
 * Loads and attaches task_newtask, and keeps it attached for the daemon's
 * life: the profile counts from start-up.  A collector_new_fn.
 */
struct collector *threadcreate_collector__new(const struct collector_env *env, int *error,
					      char *err, size_t errlen);

/*
 * The letter /proc/PID/status shows for a task's state (task->__state and
 * task->exit_state): R, S, D, T, t, X, Z, P or I.
 */
char threads__state_letter(uint32_t state, uint32_t exit_state);

#endif /* PPROFD_THREADS_H */
