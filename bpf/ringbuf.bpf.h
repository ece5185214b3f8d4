/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ringbuf.bpf.h - when to wake the daemon.  Waking it for every record costs
 * it a context switch per sample (most of its CPU at 1000 Hz), so records
 * are submitted without a wakeup and the daemon drains its rings on a timer
 * (RING_DRAIN_MS, pprofd.h); the record that takes a ring past a quarter
 * wakes it at once, so that nothing is dropped between two drains.  Only
 * that one, until the ring is half full: a forced wakeup is an irq_work
 * queued in the context of the program's thread, a target's (a self-IPI, a
 * VM exit on a virtual machine), and each record after it, until the daemon
 * has drained, would queue another.  Past half (the daemon is late, or two
 * CPUs crossed the quarter at once and neither saw it) every record wakes
 * it.  The quarter is of the ring's real size: the daemon may set it before
 * load (heap ring).  size: the record's, reserved already (so counted in
 * the ring's data).
 */
#ifndef PPROFD_RINGBUF_BPF_H
#define PPROFD_RINGBUF_BPF_H

static __always_inline __u64 ringbuf_wakeup(void *ring, __u64 size)
{
	__u64 quarter = bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 4;
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);

	/* With its 8-byte header, rounded up to 8 as the kernel does. */
	size = (size + 8 + 7) & ~7ULL;
	if (avail > 2 * quarter || (avail > quarter && avail - size <= quarter))
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

#endif /* PPROFD_RINGBUF_BPF_H */
