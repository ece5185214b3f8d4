// SPDX-License-Identifier: MIT
/*
 * test_gopclntab.c - the Go pclntab reader against Go's own tools.
 *
 * tests/unit/gofixture is built here, now, with the Go on this machine
 * (Debian's 1.19), once with symbols and once with -ldflags='-s -w'.  The
 * stripped one must give every function `go tool nm` lists in the other at
 * the same address, and `go tool addr2line`'s function and file:line for a
 * spread of PCs; main.outer must show the two functions inlined into it.
 * Binaries of other Go versions (esbuild from the npm registry, fetched by
 * tests/fetch-esbuild.sh: Go 1.16.3, 1.17.2, 1.20.4, 1.23.8, 1.26.5) prove
 * the other layouts; those tests skip, saying so, when the files are
 * missing.  Mangled copies of the
 * fixture must open with an error or resolve without reading out of bounds
 * (run `make SAN=1 test-unit` for the sanitizer's word on that).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <gelf.h>

#include "gopclntab.h"
#include "symbolize.h"

#ifndef SRC_DIR
#error "SRC_DIR: the repository (the Makefile sets it)"
#endif
#ifndef OUTPUT_DIR
#error "OUTPUT_DIR: the build directory (the Makefile sets it)"
#endif

static char dir[256];
static char unstripped[300], stripped[300], pie[300];
static bool built;

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int build_fixture(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_gopclntab.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(unstripped, sizeof(unstripped), "%s/fixture", dir);
	snprintf(stripped, sizeof(stripped), "%s/fixture-stripped", dir);
	snprintf(pie, sizeof(pie), "%s/fixture-pie", dir);
	built = !run("cd %s/tests/unit/gofixture && export GOCACHE=%s/gocache GO111MODULE=off && "
		     "go build -o %s . && go build -ldflags='-s -w' -o %s . && "
		     "go build -buildmode=pie -ldflags='-s -w' -o %s .",
		     SRC_DIR, OUTPUT_DIR, unstripped, stripped, pie);
	if (!built)
		fprintf(stderr,
			"# go build of tests/unit/gofixture failed (is golang-go installed?)\n");
	elf_version(EV_CURRENT);
	return 0;
}

static int remove_fixture(void **state)
{
	(void)state;
	if (dir[0])
		run("rm -rf %s", dir);
	return 0;
}

/* The line of tests/unit/gofixture/main.go that holds "// MARK name". */
static int mark_line(const char *name)
{
	char path[512], line[512], want[64];
	int n = 0, found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/unit/gofixture/main.go", SRC_DIR);
	snprintf(want, sizeof(want), "// MARK %s\n", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, want)) {
			found = n;
			break;
		}
	}
	fclose(f);
	return found;
}

static struct gopclntab *open_or_fail(const char *path)
{
	char err[256] = "";
	struct gopclntab *t = gopclntab__open_path(path, 0, err, sizeof(err));

	if (!t)
		fail_msg("%s: %s", path, err);
	return t;
}

/* The stripped binary really is stripped: no symbol table, no DWARF. */
static void test_stripped_has_no_symbols(void **state)
{
	char cmd[512];
	FILE *f;
	char line[256];
	int n = 0;

	(void)state;
	assert_true(built);
	snprintf(cmd, sizeof(cmd), "readelf -SW %s | grep -cE '\\.symtab|\\.debug_'", stripped);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fgets(line, sizeof(line), f))
		n = atoi(line);
	pclose(f);
	assert_int_equal(n, 0);
}

