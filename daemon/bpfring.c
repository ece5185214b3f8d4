// SPDX-License-Identifier: MIT
/* bpfring.c - see bpfring.h. */
#include <errno.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <event2/event.h>

#include "bpfring.h"

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ring_watch__consume(arg);
}

int ring_watch__open(struct ring_watch *w, struct event_base *base, int map_fd,
		     ring_buffer_sample_fn fn, void *ctx)
{
	int ret;

	w->event = NULL;
	w->ring = ring_buffer__new(map_fd, fn, ctx, NULL);
	if (!w->ring)
		return errno ? -errno : -ENOMEM;
	w->event = event_new(base, ring_buffer__epoll_fd(w->ring), EV_READ | EV_PERSIST, on_ready,
			     w);
	if (!w->event || event_add(w->event, NULL)) {
		ret = -ENOMEM;
		ring_watch__close(w);
		return ret;
	}
	return 0;
}

void ring_watch__consume(struct ring_watch *w)
{
	if (w->ring)
		ring_buffer__consume(w->ring);
}

void ring_watch__close(struct ring_watch *w)
{
	if (w->event)
		event_free(w->event);
	ring_buffer__free(w->ring);
	w->event = NULL;
	w->ring = NULL;
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
