// SPDX-License-Identifier: MIT
/* daemon.c - see daemon.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <linux/types.h>

#include "collector.h"
#include "daemon.h"
#include "debugcache.h"
#include "log.h"
#include "pprofd.h"
#include "stacks.h"
#include "symbolize.h"

/* Addresses symbolized per collector and tick at most: bounds the tick. */
#define WARM_PER_TICK 2000

struct collector *daemon__collector(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->ncollectors; i++)
		if (!strcmp(d->collectors[i]->name, name))
			return d->collectors[i];
	return NULL;
}

/* Symbolizes the addresses of c's stacks from *cursor on, a bounded number. */
static void warm(struct daemon *d, const struct collector *c, size_t *cursor)
{
	size_t len = stack_table__len(c->stacks), done = 0;

	if (*cursor > len) /* the table was cleared */
		*cursor = 0;
	for (; *cursor < len && done < WARM_PER_TICK; (*cursor)++) {
		const struct stack *s = stack_table__stack(c->stacks, *cursor);
		struct symbol_location loc;

		for (uint32_t i = 0; i < s->npcs; i++, done++)
			if (s->pcs[i] != STACK_PC_TRUNCATED)
				symbolizer__lookup(d->sym, s->pcs[i], &loc);
	}
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < d->ncollectors; i++) {
		struct collector *c = d->collectors[i];

		/* A snapshot collector's drain takes a new snapshot: not here. */
		if (!c->users || c->unavailable || c->mode == COLLECT_SNAPSHOT)
			continue;
		c->ops->drain(c);
		warm(d, c, &d->warmed[i]);
	}
}

/*
 * Just after start-up, a step at a time so that requests are answered
 * meanwhile: loads what the first profile would otherwise load after its
 * window (kallsyms, then each module's symbols and debug info) by resolving
 * one kernel address, then one address of each mapping.
 */
static void on_prepare(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	const struct symbol_mapping *const *maps;
	size_t n = symbolizer__mappings(d->sym, &maps);
	const struct timeval next = { .tv_usec = 10000 };
	struct symbol_location loc;
	uint64_t released;

	(void)fd;
	(void)what;
	if (d->prepared == 0)
		symbolizer__lookup(d->sym, KERNEL_ADDR_MIN, &loc); /* reads /proc/kallsyms */
	else if (d->prepared - 1 < n)
		symbolizer__lookup(d->sym, maps[d->prepared - 1]->start +
						   (maps[d->prepared - 1]->limit -
						    maps[d->prepared - 1]->start) / 2,
				   &loc);
	/* Each file's index read, its pages go back: they add up otherwise. */
	released = debug_cache__release_pages();
	if (released)
		pr_debug("symbols: %" PRIu64 " KiB of mapped debug info given back", released >> 10);
	if (d->prepared++ < n)
		event_base_once(d->base, -1, EV_TIMEOUT, on_prepare, d, &next);
}

int daemon__start_draining(struct daemon *d)
{
	const struct timeval every = { .tv_usec = RING_DRAIN_MS * 1000 }, now = { 0 };

	d->warmed = calloc(d->ncollectors ? d->ncollectors : 1, sizeof(*d->warmed));
	d->drain_timer = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
	if (!d->warmed || !d->drain_timer || event_add(d->drain_timer, &every) ||
	    event_base_once(d->base, -1, EV_TIMEOUT, on_prepare, d, &now)) {
		daemon__stop_draining(d);
		return -ENOMEM;
	}
	return 0;
}

void daemon__stop_draining(struct daemon *d)
{
	if (d->drain_timer)
		event_free(d->drain_timer);
	d->drain_timer = NULL;
	free(d->warmed);
	d->warmed = NULL;
}
