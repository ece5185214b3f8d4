/* SPDX-License-Identifier: MIT */
/*
 * bpfring.h - the plumbing every collector shares with its BPF programs:
 * a ring buffer drained from the event loop, and per-CPU counters.
 */
#ifndef PPROFD_BPFRING_H
#define PPROFD_BPFRING_H

#include <stdint.h>

#include <bpf/libbpf.h>

struct event;
struct event_base;

/* A BPF ring buffer whose records are handed to fn from the event loop. */
struct ring_watch {
	struct ring_buffer *ring;
	struct event *event;
};

/*
 * Opens the ring of map_fd and watches it (records also wait for
 * ring_watch__consume(): BPF wakes the daemon only when a ring fills, see
 * ringbuf.bpf.h).  Returns 0 or a negative errno; w is then closed.
 */
int ring_watch__open(struct ring_watch *w, struct event_base *base, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx);
/* Hands every pending record to fn now.  Safe on a closed watch. */
void ring_watch__consume(struct ring_watch *w);
/* Safe on a closed watch; leaves it closed. */
void ring_watch__close(struct ring_watch *w);

/* The sum over CPUs of entry key of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64. */
uint64_t bpf_counter__sum(int map_fd, uint32_t key);

#endif /* PPROFD_BPFRING_H */
