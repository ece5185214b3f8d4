// SPDX-License-Identifier: MIT
/*
 * stats.c - see stats.h: the 1 s CPU sampler of the target and of pprofd,
 * /performance/stats, /performance/info, /performance/memory and
 * /performance/gc.  The /proc readers are in stats_proc.c, health in
 * stats_health.c, /metrics in stats_prom.c (stats_internal.h).
 *
 * Units: bytes, seconds, percent of one CPU (100 = one core busy, as top).
 * A number pprofd cannot read is null, with a "*_reason" next to it.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <elfutils/libdwfl.h>
#include <event2/event.h>
#include <gelf.h>
#include <libelf.h>
#include <zlib.h>

#include "census.h"
#include "collector.h"
#include "config.h"
#include "daemon.h"
#include "offcpu.h"
#include "stacks.h"
#include "goprofiles.h"
#include "stats_internal.h"
#include "symbolize.h"
#include "target.h"

/* --- the sampler --------------------------------------------------------- */

int64_t stats_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t stats_self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL + ru.ru_utime.tv_usec +
	       ru.ru_stime.tv_usec;
}

static void take_sample(struct stats *s, struct cpu_sample *out)
{
	struct proc_stat st;

	out->mono_ns = stats_mono_ns();
	out->pid = s->d->pid;
	out->target_ticks = stats_read_stat(s->d->pid, &st) && st.state != 'Z' && st.state != 'X'
				    ? (int64_t)(st.utime + st.stime)
				    : -1;
	out->self_us = stats_self_cpu_us();
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct stats *s = arg;

	(void)fd;
	(void)what;
	struct cpu_sample *c = &s->ring[s->head];
	uint64_t ns;

	take_sample(s, c);
	/*
	 * Scheduling stalls, the native counterpart of a GC pause: the block
	 * collector's BPF program keeps the longest runnable wait of a target
	 * thread (wakeup or preemption to switch-in); take it each second.
	 */
	c->runq_max_ns = -1;
	if (!offcpu_collector__take_runq_max(daemon__collector(s->d, "block"), &ns,
					     &c->runq_max_tid))
		c->runq_max_ns = ns;
	s->head = (s->head + 1) % RING;
	if (s->count < RING)
		s->count++;
}

struct stats *stats__new(struct daemon *d)
{
	struct stats *s = calloc(1, sizeof(*s));
	const struct timeval second = { .tv_sec = 1 };

	if (!s)
		return NULL;
	s->d = d;
	s->tick_hz = sysconf(_SC_CLK_TCK);
	if (s->tick_hz <= 0)
		s->tick_hz = 100;
	s->timer = event_new(d->base, -1, EV_PERSIST, on_tick, s);
	s->census = census__new(d);
	if (!s->timer || !s->census || event_add(s->timer, &second)) {
		stats__free(s);
		return NULL;
	}
	on_tick(-1, 0, s);
	return s;
}

void stats__free(struct stats *s)
{
	if (!s)
		return;
	if (s->timer)
		event_free(s->timer);
	census__free(s->census);
	free(s);
}

void stats__count_response(struct stats *s, int code)
{
	if (!s)
		return;
	s->requests++;
	if (code >= 100 && code < 600)
		s->responses[code / 100]++;
}

void stats__set_connections(struct stats *s, unsigned open, uint64_t refused)
{
	if (!s)
		return;
	s->connections = open;
	if (open > s->connections_peak)
		s->connections_peak = open;
	s->connections_refused = refused;
}

/* The newest sample at least seconds old, or NULL. */
static const struct cpu_sample *sample_ago(const struct stats *s, int64_t now, int seconds)
{
	for (size_t i = 1; i <= s->count; i++) {
		const struct cpu_sample *c = &s->ring[(s->head + RING - i) % RING];

		if (now - c->mono_ns >= seconds * 1000000000LL)
			return c;
	}
	return NULL;
}

/*
 * Adds {"1s": %, "10s": %, "60s": %} of the target whose numbers t were just
 * read (NULL: of pprofd).
 */
