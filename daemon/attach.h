/* SPDX-License-Identifier: MIT */
/*
 * attach.h - following a target named by --pidfile or --unit: when its
 * process exits and another comes back (the pidfile rewritten, the unit
 * restarted), pprofd re-attaches to it within a second, without restarting:
 * profiles being collected are answered with what they have, then the
 * symbolizer, the unwinder and every collector are opened anew on the new
 * process.
 */
#ifndef PPROFD_ATTACH_H
#define PPROFD_ATTACH_H

struct attach;
struct daemon;
struct http_server;
struct target_source;

/* Starts watching (every 500 ms on d's event loop).  NULL when out of memory. */
struct attach *attach__new(struct daemon *d, struct http_server *http,
			   const struct target_source *src);
void attach__free(struct attach *a);

#endif /* PPROFD_ATTACH_H */
