// SPDX-License-Identifier: MIT
/*
 * threads.c - see threads.h.
 *
 * goroutine: a request runs the task iterator (reads its fd to the end).
 * The BPF program visits each thread of the target in turn, pinned but not
 * stopped, writes its record to a ring buffer and one byte of seq output;
 * reading the iterator one byte at a time returns after every thread, and
 * the record is consumed (unwound, added to the table) before the next one
 * is taken, so the ring buffer never holds more than one or two.  The table
 * keeps its stacks from one dump to the next and only its values are
 * zeroed: a snapshot taken for ?seconds=N stays valid, index by index.
 *
 * threadcreate: task_newtask records through a ring buffer watched by the
 * event loop, into a cumulative table that lives as long as the daemon.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>

#include "bpfring.h"
#include "collector.h"
#include "collectors.h"
#include "log.h"
#include "pprofd.h"
#include "profile.h"
#include "stacks.h"
#include "symbolize.h"
#include "threads.h"
#include "threads.skel.h"
#include "unwind.h"

/* What the last dump found of one thread, beyond its stack. */
struct thread_info {
	uint32_t tid;
	char state; /* threads__state_letter() */
};

/* Who created a thread, for the dump's "created by". */
struct creation {
	uint32_t tid;     /* the thread created */
	uint32_t creator; /* the thread that created it */
	uint64_t pc;      /* the call that created it (into pthread_create) */
};

/* Creations remembered (the latest; older ones are overwritten). */
#define CREATIONS_KEPT 16384

struct threads_collector {
	struct collector c; /* first: container_of by cast */
	pid_t pid;
	bool creations; /* threadcreate; else goroutine */
	struct threads_bpf *skel;
	struct ring_watch ring; /* threadcreate: watched, records come any time */
	struct bpf_link *link;
	struct unwinder *uw;
	struct symbolizer *sym;
	struct user_stack_copy *scratch; /* for user_frames() */
	/* goroutine: the threads of the last dump, by tid */
	struct thread_info *threads;
	size_t nthreads, cap_threads;
	uint64_t dumps, last_dump_ns, max_dump_ns, dump_errors;
	/* threadcreate */
	uint64_t created;
	/* The latest creations, by new thread: "created by" in the dump. */
	struct creation *created_by;
	size_t ncreated_by, next_created_by;
	uint64_t dropped; /* out of memory in the daemon */
};

/*
 * The daemon's threadcreate collector (one target, one daemon): the
 * goroutine dump asks it who created each thread.
 */
static struct threads_collector *creation_tracer;

static const struct sample_type goroutine_sample_types[] = {
	{ "goroutine", "count" },
};

static const struct sample_type threadcreate_sample_types[] = {
	{ "threadcreate", "count" },
};

char threads__state_letter(uint32_t state, uint32_t exit_state)
{
	/* include/linux/sched.h: task_state_index(), TASK_REPORT. */
	static const char letters[] = "RSDTtXZPI";
	uint32_t report = (state | exit_state) & 0x7f;
	int i = 0;

	if (state == 0x402) /* TASK_IDLE: uninterruptible, not counted as load */
		return 'I';
	if (state == 0x1000) /* TASK_RTLOCK_WAIT: as uninterruptible */
		report = 0x2;
	while (report) { /* fls() */
		i++;
		report >>= 1;
	}
	return letters[i];
}

/*
 * The user frames of a copy into pcs (at most MAX_USER_FRAMES + 1); how
 * many.  A leaf without call frame information that has set up no frame of
 * its own (glibc's clone3 ends its FDE before the syscall, as the child's
 * stack is not the parent's) stops the unwinder at once: then the return
 * address is taken from the top of the stack and the unwinding goes on from
 * the caller.
 */