static void test_layout_and_version(void **state)
{
	struct gopclntab *t;
	char want[64] = "", cmd[128];
	FILE *f;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	assert_int_equal(gopclntab__layout(t), 118); /* Debian's Go is 1.19 */
	snprintf(cmd, sizeof(cmd), "go env GOVERSION");
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(want, sizeof(want), f));
	pclose(f);
	want[strcspn(want, "\n")] = 0;
	assert_string_equal(gopclntab__go_version(t), want);
	assert_true(gopclntab__nfuncs(t) > 500);
	/* runtime.firstmoduledata, where the unstripped binary's symbol table says. */
	{
		char cmd2[512], line[256];
		uint64_t md = 0;
		FILE *nm;

		snprintf(cmd2, sizeof(cmd2),
			 "go tool nm %s | awk '$3 == \"runtime.firstmoduledata\" "
			 "{ print $1 }'",
			 unstripped);
		nm = popen(cmd2, "r");
		assert_non_null(nm);
		if (fgets(line, sizeof(line), nm))
			md = strtoull(line, NULL, 16);
		pclose(nm);
		assert_true(md != 0);
		/* Of the same file: data moves when symbols are stripped, text does not. */
		{
			struct gopclntab *u = open_or_fail(unstripped);

			assert_int_equal(gopclntab__moduledata_addr(u), md);
			gopclntab__free(u);
		}
		assert_true(gopclntab__moduledata_addr(t) != 0);
	}
	gopclntab__free(t);
}

/*
 * The symbol table's name and the pclntab's: the linker writes "[...]"
 * into the pclntab where the symbol has type arguments ("[5]",
 * "[go.shape.int]"): the runtime's names are the pclntab's.
 */
static bool same_name(const char *sym, const char *tab)
{
	while (*sym && *tab) {
		if (!strncmp(tab, "[...]", 5) && *sym == '[') {
			int depth = 0;

			for (; *sym; sym++) {
				depth += *sym == '[';
				depth -= *sym == ']';
				if (!depth)
					break;
			}
			if (!*sym)
				return false;
			sym++;
			tab += 5;
			continue;
		}
		if (*sym++ != *tab++)
			return false;
	}
	return !*sym && !*tab;
}

/* entry and addr both begin functions called name. */
static bool twin_named(const struct gopclntab *t, const char *name, uint64_t entry, uint64_t addr)
{
	struct gofunc_info a, b;

	return !gopclntab__func_at(t, entry, &a) && !gopclntab__func_at(t, addr, &b) &&
	       a.entry == entry && b.entry == addr && !strcmp(a.name, name) &&
	       !strcmp(b.name, name) && entry < addr;
}

/* Every text symbol of `go tool nm` is a function of the stripped table. */
static void test_every_nm_function(void **state)
{
	struct gopclntab *t;
	char cmd[512], line[1024];
	size_t checked = 0, wrong = 0;
	FILE *f;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	snprintf(cmd, sizeof(cmd), "go tool nm %s", unstripped);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char kind, name[900];
		uint64_t addr, entry = 0, end = 0;
		size_t len;
		int at = 0;

		/* "  462060 T main.outer": the name is the rest of the line (it may hold spaces).
		 */
		if (sscanf(line, "%" SCNx64 " %c %n", &addr, &kind, &at) != 2 || !at)
			continue;
		snprintf(name, sizeof(name), "%s", line + at);
		name[strcspn(name, "\n")] = 0;
		if (kind != 'T' && kind != 't')
			continue;
		/* Assembly functions are listed with their ABI; the table names them plain. */
		len = strlen(name);
		if (len > 5 && !strcmp(name + len - 5, ".abi0"))
			name[len - 5] = 0;
		struct gofunc_info fi;

		/* Markers of the text's bounds, no functions. */
		if (!strcmp(name, "runtime.text") || !strcmp(name, "runtime.etext"))
			continue;
		checked++;
		/* At its address, a function of that name begins ... */
		{
			if (gopclntab__func_at(t, addr, &fi) || !same_name(name, fi.name) ||
			    fi.entry != addr) {
				if (wrong++ < 10)
					print_message("# %s: nm 0x%" PRIx64 ", table %s\n", name,
						      addr, fi.name);
				continue;
			}
		}
		/* ... and the name finds it, or its twin of the same name (an ABI wrapper). */
		if (gopclntab__func_by_name(t, name, &entry, &end) ||
		    (entry != addr && !twin_named(t, name, entry, addr))) {
			if (strchr(name, '[') && !gopclntab__func_at(t, addr, &fi))
				continue; /* found by address under its pclntab name */
			if (wrong++ < 10)
				print_message("# %s: nm 0x%" PRIx64 ", by name 0x%" PRIx64 "\n",
					      name, addr, entry);
		}
	}
	pclose(f);
	print_message("# %zu text symbols checked, %zu wrong\n", checked, wrong);
	assert_true(checked > 500);
	assert_int_equal(wrong, 0);
	gopclntab__free(t);
}