static void add_cpu_percent(struct stats *s, cJSON *obj, const char *name,
			    const struct target_numbers *t)
{
	static const int windows[] = { 1, 10, 60 };
	cJSON *pct = cJSON_AddObjectToObject(obj, name);
	bool self = !t;
	struct cpu_sample now = {
		.mono_ns = stats_mono_ns(),
		.pid = s->d->pid,
		.target_ticks = t && t->running ? (int64_t)(t->st.utime + t->st.stime) : -1,
		.self_us = stats_self_cpu_us(),
	};

	for (size_t i = 0; i < 3; i++) {
		const struct cpu_sample *then = sample_ago(s, now.mono_ns, windows[i]);
		char key[8];
		double wall, busy;

		snprintf(key, sizeof(key), "%ds", windows[i]);
		if (!then || (!self && (then->pid != now.pid || then->target_ticks < 0 ||
					now.target_ticks < then->target_ticks))) {
			cJSON_AddNullToObject(pct, key);
			continue;
		}
		wall = (now.mono_ns - then->mono_ns) / 1e9;
		busy = self ? (now.self_us - then->self_us) / 1e6
			    : (double)(now.target_ticks - then->target_ticks) / s->tick_hz;
		cJSON_AddNumberToObject(pct, key, round(busy / wall * 1000) / 10);
	}
}

/* --- JSON helpers ------------------------------------------------------------ */

static void add_num(cJSON *o, const char *name, int64_t v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)v);
}

static void add_dbl(cJSON *o, const char *name, double v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, v);
}

static const char *state_name(char c)
{
	switch (c) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk sleep";
	case 'T': return "stopped";
	case 't': return "tracing stop";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	case 'P': return "parked";
	default: return "unknown";
	}
}

const char stats_not_running_reason[] = "target not running";

/*
 * The heap collector (allocation tracking) when it runs: its table's column
 * named inuse_space, and the column's index.  NULL with *why otherwise.
 */
static struct collector *live_heap(struct stats *s, size_t *col, const char **why)
{
	struct collector *c = daemon__collector(s->d, "heap");

	*why = "allocation tracking is not available";
	if (!c)
		return NULL;
	if (c->unavailable) {
		*why = c->unavailable;
		return NULL;
	}
	if (!c->users) {
		*why = "allocation tracking is not running";
		return NULL;
	}
	for (size_t i = 0; i < c->nsample_types; i++) {
		if (!strcmp(c->sample_types[i].type, "inuse_space")) {
			*col = i;
			c->ops->drain(c);
			return c;
		}
	}
	*why = "the heap collector has no inuse_space";
	return NULL;
}

/* Live heap from allocation tracking (sampled, scaled to estimates). */
static void add_live_heap(struct stats *s, cJSON *o)
{
	const char *why;
	size_t col = 0;
	struct collector *c = live_heap(s, &col, &why);
	int64_t sum = 0;

	if (!c) {
		cJSON_AddNullToObject(o, "live_heap_bytes");
		cJSON_AddStringToObject(o, "live_heap_reason", why);
		return;
	}
	for (size_t i = 0; i < stack_table__len(c->stacks); i++)
		sum += stack_table__values(c->stacks, i)[col];
	cJSON_AddNumberToObject(o, "live_heap_bytes", sum > 0 ? sum : 0);
	cJSON_AddStringToObject(o, "live_heap_source",
				"allocation tracking (the heap profile's inuse_space, sampled)");
}

/*
 * How old the heap/stacks split is (a census reads every mapping and thread
 * off the request path), or why there is none.
 */
static void add_heap_age(cJSON *o, const struct target_numbers *t)
{
	if (t->heap_age >= 0) {
		cJSON_AddNumberToObject(o, "age_seconds", round(t->heap_age * 1000) / 1000);
	} else {
		cJSON_AddNullToObject(o, "age_seconds");
		cJSON_AddStringToObject(o, "reason", t->heap_reason);
	}
}

/* The censuses of the target's memory: what the last one cost. */
static void add_census(struct stats *s, cJSON *self)
{
	cJSON *o = cJSON_AddObjectToObject(self, "memory_census");
	const struct census_result *r = census__latest(s->census);

	cJSON_AddNumberToObject(o, "count", census__count(s->census));
	cJSON_AddNumberToObject(o, "period_seconds", census__period_ns(s->census) / 1e9);
	if (!r)
		return;
	cJSON_AddNumberToObject(o, "last_wall_ms", round(r->wall_ns / 1e4) / 100);
	cJSON_AddNumberToObject(o, "last_cpu_ms", round(r->cpu_ns / 1e4) / 100);
	cJSON_AddNumberToObject(o, "last_steps", r->steps);
	cJSON_AddNumberToObject(o, "threads", r->threads);
	cJSON_AddNumberToObject(o, "stack_pointers", r->stack_pointers);
	cJSON_AddNumberToObject(o, "stack_pointers_read", r->pointers_read);
	cJSON_AddNumberToObject(o, "mappings", r->mappings);
	if (!r->ok)
		cJSON_AddStringToObject(o, "reason", r->reason);
}

