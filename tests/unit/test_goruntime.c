// SPDX-License-Identifier: MIT
/*
 * test_goruntime.c - the Go runtime reader against a Go program built here
 * with the installed Go (with DWARF):
 *
 *   - the per-version layout table (used for stripped binaries) agrees,
 *     field by field, with what the program's DWARF says for that version:
 *     a new Go version without a row, or a row that is wrong, fails here;
 *   - the stripped build's own type descriptors give the goroutine layouts
 *     DWARF gives (the way a Go version without a table row is read);
 *   - the same program stripped (-s -w) is read through the table, its
 *     globals found from the code that uses them (.gopclntab), and they
 *     are the unstripped build's symbols;
 *   - a running child with 200 goroutines parked in main.parked is read
 *     from outside, stripped or not: every one found, waiting on "chan
 *     receive", its stack walked to the goroutine's first frame; its memory
 *     profile holds main.keep's 1 MiB; memstats say the app's own NumGC.
 *
 * And the rows of Go versions other than the installed one, against the
 * stripped esbuild binaries of tests/fetch-esbuild.sh (Go 1.20, 1.22, 1.23,
 * 1.25, 1.26;
 * skipped when they are not there): each row's goroutine fields are what
 * the binary's own type descriptors say, and a live esbuild (GOGC=5,
 * GOMEMLIMIT set) read through its row has goroutines, a memory profile,
 * and memstats that keep the runtime's own invariants (pause_total_ns the
 * sum of the pauses, last_gc_unix the last pause's end) with GOGC and
 * GOMEMLIMIT where gcController keeps them.
 *
 * No root: a child's memory is readable by its parent.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gopclntab.h"
#include "goruntime.h"
#include "gostack.h"

static char dir[64];
static char prog[128], stripped[128], version[32];

static const char program[] = "package main\n"
			      "\n"
			      "import (\n"
			      "\t\"fmt\"\n"
			      "\t\"os\"\n"
			      "\t\"runtime\"\n"
			      "\t\"time\"\n"
			      ")\n"
			      "\n"
			      "//go:noinline\n"
			      "func parked(never chan struct{}) { <-never }\n"
			      "\n"
			      "var kept []byte\n"
			      "\n"
			      "//go:noinline\n"
			      "func keep() { kept = make([]byte, 1<<20) }\n"
			      "\n"
			      "func main() {\n"
			      "\truntime.MemProfileRate = 1\n"
			      /* links runtime.tickspersecond: ticksType in the DWARF */
			      "\truntime.SetBlockProfileRate(0)\n"
			      "\tkeep()\n"
			      "\tnever := make(chan struct{})\n"
			      "\tfor i := 0; i < 200; i++ {\n"
			      "\t\tgo parked(never)\n"
			      "\t}\n"
			      "\truntime.GC()\n"
			      "\tvar ms runtime.MemStats\n"
			      "\truntime.ReadMemStats(&ms)\n"
			      "\tfmt.Fprintln(os.Stdout, \"ready\", ms.NumGC)\n"
			      "\ttime.Sleep(time.Hour)\n"
			      "}\n";

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state)
{
	char cmd[512];
	FILE *f;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/pprofd-test-goruntime.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(cmd, sizeof(cmd), "%s/main.go", dir);
	f = fopen(cmd, "w");
	if (!f)
		return -1;
	fputs(program, f);
	fclose(f);
	snprintf(prog, sizeof(prog), "%s/prog", dir);
	snprintf(stripped, sizeof(stripped), "%s/prog-stripped", dir);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && GO111MODULE=off GOCACHE=%s/cache go build -o prog . && "
		 "GO111MODULE=off GOCACHE=%s/cache go build -ldflags='-s -w' -o prog-stripped .",
		 dir, dir, dir);
	if (run(cmd)) {
		fprintf(stderr, "cannot build the Go test program (is golang-go installed?)\n");
		return -1;
	}
	f = popen("go env GOVERSION", "r");
	if (!f || !fgets(version, sizeof(version), f)) {
		if (f)
			pclose(f);
		return -1;
	}
	pclose(f);
	version[strcspn(version, "\n")] = '\0';
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return run(cmd);
}

#define FIELD(f)                                                                                   \
	{                                                                                          \
#f, offsetof(struct go_layout, f)                                                  \
	}