/* File:line and function for PCs spread over every function, as addr2line says. */
static void test_addr2line(void **state)
{
	struct gopclntab *t;
	char in_path[300], out_path[300], name[1024], pos[1024];
	uint64_t *pcs = NULL;
	size_t npcs = 0, i, wrong = 0;
	FILE *in, *out;
	uint64_t lo, hi, pc;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	gopclntab__text_range(t, &lo, &hi);
	pcs = calloc(8192, sizeof(*pcs));
	assert_non_null(pcs);
	/* Every function's entry, its middle and its last instruction byte. */
	for (pc = lo; pc < hi && npcs + 3 <= 8192;) {
		struct gofunc_info fi;

		if (gopclntab__func_at(t, pc, &fi)) {
			pc++;
			continue;
		}
		pcs[npcs++] = fi.entry;
		pcs[npcs++] = fi.entry + (fi.end - fi.entry) / 2;
		pcs[npcs++] = fi.end - 1;
		pc = fi.end;
	}
	snprintf(in_path, sizeof(in_path), "%s/pcs", dir);
	snprintf(out_path, sizeof(out_path), "%s/addr2line", dir);
	in = fopen(in_path, "w");
	assert_non_null(in);
	for (i = 0; i < npcs; i++)
		fprintf(in, "0x%" PRIx64 "\n", pcs[i]);
	fclose(in);
	assert_int_equal(run("go tool addr2line %s < %s > %s", unstripped, in_path, out_path), 0);
	out = fopen(out_path, "r");
	assert_non_null(out);
	for (i = 0; i < npcs; i++) {
		struct gofunc_frame fr[16];
		char mine[1100];
		int n;

		assert_non_null(fgets(name, sizeof(name), out));
		assert_non_null(fgets(pos, sizeof(pos), out));
		name[strcspn(name, "\n")] = 0;
		pos[strcspn(pos, "\n")] = 0;
		n = gopclntab__lookup(t, pcs[i], fr, 16);
		/* addr2line: the outermost function, the innermost position. */
		/* Where the table has no position, addr2line prints ":-1". */
		if (n > 0 && (!fr[0].file || !fr[0].line))
			snprintf(mine, sizeof(mine), ":-1");
		else if (n > 0)
			snprintf(mine, sizeof(mine), "%s:%d", fr[0].file, fr[0].line);
		/* Past the function's line table (padding): neither knows a position. */
		if (!n && !strcmp(pos, ":-1"))
			continue;
		if (n <= 0 || strcmp(fr[n - 1].function, name) || strcmp(mine, pos)) {
			if (wrong++ < 10)
				print_message("# 0x%" PRIx64 ": addr2line %s %s, table %s %s\n",
					      pcs[i], name, pos, n > 0 ? fr[n - 1].function : "-",
					      n > 0 ? mine : "-");
		}
	}
	fclose(out);
	print_message("# %zu PCs against go tool addr2line, %zu differ\n", npcs, wrong);
	assert_true(npcs > 1500);
	assert_int_equal(wrong, 0);
	free(pcs);
	gopclntab__free(t);
}

/* How many PCs of the table have inlined frames; frames of main.outer checked. */
static size_t inline_pcs(const struct gopclntab *t, size_t *deepest)
{
	uint64_t lo, hi, pc;
	size_t with = 0;

	*deepest = 0;
	gopclntab__text_range(t, &lo, &hi);
	for (pc = lo; pc < hi; pc++) {
		struct gofunc_frame fr[16];
		int n = gopclntab__lookup(t, pc, fr, 16);

		if (n > 1) {
			with++;
			if ((size_t)n > *deepest)
				*deepest = n;
		}
	}
	return with;
}