static size_t user_frames(struct threads_collector *tc, const struct user_stack_copy *user,
			  uint64_t *pcs)
{
	uint64_t off = user->sp - user->start, ra;
	size_t n, m;

	if (!user->sp)
		return 0;
	n = unwinder__user_stack(tc->uw, user, NULL, 0, pcs, MAX_USER_FRAMES + 1);
	if (n > 2 || !n || pcs[n - 1] != STACK_PC_TRUNCATED || user->sp < user->start ||
	    off + sizeof(ra) > user->len)
		return n;
	memcpy(&ra, user->stack + off, sizeof(ra));
	if (!ra || ra >= KERNEL_ADDR_MIN)
		return n;
	memcpy(tc->scratch, user, offsetof(struct user_stack_copy, stack));
	memcpy(tc->scratch->stack, user->stack, user->len);
	tc->scratch->ip = ra - 1; /* in the call: the caller's rule */
	tc->scratch->sp = user->sp + sizeof(ra);
	m = unwinder__user_stack(tc->uw, tc->scratch, NULL, 0, pcs + 1, MAX_USER_FRAMES);
	if (m < 2 || (m == 2 && pcs[2] == STACK_PC_TRUNCATED)) {
		/* No better: what the first attempt found. */
		return unwinder__user_stack(tc->uw, user, NULL, 0, pcs, MAX_USER_FRAMES + 1);
	}
	pcs[0] = user->ip;
	return m + 1;
}

/*
 * Kernel frames then user frames of a record, leaf first, into pcs; how
 * many.  leaf_exact: kernel_pcs[0] is where the thread is (else a return
 * address, as every caller's).
 */
static size_t record_stack(struct threads_collector *tc, const __u64 *kernel_pcs,
			   uint32_t kernel_depth, bool leaf_exact, const struct user_stack_copy *user,
			   uint64_t *pcs)
{
	size_t n = 0;

	/* Kernel frames: the leaf exactly, callers at return address - 1. */
	for (uint32_t i = 0; i < kernel_depth && i < MAX_STACK_DEPTH; i++)
		pcs[n++] = i || !leaf_exact ? kernel_pcs[i] - 1 : kernel_pcs[i];
	return n + user_frames(tc, user, pcs + n);
}

/*
 * Kernel frames of the tracing itself at the top of a stack taken in a
 * tracepoint: the BPF program (always the first), then the tracepoint's
 * dispatch (bpf_trace_run2, __traceiter_task_newtask, ...).
 */
static uint32_t tracing_frames(struct symbolizer *sym, const __u64 *pcs, uint32_t depth)
{
	uint32_t i = depth ? 1 : 0;

	for (; i < depth && i < 8; i++) {
		struct symbol_location loc;
		const char *fn;

		if (symbolizer__lookup(sym, pcs[i], &loc) || !loc.nframes)
			break;
		fn = loc.frames[loc.nframes - 1].function;
		if (!fn || (strncmp(fn, "bpf_trace_run", 13) && strncmp(fn, "__traceiter_", 12) &&
			    strncmp(fn, "__bpf_trace_", 12) && strncmp(fn, "bpf_prog_", 9)))
			break;
	}
	return i;
}

/* --- goroutine ----------------------------------------------------------- */

static int on_thread_record(void *ctx, void *data, size_t size)
{
	struct threads_collector *tc = ctx;
	const struct thread_record *r = data;
	uint64_t pcs[MAX_STACK_DEPTH + MAX_USER_FRAMES + 1];
	char name[TASK_COMM_LEN + 1];
	int64_t one = 1;
	size_t n;

	if (size < sizeof(*r))
		return 0;
	if (tc->nthreads == tc->cap_threads) {
		size_t cap = tc->cap_threads ? 2 * tc->cap_threads : 64;
		struct thread_info *more = realloc(tc->threads, cap * sizeof(*more));

		if (!more) {
			tc->dropped++;
			return 0;
		}
		tc->threads = more;
		tc->cap_threads = cap;
	}
	/* Another task's kernel stack is saved context: return addresses only. */
	n = record_stack(tc, r->kernel_pcs, r->kernel_depth, false, &r->user, pcs);
	memcpy(name, r->comm, TASK_COMM_LEN);
	name[TASK_COMM_LEN] = '\0';
	if (stack_table__add(tc->c.stacks, pcs, n, r->tid, name, &one)) {
		tc->dropped++;
		return 0;
	}
	tc->threads[tc->nthreads].tid = r->tid;
	tc->threads[tc->nthreads].state = threads__state_letter(r->state, r->exit_state);
	tc->nthreads++;
	return 0;
}