static void add_self(struct stats *s, cJSON *root)
{
	struct daemon *d = s->d;
	cJSON *self = cJSON_AddObjectToObject(root, "pprofd"), *list, *http;
	char *status;
	size_t len;

	cJSON_AddStringToObject(self, "version", PPROFD_VERSION);
	cJSON_AddNumberToObject(self, "pid", getpid());
	cJSON_AddNumberToObject(self, "uptime_seconds",
				(stats_mono_ns() - (d->started.tv_sec * 1000000000LL + d->started.tv_nsec)) /
					1e9);
	cJSON_AddNumberToObject(self, "cpu_seconds", stats_self_cpu_us() / 1e6);
	add_cpu_percent(s, self, "cpu_percent", NULL);
	if (!target__read_proc(getpid(), "status", &status, &len)) {
		add_num(self, "rss_bytes", stats_field_or(status, "VmRSS"));
		free(status);
	} else {
		cJSON_AddNullToObject(self, "rss_bytes");
	}
	add_census(s, self);
	list = cJSON_AddArrayToObject(self, "collectors");
	for (size_t i = 0; i < d->ncollectors; i++)
		cJSON_AddItemToArray(list, collector__json(d->collectors[i], false));
	http = cJSON_AddObjectToObject(self, "http");
	cJSON_AddNumberToObject(http, "connections", s->connections);
	cJSON_AddNumberToObject(http, "connections_peak", s->connections_peak);
	cJSON_AddNumberToObject(http, "connections_refused", s->connections_refused);
	cJSON_AddNumberToObject(http, "max_connections", d->settings->max_connections);
	cJSON_AddNumberToObject(http, "responses", s->requests);
	for (int i = 2; i <= 5; i++) {
		char key[8];

		snprintf(key, sizeof(key), "%dxx", i);
		cJSON_AddNumberToObject(http, key, s->responses[i]);
	}
}

static void add_system(cJSON *root)
{
	cJSON *sys = cJSON_AddObjectToObject(root, "system"), *load, *mem;
	struct utsname u;
	double l[3];
	char *text;
	size_t len;

	if (!uname(&u)) {
		cJSON_AddStringToObject(sys, "kernel", u.release);
		cJSON_AddStringToObject(sys, "machine", u.machine);
	}
	cJSON_AddNumberToObject(sys, "cores", sysconf(_SC_NPROCESSORS_ONLN));
	load = cJSON_AddObjectToObject(sys, "load");
	/* /proc/PID/../X is /proc/X. */
	if (!target__read_proc(getpid(), "../loadavg", &text, &len)) {
		if (!stats__parse_loadavg(text, l)) {
			cJSON_AddNumberToObject(load, "1m", l[0]);
			cJSON_AddNumberToObject(load, "5m", l[1]);
			cJSON_AddNumberToObject(load, "15m", l[2]);
		}
		free(text);
	}
	mem = cJSON_AddObjectToObject(sys, "memory");
	if (!target__read_proc(getpid(), "../meminfo", &text, &len)) {
		add_num(mem, "total_bytes", stats_field_or(text, "MemTotal"));
		add_num(mem, "available_bytes", stats_field_or(text, "MemAvailable"));
		add_num(mem, "free_bytes", stats_field_or(text, "MemFree"));
		add_num(mem, "swap_total_bytes", stats_field_or(text, "SwapTotal"));
		add_num(mem, "swap_free_bytes", stats_field_or(text, "SwapFree"));
		free(text);
	}
}

static void detect_language(struct stats *s, const struct proc_stat *st);

/* --- a Go target's own runtime (goprofiles.h) ----------------------------------- */

struct go_target_stats *stats_read_go(struct stats *s, char *why, size_t whylen)
{
	struct go_target_stats *g = malloc(sizeof(*g));