static void test_inline_frames(void **state)
{
	struct gopclntab *t;
	struct gofunc_frame fr[8];
	uint64_t entry, end, pc;
	size_t deepest, with;
	bool seen = false;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	assert_int_equal(gopclntab__func_by_name(t, "main.outer", &entry, &end), 0);
	for (pc = entry; pc < end && !seen; pc++) {
		int n = gopclntab__lookup(t, pc, fr, 8);

		if (n != 3)
			continue;
		seen = true;
		assert_string_equal(fr[0].function, "main.inner");
		assert_string_equal(fr[1].function, "main.middle");
		assert_string_equal(fr[2].function, "main.outer");
		/* Lines of tests/unit/gofixture/main.go: the statement, then each call site. */
		assert_int_equal(fr[0].line, mark_line("inner"));
		assert_int_equal(fr[1].line, mark_line("middle"));
		assert_int_equal(fr[2].line, mark_line("outer"));
		assert_non_null(strstr(fr[0].file, "tests/unit/gofixture/main.go"));
		assert_true(fr[0].entry == entry && fr[2].entry == entry);
	}
	assert_true(seen);
	/* Cut at max: innermost first. */
	for (pc = entry; pc < end; pc++) {
		if (gopclntab__lookup(t, pc, fr, 8) != 3)
			continue;
		assert_int_equal(gopclntab__lookup(t, pc, fr, 1), 1);
		assert_string_equal(fr[0].function, "main.inner");
		break;
	}
	assert_int_equal(gopclntab__lookup(t, entry, fr, 0), -EINVAL);
	with = inline_pcs(t, &deepest);
	print_message("# %zu PCs with inlined frames, deepest %zu\n", with, deepest);
	assert_true(with > 1000);
	gopclntab__free(t);
}

/* SP deltas and the kinds the unwinder stops at. */
static void test_sp_delta_and_kinds(void **state)
{
	static const struct {
		const char *name;
		enum gofunc_kind kind;
	} want[] = {
	    {"runtime.goexit", GOFUNC_GOEXIT}, {"runtime.main", GOFUNC_RUNTIME_MAIN},
	    {"runtime.mstart", GOFUNC_MSTART}, {"runtime.systemstack", GOFUNC_SYSTEMSTACK},
	    {"runtime.mcall", GOFUNC_MCALL},   {"runtime.morestack", GOFUNC_MORESTACK},
	    {"runtime.rt0_go", GOFUNC_RT0_GO}, {"main.main", GOFUNC_NORMAL},
	};
	struct gopclntab *t;
	struct gofunc_info fi;
	uint64_t entry, end, pc;
	int32_t d, max = 0;
	size_t i;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(gopclntab__func_by_name(t, want[i].name, &entry, &end), 0);
		assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
		assert_string_equal(fi.name, want[i].name);
		if (fi.kind != want[i].kind)
			fail_msg("%s: kind %s", want[i].name, gofunc_kind__name(fi.kind));
	}
	assert_int_equal(gopclntab__func_by_name(t, "runtime.goexit", &entry, &end), 0);
	assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
	assert_true(fi.topframe);
	assert_int_equal(gopclntab__func_by_name(t, "runtime.systemstack", &entry, &end), 0);
	assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
	assert_true(fi.spwrite);
	/* main.main: 0 at the entry, a frame (multiple of 8) inside. */
	assert_int_equal(gopclntab__func_by_name(t, "main.main", &entry, &end), 0);
	assert_int_equal(gopclntab__sp_delta(t, entry, &d), 0);
	assert_int_equal(d, 0);
	for (pc = entry; pc < end; pc++)
		if (!gopclntab__sp_delta(t, pc, &d) && d > max)
			max = d;
	assert_true(max > 0 && max % 8 == 0);
	assert_int_equal(gopclntab__func_by_name(t, "main.nonexistent", &entry, &end), -ENOENT);
	assert_int_equal(gopclntab__func_at(t, 0x10, &fi), -ENOENT);
	assert_int_equal(gopclntab__lookup(t, 0x10, (struct gofunc_frame[1]){}, 1), 0);
	gopclntab__free(t);
}