static int cmp_thread_info(const void *a, const void *b)
{
	uint32_t x = ((const struct thread_info *)a)->tid, y = ((const struct thread_info *)b)->tid;

	return (x > y) - (x < y);
}

static int64_t ns_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000000000LL + (now.tv_nsec - t0->tv_nsec);
}

/*
 * Takes every thread's stack afresh: values are zeroed, stacks kept (a
 * snapshot's indexes stay valid), and each thread found counts 1.
 */
static void goroutine_drain(struct collector *c)
{
	struct threads_collector *tc = (struct threads_collector *)c;
	struct timespec t0;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* Who created which thread, up to now: for the dump's "created by". */
	if (creation_tracer)
		ring_watch__consume(&creation_tracer->ring);
	stack_table__zero(c->stacks);
	tc->nthreads = 0;
	fd = bpf_iter_create(bpf_link__fd(tc->link));
	if (fd < 0) {
		tc->dump_errors++;
		pr_warn("goroutine: cannot run the task iterator: %s", strerror(errno));
		return;
	}
	for (;;) {
		char mark;
		ssize_t n = read(fd, &mark, 1);

		/* The thread just visited (if any) is in the ring buffer. */
		ring_watch__consume(&tc->ring);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			tc->dump_errors++;
			pr_warn("goroutine: reading the task iterator: %s", strerror(errno));
			break;
		}
	}
	close(fd);
	qsort(tc->threads, tc->nthreads, sizeof(*tc->threads), cmp_thread_info);
	tc->dumps++;
	tc->last_dump_ns = ns_since(&t0);
	if (tc->last_dump_ns > tc->max_dump_ns)
		tc->max_dump_ns = tc->last_dump_ns;
	pr_debug("goroutine: %zu threads in %.3f ms", tc->nthreads, tc->last_dump_ns / 1e6);
}

/* --- threadcreate -------------------------------------------------------- */

/*
 * The frame that asked for the thread: the caller of pthread_create (Go's
 * "created by" names the function with the go statement); without
 * pthread_create in the stack, the first user frame outside clone.
 */
static uint64_t creating_pc(struct symbolizer *sym, const uint64_t *pcs, size_t n)
{
	uint64_t first = 0;
	bool next = false;

	for (size_t i = 0; i < n; i++) {
		struct symbol_location loc;
		const char *fn;

		if (pcs[i] >= KERNEL_ADDR_MIN || pcs[i] == STACK_PC_TRUNCATED)
			continue;
		if (next)
			return pcs[i];
		if (symbolizer__lookup(sym, pcs[i], &loc) || !loc.nframes)
			fn = NULL;
		else
			fn = loc.frames[loc.nframes - 1].function;
		if (fn && strstr(fn, "pthread_create"))
			next = true;
		else if (!first && (!fn || !strstr(fn, "clone")))
			first = pcs[i];
	}
	return first;
}

static void remember_creation(struct threads_collector *tc, const struct thread_creation *r,
			      const uint64_t *pcs, size_t n)
{
	struct creation *c;

	if (!tc->created_by) {
		tc->created_by = calloc(CREATIONS_KEPT, sizeof(*tc->created_by));
		if (!tc->created_by)
			return;
	}
	c = &tc->created_by[tc->next_created_by];
	c->tid = r->new_tid;
	c->creator = r->tid;
	c->pc = creating_pc(tc->sym, pcs, n);
	tc->next_created_by = (tc->next_created_by + 1) % CREATIONS_KEPT;
	if (tc->ncreated_by < CREATIONS_KEPT)
		tc->ncreated_by++;
}

