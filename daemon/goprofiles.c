// SPDX-License-Identifier: MIT
/*
 * goprofiles.c - see goprofiles.h.
 *
 * The goroutine table keeps its stacks from one dump to the next and only
 * zeroes their values, as the thread dump does: a snapshot taken for
 * ?seconds=N stays valid, index by index.  What the ?debug=2 dump needs
 * beyond the stack (id, status, wait, creator) is kept per goroutine of the
 * last dump, with its frames in one array.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "alloc.h"
#include "collector.h"
#include "collectors.h"
#include "config.h"
#include "goprofiles.h"
#include "golabels.h"
#include "goruntime.h"
#include "lock.h"
#include "log.h"
#include "offcpu.h"
#include "stacks.h"
#include "symbolize.h"
#include "threads.h"

/* --- names --------------------------------------------------------------- */

/* The function (outermost of an inline chain) at pc, or NULL. */
static const char *function_at(struct symbolizer *sym, uint64_t pc)
{
	struct symbol_location loc;

	if (symbolizer__lookup(sym, pc, &loc) || !loc.nframes)
		return NULL;
	return loc.frames[loc.nframes - 1].function;
}

/*
 * runtime.isSystemGoroutine: a goroutine whose function is the runtime's
 * (runtime.main excepted) is not counted by runtime.NumGoroutine nor shown
 * in the goroutine profile.  (runtime.runfinq counts as system, as it does
 * in NumGoroutine while no finalizer runs.)
 */
static bool system_goroutine(struct symbolizer *sym, uint64_t start_pc)
{
	const char *fn = function_at(sym, start_pc);

	return fn && !strncmp(fn, "runtime.", 8) && strcmp(fn, "runtime.main") &&
	       strcmp(fn, "runtime.main.abi0");
}

/* traceback.go showfuncinfo(): runtime internals are hidden, exported runtime shown. */
static bool shown_frame(const char *fn)
{
	if (!fn)
		return true;
	if (!strchr(fn, '.'))
		return false;
	if (strncmp(fn, "runtime.", 8))
		return true;
	return isupper((unsigned char)fn[8]);
}

/* --- goroutine ----------------------------------------------------------- */

struct goroutine_info {
	uint64_t goid, parent_goid, go_pc;
	uint32_t status, wait_reason;
	int64_t wait_since;
	bool locked, unavailable;
	size_t first_pc; /* in the collector's pcs */
	uint32_t npcs;
};

struct go_goroutine_collector {
	struct collector c; /* first: container_of by cast */
	struct go_runtime *rt;
	struct symbolizer *sym;
	struct goroutine_info *gs;
	size_t ngs, cap_gs;
	uint64_t *pcs; /* the frames of every goroutine of the last dump */
	size_t npcs, cap_pcs;
	uint64_t dumps, last_dump_ns, max_dump_ns, dump_errors, system, dropped;
	int last_error;
	/* pprof labels (golabels.h): g.labels of each goroutine, read at the dump */
	bool have_labels;
	enum go_label_format label_format;
	struct go_label_buf label_buf;
	uint64_t labeled, labels_unreadable;
};

static const struct sample_type goroutine_types[] = {
    {"goroutine", "count"},
};

/*
 * The stack of a goroutine as the table keeps stacks: the saved pc and the
 * return addresses less one (the call), except a pc at a function's entry
 * (a goroutine that never ran).  Returns how many.
 */
static uint32_t table_stack(struct symbolizer *sym, const struct go_goroutine *g, uint64_t *pcs)
{
	uint32_t n = 0;

	if (g->stack_unavailable) {
		pcs[n++] = g->start_pc;
		return n;
	}
	for (uint32_t i = 0; i < g->npcs; i++) {
		uint64_t pc = g->pcs[i];

		if (i == 0) {
			struct symbol_location loc;

			if (!symbolizer__lookup(sym, pc, &loc) && loc.symbol_start == pc) {
				pcs[n++] = pc;
				continue;
			}
		}
		pcs[n++] = pc - 1;
	}
	if (g->truncated)
		pcs[n++] = STACK_PC_TRUNCATED;
	return n;
}

/*
 * The goroutine's pprof labels, as Go's goroutine profile carries them
 * (runtime_goroutineProfileWithLabels); NULL: none, or unreadable
 * (counted: the goroutine is kept, without them).
 */
static const struct stack_labels *goroutine_labels(struct go_goroutine_collector *gc,
						   const struct go_goroutine *g)
{
	if (!gc->have_labels || !g->labels)
		return NULL;
	if (go_labels__read(go_runtime__pid(gc->rt), gc->label_format, g->labels,
			    &gc->label_buf)) {
		gc->labels_unreadable++;
		return NULL;
	}
	if (!gc->label_buf.labels.n)
		return NULL;
	gc->labeled++;
	return &gc->label_buf.labels;
}

static int on_goroutine(void *ctx, const struct go_goroutine *g)
{
	struct go_goroutine_collector *gc = ctx;
	uint64_t pcs[GO_MAX_FRAMES + 1];
	struct goroutine_info *gi;
	int64_t one = 1;
	uint32_t n;

	if (system_goroutine(gc->sym, g->start_pc)) {
		gc->system++;
		return 0;
	}
	n = table_stack(gc->sym, g, pcs);
	if (gc->ngs == gc->cap_gs) {
		size_t cap = gc->cap_gs ? 2 * gc->cap_gs : 256;
		struct goroutine_info *more = realloc(gc->gs, cap * sizeof(*more));

		if (!more)
			goto drop;
		gc->gs = more;
		gc->cap_gs = cap;
	}
	if (gc->npcs + n > gc->cap_pcs) {
		size_t cap = gc->cap_pcs ? 2 * gc->cap_pcs : 4096;
		uint64_t *more;

		while (cap < gc->npcs + n)
			cap *= 2;
		more = realloc(gc->pcs, cap * sizeof(*more));
		if (!more)
			goto drop;
		gc->pcs = more;
		gc->cap_pcs = cap;
	}
	if (stack_table__add_labeled(gc->c.stacks, pcs, n, 0, "", goroutine_labels(gc, g), &one))
		goto drop;
	gi = &gc->gs[gc->ngs++];
	*gi = (struct goroutine_info){
	    .goid = g->goid,
	    .parent_goid = g->parent_goid,
	    .go_pc = g->go_pc,
	    .status = g->status,
	    .wait_reason = g->wait_reason,
	    .wait_since = g->wait_since,
	    .locked = g->locked,
	    .unavailable = g->stack_unavailable,
	    .first_pc = gc->npcs,
	    .npcs = n,
	};
	memcpy(gc->pcs + gc->npcs, pcs, n * sizeof(*pcs));
	gc->npcs += n;
	return 0;
drop:
	gc->dropped++;
	return 0;
}

