// SPDX-License-Identifier: GPL-2.0
/*
 * alloc.bpf.c - allocation probes for kernels without uprobe sessions: an
 * entry uprobe and a uretprobe on every allocation function, the function
 * in the attach cookie (enum alloc_func).  Every call pays both traps.  See
 * alloc.bpf.h for the logic and alloc_session.bpf.c for the cheaper way.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "alloc.bpf.h"

SEC("uprobe")
int alloc_entry(struct pt_regs *ctx)
{
	alloc_enter(ctx, (__u32)bpf_get_attach_cookie(ctx));
	return 0;
}

SEC("uretprobe")
int alloc_return(struct pt_regs *ctx)
{
	alloc_exit(ctx);
	return 0;
}