static const struct {
	const char *name;
	size_t off;
} fields[] = {
    FIELD(g_size),
    FIELD(g_stack_lo),
    FIELD(g_stack_hi),
    FIELD(g_sched_sp),
    FIELD(g_sched_pc),
    FIELD(g_sched_bp),
    FIELD(g_atomicstatus),
    FIELD(g_goid),
    FIELD(g_waitsince),
    FIELD(g_waitreason),
    FIELD(g_startpc),
    FIELD(g_gopc),
    FIELD(g_lockedm),
    FIELD(g_m),
    FIELD(g_labels),
    FIELD(g_parent_goid),
    FIELD(g_syscallsp),
    FIELD(g_syscallpc),
    FIELD(m_procid),
    FIELD(m_g0),
    FIELD(m_curg),
    FIELD(m_vdso_sp),
    FIELD(bucket_size),
    FIELD(bucket_allnext),
    FIELD(bucket_typ),
    FIELD(bucket_bsize),
    FIELD(bucket_nstk),
    FIELD(memrecord_active),
    FIELD(memrecord_future),
    FIELD(memrecord_cycle_size),
    FIELD(blockrecord_count),
    FIELD(blockrecord_cycles),
    FIELD(blockrecord_size),
    FIELD(ticks_val),
    FIELD(ms_numgc),
    FIELD(ms_pause_total_ns),
    FIELD(ms_pause_ns),
    FIELD(ms_pause_end),
    FIELD(ms_last_gc_unix),
    FIELD(ms_heap_sys),
    FIELD(ms_stacks_sys),
    FIELD(ms_gc_sys),
    FIELD(ms_other_sys),
    FIELD(ms_mspan_sys),
    FIELD(ms_mcache_sys),
    FIELD(ms_buckhash_sys),
    FIELD(ms_numforcedgc),
    FIELD(gcc_gc_percent),
    FIELD(gcc_memory_limit),
    FIELD(gcc_heap_live),
    FIELD(gcc_percent_heap_goal),
    FIELD(gcc_sweep_dist_min_trigger),
    FIELD(gcc_heap_in_use),
    FIELD(gcc_heap_free),
    FIELD(gcc_heap_released),
    FIELD(ms_gc_cpu_fraction),
};