static int64_t ns_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000000000LL + (now.tv_nsec - t0->tv_nsec);
}

static void goroutine_drain(struct collector *c)
{
	struct go_goroutine_collector *gc = (struct go_goroutine_collector *)c;
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	stack_table__zero(c->stacks);
	gc->ngs = 0;
	gc->npcs = 0;
	gc->system = 0;
	gc->labeled = 0;
	ret = go_runtime__goroutines(gc->rt, 0, on_goroutine, gc);
	if (ret) {
		gc->dump_errors++;
		gc->last_error = ret;
		pr_warn("goroutine: reading the Go runtime's goroutines: %s", strerror(-ret));
	}
	gc->dumps++;
	gc->last_dump_ns = ns_since(&t0);
	if (gc->last_dump_ns > gc->max_dump_ns)
		gc->max_dump_ns = gc->last_dump_ns;
	pr_debug("goroutine: %zu goroutines (%" PRIu64 " system) in %.3f ms", gc->ngs, gc->system,
		 gc->last_dump_ns / 1e6);
}

static int64_t count_period(const struct collector *c)
{
	(void)c;
	return 1;
}

/* The pc a text shows for a stored one: callers' return addresses again. */
static uint64_t shown_pc(uint64_t stored, const struct symbol_location *loc)
{
	return loc && loc->symbol_start == stored ? stored : stored + 1;
}

/*
 * One goroutine's frames as Go's traceback prints them: hidden runtime
 * frames skipped, "name(...)\n\tfile:line +0xoff" (the offset of the
 * return address; inlined frames without one).
 */
static void traceback_frames(FILE *f, const uint64_t *pcs, uint32_t n, struct symbolizer *sym)
{
	for (uint32_t i = 0; i < n; i++) {
		struct symbol_location loc;

		if (pcs[i] == STACK_PC_TRUNCATED) {
			fprintf(f, "...additional frames elided...\n");
			continue;
		}
		if (symbolizer__lookup(sym, pcs[i], &loc) || !loc.nframes) {
			fprintf(f, "%#" PRIx64 "(...)\n\t?:0\n", shown_pc(pcs[i], NULL));
			continue;
		}
		for (size_t k = 0; k < loc.nframes; k++) {
			const struct symbol_frame *fr = &loc.frames[k];
			bool last = k == loc.nframes - 1;
			uint64_t pc = shown_pc(pcs[i], &loc);

			if (!shown_frame(fr->function))
				continue;
			fprintf(f, "%s(...)\n\t%s:%d", fr->function ? fr->function : "?",
				fr->file ? fr->file : "?", fr->line);
			if (last && loc.symbol_start && pc > loc.symbol_start)
				fprintf(f, " +%#" PRIx64, pc - loc.symbol_start);
			fputc('\n', f);
		}
	}
}

/* traceback.go printcreatedby(): not for goroutine 1, nor a runtime creator. */
static void created_by(FILE *f, const struct goroutine_info *gi, struct symbolizer *sym)
{
	struct symbol_location loc;
	const char *fn;

	if (!gi->go_pc || gi->goid == 1)
		return;
	if (symbolizer__lookup(sym, gi->go_pc - 1, &loc) || !loc.nframes)
		return;
	fn = loc.frames[loc.nframes - 1].function;
	if (!shown_frame(fn))
		return;
	fprintf(f, "created by %s", fn ? fn : "?");
	if (gi->parent_goid)
		fprintf(f, " in goroutine %" PRIu64, gi->parent_goid);
	fprintf(f, "\n\t%s:%d", loc.frames[0].file ? loc.frames[0].file : "?", loc.frames[0].line);
	if (loc.symbol_start && gi->go_pc > loc.symbol_start)
		fprintf(f, " +%#" PRIx64, gi->go_pc - loc.symbol_start);
	fputc('\n', f);
}

/* traceback.go goroutineheader(). */
static void goroutine_header(FILE *f, const struct go_goroutine_collector *gc,
			     const struct goroutine_info *gi, int64_t now)
{
	uint32_t st = gi->status & ~(uint32_t)GO_STATUS_SCAN;
	const char *status = go_runtime__status_name(st);
	int64_t minutes = 0;

	if (st == GO_STATUS_WAITING && gi->wait_reason) {
		const char *why = go_runtime__wait_reason(gc->rt, gi->wait_reason);

		status = why ? why : "waiting";
	}
	if ((st == GO_STATUS_WAITING || st == GO_STATUS_SYSCALL) && gi->wait_since)
		minutes = (now - gi->wait_since) / 60000000000LL;
	fprintf(f, "goroutine %" PRIu64 " [%s", gi->goid, status);
	if (gi->status & GO_STATUS_SCAN)
		fprintf(f, " (scan)");
	if (minutes >= 1)
		fprintf(f, ", %" PRId64 " minutes", minutes);
	if (gi->locked)
		fprintf(f, ", locked to thread");
	fprintf(f, "]:\n");
}

/* ?debug=2: runtime.Stack(buf, true) of the last dump, in allgs order. */
static int goroutine_dump(const struct go_goroutine_collector *gc, struct symbolizer *sym,
			  char **out, size_t *len)
{
	struct timespec now;
	FILE *f = open_memstream(out, len);
	int64_t now_ns;

	if (!f)
		return -ENOMEM;
	clock_gettime(CLOCK_MONOTONIC, &now); /* runtime.nanotime() */
	now_ns = now.tv_sec * 1000000000LL + now.tv_nsec;
	for (size_t i = 0; i < gc->ngs; i++) {
		const struct goroutine_info *gi = &gc->gs[i];

		if (i)
			fputc('\n', f);
		goroutine_header(f, gc, gi, now_ns);
		if (gi->unavailable)
			fprintf(f, "\tgoroutine running on other thread; stack unavailable\n");
		else
			traceback_frames(f, gc->pcs + gi->first_pc, gi->npcs, sym);
		created_by(f, gi, sym);
	}
	return fclose(f) ? -ENOMEM : 0;
}

struct count_record {
	size_t index;
	int64_t count;
};

