/* SPDX-License-Identifier: MIT */
/*
 * gostack.h - what the BPF stack capture of a Go target needs to follow a
 * thread's frames across the runtime's stack switches (struct
 * go_stack_switch, pprofd.h): where the thread's g is (its TLS slot, from
 * the executable's PT_TLS segment) and the offsets of g.m, g.sched, m.g0,
 * m.curg and m.vdsoSP, from the runtime reader's layout (goruntime.h).
 *
 * The unwinder then goes on where Go's own traceback does: from g0 into the
 * goroutine m.curg at its saved context (runtime.systemstack, morestack,
 * mcall, asmcgocall), and from a vDSO call on g0's stack back to its
 * caller's (m.vdsoSP/PC, runtime.nanotime1 and time.now).
 */
#ifndef PPROFD_GOSTACK_H
#define PPROFD_GOSTACK_H

#include <sys/types.h>

#include <linux/types.h>

#include "pprofd.h"

struct go_runtime;

/*
 * Fills *out for process pid, whose runtime rt is (borrowed; enabled 1).
 * 0, -ENOTSUP when its layout does not give every offset, or another
 * negative errno (its executable unreadable); *out is all zero (disabled)
 * then.
 */
int go_stack_switch__config(const struct go_runtime *rt, pid_t pid, struct go_stack_switch *out);

#endif /* PPROFD_GOSTACK_H */