/*
 * A stripped PIE: the table sits in .data.rel.ro, the moduledata is filled
 * by relocations and go:func.* (the inline trees) is in another segment.
 */
static void test_pie(void **state)
{
	struct gopclntab *t, *ref;
	struct gofunc_frame fr[8];
	uint64_t entry, end, e2, end2, pc;
	bool seen = false;

	(void)state;
	assert_true(built);
	t = open_or_fail(pie);
	ref = open_or_fail(stripped);
	assert_int_equal(gopclntab__nfuncs(t), gopclntab__nfuncs(ref));
	assert_true(gopclntab__moduledata_addr(t) != 0); /* through its relocations */
	assert_int_equal(gopclntab__func_by_name(t, "main.outer", &entry, &end), 0);
	assert_int_equal(gopclntab__func_by_name(ref, "main.outer", &e2, &end2), 0);
	assert_int_equal(end - entry, end2 - e2);
	for (pc = entry; pc < end && !seen; pc++)
		seen = gopclntab__lookup(t, pc, fr, 8) == 3 &&
		       !strcmp(fr[0].function, "main.inner") &&
		       !strcmp(fr[2].function, "main.outer");
	assert_true(seen);
	gopclntab__free(ref);
	gopclntab__free(t);
}

/*
 * The symbolizer on a running stripped Go process: it asks the reader, and
 * the frames (inline ones too) and the unwinder's rules come from the
 * pclntab.
 */
