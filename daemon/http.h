/* SPDX-License-Identifier: MIT */
/*
 * http.h - the HTTP front end: Go net/http/pprof-compatible endpoints under
 * /debug/pprof/, routed from the daemon's table of collectors.
 */
#ifndef PPROFD_HTTP_H
#define PPROFD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct daemon;
struct http_server;

/*
 * Listens on addr ("host:port", "[v6]:port").  Returns NULL with a negative
 * errno in *error and a one-line reason in err.
 */
struct http_server *http_server__new(struct daemon *d, const char *addr, int *error, char *err,
				     size_t errlen);
void http_server__free(struct http_server *s);

/* (Re)applies the limits.* settings to the listener (after a reload). */
void http_server__apply_limits(struct http_server *s);

/*
 * Shutdown: answers every profile still being collected with what it has so
 * far and calls done(arg) once every response has been sent.
 */
void http_server__drain(struct http_server *s, void (*done)(void *arg), void *arg);

/* Query-string parsing, shared by every handler (unit-tested). */

/*
 * Parses a positive integer query parameter.  Returns 0 and sets *out; 1
 * when the parameter is absent (*out untouched); -EINVAL when it is not an
 * integer in [min, max].
 */
int http__query_int(const char *query, const char *name, long min, long max, long *out);

/*
 * Parses the addresses of a /debug/pprof/symbol request ("0x1+0x2", base
 * autodetected) into out, at most max; returns how many.
 */
size_t http__symbol_addresses(const char *text, unsigned long long *out, size_t max);

/* Splits "host:port" / "[v6]:port".  Returns 0 or -EINVAL. */
int http__split_address(const char *addr, char *host, size_t hostlen, char *port,
			size_t portlen);

#endif /* PPROFD_HTTP_H */