	why[0] = '\0';
	if (g && !goprofiles__stats(s->d->pid, s->d->sym, g, why, whylen))
		return g;
	free(g);
	return NULL;
}

uint64_t stats_go_last_pause(const struct go_gc_stats *gc)
{
	return gc->num_gc ? gc->pause_ns[(gc->num_gc + 255) % 256] : 0;
}

static void add_go_gc(cJSON *root, const struct go_target_stats *g)
{
	const struct go_gc_stats *gc = &g->gc;
	cJSON *o = cJSON_AddObjectToObject(root, "gc"), *recent;

	cJSON_AddStringToObject(o, "source", "the Go runtime (runtime.memstats, gcController)");
	cJSON_AddStringToObject(o, "go_version", g->version);
	cJSON_AddNumberToObject(o, "num_gc", gc->num_gc);
	cJSON_AddNumberToObject(o, "num_forced_gc", gc->num_forced_gc);
	cJSON_AddNumberToObject(o, "pause_total_ns", (double)gc->pause_total_ns);
	cJSON_AddNumberToObject(o, "last_pause_ns", (double)stats_go_last_pause(gc));
	cJSON_AddNumberToObject(o, "last_gc_unix_ns", (double)gc->last_gc_unix_ns);
	recent = cJSON_AddArrayToObject(o, "recent_pauses_ns"); /* newest first, as MemStats */
	for (uint32_t i = 0; i < gc->num_gc && i < 16; i++)
		cJSON_AddItemToArray(recent, cJSON_CreateNumber(
						     (double)gc->pause_ns[(gc->num_gc + 255 - i) % 256]));
	cJSON_AddNumberToObject(o, "gc_cpu_fraction", gc->gc_cpu_fraction);
	if (gc->have_controller) {
		cJSON_AddNumberToObject(o, "heap_live_bytes", (double)gc->heap_live);
		cJSON_AddNumberToObject(o, "heap_sys_bytes", (double)gc->heap_sys_bytes);
		cJSON_AddNumberToObject(o, "next_gc_bytes", (double)gc->next_gc);
		if (gc->gogc >= 0)
			cJSON_AddNumberToObject(o, "gogc", (double)gc->gogc);
		else
			cJSON_AddStringToObject(o, "gogc", "off");
		if (gc->memory_limit == INT64_MAX)
			cJSON_AddNullToObject(o, "gomemlimit_bytes");
		else
			cJSON_AddNumberToObject(o, "gomemlimit_bytes", (double)gc->memory_limit);
	}
	if (g->goroutines >= 0)
		cJSON_AddNumberToObject(root, "goroutines", (double)g->goroutines);
}

static void add_gc(struct stats *s, cJSON *root, const struct proc_stat *st)
{
	char why[256];
	struct go_target_stats *g = stats_read_go(s, why, sizeof(why));

	if (g && g->have_gc) {
		add_go_gc(root, g);
		free(g);
		return;
	}
	free(g);
	detect_language(s, st);
	cJSON_AddNullToObject(root, "gc");
	cJSON_AddStringToObject(root, "gc_reason",
				why[0]	? why
				: !strcmp(s->runtime, "go")
					? "the Go runtime's statistics were not found"
					: "a native process has no garbage collector");
}

