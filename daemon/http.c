// SPDX-License-Identifier: MIT
/*
 * http.c - see http.h.
 *
 * Semantics follow Go's net/http/pprof (shared/reference/pprof-endpoints.md):
 * errors are text/plain with X-Go-Pprof: 1 and a one-line body; profiles are
 * gzip'd protobuf with Content-Disposition; every response has
 * X-Content-Type-Options: nosniff.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/queue.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <cjson/cJSON.h>
#include <linux/types.h>

#include "auth.h"
#include "collector.h"
#include "goprofiles.h"
#include "config.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "profile.h"
#include "stats.h"
#include "stacks.h"
#include "symbolize.h"
#include "target.h"
#include "trace.h"
#include "unwind.h"

#define PPROF_PREFIX "/debug/pprof/"
#define MAX_SYMBOLS 4096 /* addresses per /symbol request */

struct pending_profile;

struct http_server {
	struct daemon *d;
	struct evhttp *http;
	/* Connections (limits.max_connections), see "connections" below: */
	unsigned connections;          /* open now */
	uint64_t refused;              /* answered 503 for being one too many */
	struct bufferevent **accepted; /* since the last adopt() */
	size_t naccepted, capaccepted;
	struct event *adopt;
	unsigned lingering;            /* refused sockets read until the client closes */
	struct pending_profile *pending; /* profiles being collected */
	unsigned inflight;               /* replies sent but not yet flushed */
	void (*drained)(void *arg);
	void *drained_arg;
	struct stats *stats; /* the /performance/ endpoints and /metrics */
};

/* A profile request waiting for the end of its window. */
struct pending_profile {
	struct http_server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct collector *c;
	struct stack_snapshot *since;
	struct event *timer;
	struct event *watch; /* is the client still there? */
	struct timespec wall_start, mono_start;
	char filename[64];
	long debug; /* ?debug=N text of the window, 0: the profile */
	struct pending_profile *next;
};

/* --- query strings ------------------------------------------------------- */

int http__query_int(const char *query, const char *name, long min, long max, long *out)
{
	struct evkeyvalq params;
	const char *v;
	char *end;
	long n;
	int ret;

	TAILQ_INIT(&params);
	if (!query || evhttp_parse_query_str(query, &params))
		return query ? -EINVAL : 1;
	v = evhttp_find_header(&params, name);
	if (!v) {
		ret = 1;
		goto out;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max) {
		ret = -EINVAL;
		goto out;
	}
	*out = n;
	ret = 0;
out:
	evhttp_clear_headers(&params);
	return ret;
}

size_t http__symbol_addresses(const char *text, unsigned long long *out, size_t max)
{
	size_t n = 0;

	while (text && *text && n < max) {
		char *end;
		unsigned long long v;

		errno = 0;
		v = strtoull(text, &end, 0);
		if (end != text && !errno && (*end == '+' || *end == '\0' || *end == '&'))
			out[n++] = v;
		text = strchr(text, '+');
		if (text)
			text++;
	}
	return n;
}

int http__split_address(const char *addr, char *host, size_t hostlen, char *port,
			size_t portlen)
{
	const char *colon;
	size_t n;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		n = close - addr - 1;
		colon = close + 1;
		addr++;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		n = colon - addr;
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen)
		return -EINVAL;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return -EINVAL;
	if (atol(colon + 1) > 65535)
		return -EINVAL;
	memcpy(host, addr, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

/* --- responses ----------------------------------------------------------- */

static void on_reply_complete(struct evhttp_request *req, void *arg)
{
	struct http_server *srv = arg;

	(void)req;
	if (srv->inflight)
		srv->inflight--;
	if (srv->drained && !srv->inflight && !srv->pending) {
		void (*done)(void *) = srv->drained;

		srv->drained = NULL;
		done(srv->drained_arg);
	}
}

static const char *method_name(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "OTHER";
	}
}

/* The access log: one line per request on stderr (log.access). */
static void access_log(struct evhttp_request *req, int code, size_t bytes)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	char *peer = NULL;
	ev_uint16_t port = 0;

	if (conn)
		evhttp_connection_get_peer(conn, &peer, &port);
	log_msg(LOG_INFO, "access: %s:%u \"%s %s\" %d %zu", peer ? peer : "-", port,
		method_name(evhttp_request_get_command(req)), evhttp_request_get_uri(req), code,
		bytes);
}

static void send_reply(struct http_server *srv, struct evhttp_request *req, int code,
		       const char *reason, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "X-Content-Type-Options",
			  "nosniff");
	stats__count_response(srv->stats, code);
	if (srv->d->settings->access_log)
		access_log(req, code, body ? evbuffer_get_length(body) : 0);
	srv->inflight++;
	evhttp_request_set_on_complete_cb(req, on_reply_complete, srv);
	evhttp_send_reply(req, code, reason, body);
}

static const char *reason_of(int code)
{
	switch (code) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 401: return "Unauthorized";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* A Go-style error: text/plain, X-Go-Pprof: 1, one line. */
static void send_error(struct http_server *srv, struct evhttp_request *req, int code,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void send_error(struct http_server *srv, struct evhttp_request *req, int code,
		       const char *fmt, ...)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();
	va_list ap;

	evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "X-Go-Pprof", "1");
	if (body) {
		va_start(ap, fmt);
		evbuffer_add_vprintf(body, fmt, ap);
		va_end(ap);
		evbuffer_add(body, "\n", 1);
	}
	send_reply(srv, req, code, reason_of(code), body);
	if (body)
		evbuffer_free(body);
}