/* The latest creation of thread tid, or NULL. */
static const struct creation *find_creation(const struct threads_collector *tc, uint32_t tid)
{
	for (size_t k = 1; k <= tc->ncreated_by; k++) {
		const struct creation *c =
			&tc->created_by[(tc->next_created_by + CREATIONS_KEPT - k) % CREATIONS_KEPT];

		if (c->tid == tid)
			return c;
	}
	return NULL;
}

static int on_creation(void *ctx, void *data, size_t size)
{
	struct threads_collector *tc = ctx;
	const struct thread_creation *r = data;
	uint64_t pcs[MAX_STACK_DEPTH + MAX_USER_FRAMES + 1];
	char name[TASK_COMM_LEN + 1];
	int64_t one = 1;
	uint32_t skip;
	size_t n;

	if (size < sizeof(*r))
		return 0;
	skip = tracing_frames(tc->sym, r->kernel_pcs, r->kernel_depth);
	/* Below the tracing frames: the return address into copy_process(). */
	n = record_stack(tc, r->kernel_pcs + skip, r->kernel_depth - skip, !skip, &r->user, pcs);
	memcpy(name, r->comm, TASK_COMM_LEN);
	name[TASK_COMM_LEN] = '\0';
	if (stack_table__add(tc->c.stacks, pcs, n, r->tid, name, &one)) {
		tc->dropped++;
		pr_warn("threadcreate: out of memory: creation of thread %u dropped", r->new_tid);
		return 0;
	}
	tc->created++;
	remember_creation(tc, r, pcs, n);
	pr_debug("threadcreate: thread %u created by %u (%s)", r->new_tid, r->tid, name);
	return 0;
}

static void threadcreate_drain(struct collector *c)
{
	ring_watch__consume(&((struct threads_collector *)c)->ring);
}

static int threadcreate_acquire(struct collector *c, const struct collect_request *req, char *err,
				size_t errlen)
{
	(void)req;
	(void)err;
	(void)errlen;
	c->users++;
	return 0;
}

/* The constructor's own use is never released: it collects from start-up. */
static void threadcreate_release(struct collector *c)
{
	if (c->users > 1)
		c->users--;
}

/* --- text ---------------------------------------------------------------- */

/*
 * Go's count format (?debug=1): threads with the same stack are one record,
 * whatever their names, as goroutines with the same stack are in Go.
 */
static int count_text(const struct collector *c, const struct stack_snapshot *since,
		      struct symbolizer *sym, int debug, char **out, size_t *len)
{
	struct stack_table *merged = stack_table__new(1);
	struct collector view = *c;
	int ret = 0;

	if (!merged)
		return -ENOMEM;
	for (size_t i = 0; i < stack_table__len(c->stacks); i++) {
		const struct stack *s = stack_table__stack(c->stacks, i);
		int64_t v;

		stack_table__delta(c->stacks, since, i, &v);
		if (!v)
			continue;
		ret = stack_table__add(merged, s->pcs, s->npcs, 0, "", &v);
		if (ret)
			goto out;
	}
	view.stacks = merged;
	ret = profile__text(&view, NULL, sym, debug, out, len);
out:
	stack_table__free(merged);
	return ret;
}

/* One stack as Go's goroutine dump writes one: "function(...)\n\tfile:line +0xoff". */
static void dump_frames(FILE *f, const struct stack *s, struct symbolizer *sym)
{
	for (uint32_t i = 0; i < s->npcs; i++) {
		uint64_t pc = s->pcs[i];
		struct symbol_location loc;

		if (pc == STACK_PC_TRUNCATED) {
			fprintf(f, "...additional frames elided...\n");
			continue;
		}
		if (symbolizer__lookup(sym, pc, &loc) || !loc.nframes) {
			fprintf(f, "%#" PRIx64 "(...)\n", pc);
			if (loc.mapping)
				fprintf(f, "\t%s +%#" PRIx64 "\n", loc.mapping->path,
					pc - loc.mapping->start + loc.mapping->offset);
			else
				fprintf(f, "\t? +%#" PRIx64 "\n", pc);
			continue;
		}
		/* Inlined frames share the pc: innermost first, the offset on the last. */
		for (size_t k = 0; k < loc.nframes; k++) {
			const struct symbol_frame *fr = &loc.frames[k];
			bool last = k == loc.nframes - 1;

			fprintf(f, "%s(...)\n\t", fr->function ? fr->function : "?");
			if (fr->file)
				fprintf(f, "%s:%d", fr->file, fr->line);
			else
				fprintf(f, "%s", loc.mapping ? loc.mapping->path : "?");
			if (last && loc.symbol_start && pc >= loc.symbol_start)
				fprintf(f, " +%#" PRIx64, pc - loc.symbol_start);
			fputc('\n', f);
		}
	}
}

