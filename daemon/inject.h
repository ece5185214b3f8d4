/* SPDX-License-Identifier: MIT */
/*
 * inject.h - loading the heap sampler library (sampler/sampler.c) into a
 * running target and calling its start and stop there (heap.mode inject).
 *
 * One thread of the target is stopped with ptrace (PTRACE_SEIZE +
 * PTRACE_INTERRUPT), only while it is blocked in a system call that no
 * allocator makes with a lock held (a futex wait of a condition variable, a
 * read, epoll_wait, ...), never at a point where it runs user code, and
 * only when no thread of the target is stopped or blocked with a frame of
 * the allocator or the loader on its stack (a lock that would not be
 * released while the call waits for it).  Its stack gets a signal frame
 * that describes exactly how it resumes (the interrupted system call
 * restarted as the kernel would restart it, every register, the FPU state,
 * the signal mask) and a return into a trampoline ending in rt_sigreturn;
 * dlopen and the library's start (or stop) run on it, and rt_sigreturn
 * puts the thread back.  Should pprofd die at any moment, the thread runs
 * on to that same frame: the target never depends on pprofd being alive.
 * The other threads never stop.  inject.c says how few times the stopped
 * thread and pprofd wait for each other (what bounds the stop time when
 * the target's threads keep every CPU busy).
 */
#ifndef PPROFD_INJECT_H
#define PPROFD_INJECT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The sampler in one target, once loaded. */
struct sampler_target {
	pid_t pid;
	char lib[PATH_MAX];  /* the library as the target sees it */
	uint64_t base;       /* where it is loaded */
	uint64_t start, stop, rate, counters, status; /* its symbols (offsets from base) */
	uint64_t done;       /* its trampoline (SAMPLER_DONE); 0: a library without one */
	double stop_ms;      /* the longest stop of a thread of the target so far */
	double last_stop_ms; /* the last one: from the seize to the detach */
	unsigned last_stops; /* ptrace stops in it: round trips with the thread */
	bool stepped;        /* it stepped system call by system call (no marker signal) */
	pid_t tid;           /* the thread it stopped */
	unsigned calls;      /* calls made into the target */
};

/*
 * How later loads are done, for the tests and the bench (0 is pprofd's):
 * INJECT_STEP steps the stopped thread system call by system call
 * (PTRACE_SYSCALL) instead of letting it run to a marker signal (the
 * fallback for a target that ignores no signal); INJECT_NO_BOOST leaves
 * pprofd's own scheduling alone while a thread is stopped.  Both: the
 * method before the marker signal.
 */
#define INJECT_STEP 1u
#define INJECT_NO_BOOST 2u
void inject__set_method(unsigned flags);

/*
 * Refusals that need no stop: ptrace_scope 3, a tracer already there, no
 * permission to trace it (the kernel's own check, Yama's included, by
 * opening /proc/PID/mem; the reason said), a seccomp filter, a static binary, a glibc without dlopen (< 2.34), the
 * library not visible from the target's mount namespace.  0 or a negative
 * errno with the reason in err.
 */
int inject__check(pid_t pid, const char *lib, char *err, size_t errlen);

/*
 * Loads lib (an absolute path; the one the target opens) into pid unless it
 * is there already and calls pprofd_sampler_start(rate) in it; fills st.
 * 0, or a negative errno with the reason in err (the target unchanged but
 * for the library, maybe mapped and inert).
 */
int inject__start(pid_t pid, const char *lib, int64_t rate, struct sampler_target *st, char *err,
		  size_t errlen);

/*
 * pprofd_sampler_stop() in the target: every slot put back.  When no thread
 * can be stopped safely in time, writes a rate of 0 instead (the library
 * stops at its next sample).  0 or a negative errno.
 */
int inject__stop(struct sampler_target *st, char *err, size_t errlen);

/* st for the library lib already loaded into pid (nothing called); 0 or -ENOENT. */
int inject__find(pid_t pid, const char *lib, struct sampler_target *st);

/* Reads the library's struct sampler_counters from the target; 0 or -errno. */
int inject__counters(const struct sampler_target *st, void *out, size_t len);

#endif /* PPROFD_INJECT_H */