static void free_data(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/*
 * A 200 whose body is data (malloc'd, owned from here on) of the given type,
 * as an attachment named filename unless it is NULL.
 */
static void send_body(struct http_server *srv, struct evhttp_request *req, const char *type,
		      const char *filename, void *data, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *body = evbuffer_new();

	if (!body) {
		free(data);
		send_error(srv, req, 500, "out of memory");
		return;
	}
	evhttp_add_header(h, "Content-Type", type);
	if (filename) {
		char disposition[128];

		snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"",
			 filename);
		evhttp_add_header(h, "Content-Disposition", disposition);
	}
	evbuffer_add_reference(body, data, len, free_data, NULL);
	send_reply(srv, req, 200, "OK", body);
	evbuffer_free(body);
}

static void send_profile(struct http_server *srv, struct evhttp_request *req,
			 const char *filename, uint8_t *data, size_t len)
{
	send_body(srv, req, "application/octet-stream", filename, data, len);
}

static void send_text(struct http_server *srv, struct evhttp_request *req, char *text,
		      size_t len)
{
	send_body(srv, req, "text/plain; charset=utf-8", NULL, text, len);
}

/* The ?debug=N text of c's table (since a snapshot, NULL: all of it). */
static void send_profile_text(struct http_server *srv, struct evhttp_request *req,
			      struct collector *c, const struct stack_snapshot *since, long debug)
{
	char *text = NULL;
	size_t len = 0;
	int ret = c->ops->text ? c->ops->text(c, since, srv->d->sym, debug, &text, &len)
			       : profile__text(c, since, srv->d->sym, debug, &text, &len);

	if (ret) {
		free(text);
		send_error(srv, req, 500, "could not write the profile: %s", strerror(-ret));
	} else {
		send_text(srv, req, text, len);
	}
}

/* --- profiles over a window ---------------------------------------------- */

static void pending_unlink(struct pending_profile *p)
{
	struct pending_profile **pp = &p->srv->pending;

	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
}

static void pending_free(struct pending_profile *p)
{
	pending_unlink(p);
	if (p->timer)
		event_free(p->timer);
	if (p->watch)
		event_free(p->watch);
	stack_snapshot__free(p->since);
	p->c->ops->release(p->c);
	free(p);
}

static int64_t ns_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

/* The window is over (or the daemon stops): encode and answer. */
static void finish_profile(struct pending_profile *p)
{
	struct http_server *srv = p->srv;
	struct evhttp_request *req = p->req;
	struct profile_window window;
	struct timespec now;
	uint8_t *data = NULL;
	size_t len = 0;
	int ret;

	p->c->ops->drain(p->c);
	/* No longer the connection's profile: the reply may free the connection. */
	p->conn = NULL;
	if (p->debug) {
		send_profile_text(srv, req, p->c, p->since, p->debug);
		pending_free(p);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	window.time_nanos = p->wall_start.tv_sec * 1000000000LL + p->wall_start.tv_nsec;
	window.duration_nanos = ns_between(&p->mono_start, &now);
	ret = profile__encode(p->c, p->since, srv->d->sym, &window, &data, &len);
	if (ret) {
		send_error(srv, req, 500, "could not encode the profile: %s", strerror(-ret));
		free(data);
	} else {
		send_profile(srv, req, p->filename, data, len);
	}
	pending_free(p);
}

static void on_window_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	finish_profile(arg);
}

/* The client of conn went away (on_connection_close): stop collecting for it. */
static void pending_client_gone(struct http_server *srv, struct evhttp_connection *conn)
{
	for (struct pending_profile *p = srv->pending; p; p = p->next) {
		if (p->conn == conn) {
			log_msg(LOG_DEBUG, "profile request abandoned by the client");
			p->conn = NULL;
			pending_free(p);
			return;
		}
	}
}

/*
 * evhttp does not read from a connection while its request waits for the
 * reply, so it does not see a client leave: look for the EOF ourselves.
 */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct pending_profile *p = arg;
	struct bufferevent *bev;
	char byte;
	ssize_t n;

	(void)fd;
	(void)what;
	if (!p->conn)
		return;
	bev = evhttp_connection_get_bufferevent(p->conn);
	if (!bev || bufferevent_getfd(bev) < 0)
		return;
	n = recv(bufferevent_getfd(bev), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		struct evhttp_connection *conn = p->conn;

		log_msg(LOG_DEBUG, "profile request abandoned by the client");
		/* Free the connection with its request (not this profile's any more). */
		p->conn = NULL;
		evhttp_connection_free(conn);
		pending_free(p);
	}
}

