/* SPDX-License-Identifier: MIT */
/*
 * bpfring.h - the plumbing every collector shares with its BPF programs:
 * a ring buffer drained from the event loop, and per-CPU counters.
 */
#ifndef PPROFD_BPFRING_H
#define PPROFD_BPFRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h> /* ring_buffer_sample_fn */

struct event;
struct event_base;

/*
 * A BPF ring buffer whose records are handed to fn from the event loop.
 *
 * Not libbpf's ring_buffer: that maps the data area twice in a row, so that
 * a record wrapping around its end reads as one, and the kernel populates
 * the whole mapping at mmap time: twice the ring's size in the daemon's RSS.
 * Here each ring is mapped once (the consumer page read-write, the producer
 * page and the data area read-only) and a record that wraps is copied whole
 * into bounce, so that fn always sees it contiguous.  fn's data is valid
 * until it returns.
 */
struct ring_watch {
	unsigned long *consumer_pos;       /* NULL: closed */
	const unsigned long *producer_pos;
	const uint8_t *data;               /* size bytes */
	size_t size;                       /* a power of two */
	size_t mapped;                     /* bytes mapped at producer_pos; 0: not ours */
	uint8_t *bounce;                   /* the last record that wrapped */
	size_t bounce_size;
	ring_buffer_sample_fn fn;          /* < 0 stops a consume, as in libbpf */
	void *ctx;
	struct event *event;
	uint64_t wakeups;                  /* times BPF woke the daemon for it (ringbuf.bpf.h) */
};

/*
 * Maps the ring of map_fd and watches it from base's loop (records also
 * wait for ring_watch__consume(): BPF wakes the daemon only when a ring
 * fills, see ringbuf.bpf.h); base NULL: not watched, consumed only by
 * ring_watch__consume().  Returns 0 or a negative errno; w is then closed.
 */
int ring_watch__open(struct ring_watch *w, struct event_base *base, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx);
/*
 * A ring laid out by someone else (the unit tests): positions as the
 * kernel keeps them, size bytes of data (a power of two).  Not watched;
 * ring_watch__close() frees only what the watch allocated.
 */
void ring_watch__init(struct ring_watch *w, unsigned long *consumer_pos,
		      const unsigned long *producer_pos, const void *data, size_t size,
		      ring_buffer_sample_fn fn, void *ctx);
/*
 * Hands every committed record to fn now, in order, up to the first one
 * still being written.  Returns how many, or fn's negative return value
 * (the record it was given is consumed).  0 on a closed watch.
 */
int ring_watch__consume(struct ring_watch *w);
bool ring_watch__is_open(const struct ring_watch *w);
/* Safe on a closed watch; leaves it closed. */
void ring_watch__close(struct ring_watch *w);

/* The sum over CPUs of entry key of a BPF_MAP_TYPE_PERCPU_ARRAY of __u64. */
uint64_t bpf_counter__sum(int map_fd, uint32_t key);

/* Now on BPF's clock (bpf_ktime_get_ns(): CLOCK_MONOTONIC), in ns. */
uint64_t bpf_ktime__now(void);

#endif /* PPROFD_BPFRING_H */