/* The table's row for the installed Go is what its DWARF says. */
static void test_table_matches_dwarf(void **state)
{
	const struct go_layout *row = go_layout__for_version(version);
	struct go_layout dw;
	int bad = 0;

	(void)state;
	assert_int_equal(go_layout__from_dwarf(prog, &dw), 0);
	if (!row)
		fail_msg("no layout row for %s: add one to goruntime.c's table (from this DWARF)",
			 version);
	/* The table must name every field of the struct. */
	assert_int_equal(sizeof(fields) / sizeof(fields[0]), sizeof(struct go_layout) / 4);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		int32_t a = *(const int32_t *)((const char *)row + fields[i].off);
		int32_t b = *(const int32_t *)((const char *)&dw + fields[i].off);

		if (a != b) {
			fprintf(stderr, "%s %s: table %d, DWARF %d\n", version, fields[i].name, a,
				b);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The type descriptors of the stripped build give what DWARF says of g, gobuf, stack, m. */
static void test_types_match_dwarf(void **state)
{
	static const char *const goroutine_fields[] = {
	    "g_size",	     "g_stack_lo",     "g_stack_hi",  "g_sched_sp",  "g_sched_pc",
	    "g_sched_bp",    "g_atomicstatus", "g_goid",      "g_waitsince", "g_waitreason",
	    "g_startpc",     "g_gopc",	       "g_lockedm",   "g_m",	     "g_labels",
	    "g_parent_goid", "g_syscallsp",    "g_syscallpc", "m_procid",    "m_g0",
	    "m_curg",	     "m_vdso_sp",      NULL,
	};
	struct go_layout dw, ty;
	int fd, bad = 0;
	Elf *elf;

	(void)state;
	assert_int_equal(go_layout__from_dwarf(prog, &dw), 0);
	elf_version(EV_CURRENT);
	fd = open(stripped, O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	assert_int_equal(go_layout__from_types(elf, version, &ty), 0);
	elf_end(elf);
	close(fd);
	for (size_t i = 0; goroutine_fields[i]; i++)
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
			int32_t a, b;

			if (strcmp(fields[k].name, goroutine_fields[i]))
				continue;
			a = *(const int32_t *)((const char *)&ty + fields[k].off);
			b = *(const int32_t *)((const char *)&dw + fields[k].off);
			if (a != b) {
				fprintf(stderr, "%s: type descriptors %d, DWARF %d\n",
					fields[k].name, a, b);
				bad++;
			}
		}
	assert_int_equal(bad, 0);
	/* What descriptors do not tell stays unknown. */
	assert_int_equal(ty.bucket_size, -1);
	assert_int_equal(ty.ms_numgc, -1);
}

static void test_version_match(void **state)
{
	(void)state;
	assert_non_null(go_layout__for_version("go1.19"));
	assert_non_null(go_layout__for_version("go1.19.8"));
	assert_non_null(go_layout__for_version("go1.20"));
	assert_non_null(go_layout__for_version("go1.22.3"));
	assert_non_null(go_layout__for_version("go1.23.8"));
	assert_non_null(go_layout__for_version("go1.25.0"));
	assert_non_null(go_layout__for_version("go1.26.5"));
	/* Versions no binary here has shown: no row, never guessed. */
	assert_null(go_layout__for_version("go1.21.0"));
	assert_null(go_layout__for_version("go1.24.1"));
	assert_null(go_layout__for_version("go1.27.3"));
	assert_null(go_layout__for_version("go1.17.2"));
	assert_null(go_layout__for_version("go1.190"));
	assert_null(go_layout__for_version("go1.99.1"));
	assert_null(go_layout__for_version(""));
}

/* The stripped build has no DWARF: its layout cannot come from there. */
static void test_stripped_has_no_dwarf(void **state)
{
	struct go_layout l;

	(void)state;
	assert_int_equal(go_layout__from_dwarf(stripped, &l), -ENOENT);
	assert_int_equal(go_layout__from_dwarf("/nonexistent/prog", &l), -ENOENT);
}

struct count {
	unsigned all, parked, chan_receive, complete;
	uint64_t parked_pc, parked_size; /* main.parked */
	const struct go_runtime *rt;
};

static int count_goroutine(void *ctx, const struct go_goroutine *g)
{
	struct count *c = ctx;
	const char *why = go_runtime__wait_reason(c->rt, g->wait_reason);
	bool in_parked = false;

	c->all++;
	/* A return address into main.parked: the goroutine waits under it. */
	for (uint32_t i = 1; i < g->npcs; i++)
		if (g->pcs[i] > c->parked_pc && g->pcs[i] <= c->parked_pc + c->parked_size)
			in_parked = true;
	if (!in_parked)
		return 0;
	c->parked++;
	if ((g->status & ~(uint32_t)GO_STATUS_SCAN) == GO_STATUS_WAITING && why &&
	    !strcmp(why, "chan receive"))
		c->chan_receive++;
	if (!g->truncated && g->npcs >= 3)
		c->complete++;
	return 0;
}

struct mem_count {
	unsigned records;
	int64_t largest; /* alloc_bytes of the largest record */
};

static int count_record(void *ctx, const struct go_mem_record *r)
{
	struct mem_count *m = ctx;

	m->records++;
	if (r->nstk && r->alloc_bytes > m->largest)
		m->largest = r->alloc_bytes;
	return 0;
}

/* What the reads of a live child found (taken before any assertion ends the test). */
struct live {
	int get_error, walk_error, mem_error, gc_error, rate_error;
	char err[256], version[32], layouts[48];
	struct count c;
	struct mem_count m;
	struct go_gc_stats gc;
	int64_t rate;
	struct go_stack_switch gs;
	int gs_error;
};

/*
 * Runs path until it says "ready <NumGC>", reads it from outside, ends it;
 * then checks what was read.  layouts: what go_runtime__layout_source()
 * must say.
 */
static void live_goroutines(const char *path, const char *layouts)
{
	struct live *lv = calloc(1, sizeof(*lv));
	struct gopclntab *pcln;
	struct go_runtime *rt;
	char line[64];
	unsigned num_gc = 0;
	int pipefd[2];
	pid_t pid;
	FILE *out;

	assert_non_null(lv);
	/* main.parked of this very binary, from its pclntab (stripped or not). */
	pcln = gopclntab__open_path(path, 0, NULL, 0);
	assert_non_null(pcln);
	assert_int_equal(
	    gopclntab__func_by_name(pcln, "main.parked", &lv->c.parked_pc, &lv->c.parked_size), 0);
	lv->c.parked_size -= lv->c.parked_pc; /* the end, to a size */
	gopclntab__free(pcln);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	if (!fgets(line, sizeof(line), out) || sscanf(line, "ready %u", &num_gc) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("%s did not start", path);
	}
	rt = go_runtime__get(pid, lv->err, sizeof(lv->err));
	if (!rt) {
		lv->get_error = errno;
	} else {
		snprintf(lv->version, sizeof(lv->version), "%s", go_runtime__version(rt));
		snprintf(lv->layouts, sizeof(lv->layouts), "%s", go_runtime__layout_source(rt));
		lv->c.rt = rt;
		lv->walk_error = go_runtime__goroutines(rt, 0, count_goroutine, &lv->c);
		lv->mem_error = go_runtime__mem_records(rt, count_record, &lv->m);
		lv->gc_error = go_runtime__gc_stats(rt, &lv->gc);
		lv->rate_error = go_runtime__mem_profile_rate(rt, &lv->rate);
		lv->gs_error = go_stack_switch__config(rt, pid, &lv->gs);
		go_runtime__put(rt);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(out);

	if (lv->get_error)
		fail_msg("go_runtime__get: %s", lv->err);
	fprintf(stderr,
		"%s: goroutines %u (%u parked, %u in chan receive, %u complete stacks), "
		"%u memory records (largest %lld B), num_gc %u (the app: %u), rate %lld\n",
		lv->layouts, lv->c.all, lv->c.parked, lv->c.chan_receive, lv->c.complete,
		lv->m.records, (long long)lv->m.largest, lv->gc.num_gc, num_gc,
		(long long)lv->rate);
	assert_string_equal(lv->version, version);
	assert_string_equal(lv->layouts, layouts);
	assert_int_equal(lv->walk_error, 0);
	assert_int_equal(lv->c.parked, 200);
	assert_int_equal(lv->c.chan_receive, 200);
	assert_int_equal(lv->c.complete, 200);
	assert_true(lv->c.all > 200); /* main and the runtime's own */
	/* runtime.MemProfileRate = 1 and main.keep's 1 MiB, in the buckets. */
	assert_int_equal(lv->rate_error, 0);
	assert_int_equal(lv->rate, 1);
	assert_int_equal(lv->mem_error, 0);
	assert_true(lv->m.largest >= 1 << 20);
	/* memstats: the app's own NumGC, a last pause, a recent last GC. */
	assert_int_equal(lv->gc_error, 0);
	assert_int_equal(lv->gc.num_gc, num_gc);
	assert_true(lv->gc.pause_ns[(lv->gc.num_gc + 255) % 256] > 0);
	assert_true(lv->gc.last_gc_unix_ns / 1000000000ULL + 600 > (uint64_t)time(NULL));
	/* What the BPF stack capture reads: g at fs - 8 (Go's own linker), m's fields. */
	assert_int_equal(lv->gs_error, 0);
	assert_int_equal(lv->gs.enabled, 1);
	assert_int_equal(lv->gs.tls_g, -8);
	assert_true(lv->gs.m_curg > 0 && lv->gs.m_vdso_sp > 0 && lv->gs.g_sched_sp > 0);
	/* gcController: GOGC 100 (the default), no GOMEMLIMIT, a heap goal of 4 MiB or more. */
	assert_true(lv->gc.have_controller);
	assert_int_equal(lv->gc.gogc, 100);
	assert_int_equal(lv->gc.memory_limit, INT64_MAX);
	assert_true(lv->gc.next_gc >= 4 << 20);
	assert_true(lv->gc.heap_sys_bytes >= 1 << 20);
	free(lv);
}

static void test_live_goroutines(void **state)
{
	(void)state;
	live_goroutines(prog, "dwarf");
}

/* -s -w: no DWARF, no .symtab: the table's layout, the globals from .gopclntab. */
static void test_live_goroutines_stripped(void **state)
{
	char table[32];

	(void)state;
	snprintf(table, sizeof(table), "%.*s table", (int)strcspn(version + 4, ".") + 4, version);
	live_goroutines(stripped, table);
}

#ifndef OUTPUT_DIR
#error "OUTPUT_DIR: the build directory (the Makefile sets it)"
#endif

/* esbuild from npm, by the Go version that built it. */
static const struct {
	const char *file, *version, *row;
} newer[] = {
    {"esbuild-go120", "go1.20.4", "go1.20"},
    {"esbuild-go122", "go1.22.5", "go1.22"},
    {"esbuild-go123", "go1.23.8", "go1.23"},
    {"esbuild-go125", "go1.25.7", "go1.25"},
    {"esbuild", "go1.26.5", "go1.26"},
};

/* Each row's goroutine fields are the binary's own type descriptors'. */
static void test_newer_rows_match_types(void **state)
{
	static const char *const goroutine_fields[] = {
	    "g_size",	     "g_stack_lo",     "g_stack_hi",  "g_sched_sp",  "g_sched_pc",
	    "g_sched_bp",    "g_atomicstatus", "g_goid",      "g_waitsince", "g_waitreason",
	    "g_startpc",     "g_gopc",	       "g_lockedm",   "g_m",	     "g_labels",
	    "g_parent_goid", "g_syscallsp",    "g_syscallpc", "m_procid",    "m_curg", NULL,
	};
	unsigned tested = 0;
	int bad = 0;

	(void)state;
	for (size_t b = 0; b < sizeof(newer) / sizeof(newer[0]); b++) {
		const struct go_layout *row = go_layout__for_version(newer[b].version);
		struct gopclntab *pcln;
		struct go_layout ty;
		char path[256];
		int fd;
		Elf *elf;

		snprintf(path, sizeof(path), "%s/npm/%s", OUTPUT_DIR, newer[b].file);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		elf_version(EV_CURRENT);
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		assert_non_null(elf);
		pcln = gopclntab__open(elf, 0, NULL, 0);
		assert_non_null(pcln);
		assert_string_equal(gopclntab__go_version(pcln), newer[b].version);
		gopclntab__free(pcln);
		assert_non_null(row);
		assert_int_equal(go_layout__from_types(elf, newer[b].version, &ty), 0);
		elf_end(elf);
		close(fd);
		for (size_t i = 0; goroutine_fields[i]; i++)
			for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
				int32_t a, t;

				if (strcmp(fields[k].name, goroutine_fields[i]))
					continue;
				a = *(const int32_t *)((const char *)row + fields[k].off);
				t = *(const int32_t *)((const char *)&ty + fields[k].off);
				if (a != t) {
					fprintf(stderr, "%s %s: table %d, type descriptors %d\n",
						newer[b].version, fields[k].name, a, t);
					bad++;
				}
			}
		tested++;
	}
	assert_int_equal(bad, 0);
	if (!tested)
		skip(); /* no esbuild: tests/fetch-esbuild.sh */
}

struct newer_live {
	char err[256], layouts[48];
	int get_error, walk_error, mem_error, gc_error, rate_error;
	unsigned goroutines;
	struct mem_count m;
	struct go_gc_stats gc;
	int64_t rate;
};

static int count_any(void *ctx, const struct go_goroutine *g)
{
	(void)g;
	(*(unsigned *)ctx)++;
	return 0;
}

/* esbuild --watch building dir/app.js, GOGC=5: GCs from its first build on. */
static void read_live_esbuild(const char *path, struct newer_live *lv)
{
	char app[128], outdir[128], line[256];
	int in[2], err[2];
	struct go_runtime *rt;
	pid_t pid;
	FILE *f;

	snprintf(app, sizeof(app), "%s/app.js", dir);
	snprintf(outdir, sizeof(outdir), "--outdir=%s/out", dir);
	f = fopen(app, "w");
	assert_non_null(f);
	for (int i = 0; i < 400; i++)
		fprintf(f, "export function f%d(x) { return x * %d + Math.sqrt(x) }\n", i, i);
	fclose(f);
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(err[1], 2);
		close(in[1]);
		close(err[0]);
		setenv("GOGC", "5", 1);
		setenv("GOMEMLIMIT", "123456789000", 1);
		execl(path, path, app, "--bundle", "--minify", outdir, "--watch",
		      "--log-level=info", (char *)NULL);
		_exit(127);
	}
	close(in[0]); /* the write end stays open: --watch runs until stdin closes */
	close(err[1]);
	f = fdopen(err[0], "r");
	/* "[watch] build finished, watching for changes..." */
	while (fgets(line, sizeof(line), f) && !strstr(line, "watching"))
		;
	rt = go_runtime__get(pid, lv->err, sizeof(lv->err));
	if (!rt) {
		lv->get_error = errno;
	} else {
		snprintf(lv->layouts, sizeof(lv->layouts), "%s", go_runtime__layout_source(rt));
		lv->walk_error = go_runtime__goroutines(rt, 0, count_any, &lv->goroutines);
		lv->mem_error = go_runtime__mem_records(rt, count_record, &lv->m);
		lv->gc_error = go_runtime__gc_stats(rt, &lv->gc);
		lv->rate_error = go_runtime__mem_profile_rate(rt, &lv->rate);
		go_runtime__put(rt);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(f);
	close(in[1]);
}

/* A live esbuild of each version, read through its row. */
static void test_newer_rows_live(void **state)
{
	unsigned tested = 0;

	(void)state;
	for (size_t b = 0; b < sizeof(newer) / sizeof(newer[0]); b++) {
		struct newer_live *lv = calloc(1, sizeof(*lv));
		uint64_t sum = 0;
		char path[256], want[48];
		uint32_t n;

		assert_non_null(lv);
		snprintf(path, sizeof(path), "%s/npm/%s", OUTPUT_DIR, newer[b].file);
		if (access(path, X_OK)) {
			free(lv);
			continue;
		}
		read_live_esbuild(path, lv);
		if (lv->get_error)
			fail_msg("%s: go_runtime__get: %s", newer[b].file, lv->err);
		n = lv->gc.num_gc;
		for (uint32_t i = 0; i < n && i < 256; i++)
			sum += lv->gc.pause_ns[i];
		fprintf(stderr,
			"%s (%s): %u goroutines, %u memory records (rate %lld), num_gc %u, "
			"pause_total %llu ns (sum %llu), GOGC %lld, GOMEMLIMIT %lld, heap sys %lld\n",
			newer[b].file, lv->layouts, lv->goroutines, lv->m.records,
			(long long)lv->rate, n, (unsigned long long)lv->gc.pause_total_ns,
			(unsigned long long)sum, (long long)lv->gc.gogc,
			(long long)lv->gc.memory_limit, (long long)lv->gc.heap_sys_bytes);
		snprintf(want, sizeof(want), "%s table", newer[b].row);
		assert_string_equal(lv->layouts, want);
		assert_int_equal(lv->walk_error, 0);
		assert_true(lv->goroutines >= 2); /* main, its stdin reader */
		assert_int_equal(lv->rate_error, 0);
		assert_int_equal(lv->rate, 512 * 1024);
		assert_int_equal(lv->mem_error, 0);
		assert_true(lv->m.records >= 1);
		assert_int_equal(lv->gc_error, 0);
		assert_true(n >= 2 && n <= 256);
		assert_int_equal(lv->gc.pause_total_ns, sum);
		assert_int_equal(lv->gc.last_gc_unix_ns, lv->gc.pause_end[n - 1]);
		assert_true(lv->gc.last_gc_unix_ns / 1000000000ULL + 600 > (uint64_t)time(NULL));
		assert_true(lv->gc.have_controller);
		assert_int_equal(lv->gc.gogc, 5);
		assert_int_equal(lv->gc.memory_limit, 123456789000LL);
		assert_true(lv->gc.heap_sys_bytes > 0 && lv->gc.heap_sys_bytes % 8192 == 0);
		assert_true(lv->gc.next_gc > 0);
		free(lv);
		tested++;
	}
	if (!tested)
		skip(); /* no esbuild: tests/fetch-esbuild.sh */
}

/* A process that is not Go: ENOENT with nothing to say. */
static void test_not_go(void **state)
{
	char err[256] = "x";

	(void)state;
	errno = 0;
	assert_null(go_runtime__get(getpid(), err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(err, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_matches_dwarf),
	    cmocka_unit_test(test_version_match),
	    cmocka_unit_test(test_types_match_dwarf),
	    cmocka_unit_test(test_stripped_has_no_dwarf),
	    cmocka_unit_test(test_live_goroutines),
	    cmocka_unit_test(test_live_goroutines_stripped),
	    cmocka_unit_test(test_not_go),
	    cmocka_unit_test(test_newer_rows_match_types),
	    cmocka_unit_test(test_newer_rows_live),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