static void start_profile(struct http_server *srv, struct evhttp_request *req,
			  struct collector *c, long seconds, const struct collect_request *cr,
			  const char *filename, long debug)
{
	struct pending_profile *p = calloc(1, sizeof(*p));
	struct timeval tv = { .tv_sec = seconds };
	const struct timeval watch_every = { .tv_usec = 250000 };
	char err[256];
	unsigned n = 0;
	int ret;

	if (!p) {
		send_error(srv, req, 500, "out of memory");
		return;
	}
	for (struct pending_profile *q = srv->pending; q; q = q->next)
		n++;
	if (n >= (unsigned)srv->d->settings->max_concurrent_profiles) {
		free(p);
		send_error(srv, req, 503,
			   "%u profiles are being collected, the most allowed at once "
			   "(limits.max_concurrent_profiles): retry later",
			   n);
		return;
	}
	ret = c->ops->acquire(c, cr, err, sizeof(err));
	if (ret) {
		free(p);
		send_error(srv, req, ret == -EBUSY ? 409 : 500, "%s", err);
		return;
	}
	p->srv = srv;
	p->req = req;
	p->c = c;
	p->debug = debug;
	snprintf(p->filename, sizeof(p->filename), "%s", filename);
	c->ops->drain(c);
	p->since = stack_table__snapshot(c->stacks);
	p->timer = evtimer_new(srv->d->base, on_window_end, p);
	p->watch = event_new(srv->d->base, -1, EV_PERSIST, on_watch, p);
	if (!p->since || !p->timer || !p->watch || evtimer_add(p->timer, &tv) ||
	    evtimer_add(p->watch, &watch_every)) {
		pending_free(p);
		send_error(srv, req, 500, "out of memory");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &p->wall_start);
	clock_gettime(CLOCK_MONOTONIC, &p->mono_start);
	p->conn = evhttp_request_get_connection(req); /* its close: on_connection_close */
	p->next = srv->pending;
	srv->pending = p;
}

/* --- handlers ------------------------------------------------------------ */

static void handle_cpu_profile(struct http_server *srv, struct evhttp_request *req,
			       const char *query)
{
	const struct settings *st = srv->d->settings;
	struct collector *c = daemon__collector(srv->d, "profile");
	struct collect_request cr = { .hz = st->cpu_hz };
	long seconds = st->profile_default_seconds, hz;
	int ret;

	ret = http__query_int(query, "seconds", 1, LONG_MAX, &seconds);
	if (ret < 0) {
		send_error(srv, req, 400, "invalid value for \"seconds\" - must be a positive integer");
		return;
	}
	if (seconds > st->profile_max_seconds) {
		send_error(srv, req, 400,
			   "\"seconds\" is %ld, more than the longest profile allowed (%d s, "
			   "profile.max_seconds)",
			   seconds, st->profile_max_seconds);
		return;
	}
	ret = http__query_int(query, "hz", CPU_HZ_MIN, CPU_HZ_MAX, &hz);
	if (ret < 0) {
		send_error(srv, req, 400, "invalid value for \"hz\" - must be an integer from %d to %d",
			   CPU_HZ_MIN, CPU_HZ_MAX);
		return;
	}
	if (ret == 0)
		cr.hz = hz;
	if (!c) {
		send_error(srv, req, 503, "the CPU collector is not available");
		return;
	}
	start_profile(srv, req, c, seconds, &cr, "profile", 0);
}

/*
 * /debug/pprof/<name> of a cumulative or snapshot collector, as Go answers
 * a named profile: the whole profile now, its ?debug=N text, or with
 * ?seconds=N the delta over N seconds.
 */
static void handle_named_profile(struct http_server *srv, struct evhttp_request *req,
				 struct collector *c, const char *query)
{
	const struct settings *st = srv->d->settings;
	struct collect_request cr = { .hz = st->cpu_hz };
	long debug = 0, seconds = 0;
	char err[256], filename[64];
	int seconds_ret, ret;

	/* Go: a debug value that does not parse is 0. */
	if (http__query_int(query, "debug", LONG_MIN, LONG_MAX, &debug) < 0)
		debug = 0;
	seconds_ret = http__query_int(query, "seconds", 1, LONG_MAX, &seconds);
	if (seconds_ret < 0) {
		send_error(srv, req, 400, "invalid value for \"seconds\" - must be a positive integer");
		return;
	}
	if (seconds_ret == 0 && debug) {
		send_error(srv, req, 400, "seconds and debug params are incompatible");
		return;
	}
	if (seconds_ret == 0 && seconds > st->profile_max_seconds) {
		send_error(srv, req, 400,
			   "\"seconds\" is %ld, more than the longest profile allowed (%d s, "
			   "profile.max_seconds)",
			   seconds, st->profile_max_seconds);
		return;
	}
	if (c->unavailable) {
		send_error(srv, req, 503, "%s profile unavailable: %s", c->name, c->unavailable);
		return;
	}
	if (seconds_ret == 0) { /* ?seconds=N: a delta */
		snprintf(filename, sizeof(filename), "%s-delta", c->name);
		start_profile(srv, req, c, seconds, &cr, filename, 0);
		return;
	}
	if (c->mode == COLLECT_WINDOW) {
		/*
		 * Collected only on request (block, mutex without *.always_on):
		 * there is no cumulative profile, so a request without seconds
		 * gets a short window, as `go tool pprof URL` and curl expect
		 * an answer, not an error.
		 */
		start_profile(srv, req, c, st->profile_on_demand_seconds, &cr, c->name, debug);
		return;
	}