cJSON *stats__stats(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject(), *tgt, *mem, *heap, *cpu, *o;
	struct target_numbers t;
	char *cmdline;
	size_t len;

	stats_read_target(s, &t, true);
	*code = t.running ? 200 : 503;
	cJSON_AddNumberToObject(root, "timestamp", (double)time(NULL));
	tgt = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(tgt, "pid", s->d->pid);
	cJSON_AddBoolToObject(tgt, "running", t.running);
	if (!t.running) {
		cJSON_AddStringToObject(root, "error", stats_not_running_reason);
		add_system(root);
		add_self(s, root);
		return root;
	}
	cJSON_AddStringToObject(tgt, "name", t.st.comm);
	o = cJSON_AddArrayToObject(tgt, "cmdline");
	if (!target__read_proc(s->d->pid, "cmdline", &cmdline, &len)) {
		for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1)
			cJSON_AddItemToArray(o, cJSON_CreateString(cmdline + i));
		free(cmdline);
	}
	cJSON_AddNumberToObject(tgt, "ppid", t.st.ppid);
	cJSON_AddStringToObject(tgt, "state", (char[]){ t.st.state, '\0' });
	cJSON_AddStringToObject(tgt, "state_name", state_name(t.st.state));
	cJSON_AddNumberToObject(tgt, "threads", t.st.num_threads);
	add_dbl(tgt, "uptime_seconds", round(t.uptime * 100) / 100);
	add_dbl(tgt, "start_time_seconds", t.start_time);

	mem = cJSON_AddObjectToObject(root, "memory");
	add_num(mem, "rss_bytes", t.rss);
	add_num(mem, "peak_rss_bytes", t.vm_hwm);
	add_num(mem, "virtual_bytes", t.vm_size);
	add_num(mem, "anon_bytes", t.anon);
	add_num(mem, "file_bytes", t.file);
	add_num(mem, "shmem_bytes", t.shmem);
	add_num(mem, "swap_bytes", t.swap);
	add_num(mem, "heap_bytes", t.heap);
	heap = cJSON_AddObjectToObject(mem, "heap");
	add_num(heap, "brk_bytes", t.heap_brk);
	add_num(heap, "anon_mmap_bytes", t.heap_anon);
	cJSON_AddStringToObject(heap, "source",
				"resident anonymous private memory outside thread stacks: [heap] "
				"plus anonymous mappings (malloc arenas, large allocations)");
	add_heap_age(heap, &t);
	add_num(mem, "stacks_bytes", t.stacks);
	add_num(mem, "data_bytes", t.vm_data);
	add_live_heap(s, mem);

	cpu = cJSON_AddObjectToObject(root, "cpu");
	cJSON_AddNumberToObject(cpu, "user_seconds", (double)t.st.utime / s->tick_hz);
	cJSON_AddNumberToObject(cpu, "system_seconds", (double)t.st.stime / s->tick_hz);
	cJSON_AddNumberToObject(cpu, "total_seconds",
				(double)(t.st.utime + t.st.stime) / s->tick_hz);
	add_cpu_percent(s, cpu, "percent", &t);

	o = cJSON_AddObjectToObject(root, "context_switches");
	add_num(o, "voluntary", t.voluntary_cs);
	add_num(o, "involuntary", t.involuntary_cs);
	o = cJSON_AddObjectToObject(root, "page_faults");
	cJSON_AddNumberToObject(o, "minor", (double)t.st.minflt);
	cJSON_AddNumberToObject(o, "major", (double)t.st.majflt);
	o = cJSON_AddObjectToObject(root, "fds");
	add_num(o, "open", t.fds);
	add_num(o, "limit", t.fd_soft);
	add_num(o, "limit_hard", t.fd_hard);
	if (t.fds >= 0 && t.fd_soft > 0)
		cJSON_AddNumberToObject(o, "used_percent",
					round(1000.0 * t.fds / t.fd_soft) / 10);
	else
		cJSON_AddNullToObject(o, "used_percent");
	o = cJSON_AddObjectToObject(root, "io");
	add_num(o, "read_bytes", t.read_bytes);
	add_num(o, "write_bytes", t.write_bytes);
	add_num(o, "rchar", t.rchar);
	add_num(o, "wchar", t.wchar);
	add_num(o, "read_syscalls", t.syscr);
	add_num(o, "write_syscalls", t.syscw);
	add_gc(s, root, &t.st);
	add_system(root);
	add_self(s, root);
	return root;
}

/* --- info -------------------------------------------------------------------- */

/* Whether ELF file fd has a section named one of names; *comment gets .comment. */
static bool elf_sections(int fd, const char *const *names, char *comment, size_t commentlen)
{
	Elf *elf;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	bool found = false;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		elf_end(elf);
		return false;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name)
			continue;
		for (const char *const *n = names; *n; n++)
			found |= !strcmp(name, *n);
		if (!strcmp(name, ".comment") && comment) {
			Elf_Data *data = elf_getdata(scn, NULL);

			if (data && data->d_buf) {
				/* NUL-separated strings: join with "; ". */
				size_t j = 0;

				for (size_t i = 0; i < data->d_size && j + 3 < commentlen; i++) {
					char c = ((const char *)data->d_buf)[i];

					if (c)
						comment[j++] = c;
					else if (j && comment[j - 1] != ' ' && i + 1 < data->d_size)
						comment[j++] = ';', comment[j++] = ' ';
				}
				while (j && (comment[j - 1] == ' ' || comment[j - 1] == ';'))
					j--;
				comment[j] = '\0';
			}
		}
	}
	elf_end(elf);
	return found;
}