/* Go's "created by F in goroutine N" line, for a thread created since attach. */
static void dump_created_by(FILE *f, const struct creation *c, struct symbolizer *sym)
{
	struct symbol_location loc;
	const struct symbol_frame *fr;

	if (!c || !c->pc)
		return;
	if (symbolizer__lookup(sym, c->pc, &loc) || !loc.nframes) {
		fprintf(f, "created by %#" PRIx64 " in thread %u\n", c->pc, c->creator);
		return;
	}
	fr = &loc.frames[0]; /* the innermost: where the call is */
	fprintf(f, "created by %s in thread %u\n\t", fr->function ? fr->function : "?", c->creator);
	if (fr->file)
		fprintf(f, "%s:%d", fr->file, fr->line);
	else
		fprintf(f, "%s", loc.mapping ? loc.mapping->path : "?");
	if (loc.symbol_start && c->pc >= loc.symbol_start)
		fprintf(f, " +%#" PRIx64, c->pc - loc.symbol_start);
	fputc('\n', f);
}

struct dump_entry {
	uint32_t tid;
	size_t index;
};

static int cmp_dump_entry(const void *a, const void *b)
{
	const struct dump_entry *x = a, *y = b;

	if (x->tid != y->tid)
		return (x->tid > y->tid) - (x->tid < y->tid);
	return (x->index > y->index) - (x->index < y->index);
}

/*
 * ?debug=2: every thread of the last dump, by thread ID, as Go's full
 * goroutine dump: "thread TID [STATE, NAME]:", its frames, a blank line.
 */
static int dump_text(const struct threads_collector *tc, struct symbolizer *sym, char **out,
		     size_t *len)
{
	const struct stack_table *t = tc->c.stacks;
	struct dump_entry *entries = calloc(stack_table__len(t) + 1, sizeof(*entries));
	size_t n = 0;
	FILE *f;

	if (!entries)
		return -ENOMEM;
	for (size_t i = 0; i < stack_table__len(t); i++)
		if (stack_table__values(t, i)[0] > 0)
			entries[n++] = (struct dump_entry){ stack_table__stack(t, i)->tid, i };
	qsort(entries, n, sizeof(*entries), cmp_dump_entry);
	f = open_memstream(out, len);
	if (!f) {
		free(entries);
		return -ENOMEM;
	}
	for (size_t e = 0; e < n; e++) {
		const struct stack *s = stack_table__stack(t, entries[e].index);
		struct thread_info key = { .tid = s->tid }, *info;

		info = bsearch(&key, tc->threads, tc->nthreads, sizeof(key), cmp_thread_info);
		if (e)
			fputc('\n', f);
		fprintf(f, "thread %u [%c, %s]:\n", s->tid, info ? info->state : '?', s->thread);
		dump_frames(f, s, sym);
		if (creation_tracer)
			dump_created_by(f, find_creation(creation_tracer, s->tid), sym);
	}
	free(entries);
	return fclose(f) ? -ENOMEM : 0;
}

static int threads_text(const struct collector *c, const struct stack_snapshot *since,
			struct symbolizer *sym, int debug, char **out, size_t *len)
{
	const struct threads_collector *tc = (const struct threads_collector *)c;