	ret = c->ops->acquire(c, &cr, err, sizeof(err));
	if (ret) {
		send_error(srv, req, ret == -EBUSY ? 409 : 503, "%s", err);
		return;
	}
	c->ops->drain(c);
	if (debug) {
		send_profile_text(srv, req, c, NULL, debug);
	} else {
		struct profile_window window = { 0 };
		struct timespec now;
		uint8_t *data = NULL;
		size_t len = 0;

		clock_gettime(CLOCK_REALTIME, &now);
		window.time_nanos = now.tv_sec * 1000000000LL + now.tv_nsec;
		ret = profile__encode(c, NULL, srv->d->sym, &window, &data, &len);
		if (ret) {
			free(data);
			send_error(srv, req, 500, "could not encode the profile: %s", strerror(-ret));
		} else {
			send_profile(srv, req, c->name, data, len);
		}
	}
	c->ops->release(c);
}

/* A trace being taken: answered when its window ends. */
struct pending_trace {
	struct http_server *srv;
	struct evhttp_request *req;
	struct trace *trace;
	struct event *timer;
};

static void on_trace_end(evutil_socket_t fd, short what, void *arg)
{
	struct pending_trace *pt = arg;
	char *json = NULL;
	size_t len = 0;
	int ret;

	(void)fd;
	(void)what;
	ret = trace__finish(pt->trace, &json, &len);
	if (ret) {
		free(json);
		send_error(pt->srv, pt->req, 500, "could not write the trace: %s", strerror(-ret));
	} else {
		send_body(pt->srv, pt->req, "application/json", "trace", json, len);
	}
	trace__free(pt->trace);
	event_free(pt->timer);
	free(pt);
}

/*
 * /debug/pprof/trace?seconds=F (Go: a float, default 1): the timeline of
 * the target's threads in the Trace Event Format (see trace.h).
 */
static void handle_trace(struct http_server *srv, struct evhttp_request *req, const char *query)
{
	const struct settings *st = srv->d->settings;
	struct evkeyvalq params;
	struct pending_trace *pt;
	const char *v = NULL;
	double seconds = 1;
	struct timeval tv;
	long hz = st->cpu_hz;
	char err[256];
	int error = 0;

	TAILQ_INIT(&params);
	if (query && !evhttp_parse_query_str(query, &params))
		v = evhttp_find_header(&params, "seconds");
	if (v) {
		char *end;

		errno = 0;
		seconds = strtod(v, &end);
		if (!*v || *end || errno || !(seconds > 0)) {
			evhttp_clear_headers(&params);
			send_error(srv, req, 400,
				   "invalid value for \"seconds\" - must be a positive number");
			return;
		}
	}
	evhttp_clear_headers(&params);
	if (seconds > st->profile_max_seconds) {
		send_error(srv, req, 400,
			   "\"seconds\" is %g, more than the longest profile allowed (%d s, "
			   "profile.max_seconds)",
			   seconds, st->profile_max_seconds);
		return;
	}
	if (http__query_int(query, "hz", CPU_HZ_MIN, CPU_HZ_MAX, &hz) < 0) {
		send_error(srv, req, 400, "invalid value for \"hz\" - must be an integer from %d to %d",
			   CPU_HZ_MIN, CPU_HZ_MAX);
		return;
	}
	pt = calloc(1, sizeof(*pt));
	if (!pt) {
		send_error(srv, req, 500, "out of memory");
		return;
	}
	pt->trace = trace__start(srv->d, hz, &error, err, sizeof(err));
	if (!pt->trace) {
		free(pt);
		send_error(srv, req, error == -EBUSY ? 409 : 503, "%s", err);
		return;
	}
	pt->srv = srv;
	pt->req = req;
	pt->timer = evtimer_new(srv->d->base, on_trace_end, pt);
	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - tv.tv_sec) * 1e6);
	if (!pt->timer || evtimer_add(pt->timer, &tv)) {
		if (pt->timer)
			event_free(pt->timer);
		trace__free(pt->trace);
		free(pt);
		send_error(srv, req, 500, "out of memory");
	}
}

static void handle_cmdline(struct http_server *srv, struct evhttp_request *req)
{
	struct evbuffer *body = evbuffer_new();
	char *cmdline;
	size_t len;
	int ret;

	ret = target__read_proc(srv->d->pid, "cmdline", &cmdline, &len);
	if (ret || !body) {
		if (body)
			evbuffer_free(body);
		send_error(srv, req, 503, "cannot read the command line of process %d: %s",
			   (int)srv->d->pid, strerror(ret ? -ret : ENOMEM));
		return;
	}
	/* The kernel ends every argument with NUL; Go joins them with NUL. */
	if (len && cmdline[len - 1] == '\0')
		len--;
	evbuffer_add(body, cmdline, len);
	free(cmdline);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	send_reply(srv, req, 200, "OK", body);
	evbuffer_free(body);
}

static void handle_symbol(struct http_server *srv, struct evhttp_request *req,
			  const char *query)
{
	unsigned long long *addrs = calloc(MAX_SYMBOLS, sizeof(*addrs));
	struct evbuffer *body = evbuffer_new();
	char *text = NULL;
	size_t n = 0;

	if (!addrs || !body)
		goto oom;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST) {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);

		text = malloc(len + 1);
		if (!text)
			goto oom;
		evbuffer_remove(in, text, len);
		text[len] = '\0';
		n = http__symbol_addresses(text, addrs, MAX_SYMBOLS);
	} else {
		n = http__symbol_addresses(query, addrs, MAX_SYMBOLS);
	}
	/* Go answers num_symbols: 1 whatever was asked. */
	evbuffer_add_printf(body, "num_symbols: 1\n");
	for (size_t i = 0; i < n; i++) {
		struct symbol_location loc;

		if (!addrs[i] || symbolizer__lookup(srv->d->sym, addrs[i], &loc) || !loc.nframes ||
		    !loc.frames[0].function)
			continue;
		evbuffer_add_printf(body, "%#llx %s\n", addrs[i], loc.frames[0].function);
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; charset=utf-8");
	send_reply(srv, req, 200, "OK", body);
	evbuffer_free(body);
	free(addrs);
	free(text);
	return;
oom:
	if (body)
		evbuffer_free(body);
	free(addrs);
	free(text);
	send_error(srv, req, 500, "out of memory");
}

