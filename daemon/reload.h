/* SPDX-License-Identifier: MIT */
/*
 * reload.h - SIGHUP: read the config file and the environment again, apply
 * what can change in a running daemon, log what cannot.
 *
 * Applied at once: environment, cpu.hz, profile.*, health.*, limits.*,
 * log.access, auth.token_file (a non-loopback listener keeps its token if
 * the new file names none).  Logged as needing a restart: listen, block.*,
 * heap.* (the collectors' probes are configured when they open).  A bad file
 * changes nothing and is logged, naming the key, as at start-up.
 */
#ifndef PPROFD_RELOAD_H
#define PPROFD_RELOAD_H

#include "config.h"

struct daemon;
struct http_server;

struct reload {
	struct settings *live;   /* the daemon's settings, updated in place */
	struct settings loaded;  /* defaults + file + environment at the last load */
	const char *path;        /* the config file, NULL when none */
	struct daemon *d;
	struct http_server *http;
};

/* Re-reads and applies.  Returns 0 or a negative errno (nothing changed). */
int reload__run(struct reload *r);

#endif /* PPROFD_RELOAD_H */