static bool mapped(struct stats *s, const char *needle)
{
	const struct symbol_mapping *const *maps;
	size_t n = symbolizer__mappings(s->d->sym, &maps);

	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(maps[i]->path, '/');

		if (strstr(base ? base + 1 : maps[i]->path, needle))
			return true;
	}
	return false;
}

/* known: the target's stat just read, or NULL. */
static void detect_language(struct stats *s, const struct proc_stat *known)
{
	static const char *const go_sections[] = { ".go.buildinfo", ".gopclntab",
						   ".note.go.buildid", NULL };
	struct proc_stat st;
	char path[64], comment[512] = "";
	bool go = false;
	int fd;

	if (known)
		st = *known;
	else if (!stats_read_stat(s->d->pid, &st))
		return;
	if (s->lang_pid == s->d->pid && s->lang_start == st.starttime && s->language[0])
		return;
	s->lang_pid = s->d->pid;
	s->lang_start = st.starttime;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)s->d->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		go = elf_sections(fd, go_sections, comment, sizeof(comment));
		close(fd);
	}
	snprintf(s->runtime, sizeof(s->runtime), "native");
	if (go) {
		snprintf(s->language, sizeof(s->language), "go");
		snprintf(s->runtime, sizeof(s->runtime), "go");
	} else if (mapped(s, "libjvm")) {
		snprintf(s->language, sizeof(s->language), "java");
		snprintf(s->runtime, sizeof(s->runtime), "jvm");
	} else if (mapped(s, "libpython") || !strncmp(st.comm, "python", 6)) {
		snprintf(s->language, sizeof(s->language), "python");
		snprintf(s->runtime, sizeof(s->runtime), "cpython");
	} else if (!strcmp(st.comm, "node")) {
		snprintf(s->language, sizeof(s->language), "javascript");
		snprintf(s->runtime, sizeof(s->runtime), "node");
	} else if (strstr(comment, "rustc")) {
		snprintf(s->language, sizeof(s->language), "rust");
	} else if (mapped(s, "libstdc++") || mapped(s, "libc++")) {
		snprintf(s->language, sizeof(s->language), "c++");
	} else {
		snprintf(s->language, sizeof(s->language), "c");
	}
	if (go)
		snprintf(s->allocator, sizeof(s->allocator), "go runtime");
	else if (mapped(s, "jemalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "jemalloc");
	else if (mapped(s, "tcmalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "tcmalloc");
	else if (mapped(s, "mimalloc"))
		snprintf(s->allocator, sizeof(s->allocator), "mimalloc");
	else if (mapped(s, "libc.so") || mapped(s, "libc-"))
		snprintf(s->allocator, sizeof(s->allocator), "glibc malloc");
	else
		snprintf(s->allocator, sizeof(s->allocator), "unknown");
}

cJSON *stats__info(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject(), *self, *libs, *kernel, *tgt;
	const struct symbol_mapping *const *maps;
	struct utsname u;
	struct stat sb;
	char exe[4096], path[64];
	bool running;
	ssize_t n;
	size_t nmaps;

	*code = 200;
	self = cJSON_AddObjectToObject(root, "pprofd");
	cJSON_AddStringToObject(self, "version", PPROFD_VERSION);
	cJSON_AddStringToObject(self, "compiler", __VERSION__);
#if defined(__SANITIZE_ADDRESS__)
	cJSON_AddStringToObject(self, "build", "sanitizers (address, undefined)");
#else
	cJSON_AddStringToObject(self, "build", "release");
#endif
	libs = cJSON_AddObjectToObject(self, "libraries");
	cJSON_AddStringToObject(libs, "libbpf", libbpf_version_string());
	cJSON_AddStringToObject(libs, "libevent", event_get_version());
	cJSON_AddStringToObject(libs, "elfutils", dwfl_version(NULL));
	cJSON_AddStringToObject(libs, "cjson", cJSON_Version());
	cJSON_AddStringToObject(libs, "zlib", zlibVersion());

	kernel = cJSON_AddObjectToObject(root, "kernel");
	if (!uname(&u)) {
		cJSON_AddStringToObject(kernel, "release", u.release);
		cJSON_AddStringToObject(kernel, "version", u.version);
		cJSON_AddStringToObject(kernel, "machine", u.machine);
	}
	cJSON_AddBoolToObject(kernel, "btf", !stat("/sys/kernel/btf/vmlinux", &sb));
	if (!stat("/sys/kernel/btf/vmlinux", &sb))
		cJSON_AddNumberToObject(kernel, "btf_bytes", sb.st_size);

	tgt = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(tgt, "pid", s->d->pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)s->d->pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	running = target__exists(s->d->pid); /* reads stat: 2 ms at 10,000 threads, once */
	cJSON_AddBoolToObject(tgt, "running", running);
	if (n < 0 || !running) {
		cJSON_AddNullToObject(tgt, "executable");
		cJSON_AddStringToObject(tgt, "reason", stats_not_running_reason);
		return root;
	}
	exe[n] = '\0';
	cJSON_AddStringToObject(tgt, "executable", exe);
	nmaps = symbolizer__mappings(s->d->sym, &maps);
	cJSON_AddNullToObject(tgt, "build_id");
	for (size_t i = 0; i < nmaps; i++) {
		if (!strcmp(maps[i]->path, exe) || (strstr(exe, " (deleted)") &&
						     !strncmp(maps[i]->path, exe, strlen(maps[i]->path)))) {
			if (*maps[i]->build_id)
				cJSON_ReplaceItemInObject(tgt, "build_id",
							  cJSON_CreateString(maps[i]->build_id));
			break;
		}
	}
	detect_language(s, NULL);
	cJSON_AddStringToObject(tgt, "language", s->language);
	cJSON_AddStringToObject(tgt, "runtime", s->runtime);
	cJSON_AddStringToObject(tgt, "allocator", s->allocator);
	return root;
}

/* --- memory ------------------------------------------------------------------ */

#define TOP_HEAP_STACKS 10
#define TOP_HEAP_FRAMES 8

/* The stacks holding the most live heap, with their functions (leaf first). */
static void add_live_heap_stacks(struct stats *s, cJSON *root)
{
	size_t top[TOP_HEAP_STACKS], ntop = 0, col = 0;
	const char *why;
	struct collector *c = live_heap(s, &col, &why);
	cJSON *list;

	if (!c) {
		cJSON_AddNullToObject(root, "live_heap_stacks");
		cJSON_AddStringToObject(root, "live_heap_reason", why);
		return;
	}
	for (size_t i = 0; i < stack_table__len(c->stacks); i++) {
		int64_t v = stack_table__values(c->stacks, i)[col];
		size_t j;

		if (v <= 0 || (ntop == TOP_HEAP_STACKS &&
			       v <= stack_table__values(c->stacks, top[ntop - 1])[col]))
			continue;
		j = ntop < TOP_HEAP_STACKS ? ntop++ : ntop - 1;
		while (j > 0 && stack_table__values(c->stacks, top[j - 1])[col] < v) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = i;
	}
	list = cJSON_AddArrayToObject(root, "live_heap_stacks");
	for (size_t i = 0; i < ntop; i++) {
		const struct stack *st = stack_table__stack(c->stacks, top[i]);
		cJSON *o = cJSON_CreateObject(), *frames;

		cJSON_AddNumberToObject(o, "inuse_bytes", stack_table__values(c->stacks, top[i])[col]);
		frames = cJSON_AddArrayToObject(o, "functions");
		for (uint32_t f = 0; f < st->npcs && f < TOP_HEAP_FRAMES; f++) {
			struct symbol_location loc;
			char hex[32];

			if (st->pcs[f] == STACK_PC_TRUNCATED)
				continue;
			/* The table holds callers at the call (return address - 1). */
			if (!symbolizer__lookup(s->d->sym, st->pcs[f], &loc) &&
			    loc.nframes && loc.frames[0].function) {
				cJSON_AddItemToArray(frames,
						     cJSON_CreateString(loc.frames[0].function));
			} else {
				snprintf(hex, sizeof(hex), "%#llx", (unsigned long long)st->pcs[f]);
				cJSON_AddItemToArray(frames, cJSON_CreateString(hex));
			}
		}
		cJSON_AddItemToArray(list, o);
	}
}

cJSON *stats__memory(struct stats *s, int *code)
{
	static const char *const rollup_keys[] = { "Rss", "Pss", "Pss_Anon", "Pss_File",
						   "Pss_Shmem", "Shared_Clean", "Shared_Dirty",
						   "Private_Clean", "Private_Dirty", "Referenced",
						   "Anonymous", "LazyFree", "AnonHugePages",
						   "ShmemPmdMapped", "Shared_Hugetlb",
						   "Private_Hugetlb", "Swap", "SwapPss", "Locked" };
	cJSON *root = cJSON_CreateObject(), *rollup, *list, *o;
	struct target_numbers t;
	char *text;
	size_t len;

	stats_read_target(s, &t, true);
	o = cJSON_AddObjectToObject(root, "target");
	cJSON_AddNumberToObject(o, "pid", s->d->pid);
	cJSON_AddBoolToObject(o, "running", t.running);
	if (!t.running) {
		*code = 503;
		cJSON_AddStringToObject(root, "error", stats_not_running_reason);
		return root;
	}
	*code = 200;
	o = cJSON_AddObjectToObject(root, "breakdown");
	add_num(o, "rss_bytes", t.rss);
	add_num(o, "anon_bytes", t.anon);
	add_num(o, "file_bytes", t.file);
	add_num(o, "shmem_bytes", t.shmem);
	add_num(o, "swap_bytes", t.swap);
	add_num(o, "heap_bytes", t.heap);
	add_num(o, "heap_brk_bytes", t.heap_brk);
	add_num(o, "heap_anon_mmap_bytes", t.heap_anon);
	add_num(o, "stacks_bytes", t.stacks);
	add_heap_age(o, &t);

	rollup = cJSON_AddObjectToObject(root, "smaps_rollup");
	if (!target__read_proc(s->d->pid, "smaps_rollup", &text, &len)) {
		for (size_t i = 0; i < sizeof(rollup_keys) / sizeof(rollup_keys[0]); i++) {
			char key[64];

			snprintf(key, sizeof(key), "%s_bytes", rollup_keys[i]);
			for (char *p = key; *p; p++)
				*p = tolower((unsigned char)*p);
			add_num(rollup, key, stats_field_or(text, rollup_keys[i]));
		}
		free(text);
	}

	/* The census that split heap and stacks also kept the largest mappings. */
	list = cJSON_AddArrayToObject(root, "largest_mappings");
	if (t.census && t.census->ok) {
		cJSON_AddNumberToObject(root, "mappings", t.census->mappings);
		for (size_t i = 0; i < t.census->ntop; i++) {
			const struct smaps_mapping *m = &t.census->top[i];
			char range[64];

			o = cJSON_CreateObject();
			snprintf(range, sizeof(range), "%" PRIx64 "-%" PRIx64, m->start, m->end);
			cJSON_AddStringToObject(o, "address", range);
			cJSON_AddStringToObject(o, "perms", m->perms);
			cJSON_AddStringToObject(o, "name", *m->name ? m->name : "[anon]");
			cJSON_AddNumberToObject(o, "size_bytes", m->size);
			cJSON_AddNumberToObject(o, "rss_bytes", m->rss);
			cJSON_AddNumberToObject(o, "pss_bytes", m->pss);
			cJSON_AddNumberToObject(o, "anonymous_bytes", m->anonymous);
			cJSON_AddNumberToObject(o, "swap_bytes", m->swap);
			cJSON_AddItemToArray(list, o);
		}
	}
	add_live_heap_stacks(s, root);
	return root;
}

cJSON *stats__gc(struct stats *s, int *code)
{
	cJSON *root = cJSON_CreateObject();

	detect_language(s, NULL);
	*code = 501;
	cJSON_AddBoolToObject(root, "collected", false);
	cJSON_AddStringToObject(
		root, "reason",
		!strcmp(s->runtime, "go")
			? "pprofd cannot force the Go runtime's collector from outside the process"
			: "the target is a native process: it has no garbage collector to run");
	cJSON_AddStringToObject(root, "runtime", s->runtime[0] ? s->runtime : "unknown");
	return root;
}