static void html_escape(struct evbuffer *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': evbuffer_add_printf(out, "&lt;"); break;
		case '>': evbuffer_add_printf(out, "&gt;"); break;
		case '&': evbuffer_add_printf(out, "&amp;"); break;
		case '"': evbuffer_add_printf(out, "&#34;"); break;
		default: evbuffer_add(out, s, 1);
		}
	}
}

/* One row of the index page: a collector, or one of Go's fixed endpoints. */
struct index_entry {
	const char *name;
	const char *description;
};

static int cmp_index_entry(const void *a, const void *b)
{
	return strcmp(((const struct index_entry *)a)->name,
		      ((const struct index_entry *)b)->name);
}

static void handle_index(struct http_server *srv, struct evhttp_request *req)
{
	static const struct index_entry fixed[] = {
		{ "cmdline", "The command line invocation of the current program." },
		{ "symbol", "Maps program counters to function names (GET ?0x... or POST)." },
		{ "trace", "A timeline of the target's threads (on and off the CPU, wakeups, "
			   "CPU samples) in the Trace Event Format, for Perfetto UI or "
			   "chrome://tracing. You can specify the duration in the seconds GET "
			   "parameter." },
	};
	struct daemon *d = srv->d;
	size_t n = 0, cap = d->ncollectors + sizeof(fixed) / sizeof(fixed[0]);
	struct index_entry *rows = calloc(cap, sizeof(*rows));
	struct evbuffer *body = evbuffer_new();

	if (!rows || !body) {
		free(rows);
		if (body)
			evbuffer_free(body);
		send_error(srv, req, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < d->ncollectors; i++)
		rows[n++] = (struct index_entry){ d->collectors[i]->name,
						  d->collectors[i]->description };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		rows[n++] = fixed[i];
	qsort(rows, n, sizeof(*rows), cmp_index_entry);

	evbuffer_add_printf(body, "<html>\n<head>\n<title>/debug/pprof/</title>\n"
				  "<style>\n.profile-name{\n\tdisplay:inline-block;\n"
				  "\twidth:6rem;\n}\n</style>\n</head>\n<body>\n"
				  "/debug/pprof/\n<br>\n<p>Set debug=1 as a query parameter to "
				  "export in legacy text format</p>\n<br>\n"
				  "Types of profiles available:\n<table>\n"
				  "<thead><td>Count</td><td>Profile</td></thead>\n");
	for (size_t i = 0; i < n; i++) {
		struct collector *c = daemon__collector(d, rows[i].name);
		size_t count = c && c->mode == COLLECT_CUMULATIVE ? stack_table__len(c->stacks) : 0;

		evbuffer_add_printf(body, "<tr><td>%zu</td><td><a href='", count);
		html_escape(body, rows[i].name);
		evbuffer_add_printf(body, "?debug=1'>");
		html_escape(body, rows[i].name);
		evbuffer_add_printf(body, "</a></td></tr>\n");
	}
	if (daemon__collector(d, "goroutine"))
		evbuffer_add_printf(body, "</table>\n<a href='goroutine?debug=2'>full goroutine "
					  "stack dump</a>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
	else
		evbuffer_add_printf(body, "</table>\n<br>\n<p>\nProfile Descriptions:\n<ul>\n");
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(body, "<li><div class=profile-name>");
		html_escape(body, rows[i].name);
		evbuffer_add_printf(body, ": </div> ");
		html_escape(body, rows[i].description);
		evbuffer_add_printf(body, "</li>\n");
	}
	evbuffer_add_printf(body, "</ul>\n</p>\n</body>\n</html>\n");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/html; charset=utf-8");
	send_reply(srv, req, 200, "OK", body);
	evbuffer_free(body);
	free(rows);
}

static void send_json(struct http_server *srv, struct evhttp_request *req, int code, cJSON *json)
{
	char *text = json ? cJSON_Print(json) : NULL;
	struct evbuffer *body = evbuffer_new();

	cJSON_Delete(json);
	if (!text || !body) {
		free(text);
		if (body)
			evbuffer_free(body);
		send_error(srv, req, 500, "out of memory");
		return;
	}
	evbuffer_add(body, text, strlen(text));
	evbuffer_add(body, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	send_reply(srv, req, code, reason_of(code), body);
	evbuffer_free(body);
}

/* The files of the target that symbolizing reads, and what was refused (rootfs.h). */
static void add_target_files(cJSON *root, const struct symbolizer *sym)
{
	cJSON *files = cJSON_AddObjectToObject(root, "target_files"), *map, *links;
	struct symbolizer_files f;

	symbolizer__files(sym, &f);
	map = cJSON_AddObjectToObject(files, "perf_map");
	cJSON_AddStringToObject(map, "path", f.perf_map.path);
	cJSON_AddStringToObject(map, "state", f.perf_map.state);
	if (f.perf_map.reason)
		cJSON_AddStringToObject(map, "reason", f.perf_map.reason);
	else
		cJSON_AddNullToObject(map, "reason");
	cJSON_AddNumberToObject(map, "symbols", f.perf_map.symbols);
	cJSON_AddNumberToObject(map, "refusals", f.perf_map.refusals);
	links = cJSON_AddObjectToObject(files, "debuglinks");
	cJSON_AddNumberToObject(links, "refused", f.debuglinks_refused);
	cJSON_AddStringToObject(links, "last_refused", f.last_debuglink_refused);
}

/* /debug/metrics: every collector from the table, and the daemon's counters. */
static void handle_metrics(struct http_server *srv, struct evhttp_request *req)
{
	struct daemon *d = srv->d;
	cJSON *root = cJSON_CreateObject(), *daemon, *list, *unwind, *truncated;
	struct unwind_stats us;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	daemon = cJSON_AddObjectToObject(root, "pprofd");
	cJSON_AddStringToObject(daemon, "version", PPROFD_VERSION);
	cJSON_AddNumberToObject(daemon, "uptime_seconds", ns_between(&d->started, &now) / 1e9);
	cJSON_AddNumberToObject(daemon, "target_pid", d->pid);
	cJSON_AddStringToObject(daemon, "environment",
				environment__name(d->settings->environment));
	cJSON_AddBoolToObject(daemon, "profiling_enabled",
			      settings__profiling_enabled(d->settings));

	list = cJSON_AddArrayToObject(root, "collectors");
	for (size_t i = 0; i < d->ncollectors; i++)
		cJSON_AddItemToArray(list, collector__json(d->collectors[i], true));

	goprofiles__metrics(d->pid, root);

	unwinder__stats(d->uw, &us);
	unwind = cJSON_AddObjectToObject(root, "unwind");
	cJSON_AddNumberToObject(unwind, "stack_copy_bytes", STACK_COPY_BYTES);
	cJSON_AddNumberToObject(unwind, "max_user_frames", MAX_USER_FRAMES);
	cJSON_AddNumberToObject(unwind, "stacks", us.stacks);
	cJSON_AddNumberToObject(unwind, "complete", us.complete);
	truncated = cJSON_AddObjectToObject(unwind, "truncated");
	cJSON_AddNumberToObject(truncated, "stack_copy_exhausted", us.truncated_copy);
	cJSON_AddNumberToObject(truncated, "depth_limit", us.truncated_depth);
	cJSON_AddNumberToObject(truncated, "unwind_lost", us.truncated_lost);
	cJSON_AddNumberToObject(unwind, "frame_pointer_steps", us.fp_steps);
	cJSON_AddNumberToObject(unwind, "finished_by_frame_pointers", us.fp_finished);
	cJSON_AddNumberToObject(unwind, "rule_lookups", us.rules);
	cJSON_AddNumberToObject(unwind, "runtime_table_rules", us.runtime_rules);
	cJSON_AddNumberToObject(unwind, "ended_at_runtime_stack_switch", us.runtime_switches);
	cJSON_AddNumberToObject(unwind, "runtime_stack_switches_followed", us.switches_followed);
	if (d->sym)
		add_target_files(root, d->sym);
	send_json(srv, req, 200, root);
}

/*
 * The /performance/ endpoints and /metrics (stats.c).  memory and gc are development
 * only: production answers 404 there, as for the /debug/pprof/ endpoints.
 */
static void handle_performance(struct http_server *srv, struct evhttp_request *req,
			       const char *path)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	bool gc = !strcmp(path, "/performance/gc");
	cJSON *(*json)(struct stats *, int *) = NULL;
	int code = 500;

	if (!strcmp(path, "/performance/stats"))
		json = stats__stats;
	else if (!strcmp(path, "/performance/health"))
		json = stats__health;
	else if (!strcmp(path, "/performance/info"))
		json = stats__info;
	else if (!strcmp(path, "/performance/memory"))
		json = stats__memory;
	else if (gc)
		json = stats__gc;
	if (!json && strcmp(path, "/metrics")) {
		send_error(srv, req, 404, "404 page not found");
		return;
	}
	if ((json == stats__memory || gc) && !settings__profiling_enabled(srv->d->settings)) {
		send_error(srv, req, 404, "%s is off in %s mode: set APP_ENVIRONMENT=development "
					  "to enable it", path,
			   environment__name(srv->d->settings->environment));
		return;
	}
	if (gc ? cmd != EVHTTP_REQ_POST : !get) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  gc ? "POST" : "GET, HEAD");
		send_error(srv, req, 405, "method not allowed: use %s", gc ? "POST" : "GET");
		return;
	}
	if (!srv->stats) {
		send_error(srv, req, 500, "out of memory");
		return;
	}
	if (json) {
		cJSON *doc = json(srv->stats, &code);

		send_json(srv, req, code, doc);
	} else {
		size_t len = 0;
		char *text = stats__prometheus(srv->stats, &len);

		if (!text) {
			send_error(srv, req, 500, "out of memory");
			return;
		}
		send_body(srv, req, "text/plain; version=0.0.4; charset=utf-8", NULL, text, len);
	}
}