	/* Go: threadcreate's debug=2 is its debug=1. */
	if (debug >= 2 && !tc->creations && !since)
		return dump_text(tc, sym, out, len);
	return count_text(c, since, sym, debug, out, len);
}

/* --- common -------------------------------------------------------------- */

static int64_t threads_period(const struct collector *c)
{
	(void)c;
	return 1;
}

static uint64_t counter(const struct threads_collector *tc, uint32_t which)
{
	return bpf_counter__sum(bpf_map__fd(tc->skel->maps.counters), which);
}

static void threads_stats(const struct collector *c, cJSON *out)
{
	const struct threads_collector *tc = (const struct threads_collector *)c;

	if (tc->creations) {
		cJSON_AddNumberToObject(out, "threads_created", tc->created);
		cJSON_AddNumberToObject(out, "records_lost",
					counter(tc, THREADS_COUNTER_CREATE_LOST) + tc->dropped);
	} else {
		cJSON_AddNumberToObject(out, "threads", tc->nthreads);
		cJSON_AddNumberToObject(out, "dumps", tc->dumps);
		cJSON_AddNumberToObject(out, "last_dump_ms", tc->last_dump_ns / 1e6);
		cJSON_AddNumberToObject(out, "longest_dump_ms", tc->max_dump_ns / 1e6);
		/* The task iterator reads each thread where it is. */
		cJSON_AddNumberToObject(out, "longest_thread_stop_ns", 0);
		cJSON_AddNumberToObject(out, "records_lost",
					counter(tc, THREADS_COUNTER_DUMP_LOST) + tc->dropped);
		cJSON_AddNumberToObject(out, "dump_errors", tc->dump_errors);
	}
	cJSON_AddNumberToObject(out, "user_stack_unreadable",
				counter(tc, THREADS_COUNTER_USER_ERRORS));
}

static void threads_free(struct collector *c)
{
	struct threads_collector *tc = (struct threads_collector *)c;

	if (!tc)
		return;
	bpf_link__destroy(tc->link);
	ring_watch__close(&tc->ring);
	threads_bpf__destroy(tc->skel);
	stack_table__free(c->stacks);
	free(tc->threads);
	free(tc->scratch);
	free(tc->created_by);
	if (creation_tracer == tc)
		creation_tracer = NULL;
	free(tc);
}

static const struct collector_ops goroutine_ops = {
	.acquire = collector__acquire_snapshot,
	.release = collector__release_snapshot,
	.drain = goroutine_drain,
	.text = threads_text,
	.period = threads_period,
	.stats = threads_stats,
	.free = threads_free,
};

static const struct collector_ops threadcreate_ops = {
	.acquire = threadcreate_acquire,
	.release = threadcreate_release,
	.drain = threadcreate_drain,
	.text = threads_text,
	.period = threads_period,
	.stats = threads_stats,
	.free = threads_free,
};