static void test_symbolizer_on_go_process(void **state)
{
	struct symbol_frame_rule rule;
	struct symbol_location loc;
	struct gofunc_frame fr[8];
	struct symbolizer *s;
	struct gopclntab *t;
	uint64_t entry, end, pc, inl_pc = 0;
	int pipefd[2], status, tries;
	int32_t delta;
	pid_t pid;

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped); /* a non-PIE: the same addresses as the process */
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(pipefd[0], 0);
		close(pipefd[1]);
		execl(stripped, stripped, "wait", (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	/* Until the Go runtime runs (its heap arenas mapped): the exec is done then. */
	for (tries = 0; tries < 200; tries++) {
		char path[64], exe[512] = "";

		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		if (readlink(path, exe, sizeof(exe) - 1) > 0 && !strcmp(exe, stripped))
			break;
		usleep(10000);
	}
	usleep(100000);
	s = symbolizer__new(pid);
	assert_non_null(s);

	assert_int_equal(gopclntab__func_by_name(t, "main.outer", &entry, &end), 0);
	for (pc = entry; pc < end && !inl_pc; pc++)
		if (gopclntab__lookup(t, pc, fr, 8) == 3)
			inl_pc = pc;
	assert_true(inl_pc != 0);
	assert_int_equal(symbolizer__lookup(s, inl_pc, &loc), 0);
	assert_non_null(loc.mapping);
	assert_string_equal(loc.mapping->path, stripped);
	assert_int_equal(loc.nframes, 3);
	assert_string_equal(loc.frames[0].function, "main.inner");
	assert_string_equal(loc.frames[1].function, "main.middle");
	assert_string_equal(loc.frames[2].function, "main.outer");
	assert_int_equal(loc.frames[0].line, mark_line("inner"));
	assert_int_equal(loc.frames[2].line, mark_line("outer"));
	assert_non_null(strstr(loc.frames[0].file, "gofixture/main.go"));
	assert_int_equal(loc.symbol_start, entry);

	/* The unwinder's questions. */
	assert_int_equal(gopclntab__func_by_name(t, "runtime.goexit", &entry, &end), 0);
	assert_int_equal(symbolizer__frame_rule(s, entry, &rule), 0);
	assert_true(rule.outermost && !rule.stack_switch);
	assert_int_equal(gopclntab__func_by_name(t, "runtime.mcall", &entry, &end), 0);
	assert_int_equal(symbolizer__frame_rule(s, entry, &rule), 0);
	assert_true(rule.stack_switch && !rule.outermost);
	assert_int_equal(gopclntab__func_by_name(t, "main.main", &entry, &end), 0);
	for (pc = entry; pc < end; pc++)
		if (!gopclntab__sp_delta(t, pc, &delta) && delta > 0)
			break;
	assert_true(pc < end);
	assert_int_equal(symbolizer__frame_rule(s, pc, &rule), 0);
	assert_true(rule.has_cfa && !rule.outermost && !rule.stack_switch);
	assert_int_equal(rule.cfa_sp_off, delta + 8);
	/* Not Go: no rule. */
	assert_int_equal(symbolizer__frame_rule(s, (uint64_t)(uintptr_t)&printf, &rule), -ENOENT);

	symbolizer__free(s);
	gopclntab__free(t);
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A load bias moves every address the same way. */
static void test_bias(void **state)
{
	struct gopclntab *t, *b;
	uint64_t e1, e2, end;
	struct gofunc_frame fr[4];

	(void)state;
	assert_true(built);
	t = open_or_fail(stripped);
	b = gopclntab__open_path(stripped, 0x10000000, NULL, 0);
	assert_non_null(b);
	assert_int_equal(gopclntab__func_by_name(t, "main.main", &e1, &end), 0);
	assert_int_equal(gopclntab__func_by_name(b, "main.main", &e2, &end), 0);
	assert_int_equal(e2, e1 + 0x10000000);
	assert_true(gopclntab__lookup(b, e2, fr, 4) >= 1);
	assert_string_equal(fr[0].function, "main.main");
	assert_int_equal(gopclntab__lookup(b, e1, fr, 4), 0);
	gopclntab__free(b);
	gopclntab__free(t);
}

/* Not Go, not ELF: clear errors. */
static void test_not_go(void **state)
{
	char err[256] = "";
	char path[300];
	int fd;

	(void)state;
	assert_null(gopclntab__open_path("/bin/sh", 0, err, sizeof(err)));
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(err, "not a Go binary"));
	snprintf(path, sizeof(path), "%s/notelf", dir[0] ? dir : "/tmp");
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello, world\n", 13), 13);
	close(fd);
	assert_null(gopclntab__open_path(path, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "ELF"));
	unlink(path);
}

/* Mangled tables: an error at open, or lookups that stay in bounds. */
static void test_hostile(void **state)
{
	uint64_t addr = 0, off = 0, size = 0, lo, hi, pc;
	unsigned seed = 12345, round, opened = 0;
	size_t shstrndx, len;
	struct stat st;
	uint8_t *image, *copy;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	(void)state;
	assert_true(built);
	fd = open(stripped, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	len = st.st_size;
	image = malloc(len);
	copy = malloc(len);
	assert_true(image && copy);
	assert_int_equal(pread(fd, image, len, 0), (ssize_t)len);
	close(fd);
	elf = elf_memory((char *)image, len);
	assert_non_null(elf);
	assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		gelf_getshdr(scn, &sh);
		if (!strcmp(elf_strptr(elf, shstrndx, sh.sh_name), ".gopclntab")) {
			addr = sh.sh_addr;
			off = sh.sh_offset;
			size = sh.sh_size;
		}
	}
	elf_end(elf);
	assert_true(size > 4096);
	(void)addr;
	for (round = 0; round < 60; round++) {
		struct gopclntab *t;
		unsigned k, flips = 1 + round % 16;

		memcpy(copy, image, len);
		/* The header and the function table get most of the damage. */
		for (k = 0; k < flips; k++) {
			uint64_t at = round % 3 ? (uint64_t)(rand_r(&seed) % 4096)
						: (uint64_t)rand_r(&seed) % size;

			copy[off + at] = (uint8_t)rand_r(&seed);
		}
		elf = elf_memory((char *)copy, len);
		assert_non_null(elf);
		t = gopclntab__open(elf, 0, NULL, 0);
		elf_end(elf);
		if (!t)
			continue;
		opened++;
		gopclntab__text_range(t, &lo, &hi);
		for (pc = lo; pc < hi && pc - lo < (1 << 16); pc += 7) {
			struct gofunc_frame fr[8];
			struct gofunc_info fi;
			int32_t d;

			gopclntab__lookup(t, pc, fr, 8);
			gopclntab__func_at(t, pc, &fi);
			gopclntab__sp_delta(t, pc, &d);
		}
		gopclntab__func_by_name(t, "main.main", &lo, &hi);
		gopclntab__free(t);
	}
	/* Truncated: the table cut short must not open. */
	{
		struct gopclntab *t;

		memcpy(copy, image, len);
		elf = elf_memory((char *)copy, off + 64);
		t = elf ? gopclntab__open(elf, 0, NULL, 0) : NULL;
		assert_null(t);
		elf_end(elf);
	}
	print_message("# 60 mangled copies, %u opened and were read through\n", opened);
	free(copy);
	free(image);
}

static void test_version_parse(void **state)
{
	int ma, mi, pa;

	(void)state;
	assert_int_equal(gobuildinfo__parse("go1.19.8", &ma, &mi, &pa), 0);
	assert_true(ma == 1 && mi == 19 && pa == 8);
	assert_int_equal(gobuildinfo__parse("go1.22rc1", &ma, &mi, &pa), 0);
	assert_true(ma == 1 && mi == 22 && pa == 0);
	assert_int_equal(gobuildinfo__parse("go1.26.5 X:boringcrypto", &ma, &mi, &pa), 0);
	assert_true(mi == 26 && pa == 5);
	assert_int_equal(gobuildinfo__parse("devel go1.23-abc123 Tue", &ma, &mi, &pa), 0);
	assert_true(mi == 23 && pa == 0);
	assert_int_equal(gobuildinfo__parse("", &ma, &mi, &pa), -EINVAL);
	assert_int_equal(gobuildinfo__parse("gox", &ma, &mi, &pa), -EINVAL);
	assert_int_equal(gobuildinfo__parse(NULL, &ma, &mi, &pa), -EINVAL);
}

/* A binary of a much newer Go, prebuilt (npm's @esbuild/linux-x64). */
static void test_newer_go(void **state)
{
	char path[512], err[256] = "";
	struct gopclntab *t;
	struct gofunc_frame fr[8];
	struct gofunc_info fi;
	uint64_t entry, end;
	size_t deepest, with;
	int minor = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/npm/esbuild", OUTPUT_DIR);
	if (access(path, R_OK)) {
		print_message("# SKIP %s missing: run tests/fetch-esbuild.sh (needs the npm "
			      "registry)\n",
			      path);
		skip();
	}
	t = gopclntab__open_path(path, 0, err, sizeof(err));
	if (!t)
		fail_msg("%s: %s", path, err);
	print_message("# esbuild: %s, layout %d, %zu functions\n", gopclntab__go_version(t),
		      gopclntab__layout(t), gopclntab__nfuncs(t));
	assert_int_equal(sscanf(gopclntab__go_version(t), "go1.%d", &minor), 1);
	assert_true(minor >= 20);
	assert_int_equal(gopclntab__layout(t), 120);
	assert_int_equal(gopclntab__func_by_name(t, "main.main", &entry, &end), 0);
	assert_true(gopclntab__lookup(t, entry, fr, 8) >= 1);
	assert_string_equal(fr[0].function, "main.main");
	assert_non_null(fr[0].file);
	assert_non_null(strstr(fr[0].file, "cmd/esbuild/main.go"));
	assert_true(fr[0].line > 0 && fr[0].start_line > 0);
	assert_int_equal(gopclntab__func_by_name(t, "runtime.goexit", &entry, &end), 0);
	assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
	assert_int_equal(fi.kind, GOFUNC_GOEXIT);
	with = inline_pcs(t, &deepest);
	print_message("# esbuild: %zu PCs with inlined frames, deepest %zu\n", with, deepest);
	assert_true(with > 10000 && deepest >= 3);
	gopclntab__free(t);
}

/*
 * One stripped binary per Go version, prebuilt by esbuild's release process
 * (tests/fetch-esbuild.sh): 1.16 and 1.17 (0xfffffffa: absolute entries and
 * funcdata), 1.20, 1.22, 1.23 and 1.25 (0xfffffff1).  Each: its version, its layout,
 * main.main with its file, runtime.goexit and systemstack known, and
 * inline frames found.
 */
static void test_go_versions(void **state)
{
	static const struct {
		const char *file, *version;
		int layout;
	} bins[] = {
	    {"esbuild-go116", "go1.16.3", 116},
	    {"esbuild-go117", "go1.17.2", 116},
	    {"esbuild-go120", "go1.20.4", 120},
	    {"esbuild-go122", "go1.22.5", 120},
	    {"esbuild-go123", "go1.23.8", 120},
	    {"esbuild-go125", "go1.25.7", 120},
	};
	size_t i, missing = 0;

	(void)state;
	for (i = 0; i < sizeof(bins) / sizeof(bins[0]); i++) {
		char path[512], err[256] = "";
		struct gofunc_frame fr[8];
		struct gofunc_info fi;
		struct gopclntab *t;
		uint64_t entry, end, lo, hi, pc;
		size_t with = 0;

		snprintf(path, sizeof(path), "%s/npm/%s", OUTPUT_DIR, bins[i].file);
		if (access(path, R_OK)) {
			print_message("# %s missing (tests/fetch-esbuild.sh: npm registry?)\n",
				      path);
			missing++;
			continue;
		}
		t = gopclntab__open_path(path, 0, err, sizeof(err));
		if (!t)
			fail_msg("%s: %s", path, err);
		assert_string_equal(gopclntab__go_version(t), bins[i].version);
		assert_int_equal(gopclntab__layout(t), bins[i].layout);
		assert_true(gopclntab__moduledata_addr(t) != 0);
		assert_int_equal(gopclntab__func_by_name(t, "main.main", &entry, &end), 0);
		assert_true(gopclntab__lookup(t, entry, fr, 8) >= 1);
		assert_string_equal(fr[0].function, "main.main");
		assert_non_null(fr[0].file);
		assert_non_null(strstr(fr[0].file, "cmd/esbuild/main.go"));
		assert_true(fr[0].line > 0);
		assert_int_equal(gopclntab__func_by_name(t, "runtime.goexit", &entry, &end), 0);
		assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
		assert_true(fi.kind == GOFUNC_GOEXIT && fi.topframe);
		assert_int_equal(gopclntab__func_by_name(t, "runtime.systemstack", &entry, &end),
				 0);
		assert_int_equal(gopclntab__func_at(t, entry, &fi), 0);
		assert_int_equal(fi.kind, GOFUNC_SYSTEMSTACK);
		/* 1.17 on: the SPWRITE flag in the byte that is padding in 1.16. */
		if (strcmp(bins[i].version, "go1.17") > 0)
			assert_true(fi.spwrite);
		gopclntab__text_range(t, &lo, &hi);
		for (pc = lo; pc < hi; pc += 5)
			with += gopclntab__lookup(t, pc, fr, 8) > 1;
		print_message("# %s: %s, layout %d, %zu functions, %zu sampled PCs inlined\n",
			      bins[i].file, gopclntab__go_version(t), gopclntab__layout(t),
			      gopclntab__nfuncs(t), with);
		assert_true(with > 10000);
		gopclntab__free(t);
	}
	if (missing == sizeof(bins) / sizeof(bins[0]))
		skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stripped_has_no_symbols),
	    cmocka_unit_test(test_layout_and_version),
	    cmocka_unit_test(test_every_nm_function),
	    cmocka_unit_test(test_addr2line),
	    cmocka_unit_test(test_inline_frames),
	    cmocka_unit_test(test_sp_delta_and_kinds),
	    cmocka_unit_test(test_pie),
	    cmocka_unit_test(test_symbolizer_on_go_process),
	    cmocka_unit_test(test_bias),
	    cmocka_unit_test(test_not_go),
	    cmocka_unit_test(test_hostile),
	    cmocka_unit_test(test_version_parse),
	    cmocka_unit_test(test_newer_go),
	    cmocka_unit_test(test_go_versions),
	};

	return cmocka_run_group_tests(tests, build_fixture, remove_fixture);
}