static void handle_pprof(struct http_server *srv, struct evhttp_request *req, const char *name,
			 const char *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	struct collector *c;

	if (!strcmp(name, "symbol")) {
		if (!get && cmd != EVHTTP_REQ_POST) {
			send_error(srv, req, 405, "method not allowed: use GET or POST");
			return;
		}
		handle_symbol(srv, req, query);
		return;
	}
	if (!get) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		send_error(srv, req, 405, "method not allowed: use GET");
		return;
	}
	if (srv->d->shutting_down) {
		send_error(srv, req, 503, "pprofd is shutting down");
		return;
	}
	if (*name && !target__exists(srv->d->pid)) {
		send_error(srv, req, 503, "target not running: process %d has exited",
			   (int)srv->d->pid);
		return;
	}
	if (!*name)
		handle_index(srv, req);
	else if (!strcmp(name, "cmdline"))
		handle_cmdline(srv, req);
	else if (!strcmp(name, "profile"))
		handle_cpu_profile(srv, req, query);
	else if (!strcmp(name, "trace"))
		handle_trace(srv, req, query);
	else if ((c = daemon__collector(srv->d, name)))
		handle_named_profile(srv, req, c, query);
	else
		send_error(srv, req, 404, "Unknown profile");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *srv = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	char *decoded;

	if (!path || !*path)
		path = "/";
	decoded = evhttp_uridecode(path, 0, NULL);
	if (!decoded) {
		send_error(srv, req, 400, "malformed request path");
		return;
	}
	/* With a token, everything but the health check needs it. */
	if (srv->d->auth_token && strcmp(decoded, "/performance/health") &&
	    !auth__check(evhttp_find_header(evhttp_request_get_input_headers(req),
					    "Authorization"),
			 srv->d->auth_token)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"pprofd\"");
		send_error(srv, req, 401, "missing or wrong token: send Authorization: Bearer "
					  "<the token of auth.token_file>");
		free(decoded);
		return;
	}
	log_msg(LOG_DEBUG, "%s %s", evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
		evhttp_request_get_uri(req));

	if (!strncmp(decoded, PPROF_PREFIX, strlen(PPROF_PREFIX)) || !strcmp(decoded, "/debug/pprof")) {
		if (!settings__profiling_enabled(srv->d->settings))
			send_error(srv, req, 404,
				   "profiling endpoints are off in %s mode: set "
				   "APP_ENVIRONMENT=development (or \"environment\": \"development\" "
				   "in the config file) to enable them",
				   environment__name(srv->d->settings->environment));
		else
			handle_pprof(srv, req,
				     decoded[strlen(PPROF_PREFIX) - 1] ? decoded + strlen(PPROF_PREFIX)
								       : "",
				     query);
	} else if (!strcmp(decoded, "/debug/metrics")) {
		handle_metrics(srv, req);
	} else if (!strncmp(decoded, "/performance/", 13) || !strcmp(decoded, "/metrics")) {
		handle_performance(srv, req, decoded);
	} else {
		send_error(srv, req, 404, "404 page not found");
	}
	free(decoded);
}

