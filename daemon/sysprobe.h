/* SPDX-License-Identifier: MIT */
/*
 * sysprobe.h - BPF programs at system call entry or exit, attached to the
 * calls that matter and only while a profile needs them.
 *
 * Any raw sys_enter/sys_exit program runs on every system call of every
 * process of the machine (and puts every task on the slow system call path):
 * +68% for a syscall-bound neighbour here.  The syscalls:sys_{enter,exit}_
 * <name> tracepoints run their program only for that call, so where tracefs
 * is mounted (or pprofd may mount it at /sys/kernel/tracing) those are used;
 * the raw tracepoints are the fallback, said in /debug/metrics and the log.
 * (The block collector's exits; the mutex collector needs none: it reads
 * futex waits and wakes from the scheduler.)
 */
#ifndef PPROFD_SYSPROBE_H
#define PPROFD_SYSPROBE_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_link;
struct bpf_program;

/*
 * Where the syscalls:* tracepoints are: looks once (mounting tracefs when
 * it is absent and mount is true), then answers the same.  Returns true
 * when they can be used; *how (static) says which path and why, for
 * /debug/metrics and the log.
 */
bool sysprobe__tracepoints(bool mount, const char **how);

/* The links of one program attached to several system calls. */
struct syscall_links {
	struct bpf_link **links;
	size_t n;
	size_t missing; /* names this kernel has no tracepoint for */
};

/*
 * Attaches prog to syscalls:<prefix><name> for each of names (prefix
 * "sys_enter_" or "sys_exit_"); a call this kernel lacks is skipped and
 * counted.  Returns the number attached (> 0), or a negative errno with a
 * one-line reason in err (then nothing stays attached).
 */
int syscall_links__attach(struct syscall_links *l, struct bpf_program *prog, const char *prefix,
			  const char *const *names, size_t n, char *err, size_t errlen);

/* Attaches prog where its section says (the raw fallback): 0 or -errno. */
int syscall_links__attach_raw(struct syscall_links *l, struct bpf_program *prog, char *err,
			      size_t errlen);

/* Detaches everything; l is empty after, safe on an empty l. */
void syscall_links__detach(struct syscall_links *l);

#endif /* PPROFD_SYSPROBE_H */