static int cmp_count_record(const void *a, const void *b)
{
	const struct count_record *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Whether fn is name, the ELF symbol's ABI suffix (".abi0") aside. */
static bool go_name_is(const char *fn, const char *name)
{
	size_t n = strlen(name);

	return fn && !strncmp(fn, name, n) && (!fn[n] || !strcmp(fn + n, ".abi0"));
}

/*
 * pprof.go printStackRecord(): "#\t0x<pc>\t<function>+0x<off>\t<file>:<line>",
 * runtime.goexit left out, and unless all_frames the leading runtime frames
 * too (all shown when nothing else is: Go's second try).
 */
static void go_text_frames(FILE *f, const struct stack *s, struct symbolizer *sym,
			   bool all_frames)
{
	bool show = false;

	for (int all = all_frames; all < 2 && !show; all++) {
		for (uint32_t i = 0; i < s->npcs; i++) {
			struct symbol_location loc;

			if (s->pcs[i] == STACK_PC_TRUNCATED)
				continue;
			if (symbolizer__lookup(sym, s->pcs[i], &loc) || !loc.nframes) {
				show = true;
				fprintf(f, "#\t%#" PRIx64 "\n", s->pcs[i]);
				continue;
			}
			for (size_t k = 0; k < loc.nframes; k++) {
				const struct symbol_frame *fr = &loc.frames[k];
				const char *fn = fr->function ? fr->function : "?";

				if (go_name_is(fn, "runtime.goexit") ||
				    (!all && !show && !strncmp(fn, "runtime.", 8)))
					continue;
				show = true;
				fprintf(f, "#\t%#" PRIx64 "\t%s+%#" PRIx64 "\t%s:%d\n", s->pcs[i],
					fn,
					loc.symbol_start && s->pcs[i] >= loc.symbol_start
					    ? s->pcs[i] - loc.symbol_start
					    : 0,
					fr->file ? fr->file : "?", fr->line);
			}
		}
	}
}

/* strconv.Quote() of s: Go's %q (bytes from 0x80 as they are). */
static void go_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\a':
			fputs("\\a", f);
			break;
		case '\b':
			fputs("\\b", f);
			break;
		case '\f':
			fputs("\\f", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\v':
			fputs("\\v", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(f, "\\x%02x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* labelMap.String(): "# labels: {"k":"v", ...}", the pairs sorted as strings. */
static void label_line(FILE *f, const struct stack_labels *l)
{
	/* Sorted by key: the order of Go's "k":"v" strings too, but where one key is
	 * another's prefix followed by ' ' or '!' (Go: the longer first). */
	fputs("# labels: {", f);
	for (uint32_t i = 0; i < l->n; i++) {
		if (i)
			fputs(", ", f);
		go_quote(f, l->l[i].key);
		fputc(':', f);
		go_quote(f, l->l[i].value);
	}
	fputs("}\n", f);
}

/* ?debug=1: "goroutine profile: total N", then "count @ pcs" by count. */
static int goroutine_counts(const struct collector *c, const struct stack_snapshot *since,
			    struct symbolizer *sym, char **out, size_t *len)
{
	size_t n = stack_table__len(c->stacks), nrec = 0;
	struct count_record *recs = calloc(n ? n : 1, sizeof(*recs));
	int64_t total = 0;
	FILE *f;

	if (!recs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int64_t v;

		stack_table__delta(c->stacks, since, i, &v);
		if (v <= 0)
			continue;
		recs[nrec++] = (struct count_record){i, v};
		total += v;
	}
	qsort(recs, nrec, sizeof(*recs), cmp_count_record);
	f = open_memstream(out, len);
	if (!f) {
		free(recs);
		return -ENOMEM;
	}
	fprintf(f, "%s profile: total %" PRId64 "\n", c->name, total);
	for (size_t r = 0; r < nrec; r++) {
		const struct stack *s = stack_table__stack(c->stacks, recs[r].index);

		fprintf(f, "%" PRId64 " @", recs[r].count);
		for (uint32_t k = 0; k < s->npcs; k++) {
			struct symbol_location loc;

			if (s->pcs[k] == STACK_PC_TRUNCATED)
				continue;
			if (symbolizer__lookup(sym, s->pcs[k], &loc))
				fprintf(f, " %#" PRIx64, s->pcs[k] + 1);
			else
				fprintf(f, " %#" PRIx64, shown_pc(s->pcs[k], &loc));
		}
		fputc('\n', f);
		if (s->labels && s->labels->n)
			label_line(f, s->labels);
		go_text_frames(f, s, sym, false);
		fputc('\n', f);
	}
	free(recs);
	return fclose(f) ? -ENOMEM : 0;
}

static int goroutine_text(const struct collector *c, const struct stack_snapshot *since,
			  struct symbolizer *sym, int debug, char **out, size_t *len)
{
	if (debug >= 2 && !since)
		return goroutine_dump((const struct go_goroutine_collector *)c, sym, out, len);
	return goroutine_counts(c, since, sym, out, len);
}

static void goroutine_stats(const struct collector *c, cJSON *out)
{
	const struct go_goroutine_collector *gc = (const struct go_goroutine_collector *)c;

	cJSON_AddStringToObject(out, "source", "go runtime (runtime.allgs)");
	cJSON_AddStringToObject(out, "go_version", go_runtime__version(gc->rt));
	cJSON_AddStringToObject(out, "layouts", go_runtime__layout_source(gc->rt));
	cJSON_AddNumberToObject(out, "goroutines", gc->ngs);
	cJSON_AddNumberToObject(out, "system_goroutines", gc->system);
	cJSON_AddNumberToObject(out, "dumps", gc->dumps);
	cJSON_AddNumberToObject(out, "last_dump_ms", gc->last_dump_ns / 1e6);
	cJSON_AddNumberToObject(out, "longest_dump_ms", gc->max_dump_ns / 1e6);
	cJSON_AddNumberToObject(out, "dump_errors", gc->dump_errors);
	cJSON_AddNumberToObject(out, "records_lost", gc->dropped);
	cJSON_AddNumberToObject(out, "goroutines_labeled", gc->labeled);
	cJSON_AddNumberToObject(out, "labels_unreadable", gc->labels_unreadable);
}

static void goroutine_free(struct collector *c)
{
	struct go_goroutine_collector *gc = (struct go_goroutine_collector *)c;

	if (!gc)
		return;
	go_runtime__put(gc->rt);
	stack_table__free(c->stacks);
	free(gc->gs);
	free(gc->pcs);
	free(gc);
}

static const struct collector_ops goroutine_ops = {
    .acquire = collector__acquire_snapshot,
    .release = collector__release_snapshot,
    .drain = goroutine_drain,
    .text = goroutine_text,
    .period = count_period,
    .stats = goroutine_stats,
    .free = goroutine_free,
};

/* Why the last Go runtime could not be read: the fallback's comment. */
static char fallback_comment[320];

/*
 * The Go runtime of the target, or NULL: then *fallback says to open the
 * native collector (err has nothing to say for a target that is not Go).
 */
static struct go_runtime *runtime_or_fallback(const struct collector_env *env, const char *what,
					      const char **comment)
{
	char why[256];
	struct go_runtime *rt = go_runtime__get(env->pid, why, sizeof(why));

	*comment = NULL;
	if (rt)
		return rt;
	if (why[0]) {
		snprintf(fallback_comment, sizeof(fallback_comment), "Go runtime not read (%s): %s",
			 why, what);
		pr_warn("%s", fallback_comment);
		*comment = fallback_comment;
	}
	return NULL;
}

struct collector *goroutine_collector__new(const struct collector_env *env, int *error, char *err,
					   size_t errlen)
{
	struct go_goroutine_collector *gc;
	const char *comment;
	struct go_runtime *rt = runtime_or_fallback(env, "the OS threads are shown", &comment);

	if (!rt) {
		struct collector *c = thread_goroutine_collector__new(env, error, err, errlen);

		if (c && comment)
			c->comment = comment;
		return c;
	}
	gc = calloc(1, sizeof(*gc));
	if (!gc || !(gc->c.stacks = stack_table__new(1))) {
		free(gc);
		go_runtime__put(rt);
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	gc->rt = rt;
	gc->sym = env->sym;
	gc->have_labels = go_runtime__layout(rt)->g_labels >= 0 &&
			  !go_labels__format_of(go_runtime__version(rt), &gc->label_format);
	gc->c.name = "goroutine";
	gc->c.description = "Stack traces of all current goroutines, read from the Go runtime "
			    "without stopping it. Use debug=2 as a query parameter to export in "
			    "the same format as an unrecovered panic.";
	gc->c.mode = COLLECT_SNAPSHOT;
	gc->c.sample_types = goroutine_types;
	gc->c.nsample_types = 1;
	gc->c.period_type = (struct sample_type){"goroutine", "count"};
	gc->c.ops = &goroutine_ops;
	return &gc->c;
}

/* --- heap, allocs -------------------------------------------------------- */

/* One bucket as read (raw counts, for ?debug=1), its frames in the collector's pcs. */
struct heap_record {
	int64_t allocs, frees, alloc_bytes, free_bytes;
	size_t first_pc;
	uint32_t npcs;
};

struct go_heap_collector {
	struct collector c;
	struct go_runtime *rt;
	struct symbolizer *sym;
	int64_t rate; /* runtime.MemProfileRate at the last drain */
	struct heap_record *recs;
	size_t nrecs, cap_recs;
	uint64_t *pcs;
	size_t npcs, cap_pcs;
	uint64_t reads, errors, dropped, last_read_ns;
	char comment[512];
};

static const struct sample_type heap_types[] = {
    {"alloc_objects", "count"},
    {"alloc_space", "bytes"},
    {"inuse_objects", "count"},
    {"inuse_space", "bytes"},
};

/* pprof/protomem.go scaleHeapSample(): undoes the sampling at rate. */
static void scale_heap_sample(int64_t count, int64_t size, int64_t rate, int64_t *c, int64_t *s)
{
	double avg, scale;

	if (count == 0 || size == 0) {
		*c = 0;
		*s = 0;
		return;
	}
	if (rate <= 1) {
		*c = count;
		*s = size;
		return;
	}
	avg = (double)size / (double)count;
	scale = 1 / (1 - exp(-avg / (double)rate));
	*c = (int64_t)((double)count * scale);
	*s = (int64_t)((double)size * scale);
}

static int on_mem_record(void *ctx, const struct go_mem_record *r)
{
	struct go_heap_collector *hc = ctx;
	uint64_t pcs[GO_MAX_FRAMES];
	int64_t values[4];
	uint32_t n = 0, first = 0;

	if (!r->allocs && !r->frees)
		return 0;
	/* protomem.go: the runtime's own frames on top are hidden (unless all are). */
	while (first < r->nstk) {
		const char *fn = function_at(hc->sym, r->stk[first] - 1);

		if (!fn || strncmp(fn, "runtime.", 8))
			break;
		first++;
	}
	if (first == r->nstk)
		first = 0;
	for (uint32_t i = first; i < r->nstk; i++)
		pcs[n++] = r->stk[i] - 1; /* return addresses */
	scale_heap_sample(r->allocs, r->alloc_bytes, hc->rate, &values[0], &values[1]);
	scale_heap_sample(r->allocs - r->frees, r->alloc_bytes - r->free_bytes, hc->rate,
			  &values[2], &values[3]);
	if (hc->nrecs == hc->cap_recs) {
		size_t cap = hc->cap_recs ? 2 * hc->cap_recs : 256;
		struct heap_record *more = realloc(hc->recs, cap * sizeof(*more));

		if (!more)
			goto drop;
		hc->recs = more;
		hc->cap_recs = cap;
	}
	if (hc->npcs + n > hc->cap_pcs) {
		size_t cap = hc->cap_pcs ? 2 * hc->cap_pcs : 4096;
		uint64_t *more;

		while (cap < hc->npcs + n)
			cap *= 2;
		more = realloc(hc->pcs, cap * sizeof(*more));
		if (!more)
			goto drop;
		hc->pcs = more;
		hc->cap_pcs = cap;
	}
	if (stack_table__add(hc->c.stacks, pcs, n, 0, "", values))
		goto drop;
	hc->recs[hc->nrecs++] =
	    (struct heap_record){r->allocs, r->frees, r->alloc_bytes, r->free_bytes, hc->npcs, n};
	memcpy(hc->pcs + hc->npcs, pcs, n * sizeof(*pcs));
	hc->npcs += n;
	return 0;
drop:
	hc->dropped++;
	return 0;
}

static void heap_drain(struct collector *c)
{
	struct go_heap_collector *hc = (struct go_heap_collector *)c;
	struct timespec t0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	stack_table__zero(c->stacks);
	hc->nrecs = 0;
	hc->npcs = 0;
	if (go_runtime__mem_profile_rate(hc->rt, &hc->rate))
		hc->rate = 0;
	ret = go_runtime__mem_records(hc->rt, on_mem_record, hc);
	if (ret) {
		hc->errors++;
		pr_warn("%s: reading the Go runtime's memory profile: %s", c->name, strerror(-ret));
	}
	hc->reads++;
	hc->last_read_ns = ns_since(&t0);
}

static int heap_acquire(struct collector *c, const struct collect_request *req, char *err,
			size_t errlen)
{
	struct go_heap_collector *hc = (struct go_heap_collector *)c;
	int64_t rate = 0;

	(void)req;
	if (!go_runtime__mem_profile_rate(hc->rt, &rate) && rate == 0 && !hc->nrecs) {
		heap_drain(c);
		if (!hc->nrecs) {
			snprintf(err, errlen,
				 "%s profile unavailable: runtime.MemProfileRate is 0 in this Go "
				 "binary (the linker sets it so when nothing references "
				 "runtime.MemProfile): the runtime samples no allocations. Set "
				 "go.set_mem_profile_rate (e.g. 524288) in pprofd's config to have "
				 "it turned on at start",
				 c->name);
			return -ENOTSUP;
		}
	}
	return collector__acquire_snapshot(c, req, err, errlen);
}

static int64_t heap_period(const struct collector *c)
{
	return ((const struct go_heap_collector *)c)->rate;
}

static int cmp_heap_record(const void *a, const void *b)
{
	const struct heap_record *x = a, *y = b;
	int64_t ix = x->alloc_bytes - x->free_bytes, iy = y->alloc_bytes - y->free_bytes;

	return ix < iy ? 1 : ix > iy ? -1 : 0;
}

/*
 * pprof.go writeHeapInternal(debug=1): "heap profile: <inuse objs>: <inuse
 * bytes> [<alloc objs>: <alloc bytes>] @ heap/<2*rate>", then each bucket
 * with its raw counts, largest in use first.
 */
static int heap_text(const struct collector *c, const struct stack_snapshot *since,
		     struct symbolizer *sym, int debug, char **out, size_t *len)
{
	const struct go_heap_collector *hc = (const struct go_heap_collector *)c;
	struct heap_record *recs = calloc(hc->nrecs ? hc->nrecs : 1, sizeof(*recs));
	int64_t t[4] = {0};
	FILE *f;

	(void)since;
	(void)debug;
	if (!recs)
		return -ENOMEM;
	memcpy(recs, hc->recs, hc->nrecs * sizeof(*recs));
	qsort(recs, hc->nrecs, sizeof(*recs), cmp_heap_record);
	for (size_t i = 0; i < hc->nrecs; i++) {
		t[0] += recs[i].allocs - recs[i].frees;
		t[1] += recs[i].alloc_bytes - recs[i].free_bytes;
		t[2] += recs[i].allocs;
		t[3] += recs[i].alloc_bytes;
	}
	f = open_memstream(out, len);
	if (!f) {
		free(recs);
		return -ENOMEM;
	}
	fprintf(f,
		"heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRId64
		"\n",
		t[0], t[1], t[2], t[3], 2 * hc->rate);
	for (size_t i = 0; i < hc->nrecs; i++) {
		const struct heap_record *r = &recs[i];
		struct stack *s = malloc(sizeof(*s) + r->npcs * sizeof(uint64_t));

		fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @",
			r->allocs - r->frees, r->alloc_bytes - r->free_bytes, r->allocs,
			r->alloc_bytes);
		for (uint32_t k = 0; k < r->npcs; k++)
			fprintf(f, " %#" PRIx64, hc->pcs[r->first_pc + k] + 1);
		fputc('\n', f);
		if (s) {
			memset(s, 0, sizeof(*s));
			s->npcs = r->npcs;
			memcpy(s->pcs, hc->pcs + r->first_pc, r->npcs * sizeof(uint64_t));
			go_text_frames(f, s, sym, false);
			free(s);
		}
		fputc('\n', f);
	}
	free(recs);
	return fclose(f) ? -ENOMEM : 0;
}

static void heap_stats(const struct collector *c, cJSON *out)
{
	const struct go_heap_collector *hc = (const struct go_heap_collector *)c;

	cJSON_AddStringToObject(out, "source", "go runtime (runtime.mbuckets)");
	cJSON_AddNumberToObject(out, "mem_profile_rate", hc->rate);
	cJSON_AddNumberToObject(out, "buckets", hc->nrecs);
	cJSON_AddNumberToObject(out, "reads", hc->reads);
	cJSON_AddNumberToObject(out, "last_read_ms", hc->last_read_ns / 1e6);
	cJSON_AddNumberToObject(out, "read_errors", hc->errors);
	cJSON_AddNumberToObject(out, "records_lost", hc->dropped);
	cJSON_AddNumberToObject(out, "probes", 0);
}

static void heap_free(struct collector *c)
{
	struct go_heap_collector *hc = (struct go_heap_collector *)c;

	if (!hc)
		return;
	go_runtime__put(hc->rt);
	stack_table__free(c->stacks);
	free(hc->recs);
	free(hc->pcs);
	free(hc);
}

static const struct collector_ops heap_ops = {
    .acquire = heap_acquire,
    .release = collector__release_snapshot,
    .drain = heap_drain,
    .text = heap_text,
    .period = heap_period,
    .stats = heap_stats,
    .free = heap_free,
};

static struct collector *go_memory_collector__new(const struct collector_env *env, bool allocs,
						  int *error, char *err, size_t errlen)
{
	struct go_heap_collector *hc;
	const char *comment;
	struct go_runtime *rt =
	    runtime_or_fallback(env, "allocations are tracked by probes instead", &comment);
	int64_t rate = -1;

	if (rt && !go_runtime__has_mem_profile(rt)) {
		snprintf(fallback_comment, sizeof(fallback_comment),
			 "Go runtime's memory profile not read (%s: the layouts of its buckets are "
			 "not known, no DWARF and no table row): allocations are tracked by probes "
			 "instead",
			 go_runtime__version(rt));
		pr_warn("%s", fallback_comment);
		comment = fallback_comment;
		go_runtime__put(rt);
		rt = NULL;
	}
	if (!rt) {
		struct collector *c = allocs ? allocs_collector__new(env, error, err, errlen)
					     : heap_collector__new(env, error, err, errlen);

		if (c && comment && !c->comment)
			c->comment = comment;
		return c;
	}
	hc = calloc(1, sizeof(*hc));
	if (!hc || !(hc->c.stacks = stack_table__new(4))) {
		free(hc);
		go_runtime__put(rt);
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	hc->rt = rt;
	hc->sym = env->sym;
	go_runtime__mem_profile_rate(rt, &rate);
	/* The opt-in: the heap collector turns the runtime's sampling on, once. */
	if (!allocs && rate == 0 && env->settings && env->settings->go_set_mem_profile_rate > 0) {
		int ret =
		    go_runtime__set_mem_profile_rate(rt, env->settings->go_set_mem_profile_rate);

		if (ret)
			pr_warn("heap: cannot set runtime.MemProfileRate: %s", strerror(-ret));
		else
			pr_info("heap: runtime.MemProfileRate was 0, set to %d "
				"(go.set_mem_profile_rate)",
				env->settings->go_set_mem_profile_rate);
		go_runtime__mem_profile_rate(rt, &rate);
	}
	hc->rate = rate > 0 ? rate : 0;
	if (rate == 0)
		snprintf(hc->comment, sizeof(hc->comment),
			 "runtime.MemProfileRate is 0 in this Go binary (nothing references "
			 "runtime.MemProfile): the runtime samples no allocations; "
			 "go.set_mem_profile_rate turns it on");
	else
		snprintf(hc->comment, sizeof(hc->comment),
			 "From the Go runtime's memory profile (runtime.MemProfileRate %" PRId64
			 "): no probes.",
			 rate);
	hc->c.comment = hc->comment;
	hc->c.name = allocs ? "allocs" : "heap";
	hc->c.description = allocs
				? "A sampling of all past memory allocations."
				: "A sampling of memory allocations of live objects. You can "
				  "specify the gc GET parameter to run GC before taking the heap "
				  "sample.";
	hc->c.mode = COLLECT_SNAPSHOT;
	hc->c.sample_types = heap_types;
	hc->c.nsample_types = 4;
	hc->c.period_type = (struct sample_type){"space", "bytes"};
	hc->c.default_sample_type = allocs ? "alloc_space" : NULL;
	hc->c.ops = &heap_ops;
	return &hc->c;
}

struct collector *go_heap_collector__new(const struct collector_env *env, int *error, char *err,
					 size_t errlen)
{
	return go_memory_collector__new(env, false, error, err, errlen);
}

struct collector *go_allocs_collector__new(const struct collector_env *env, int *error, char *err,
					   size_t errlen)
{
	return go_memory_collector__new(env, true, error, err, errlen);
}

/* --- block, mutex -------------------------------------------------------- */

/* One bucket as read (raw, for ?debug=1), its frames in the collector's pcs. */
struct contention_record {
	int64_t count, cycles;
	size_t first_pc;
	uint32_t npcs;
};

struct go_contention_collector {
	struct collector c;
	struct go_runtime *rt;
	struct symbolizer *sym;
	enum go_contention which;
	int64_t rate;	     /* blockprofilerate (ticks) or mutexprofilerate, at the last drain */
	int64_t tps;	     /* cycles per second of the last drain */
	const char *tps_from; /* "runtime.ticks" or "measured" */
	bool scale_by_rate;  /* mutex before Go 1.22: pprof multiplies by the fraction */
	struct contention_record *recs;
	size_t nrecs, cap_recs;
	uint64_t *pcs;
	size_t npcs, cap_pcs;
	uint64_t reads, errors, dropped, last_read_ns;
	char comment[512];
};

static const struct sample_type contention_types[] = {
    {"contentions", "count"},
    {"delay", "nanoseconds"},
};

/*
 * A stack of runtime.Callers' logical frames (one pc per frame, an inlined
 * call's outer frames at the "fake" pcs of their inline marks) as physical
 * pcs, each with its inline chain: the pcs that only repeat the outer
 * frames of the chain before them dropped, as pprof's appendLocsForStack
 * merges them into one Location; runtime.goexit dropped, as there.  In
 * place; the new length.
 */
static uint32_t physical_stack(struct symbolizer *sym, uint64_t *pcs, uint32_t n)
{
	uint32_t out = 0;

	for (uint32_t i = 0; i < n;) {
		struct symbol_location loc;
		size_t k = 1;

		if (!symbolizer__lookup(sym, pcs[i], &loc) && loc.nframes &&
		    go_name_is(loc.frames[0].function, "runtime.goexit")) {
			i++; /* proto.go allFrames(): runtime.goexit is no Location */
			continue;
		}
		pcs[out++] = pcs[i];
		if (!symbolizer__lookup(sym, pcs[i], &loc)) {
			for (; k < loc.nframes && i + k < n; k++) {
				struct symbol_location outer;
				const char *want = loc.frames[k].function;
				const char *got;

				if (symbolizer__lookup(sym, pcs[i + k], &outer) || outer.nframes != 1)
					break;
				got = outer.frames[0].function;
				if (!want || !got || strcmp(want, got))
					break;
			}
		}
		i += (uint32_t)k;
	}
	return out;
}

static int on_block_record(void *ctx, const struct go_block_record *r)
{
	struct go_contention_collector *cc = ctx;
	uint64_t pcs[GO_MAX_FRAMES], table[GO_MAX_FRAMES];
	int64_t values[2], scale = cc->scale_by_rate ? cc->rate : 1;
	double ghz = (double)cc->tps / 1e9;
	uint32_t n;

	for (uint32_t i = 0; i < r->nstk; i++)
		pcs[i] = r->stk[i] - 1; /* return addresses */
	memcpy(table, pcs, r->nstk * sizeof(*pcs));
	n = physical_stack(cc->sym, table, r->nstk);
	/* pprof.go printCountCycleProfile(): [count, int64(cycles / cpuGHz)], mutex scaled. */
	values[0] = r->count * scale;
	values[1] = (int64_t)((double)r->cycles / ghz * (double)scale);
	if (cc->nrecs == cc->cap_recs) {
		size_t cap = cc->cap_recs ? 2 * cc->cap_recs : 256;
		struct contention_record *more = realloc(cc->recs, cap * sizeof(*more));

		if (!more)
			goto drop;
		cc->recs = more;
		cc->cap_recs = cap;
	}
	if (cc->npcs + r->nstk > cc->cap_pcs) {
		size_t cap = cc->cap_pcs ? 2 * cc->cap_pcs : 4096;
		uint64_t *more;

		while (cap < cc->npcs + r->nstk)
			cap *= 2;
		more = realloc(cc->pcs, cap * sizeof(*more));
		if (!more)
			goto drop;
		cc->pcs = more;
		cc->cap_pcs = cap;
	}
	if (stack_table__add(cc->c.stacks, table, n, 0, "", values))
		goto drop;
	cc->recs[cc->nrecs++] = (struct contention_record){r->count, r->cycles, cc->npcs, r->nstk};
	memcpy(cc->pcs + cc->npcs, pcs, r->nstk * sizeof(*pcs));
	cc->npcs += r->nstk;
	return 0;
drop:
	cc->dropped++;
	return 0;
}

static const char *contention_what(enum go_contention which)
{
	return which == GO_BLOCK_PROFILE ? "block" : "mutex";
}

static void contention_comment(struct go_contention_collector *cc)
{
	snprintf(cc->comment, sizeof(cc->comment),
		 "From the Go runtime's own %s profile (runtime.%s, %s %" PRId64
		 "): no probes. Cycles to nanoseconds at %" PRId64 " cycles/second (%s).",
		 contention_what(cc->which),
		 cc->which == GO_BLOCK_PROFILE ? "bbuckets" : "xbuckets",
		 cc->which == GO_BLOCK_PROFILE ? "blockprofilerate" : "mutexprofilerate", cc->rate,
		 cc->tps, cc->tps_from);
}

static void contention_drain(struct collector *c)
{
	struct go_contention_collector *cc = (struct go_contention_collector *)c;
	struct timespec t0;
	int64_t rate;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	stack_table__zero(c->stacks);
	cc->nrecs = 0;
	cc->npcs = 0;
	if (!go_runtime__contention_rate(cc->rt, cc->which, &rate))
		cc->rate = rate;
	ret = go_runtime__cycles_per_second(cc->rt, &cc->tps, &cc->tps_from);
	if (!ret)
		ret = go_runtime__contention_records(cc->rt, cc->which, on_block_record, cc);
	if (ret) {
		cc->errors++;
		pr_warn("%s: reading the Go runtime's %s profile: %s", c->name,
			contention_what(cc->which), strerror(-ret));
	}
	contention_comment(cc);
	cc->reads++;
	cc->last_read_ns = ns_since(&t0);
}

/*
 * printStackRecord(allFrames) of runtime.Callers' pcs: one frame a pc, the
 * innermost function at it (runtime.CallersFrames of logical pcs),
 * runtime.goexit left out.
 */
static void logical_frames(FILE *f, const uint64_t *pcs, uint32_t n, struct symbolizer *sym)
{
	for (uint32_t i = 0; i < n; i++) {
		struct symbol_location loc;
		const struct symbol_frame *fr;

		if (symbolizer__lookup(sym, pcs[i], &loc) || !loc.nframes) {
			fprintf(f, "#\t%#" PRIx64 "\n", pcs[i]);
			continue;
		}
		fr = &loc.frames[0];
		if (go_name_is(fr->function, "runtime.goexit"))
			continue;
		fprintf(f, "#\t%#" PRIx64 "\t%s+%#" PRIx64 "\t%s:%d\n", pcs[i],
			fr->function ? fr->function : "?",
			loc.symbol_start && pcs[i] >= loc.symbol_start ? pcs[i] - loc.symbol_start : 0,
			fr->file ? fr->file : "?", fr->line);
	}
}

static int cmp_contention_record(const void *a, const void *b)
{
	const struct contention_record *x = a, *y = b;

	return x->cycles < y->cycles ? 1 : x->cycles > y->cycles ? -1 : 0;
}

/*
 * pprof.go writeProfileInternal(debug=1): "--- contention:" (block) or
 * "--- mutex:", "cycles/second=N", for the mutex "sampling period=N", then
 * each bucket "<cycles> <count> @ pcs" with every frame, most cycles first.
 */
static int contention_text(const struct collector *c, const struct stack_snapshot *since,
			   struct symbolizer *sym, int debug, char **out, size_t *len)
{
	const struct go_contention_collector *cc = (const struct go_contention_collector *)c;
	struct contention_record *recs = calloc(cc->nrecs ? cc->nrecs : 1, sizeof(*recs));
	FILE *f;

	(void)since;
	(void)debug;
	if (!recs)
		return -ENOMEM;
	memcpy(recs, cc->recs, cc->nrecs * sizeof(*recs));
	qsort(recs, cc->nrecs, sizeof(*recs), cmp_contention_record);
	f = open_memstream(out, len);
	if (!f) {
		free(recs);
		return -ENOMEM;
	}
	fprintf(f, "--- %s:\ncycles/second=%" PRId64 "\n",
		cc->which == GO_BLOCK_PROFILE ? "contention" : "mutex", cc->tps);
	if (cc->which == GO_MUTEX_PROFILE)
		fprintf(f, "sampling period=%" PRId64 "\n", cc->rate);
	for (size_t i = 0; i < cc->nrecs; i++) {
		const struct contention_record *r = &recs[i];
		fprintf(f, "%" PRId64 " %" PRId64 " @", r->cycles, r->count);
		for (uint32_t k = 0; k < r->npcs; k++)
			fprintf(f, " %#" PRIx64, cc->pcs[r->first_pc + k] + 1);
		fputc('\n', f);
		logical_frames(f, cc->pcs + r->first_pc, r->npcs, sym);
		fputc('\n', f);
	}
	free(recs);
	return fclose(f) ? -ENOMEM : 0;
}

static void contention_stats(const struct collector *c, cJSON *out)
{
	const struct go_contention_collector *cc = (const struct go_contention_collector *)c;

	cJSON_AddStringToObject(out, "source",
				cc->which == GO_BLOCK_PROFILE ? "go runtime (runtime.bbuckets)"
							      : "go runtime (runtime.xbuckets)");
	cJSON_AddNumberToObject(out, cc->which == GO_BLOCK_PROFILE ? "block_profile_rate"
								   : "mutex_profile_fraction",
				cc->rate);
	cJSON_AddNumberToObject(out, "cycles_per_second", cc->tps);
	cJSON_AddStringToObject(out, "cycles_per_second_from", cc->tps_from ? cc->tps_from : "");
	cJSON_AddNumberToObject(out, "buckets", cc->nrecs);
	cJSON_AddNumberToObject(out, "reads", cc->reads);
	cJSON_AddNumberToObject(out, "last_read_ms", cc->last_read_ns / 1e6);
	cJSON_AddNumberToObject(out, "read_errors", cc->errors);
	cJSON_AddNumberToObject(out, "records_lost", cc->dropped);
	cJSON_AddNumberToObject(out, "probes", 0);
}

static void contention_free(struct collector *c)
{
	struct go_contention_collector *cc = (struct go_contention_collector *)c;

	if (!cc)
		return;
	if (c->inner)
		c->inner->ops->free(c->inner);
	go_runtime__put(cc->rt);
	stack_table__free(c->stacks);
	free(cc->recs);
	free(cc->pcs);
	free(cc);
}

static const struct collector_ops contention_ops = {
    .acquire = collector__acquire_snapshot,
    .release = collector__release_snapshot,
    .drain = contention_drain,
    .text = contention_text,
    .period = count_period,
    .stats = contention_stats,
    .free = contention_free,
};

/* Why the runtime's block / mutex profile is not the answer: the native one's comment. */
static char contention_fallback[2][640];

/*
 * The block or mutex collector of a Go target whose app turned the
 * runtime's profile on (SetBlockProfileRate, SetMutexProfileFraction): its
 * buckets.  Otherwise (rate 0, Go's default; or not Go) the OS-level
 * collector, its comment saying why.  The block row keeps the off-CPU
 * collector open in any case (inner): the trace and the health use it.
 */
static struct collector *go_contention_collector__new(const struct collector_env *env,
						      enum go_contention which, int *error,
						      char *err, size_t errlen)
{
	static const char *const native_what[] = {
	    [GO_BLOCK_PROFILE] = "the block profile is the OS-level off-CPU waits (probes)",
	    [GO_MUTEX_PROFILE] = "the mutex profile is the OS-level futex waits (probes)",
	};
	collector_new_fn native_new =
	    which == GO_BLOCK_PROFILE ? offcpu_collector__new : lock_collector__new;
	const char *what = contention_what(which), *comment;
	char why[320] = "";
	struct go_runtime *rt = runtime_or_fallback(env, native_what[which], &comment);
	struct go_contention_collector *cc;
	struct collector *native = NULL;
	int64_t rate = 0;

	if (comment)
		snprintf(why, sizeof(why), "%s", comment);
	if (rt && !go_runtime__has_contention_profile(rt, which)) {
		snprintf(why, sizeof(why),
			 "Go runtime's %s profile not read (%s: runtime.%s or runtime.%s not found, "
			 "no symbol table; a stripped binary that never calls runtime.%s has its "
			 "rate 0): %s",
			 what, go_runtime__version(rt),
			 which == GO_BLOCK_PROFILE ? "bbuckets" : "xbuckets",
			 which == GO_BLOCK_PROFILE ? "blockprofilerate" : "mutexprofilerate",
			 which == GO_BLOCK_PROFILE ? "SetBlockProfileRate" : "SetMutexProfileFraction",
			 native_what[which]);
	} else if (rt && go_runtime__contention_rate(rt, which, &rate)) {
		snprintf(why, sizeof(why), "Go runtime's %s profile rate unreadable: %s", what,
			 native_what[which]);
	} else if (rt && rate == 0) {
		snprintf(why, sizeof(why),
			 "The Go runtime's own %s profile is off (runtime.%s was 0, Go's default, "
			 "when pprofd attached: the app never called runtime.%s): %s",
			 what, which == GO_BLOCK_PROFILE ? "blockprofilerate" : "mutexprofilerate",
			 which == GO_BLOCK_PROFILE ? "SetBlockProfileRate" : "SetMutexProfileFraction",
			 native_what[which]);
	}
	if (!rt || why[0] || which == GO_BLOCK_PROFILE) {
		native = native_new(env, error, err, errlen);
		if (!native && (!rt || why[0])) {
			go_runtime__put(rt);
			return NULL;
		}
	}
	if (!rt || why[0]) {
		bool rt_seen = rt != NULL;

		go_runtime__put(rt);
		if (why[0]) {
			char *buf = contention_fallback[which];

			if (rt_seen)
				pr_info("%s", why); /* runtime_or_fallback() said its own */
			snprintf(buf, sizeof(contention_fallback[0]), "%s%s%s", why,
				 native->comment ? ". " : "", native->comment ? native->comment : "");
			native->comment = buf;
		}
		return native;
	}
	cc = calloc(1, sizeof(*cc));
	if (!cc || !(cc->c.stacks = stack_table__new(2))) {
		free(cc);
		if (native)
			native->ops->free(native);
		go_runtime__put(rt);
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cc->rt = rt;
	cc->sym = env->sym;
	cc->which = which;
	cc->rate = rate;
	cc->tps_from = "";
	cc->scale_by_rate = which == GO_MUTEX_PROFILE && go_runtime__version_number(rt) < 122;
	/* A block collector that could not open stays out: the profile needs none. */
	cc->c.inner = native;
	contention_comment(cc);
	cc->c.comment = cc->comment;
	cc->c.name = what;
	cc->c.description = which == GO_BLOCK_PROFILE
				? "Stack traces that led to blocking on synchronization primitives, "
				  "from the Go runtime's own block profile."
				: "Stack traces of holders of contended mutexes, from the Go "
				  "runtime's own mutex profile.";
	cc->c.mode = COLLECT_SNAPSHOT;
	cc->c.sample_types = contention_types;
	cc->c.nsample_types = 2;
	cc->c.period_type = (struct sample_type){"contentions", "count"};
	cc->c.ops = &contention_ops;
	pr_info("%s: from the Go runtime's own %s profile (rate %" PRId64 ")", what, what, rate);
	return &cc->c;
}

struct collector *go_block_collector__new(const struct collector_env *env, int *error, char *err,
					  size_t errlen)
{
	return go_contention_collector__new(env, GO_BLOCK_PROFILE, error, err, errlen);
}

struct collector *go_mutex_collector__new(const struct collector_env *env, int *error, char *err,
					  size_t errlen)
{
	return go_contention_collector__new(env, GO_MUTEX_PROFILE, error, err, errlen);
}

/* --- /debug/metrics ------------------------------------------------------ */

void goprofiles__metrics(pid_t pid, cJSON *root)
{
	char why[256];
	struct go_runtime *rt = go_runtime__get(pid, why, sizeof(why));
	cJSON *o;

	if (!rt && !why[0])
		return; /* not Go */
	o = cJSON_AddObjectToObject(root, "go_runtime");
	if (!o) {
		go_runtime__put(rt);
		return;
	}
	cJSON_AddBoolToObject(o, "readable", rt != NULL);
	if (rt) {
		cJSON_AddStringToObject(o, "version", go_runtime__version(rt));
		cJSON_AddStringToObject(o, "layouts", go_runtime__layout_source(rt));
		cJSON_AddNullToObject(o, "reason");
	} else {
		cJSON_AddStringToObject(o, "reason", why);
	}
	go_runtime__put(rt);
}

/* --- /performance/stats, health, /metrics -------------------------------- */

struct count_ctx {
	struct symbolizer *sym;
	int64_t n;
};

static int count_user_goroutine(void *ctx, const struct go_goroutine *g)
{
	struct count_ctx *c = ctx;

	if (!system_goroutine(c->sym, g->start_pc))
		c->n++;
	return 0;
}

int goprofiles__stats(pid_t pid, struct symbolizer *sym, struct go_target_stats *out, char *why,
		      size_t whylen)
{
	struct go_runtime *rt = go_runtime__get(pid, why, whylen);
	struct count_ctx c = {sym, 0};

	memset(out, 0, sizeof(*out));
	out->goroutines = -1;
	if (!rt)
		return why[0] ? -errno : -ENOENT;
	snprintf(out->version, sizeof(out->version), "%s", go_runtime__version(rt));
	if (!go_runtime__goroutines(rt, GO_WALK_NO_STACKS, count_user_goroutine, &c))
		out->goroutines = c.n;
	out->have_gc = !go_runtime__gc_stats(rt, &out->gc);
	if (!out->have_gc)
		snprintf(why, whylen,
			 "%s: runtime.memstats not read (its layout or address is not known: no "
			 "DWARF and no table row for this version)",
			 out->version);
	go_runtime__put(rt);
	return 0;
}