/* --- connections --------------------------------------------------------- */

/*
 * limits.max_connections.  libevent 2.1's evhttp has no limit of its own
 * and no hook on accept, so: evhttp asks us for each new connection's
 * bufferevent (evhttp_set_bevcb); we keep it (with a reference) and, before
 * the loop reads from any socket again, adopt() finds its evhttp_connection
 * (the bufferevent's callback argument, set by evhttp) and sets the close
 * callback that counts it out.  A connection beyond the limit is answered
 * 503 at once and closed; its socket is kept open (a dup) and read until
 * the client closes it or LINGER_SECONDS pass, so that closing it does not
 * reset the connection before the client has read the answer.
 */
#define LINGER_SECONDS 2
#define LINGER_MAX 64 /* refused sockets kept lingering at most; more are just closed */

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;
	char buf[4096];
	ssize_t n = 1;

	if (what & EV_READ)
		while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			;
	if ((what & EV_TIMEOUT) || !n || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		close(fd);
		srv->lingering--;
		return;
	}
	{
		const struct timeval tv = { .tv_sec = LINGER_SECONDS };

		if (event_base_once(srv->d->base, fd, EV_READ, on_linger, srv, &tv)) {
			close(fd);
			srv->lingering--;
		}
	}
}

/* Answers 503 on conn and frees it. */
static void refuse(struct http_server *srv, struct evhttp_connection *conn)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int fd = bev ? bufferevent_getfd(bev) : -1, keep = -1;
	char body[256], reply[512];
	int n;

	srv->refused++;
	stats__count_response(srv->stats, 503);
	snprintf(body, sizeof(body),
		 "%u connections are open, the most allowed at once (limits.max_connections): "
		 "retry later\n",
		 srv->connections - 1);
	n = snprintf(reply, sizeof(reply),
		     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
		     "X-Go-Pprof: 1\r\nX-Content-Type-Options: nosniff\r\nRetry-After: 1\r\n"
		     "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
		     strlen(body), body);
	if (fd >= 0) {
		if (send(fd, reply, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_msg(LOG_DEBUG, "refusing a connection: %s", strerror(errno));
		if (srv->lingering < LINGER_MAX)
			keep = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	}
	if (srv->d->settings->access_log) {
		char *peer = NULL;
		ev_uint16_t port = 0;

		evhttp_connection_get_peer(conn, &peer, &port);
		log_msg(LOG_INFO, "access: %s:%u \"-\" 503 %d (limits.max_connections)",
			peer ? peer : "-", port, n);
	}
	evhttp_connection_free(conn); /* shutdown(SHUT_WR): the client sees the end */
	if (keep >= 0) {
		srv->lingering++;
		on_linger(keep, 0, srv);
	}
}

/* The connection is gone: count it out, and stop its profile if it had one. */
static void on_connection_close(struct evhttp_connection *conn, void *arg)
{
	struct http_server *srv = arg;

	if (srv->connections)
		srv->connections--;
	stats__set_connections(srv->stats, srv->connections, srv->refused);
	pending_client_gone(srv, conn);
}

static void adopt(evutil_socket_t fd, short what, void *arg)
{
	struct http_server *srv = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < srv->naccepted; i++) {
		struct bufferevent *bev = srv->accepted[i];
		bufferevent_data_cb readcb = NULL;
		void *cbarg = NULL;

		/* evhttp set its callbacks, with the connection as argument, unless
		 * it has freed it already (then they are NULL). */
		bufferevent_getcb(bev, &readcb, NULL, NULL, &cbarg);
		if (readcb && cbarg) {
			struct evhttp_connection *conn = cbarg;

			srv->connections++;
			evhttp_connection_set_closecb(conn, on_connection_close, srv);
			if (srv->connections > (unsigned)srv->d->settings->max_connections)
				refuse(srv, conn);
		}
		bufferevent_decref(bev);
	}
	srv->naccepted = 0;
	stats__set_connections(srv->stats, srv->connections, srv->refused);
}

