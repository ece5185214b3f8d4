// SPDX-License-Identifier: GPL-2.0
/*
 * alloc.bpf.c - allocation probes for kernels without uprobe sessions: an
 * entry uprobe and a uretprobe on every allocation function, the function
 * in the attach cookie (enum alloc_func).  Every call pays both traps.  See
 * alloc.bpf.h for the logic and alloc_session.bpf.c for the cheaper way.
 *
 * heap.mode inject uses this object too, for two programs only: on the
 * probe points of the sampler library pprofd loads into the target
 * (sampler/sampler.c), which calls them for sampled blocks alone.
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

/* pprofd_sampled_alloc(block, size): a block the sampler sampled. */
SEC("uprobe")
int sampled_alloc(struct pt_regs *ctx)
{
	struct alloc_event *e;

	if (!is_target())
		return 0;
	count(ALLOC_COUNTER_ENTRY_HITS);
	e = bpf_ringbuf_reserve(&alloc_events, sizeof(*e), 0);
	if (!e) {
		count(ALLOC_COUNTER_LOST);
		return 0;
	}
	e->type = ALLOC_EVENT_ALLOC;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->addr = PT_REGS_PARM1(ctx);
	e->size = PT_REGS_PARM2(ctx);
	e->flags = 0;
	e->pad = 0;
	/* At the probe point's entry: the sampler's frames first, dropped by the daemon. */
	capture_user_stack(bpf_get_current_task_btf(), &e->user);
	bpf_ringbuf_submit(e, ringbuf_wakeup(&alloc_events, sizeof(*e)));
	count(ALLOC_COUNTER_SAMPLED);
	return 0;
}

/* pprofd_sampled_free(block): a sampled block freed. */
SEC("uprobe")
int sampled_free(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	count(ALLOC_COUNTER_FREE_HITS);
	send_free(PT_REGS_PARM1(ctx));
	return 0;
}
