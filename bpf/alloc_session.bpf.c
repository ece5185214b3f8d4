// SPDX-License-Identifier: GPL-2.0
/*
 * alloc_session.bpf.c - allocation probes as one uprobe session (Linux
 * 6.13+, attach type BPF_TRACE_UPROBE_SESSION): the program runs at the
 * entry of every allocation function and, only when the entry returned 0
 * (a sampled call), at its return.  Unsampled calls cost one trap.  The
 * daemon loads it with that expected attach type and links it with
 * BPF_LINK_CREATE itself (libbpf 1.1 has no API for it).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "alloc.bpf.h"

extern bool bpf_session_is_return(void) __ksym;

SEC("uprobe")
int alloc_session(struct pt_regs *ctx)
{
	if (bpf_session_is_return()) {
		alloc_exit(ctx);
		return 0;
	}
	return alloc_enter(ctx, (__u32)bpf_get_attach_cookie(ctx));
}