/* evhttp_set_bevcb: the bufferevent of a connection just accepted. */
static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
	struct http_server *srv = arg;
	struct bufferevent *bev;

	if (srv->naccepted == srv->capaccepted) {
		size_t cap = srv->capaccepted ? srv->capaccepted * 2 : 16;
		struct bufferevent **more = realloc(srv->accepted, cap * sizeof(*more));

		if (!more)
			return NULL; /* evhttp makes its own: this one goes uncounted */
		srv->accepted = more;
		srv->capaccepted = cap;
	}
	/* As evhttp makes them: it closes the socket itself. */
	bev = bufferevent_socket_new(base, -1, 0);
	if (!bev)
		return NULL;
	bufferevent_incref(bev); /* until adopt() has looked at it */
	srv->accepted[srv->naccepted++] = bev;
	/* Active now: runs after this accept, before the loop polls sockets again. */
	event_active(srv->adopt, EV_TIMEOUT, 1);
	return bev;
}

/* --- server -------------------------------------------------------------- */

static int listen_on(const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char host[256], port[8];
	int fd = -1, one = 1, ret;

	if (http__split_address(addr, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen, "listen address \"%s\": expected HOST:PORT", addr);
		return -EINVAL;
	}
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "listen address \"%s\": %s", addr, gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "listen address \"%s\": socket: %s", addr, strerror(errno));
		goto out;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 128)) {
		ret = -errno;
		snprintf(err, errlen, "cannot listen on %s: %s%s", addr, strerror(errno),
			 errno == EADDRINUSE ? " (another process has this port: pick another "
					       "with --listen)"
					     : "");
		close(fd);
		fd = ret;
		goto out;
	}
	ret = fd;
out:
	freeaddrinfo(res);
	return ret;
}

struct http_server *http_server__new(struct daemon *d, const char *addr, int *error, char *err,
				     size_t errlen)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	int fd;

	if (!srv) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->d = d;
	srv->stats = stats__new(d);
	fd = listen_on(addr, err, errlen);
	if (fd < 0) {
		*error = fd;
		free(srv);
		return NULL;
	}
	srv->http = evhttp_new(d->base);
	if (!srv->http || !evhttp_accept_socket_with_handle(srv->http, fd)) {
		*error = -ENOMEM;
		snprintf(err, errlen, "cannot serve HTTP on %s", addr);
		close(fd);
		http_server__free(srv);
		return NULL;
	}
	evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						      EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						      EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(srv->http, on_request, srv);
	srv->adopt = event_new(d->base, -1, 0, adopt, srv);
	if (!srv->adopt) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		http_server__free(srv);
		return NULL;
	}
	evhttp_set_bevcb(srv->http, new_connection, srv);
	http_server__apply_limits(srv);
	return srv;
}

void http_server__apply_limits(struct http_server *s)
{
	const struct settings *st = s->d->settings;

	evhttp_set_max_headers_size(s->http, st->max_header_bytes);
	evhttp_set_max_body_size(s->http, st->max_body_bytes);
	evhttp_set_timeout(s->http, st->request_timeout_seconds);
}

void http_server__drain(struct http_server *s, void (*done)(void *arg), void *arg)
{
	s->drained = done;
	s->drained_arg = arg;
	while (s->pending)
		finish_profile(s->pending);
	if (!s->inflight && s->drained) {
		s->drained = NULL;
		done(arg);
	}
}

void http_server__free(struct http_server *s)
{
	if (!s)
		return;
	while (s->pending)
		pending_free(s->pending);
	if (s->http)
		evhttp_free(s->http); /* closes every connection: on_connection_close */
	adopt(-1, 0, s);
	if (s->adopt)
		event_free(s->adopt);
	free(s->accepted);
	stats__free(s->stats);
	free(s);
}