/* Opens and loads the BPF object with only the program of this collector. */
static struct threads_collector *threads_open(const struct collector_env *env, bool creations,
					      int *error, char *err, size_t errlen)
{
	struct threads_collector *tc = calloc(1, sizeof(*tc));
	const char *what = creations ? "thread creation tracer" : "thread iterator";
	struct bpf_map *used, *unused;
	int ret;

	if (!tc) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	tc->pid = env->pid;
	tc->creations = creations;
	tc->uw = env->uw;
	tc->sym = env->sym;
	tc->c.period_type = creations ? (struct sample_type){ "threadcreate", "count" }
				      : (struct sample_type){ "goroutine", "count" };
	tc->c.sample_types = creations ? threadcreate_sample_types : goroutine_sample_types;
	tc->c.nsample_types = 1;
	tc->c.ops = creations ? &threadcreate_ops : &goroutine_ops;
	tc->c.stacks = stack_table__new(1);
	tc->scratch = malloc(sizeof(*tc->scratch));
	if (!tc->c.stacks || !tc->scratch) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	tc->skel = threads_bpf__open();
	if (!tc->skel) {
		ret = -errno;
		snprintf(err, errlen, "opening the %s BPF object: %s", what, strerror(errno));
		goto fail;
	}
	tc->skel->rodata->target_pid = env->pid;
	bpf_program__set_autoload(creations ? tc->skel->progs.dump_thread
					    : tc->skel->progs.on_task_newtask,
				  false);
	used = creations ? tc->skel->maps.creations : tc->skel->maps.thread_records;
	unused = creations ? tc->skel->maps.thread_records : tc->skel->maps.creations;
	/* The other collector's ring buffer: as small as one can be. */
	bpf_map__set_max_entries(unused, sysconf(_SC_PAGESIZE));
	ret = threads_bpf__load(tc->skel);
	if (ret) {
		snprintf(err, errlen, "loading the %s BPF program: %s", what, strerror(-ret));
		goto fail;
	}
	/* The goroutine dump consumes its records itself, after each read. */
	ret = ring_watch__open(&tc->ring, creations ? env->base : NULL, bpf_map__fd(used),
			       creations ? on_creation : on_thread_record, tc);
	if (ret) {
		snprintf(err, errlen, "watching the %s ring buffer: %s", what, strerror(-ret));
		goto fail;
	}
	return tc;
fail:
	*error = ret;
	threads_free(&tc->c);
	return NULL;
}

static struct collector *thread_dump__new(const struct collector_env *env, const char *name,
					  int *error, char *err, size_t errlen)
{
	union bpf_iter_link_info linfo = { .task.pid = env->pid };
	LIBBPF_OPTS(bpf_iter_attach_opts, opts, .link_info = &linfo,
		    .link_info_len = sizeof(linfo));
	struct threads_collector *tc = threads_open(env, false, error, err, errlen);
	int ret;

	if (!tc)
		return NULL;
	tc->c.name = name;
	tc->c.description = strcmp(name, "threads")
				    ? "Stack traces of all current threads (goroutines: a native "
				      "process's threads), without stopping them. Use debug=2 as a "
				      "query parameter to export in the same format as an "
				      "unrecovered panic."
				    : "Stack traces of all current OS threads of the target, kernel "
				      "and user frames, without stopping them. Use debug=2 for a "
				      "full dump, one block per thread.";
	tc->c.mode = COLLECT_SNAPSHOT;
	/* Visits the target's threads only. */
	tc->link = bpf_program__attach_iter(tc->skel->progs.dump_thread, &opts);
	if (!tc->link) {
		ret = -errno;
		snprintf(err, errlen, "attaching the task iterator to process %d: %s",
			 (int)env->pid, strerror(errno));
		*error = ret;
		threads_free(&tc->c);
		return NULL;
	}
	return &tc->c;
}

struct collector *threads_collector__new(const struct collector_env *env, int *error, char *err,
					 size_t errlen)
{
	return thread_dump__new(env, "threads", error, err, errlen);
}

struct collector *thread_goroutine_collector__new(const struct collector_env *env, int *error,
						  char *err, size_t errlen)
{
	return thread_dump__new(env, "goroutine", error, err, errlen);
}

struct collector *threadcreate_collector__new(const struct collector_env *env, int *error,
					      char *err, size_t errlen)
{
	struct threads_collector *tc = threads_open(env, true, error, err, errlen);
	int ret;

	if (!tc)
		return NULL;
	tc->c.name = "threadcreate";
	tc->c.description = "Stack traces that led to the creation of new OS threads (since "
			    "pprofd attached).";
	tc->c.mode = COLLECT_CUMULATIVE;
	tc->link = bpf_program__attach(tc->skel->progs.on_task_newtask);
	if (!tc->link) {
		ret = -errno;
		snprintf(err, errlen, "attaching to tp_btf/task_newtask: %s", strerror(errno));
		goto fail;
	}
	/* Collects from start-up: this use lasts as long as the daemon. */
	tc->c.users = 1;
	creation_tracer = tc;
	return &tc->c;
fail:
	*error = ret;
	threads_free(&tc->c);
	return NULL;
}
