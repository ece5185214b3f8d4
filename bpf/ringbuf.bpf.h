/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ringbuf.bpf.h - when to wake the daemon.  Waking it for every record costs
 * it a context switch per sample (most of its CPU at 1000 Hz), so records
 * are submitted without a wakeup and the daemon drains its rings on a timer
 * (RING_DRAIN_MS, pprofd.h); a ring filling up past a quarter wakes it at
 * once, so that nothing is dropped between two drains.  The quarter is of
 * the ring's real size: the daemon may set it before load (heap ring).
 */
#ifndef PPROFD_RINGBUF_BPF_H
#define PPROFD_RINGBUF_BPF_H

static __always_inline __u64 ringbuf_wakeup(void *ring)
{
	__u64 quarter = bpf_ringbuf_query(ring, BPF_RB_RING_SIZE) / 4;

	return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) > quarter ? BPF_RB_FORCE_WAKEUP
								    : BPF_RB_NO_WAKEUP;
}

#endif /* PPROFD_RINGBUF_BPF_H */
