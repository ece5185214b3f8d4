// SPDX-License-Identifier: MIT
/*
 * bpfring.c - see bpfring.h.
 *
 * The kernel's side (kernel/bpf/ringbuf.c): the map's file maps as the
 * consumer page (offset 0, the only page user space may write), the
 * producer page, then the data area.  Positions only grow; a position's
 * place in the data area is pos & (size - 1).  Each record is an 8-byte
 * header { u32 len; u32 pg_off; } and its data, 8-byte aligned; len carries
 * BPF_RINGBUF_BUSY_BIT while the record is being written and
 * BPF_RINGBUF_DISCARD_BIT when it was thrown away.  The consumer reads
 * records from consumer_pos up to producer_pos and stores consumer_pos
 * past each one: the space is then free for BPF.  As libbpf's
 * ringbuf_process_ring().
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <event2/event.h>
#include <linux/bpf.h>

#include "bpfring.h"
#include "log.h"

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	((struct ring_watch *)arg)->wakeups++;
	ring_watch__consume(arg);
}

void ring_watch__init(struct ring_watch *w, unsigned long *consumer_pos,
		      const unsigned long *producer_pos, const void *data, size_t size,
		      ring_buffer_sample_fn fn, void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->consumer_pos = consumer_pos;
	w->producer_pos = producer_pos;
	w->data = data;
	w->size = size;
	w->fn = fn;
	w->ctx = ctx;
}

int ring_watch__open(struct ring_watch *w, struct event_base *base, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx)
{
	size_t page = sysconf(_SC_PAGESIZE);
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	void *cons, *prod;
	int ret;

	memset(w, 0, sizeof(*w));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_RINGBUF || info.max_entries < page ||
	    (info.max_entries & (info.max_entries - 1)))
		return -EINVAL;
	cons = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (cons == MAP_FAILED)
		return -errno;
	/*
	 * The producer page and the data area once: the kernel allows a
	 * mapping shorter than its own double one.
	 */
	prod = mmap(NULL, page + info.max_entries, PROT_READ, MAP_SHARED, map_fd, page);
	if (prod == MAP_FAILED) {
		ret = -errno;
		munmap(cons, page);
		return ret;
	}
	ring_watch__init(w, cons, prod, (const uint8_t *)prod + page, info.max_entries, fn, ctx);
	w->mapped = page + info.max_entries;
	if (!base)
		return 0;
	/* The map's fd polls readable when the ring holds data. */
	w->event = event_new(base, map_fd, EV_READ | EV_PERSIST, on_ready, w);
	if (!w->event || event_add(w->event, NULL)) {
		ring_watch__close(w);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The data of the record whose header is at off, contiguous: in place, or
 * (wrapping around the end of the data area) copied into w->bounce.  NULL
 * when the copy finds no memory: the record is dropped.
 */
static void *record_data(struct ring_watch *w, size_t off, uint32_t len)
{
	size_t start = (off + BPF_RINGBUF_HDR_SZ) & (w->size - 1), first = w->size - start;

	if (len <= first)
		return (void *)(w->data + start);
	if (len > w->bounce_size) {
		/* The kernel's reservations fit the ring. */
		uint8_t *more = len < w->size ? realloc(w->bounce, len) : NULL;

		if (!more) {
			pr_warn("ring buffer: a record of %u bytes dropped: out of memory", len);
			return NULL;
		}
		w->bounce = more;
		w->bounce_size = len;
	}
	memcpy(w->bounce, w->data + start, first);
	memcpy(w->bounce + first, w->data, len - first);
	return w->bounce;
}

int ring_watch__consume(struct ring_watch *w)
{
	unsigned long cons, prod;
	bool more;
	int n = 0;

	if (!w->consumer_pos)
		return 0;
	cons = __atomic_load_n(w->consumer_pos, __ATOMIC_ACQUIRE);
	do {
		more = false;
		prod = __atomic_load_n(w->producer_pos, __ATOMIC_ACQUIRE);
		while (cons < prod) {
			size_t off = cons & (w->size - 1);
			/* Headers are 8-byte aligned: never split by the end. */
			uint32_t hdr = __atomic_load_n((const uint32_t *)(w->data + off),
						       __ATOMIC_ACQUIRE);
			uint32_t len = hdr & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
			int ret = 0;

			if (hdr & BPF_RINGBUF_BUSY_BIT)
				return n; /* still being written: the rest waits */
			more = true;
			cons += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
			if (!(hdr & BPF_RINGBUF_DISCARD_BIT)) {
				void *data = record_data(w, off, len);

				ret = data ? w->fn(w->ctx, data, len) : 0;
				n += n < INT_MAX;
			}
			__atomic_store_n(w->consumer_pos, cons, __ATOMIC_RELEASE);
			if (ret < 0)
				return ret;
		}
	} while (more);
	return n;
}

bool ring_watch__is_open(const struct ring_watch *w)
{
	return w->consumer_pos != NULL;
}

void ring_watch__close(struct ring_watch *w)
{
	if (w->event)
		event_free(w->event);
	if (w->mapped) {
		munmap(w->consumer_pos, sysconf(_SC_PAGESIZE));
		munmap((void *)w->producer_pos, w->mapped);
	}
	free(w->bounce);
	memset(w, 0, sizeof(*w));
}

uint64_t bpf_counter__sum(int map_fd, uint32_t key)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *vals, sum = 0;

	if (ncpus <= 0)
		return 0;
	vals = calloc(ncpus, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(map_fd, &key, vals))
		for (int i = 0; i < ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}

uint64_t bpf_ktime__now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}
