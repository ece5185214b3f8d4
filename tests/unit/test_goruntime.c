// SPDX-License-Identifier: MIT
/*
 * test_goruntime.c - the Go runtime reader against a Go program built here
 * with the installed Go (with DWARF):
 *
 *   - the per-version layout table (used for stripped binaries) agrees,
 *     field by field, with what the program's DWARF says for that version:
 *     a new Go version without a row, or a row that is wrong, fails here;
 *   - the same program stripped (-s -w) is refused with "unsupported" or
 *     read through the table, never read with guessed offsets;
 *   - a running child with 200 goroutines parked in main.parked is read
 *     from outside: every one found, waiting on "chan receive", its stack
 *     walked to the goroutine's first frame.
 *
 * No root: a child's memory is readable by its parent.
 */
#define _GNU_SOURCE
#include <errno.h>
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

#include "goruntime.h"

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
			      "func main() {\n"
			      "\tnever := make(chan struct{})\n"
			      "\tfor i := 0; i < 200; i++ {\n"
			      "\t\tgo parked(never)\n"
			      "\t}\n"
			      "\tvar ms runtime.MemStats\n"
			      "\truntime.ReadMemStats(&ms)\n"
			      "\tfmt.Fprintln(os.Stdout, \"ready\")\n"
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
    FIELD(bucket_size),
    FIELD(bucket_allnext),
    FIELD(bucket_typ),
    FIELD(bucket_bsize),
    FIELD(bucket_nstk),
    FIELD(memrecord_active),
    FIELD(memrecord_future),
    FIELD(memrecord_cycle_size),
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

static void test_version_match(void **state)
{
	(void)state;
	assert_non_null(go_layout__for_version("go1.19"));
	assert_non_null(go_layout__for_version("go1.19.8"));
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

/* Address and size of a function, from the unstripped program's symbol table. */
static uint64_t symbol_address(const char *path, const char *name, uint64_t *size)
{
	char cmd[512], line[256];
	uint64_t addr = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "go tool nm -size %s", path);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long a, sz;
		char type, sym[200];

		if (sscanf(line, "%llx %llu %c %199s", &a, &sz, &type, sym) == 4 &&
		    !strcmp(sym, name)) {
			addr = a;
			*size = sz;
		}
	}
	pclose(f);
	return addr;
}

static void test_live_goroutines(void **state)
{
	struct count c = {0};
	struct go_runtime *rt;
	char err[256], line[16];
	int pipefd[2];
	pid_t pid;
	FILE *out;

	(void)state;
	c.parked_pc = symbol_address(prog, "main.parked", &c.parked_size);
	assert_true(c.parked_pc != 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		execl(prog, prog, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	out = fdopen(pipefd[0], "r");
	assert_non_null(fgets(line, sizeof(line), out)); /* "ready" */
	rt = go_runtime__get(pid, err, sizeof(err));
	if (!rt) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("go_runtime__get: %s", err);
	}
	assert_string_equal(go_runtime__version(rt), version);
	assert_string_equal(go_runtime__layout_source(rt), "dwarf");
	c.rt = rt;
	assert_int_equal(go_runtime__goroutines(rt, count_goroutine, &c), 0);
	go_runtime__put(rt);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	fclose(out);
	fprintf(stderr, "goroutines: %u (%u parked, %u in chan receive, %u complete stacks)\n",
		c.all, c.parked, c.chan_receive, c.complete);
	assert_int_equal(c.parked, 200);
	assert_int_equal(c.chan_receive, 200);
	assert_int_equal(c.complete, 200);
	assert_true(c.all > 200); /* main and the runtime's own */
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
	    cmocka_unit_test(test_stripped_has_no_dwarf),
	    cmocka_unit_test(test_live_goroutines),
	    cmocka_unit_test(test_not_go),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
