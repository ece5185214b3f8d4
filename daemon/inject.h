/* SPDX-License-Identifier: MIT */
/*
 * inject.h - loading the heap sampler library (sampler/sampler.c) into a
 * running target and calling its start and stop there (heap.mode inject).
 *
 * One thread of the target is stopped with ptrace (PTRACE_SEIZE +
 * PTRACE_INTERRUPT), only while it is blocked in a system call that no
 * allocator makes with a lock held (a futex wait of a condition variable, a
 * read, epoll_wait, ...), never at a point where it runs user code.  Its
 * stack gets a signal frame that describes exactly how it resumes (the
 * interrupted system call restarted as the kernel would restart it, every
 * register, the FPU state, the signal mask) and a return into libc's
 * rt_sigreturn trampoline; dlopen and the library's start (or stop) run on
 * it, and rt_sigreturn puts the thread back.  Should pprofd die at any
 * moment, the thread runs on to that same frame: the target never depends
 * on pprofd being alive.  The other threads never stop.
 */
#ifndef PPROFD_INJECT_H
#define PPROFD_INJECT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The sampler in one target, once loaded. */
struct sampler_target {
	pid_t pid;
	char lib[PATH_MAX];  /* the library as the target sees it */
	uint64_t base;       /* where it is loaded */
	uint64_t start, stop, rate, counters, status; /* its symbols (offsets from base) */
	double stop_ms;      /* the longest stop of a thread of the target so far */
	unsigned calls;      /* calls made into the target */
};

/*
 * Refusals that need no stop: ptrace_scope 3, a tracer already there, a
 * seccomp filter, a static binary, a glibc without dlopen (< 2.34), the
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
