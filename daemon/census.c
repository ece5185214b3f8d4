// SPDX-License-Identifier: MIT
/*
 * census.c - see census.h.
 *
 * A census is two phases, each a loop that stops when the step's time is
 * up and goes on at the next step: the threads (readdir of task/, and the
 * syscall file of each thread whose stack pointer is not known yet), then
 * smaps, read 64 KiB at a time into the streaming parser, each mapping
 * classified by a binary search among the sorted stack pointers.  Nothing
 * in it is quadratic: O(threads log threads + mappings log threads).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "census.h"
#include "daemon.h"
#include "log.h"
#include "stats.h"
#include "target.h"

#define NS_PER_MS 1000000LL
#define SMAPS_READ_BYTES (64 * 1024)

struct thread_sp {
	pid_t tid;
	uint64_t sp;
};

enum census_phase { CENSUS_IDLE, CENSUS_THREADS, CENSUS_SMAPS };

struct census {
	struct daemon *d;
	struct event *timer;
	enum census_phase phase;
	unsigned count; /* completed */
	int64_t period_ns;
	int64_t read_ns; /* when a result was last asked for */
	bool have_last;
	struct census_result last;
	/* The census under way: */
	struct census_result cur;
	bool full;   /* every thread's stack pointer is read again */
	DIR *task;   /* /proc/PID/task, being listed */
	int64_t started_ns;
	bool eof;    /* smaps read to its end */
	struct thread_sp *known; /* the last census's, sorted by tid */
	size_t nknown, capknown;
	struct thread_sp *seen;  /* this one's */
	size_t nseen, capseen;
	uint64_t *sps;           /* sorted, for the smaps walk */
	size_t nsps;
	int smaps_fd;
	struct smaps_parser *parser;
	char buf[SMAPS_READ_BYTES];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_tid(const void *a, const void *b)
{
	const struct thread_sp *x = a, *y = b;

	return (x->tid > y->tid) - (x->tid < y->tid);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Whether a stack pointer lies in [start, end): a binary search. */
static bool holds_sp(const struct census *c, uint64_t start, uint64_t end)
{
	size_t lo = 0, hi = c->nsps;

	while (lo < hi) { /* the first sp >= start */
		size_t mid = lo + (hi - lo) / 2;

		if (c->sps[mid] < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->nsps && c->sps[lo] < end;
}

static void keep_top(struct census_result *r, const struct smaps_mapping *m)
{
	size_t i;

	if (r->ntop == CENSUS_TOP_MAPPINGS && m->rss <= r->top[CENSUS_TOP_MAPPINGS - 1].rss)
		return;
	i = r->ntop < CENSUS_TOP_MAPPINGS ? r->ntop++ : CENSUS_TOP_MAPPINGS - 1;
	/* Insertion: keep top[] sorted by rss, largest first. */
	while (i > 0 && r->top[i - 1].rss < m->rss) {
		r->top[i] = r->top[i - 1];
		memcpy(r->top_names[i], r->top_names[i - 1], sizeof(r->top_names[i]));
		i--;
	}
	r->top[i] = *m;
	snprintf(r->top_names[i], sizeof(r->top_names[i]), "%s", m->name);
}

static void on_mapping(const struct smaps_mapping *m, void *arg)
{
	struct census *c = arg;
	struct census_result *r = &c->cur;
	bool anon_name = !*m->name || !strncmp(m->name, "[anon", 5);

	keep_top(r, m);
	if (!strcmp(m->name, "[heap]")) {
		r->heap_brk += m->rss;
		return;
	}
	if (!strcmp(m->name, "[stack]")) {
		r->stacks += m->rss;
		return;
	}
	if (!anon_name || m->inode || m->perms[3] != 'p' || m->perms[1] != 'w')
		return;
	if (holds_sp(c, m->start, m->end))
		r->stacks += m->rss;
	else
		r->heap_anon += m->rss;
}

static void end_phase(struct census *c)
{
	if (c->task)
		closedir(c->task);
	c->task = NULL;
	if (c->smaps_fd >= 0)
		close(c->smaps_fd);
	c->smaps_fd = -1;
	smaps_parser__free(c->parser);
	c->parser = NULL;
}

static void fail(struct census *c, const char *what, int err)
{
	snprintf(c->cur.reason, sizeof(c->cur.reason), "%s: %s", what, strerror(err));
	c->cur.ok = false;
}

/* Starts a census of d->pid; cur.ok is false when there is nothing to measure. */
static bool begin(struct census *c)
{
	struct census_result *r = &c->cur;
	struct proc_stat st;
	char path[64], *text;
	size_t len;
	pid_t pid = c->d->pid;
	int ret;

	end_phase(c);
	memset(r, 0, sizeof(*r));
	r->pid = pid;
	r->ok = true;
	c->started_ns = clock_ns(CLOCK_MONOTONIC);
	c->eof = false;
	c->nseen = 0;
	c->nsps = 0;
	if (pid <= 0 || target__read_proc(pid, "stat", &text, &len)) {
		fail(c, "target not running", ESRCH);
		return false;
	}
	ret = stats__parse_stat(text, &st);
	free(text);
	if (ret) {
		fail(c, "/proc/PID/stat", EINVAL);
		return false;
	}
	r->starttime = st.starttime;
	/* Another process: what was known of the last one's threads is not. */
	if (!c->have_last || c->last.pid != pid || c->last.starttime != st.starttime)
		c->nknown = 0;
	c->full = !c->nknown || c->count % CENSUS_FULL_EVERY == 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	c->task = opendir(path);
	if (!c->task) {
		fail(c, "/proc/PID/task", errno);
		return false;
	}
	c->phase = CENSUS_THREADS;
	return true;
}

static const struct thread_sp *find_known(const struct census *c, pid_t tid)
{
	struct thread_sp key = { .tid = tid };

	return c->nknown ? bsearch(&key, c->known, c->nknown, sizeof(key), cmp_tid) : NULL;
}

/* The stack pointer of a blocked thread (task/TID/syscall). */
static int read_sp(struct census *c, pid_t tid, uint64_t *sp)
{
	char path[64], text[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%d/syscall", (int)tid);
	fd = openat(dirfd(c->task), path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return n ? -errno : -EINVAL;
	text[n] = '\0';
	c->cur.pointers_read++;
	return stats__parse_syscall_sp(text, sp);
}

static int add_seen(struct census *c, pid_t tid, uint64_t sp)
{
	if (c->nseen == c->capseen) {
		size_t cap = c->capseen ? c->capseen * 2 : 64;
		struct thread_sp *more = realloc(c->seen, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		c->seen = more;
		c->capseen = cap;
	}
	c->seen[c->nseen].tid = tid;
	c->seen[c->nseen].sp = sp;
	c->nseen++;
	return 0;
}

/* The threads are listed: sort what was found, open smaps. */
static void to_smaps(struct census *c)
{
	char path[64];
	uint64_t *sps = realloc(c->sps, (c->nseen ? c->nseen : 1) * sizeof(*sps));

	closedir(c->task);
	c->task = NULL;
	if (!sps) {
		fail(c, "stack pointers", ENOMEM);
		return;
	}
	c->sps = sps;
	for (size_t i = 0; i < c->nseen; i++)
		sps[i] = c->seen[i].sp;
	c->nsps = c->nseen;
	if (c->nsps)
		qsort(sps, c->nsps, sizeof(*sps), cmp_u64);
	c->cur.stack_pointers = c->nsps;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)c->cur.pid);
	c->smaps_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->smaps_fd < 0) {
		fail(c, "smaps not readable", errno);
		return;
	}
	c->parser = smaps_parser__new(on_mapping, c);
	if (!c->parser) {
		fail(c, "smaps", ENOMEM);
		return;
	}
	c->phase = CENSUS_SMAPS;
}

/* The census is over (complete or failed): it becomes the last one. */
static void finish(struct census *c)
{
	struct census_result *r = &c->cur;
	int64_t interval;

	if (c->parser && r->ok)
		r->mappings = smaps_parser__end(c->parser);
	end_phase(c);
	r->done_ns = clock_ns(CLOCK_MONOTONIC);
	r->wall_ns = r->done_ns - c->started_ns;
	c->last = *r;
	for (size_t i = 0; i < c->last.ntop; i++)
		c->last.top[i].name = c->last.top_names[i];
	c->have_last = true;
	if (r->ok) {
		/* What is known of the threads now, for the next census. */
		struct thread_sp *t = c->known;
		size_t cap = c->capknown;

		if (c->nseen)
			qsort(c->seen, c->nseen, sizeof(*c->seen), cmp_tid);
		c->known = c->seen;
		c->nknown = c->nseen;
		c->capknown = c->capseen;
		c->seen = t;
		c->capseen = cap;
		c->nseen = 0;
	}
	c->count++;
	c->phase = CENSUS_IDLE;
	/* At most CENSUS_CPU_PERCENT of a core: a census costing X waits 100/P X. */
	interval = r->cpu_ns * (100 / CENSUS_CPU_PERCENT);
	c->period_ns = interval > CENSUS_PERIOD_MS * NS_PER_MS ? interval
							       : CENSUS_PERIOD_MS * NS_PER_MS;
	if (r->wall_ns > 100 * NS_PER_MS)
		pr_debug("census of %d: %zu threads (%zu stack pointers read), %zu mappings in "
			 "%u steps, %.1f ms (%.1f ms CPU)",
			 (int)r->pid, r->threads, r->pointers_read, r->mappings, r->steps,
			 r->wall_ns / 1e6, r->cpu_ns / 1e6);
}

/* Up to 16 threads of the listing.  */
static void some_threads(struct census *c)
{
	for (int i = 0; i < 16; i++) {
		struct dirent *e = readdir(c->task);
		const struct thread_sp *k;
		uint64_t sp;
		pid_t tid;

		if (!e) {
			to_smaps(c);
			return;
		}
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		tid = atoi(e->d_name);
		c->cur.threads++;
		k = c->full ? NULL : find_known(c, tid);
		if (k)
			sp = k->sp;
		else if (read_sp(c, tid, &sp))
			continue; /* running, or gone: no stack pointer */
		if (add_seen(c, tid, sp)) {
			fail(c, "threads", ENOMEM);
			return;
		}
	}
}

/* One read of smaps (up to 64 KiB: a few dozen mappings). */
static void some_smaps(struct census *c)
{
	ssize_t n = read(c->smaps_fd, c->buf, sizeof(c->buf));

	if (n > 0)
		smaps_parser__feed(c->parser, c->buf, n);
	else if (!n)
		c->eof = true;
	else if (errno != EINTR)
		fail(c, "smaps not readable", errno);
}

/*
 * Works on the census (starting one when none is under way) until it is
 * done or deadline (CLOCK_MONOTONIC) passes; a clock read between pieces of
 * a few µs each.  True when it is done.
 */
static bool work(struct census *c, int64_t deadline)
{
	int64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	bool done;

	if (c->phase != CENSUS_IDLE && c->cur.pid != c->d->pid)
		c->phase = CENSUS_IDLE; /* the target changed under it: start again */
	if (c->phase == CENSUS_IDLE)
		begin(c);
	while (c->cur.ok && !c->eof && clock_ns(CLOCK_MONOTONIC) < deadline) {
		if (c->phase == CENSUS_THREADS)
			some_threads(c);
		else
			some_smaps(c);
	}
	c->cur.cpu_ns += clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	c->cur.steps++;
	done = !c->cur.ok || c->eof;
	if (done)
		finish(c);
	return done;
}

static void schedule(struct census *c, int64_t ns)
{
	struct timeval tv = { .tv_sec = ns / 1000000000LL, .tv_usec = ns % 1000000000LL / 1000 };

	evtimer_add(c->timer, &tv);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct census *c = arg;

	(void)fd;
	(void)what;
	if (work(c, clock_ns(CLOCK_MONOTONIC) + CENSUS_STEP_MS * NS_PER_MS)) {
		/* Nobody asked for a while: no more until someone does. */
		if (clock_ns(CLOCK_MONOTONIC) - c->read_ns < CENSUS_IDLE_MS * NS_PER_MS)
			schedule(c, c->period_ns);
	} else
		schedule(c, 0); /* the next step, once the loop has served what waits */
}

struct census *census__new(struct daemon *d)
{
	struct census *c = calloc(1, sizeof(*c));
	int64_t deadline = clock_ns(CLOCK_MONOTONIC) + CENSUS_START_MS * NS_PER_MS;
	bool done;

	if (!c)
		return NULL;
	c->d = d;
	c->smaps_fd = -1;
	c->period_ns = CENSUS_PERIOD_MS * NS_PER_MS;
	c->read_ns = clock_ns(CLOCK_MONOTONIC);
	c->timer = evtimer_new(d->base, on_timer, c);
	if (!c->timer) {
		free(c);
		return NULL;
	}
	do
		done = work(c, deadline);
	while (!done && clock_ns(CLOCK_MONOTONIC) < deadline);
	schedule(c, done ? c->period_ns : 0);
	return c;
}

void census__free(struct census *c)
{
	if (!c)
		return;
	end_phase(c);
	if (c->timer)
		event_free(c->timer);
	free(c->known);
	free(c->seen);
	free(c->sps);
	free(c);
}

const struct census_result *census__last(struct census *c, pid_t pid, uint64_t starttime,
					 const char **why)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);
	bool mine = c->have_last && c->last.pid == pid &&
		    (!starttime || c->last.starttime == starttime);

	c->read_ns = now;
	/*
	 * Another target's (a restart): the next census starts at once, not
	 * after the last target's period; idle and stale: likewise.  One under
	 * way sees the new pid at its next step.
	 */
	if ((!mine && c->phase == CENSUS_IDLE) ||
	    (!evtimer_pending(c->timer, NULL) && now - c->last.done_ns >= c->period_ns))
		schedule(c, 0);
	if (mine)
		return &c->last;
	*why = "measuring: the first census of the target's memory is under way";
	return NULL;
}

const struct census_result *census__latest(const struct census *c)
{
	return c->have_last ? &c->last : NULL;
}

unsigned census__count(const struct census *c)
{
	return c->count;
}

int64_t census__period_ns(const struct census *c)
{
	return c->period_ns;
}
