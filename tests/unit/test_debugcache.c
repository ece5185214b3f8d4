// SPDX-License-Identifier: MIT
/*
 * test_debugcache.c - uncompressed copies of ELF files with compressed debug
 * sections: this binary is linked with -gz=zlib (Makefile), so it is its own
 * fixture.  The copy must hold every section as libelf decompresses it, leave
 * what the program headers place where it was, and read in libdw as the
 * original; the cache must reuse, replace a bad copy and prune.  No root.
 */
#define _GNU_SOURCE
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "debugcache.h"

static char dir[64]; /* mkdtemp's: short */

static int setup(void **state)
{
	(void)state;
	elf_version(EV_CURRENT);
	snprintf(dir, sizeof(dir), "/tmp/pprofd-test-debugcache.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	debug_cache__configure("", 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

static int open_self(Elf **elf)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	*elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(*elf);
	return fd;
}

static size_t count_compressed(Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t n = 0;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_COMPRESSED))
			n++;
	return n;
}

static size_t count_cus(int fd)
{
	Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
	Dwarf_Off off = 0, next;
	size_t hsize, n = 0;

	assert_non_null(dw);
	while (!dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL)) {
		Dwarf_Die cu;
		Dwarf_Lines *lines;
		size_t nlines;

		assert_non_null(dwarf_offdie(dw, off + hsize, &cu));
		assert_int_equal(dwarf_getsrclines(&cu, &lines, &nlines), 0);
		n += nlines; /* every CU's line table, read whole */
		off = next;
	}
	dwarf_end(dw);
	return n;
}

/* Every section of the copy as libelf decompresses the original's. */
static void test_decompress_matches(void **state)
{
	char path[PATH_MAX];
	Elf *orig, *copy;
	Elf_Scn *a = NULL, *b = NULL;
	size_t na, nb;
	int in, out;

	(void)state;
	in = open_self(&orig);
	assert_true(count_compressed(orig) > 0); /* the fixture: linked -gz=zlib */
	snprintf(path, sizeof(path), "%s/copy", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	assert_int_equal(debug_cache__decompress(in, out), 0);
	copy = elf_begin(out, ELF_C_READ, NULL);
	assert_non_null(copy);
	assert_int_equal(count_compressed(copy), 0);
	assert_int_equal(elf_getshdrnum(orig, &na), 0);
	assert_int_equal(elf_getshdrnum(copy, &nb), 0);
	assert_int_equal(na, nb);
	while ((a = elf_nextscn(orig, a)) && (b = elf_nextscn(copy, b))) {
		GElf_Shdr sa, sb;
		Elf_Data *da, *db;

		assert_non_null(gelf_getshdr(a, &sa));
		assert_non_null(gelf_getshdr(b, &sb));
		assert_int_equal(sa.sh_name, sb.sh_name);
		assert_int_equal(sa.sh_type, sb.sh_type);
		if (sa.sh_flags & SHF_ALLOC) /* placed by the program headers: not moved */
			assert_int_equal(sa.sh_offset, sb.sh_offset);
		if (sa.sh_flags & SHF_COMPRESSED)
			assert_int_equal(elf_compress(a, 0, 0), 1);
		da = elf_getdata(a, NULL);
		db = elf_getdata(b, NULL);
		if (sa.sh_type == SHT_NOBITS)
			continue;
		assert_non_null(da);
		assert_non_null(db);
		assert_int_equal(da->d_size, db->d_size);
		assert_memory_equal(da->d_buf, db->d_buf, da->d_size);
	}
	elf_end(copy);
	elf_end(orig);
	/* libdw reads the same DWARF from both. */
	assert_int_equal(count_cus(in), count_cus(out));
	assert_true(count_cus(out) > 0);
	close(out);
	close(in);
}

static void test_not_elf(void **state)
{
	char path[PATH_MAX];
	int in, out;

	(void)state;
	snprintf(path, sizeof(path), "%s/junk", dir);
	in = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(in >= 0);
	for (int i = 0; i < 4; i++) /* longer than an ELF header */
		assert_int_equal(write(in, "not an ELF file, not at all, no\n", 32), 32);
	snprintf(path, sizeof(path), "%s/out", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	assert_int_equal(debug_cache__decompress(in, out), -ENOTSUP);
	close(in);
	close(out);
}

/*
 * A compressed section that claims more than a copy may hold (a zlib bomb),
 * and one in a NOBITS section (fuzz_elf_decompress: it stayed compressed in
 * the copy): no copy.
 */
static void copy_of_self_with(int (*edit)(int fd, Elf64_Shdr *sh, off_t shdr_at), int want)
{
	char path[PATH_MAX], cmd[PATH_MAX * 2 + 16];
	Elf_Scn *scn = NULL;
	Elf *elf;
	int in, out, edited = 0;

	snprintf(path, sizeof(path), "%s/self", dir);
	snprintf(cmd, sizeof(cmd), "cp /proc/%d/exe %s", (int)getpid(), path);
	assert_int_equal(system(cmd), 0);
	in = open(path, O_RDWR);
	assert_true(in >= 0);
	elf = elf_begin(in, ELF_C_READ, NULL);
	assert_non_null(elf);
	while (!edited && (scn = elf_nextscn(elf, scn))) {
		GElf_Ehdr eh;
		Elf64_Shdr sh;
		off_t at;

		assert_non_null(gelf_getehdr(elf, &eh));
		at = eh.e_shoff + elf_ndxscn(scn) * sizeof(sh);
		assert_int_equal(pread(in, &sh, sizeof(sh), at), sizeof(sh));
		if (sh.sh_flags & SHF_COMPRESSED)
			edited = edit(in, &sh, at);
	}
	elf_end(elf);
	assert_true(edited);
	snprintf(path, sizeof(path), "%s/out", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	assert_int_equal(debug_cache__decompress(in, out), want);
	close(in);
	close(out);
}

static int claim_5gib(int fd, Elf64_Shdr *sh, off_t shdr_at)
{
	Elf64_Chdr ch;

	(void)shdr_at;
	assert_int_equal(pread(fd, &ch, sizeof(ch), sh->sh_offset), sizeof(ch));
	ch.ch_size = 5ULL << 30;
	assert_int_equal(pwrite(fd, &ch, sizeof(ch), sh->sh_offset), sizeof(ch));
	return 1;
}

static int make_nobits(int fd, Elf64_Shdr *sh, off_t shdr_at)
{
	sh->sh_type = SHT_NOBITS;
	assert_int_equal(pwrite(fd, sh, sizeof(*sh), shdr_at), sizeof(*sh));
	return 1;
}

static void test_hostile_sizes(void **state)
{
	(void)state;
	debug_cache__configure("", 0);
	copy_of_self_with(claim_5gib, -EFBIG);
	copy_of_self_with(make_nobits, -ENOTSUP);
}

/* The first 8 KiB of this binary: headers that point past the end. */
static void test_truncated(void **state)
{
	char path[PATH_MAX], buf[8192];
	int self, in, out;

	(void)state;
	self = open("/proc/self/exe", O_RDONLY);
	assert_int_equal(read(self, buf, sizeof(buf)), sizeof(buf));
	close(self);
	snprintf(path, sizeof(path), "%s/short", dir);
	in = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(in, buf, sizeof(buf)), sizeof(buf));
	snprintf(path, sizeof(path), "%s/out", dir);
	out = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(debug_cache__decompress(in, out) < 0);
	close(in);
	close(out);
}

static void test_nothing_compressed(void **state)
{
	char path[PATH_MAX], *copy = NULL;
	Elf *elf;
	int fd;

	(void)state;
	debug_cache__configure(dir, 1 << 30);
	/* A copy is itself uncompressed: asked again, nothing to do. */
	snprintf(path, sizeof(path), "%s/copy", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	{
		Elf *self;
		int in = open_self(&self);

		assert_int_equal(debug_cache__decompress(in, fd), 0);
		elf_end(self);
		close(in);
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_int_equal(debug_cache__open(fd, elf, &copy), -ENOENT);
	assert_null(copy);
	elf_end(elf);
	close(fd);
}

static void test_cache_reuses_replaces_prunes(void **state)
{
	char *path = NULL, *again = NULL, stale[PATH_MAX > 4096 ? PATH_MAX : 4096];
	char dead[PATH_MAX], fresh[PATH_MAX];
	struct stat st1, st2;
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	Elf *elf;
	int fd, copy, junk;

	(void)state;
	/* Off: no copy. */
	debug_cache__configure("", 0);
	fd = open_self(&elf);
	assert_int_equal(debug_cache__open(fd, elf, &path), -ENOTSUP);

	/* A stale copy of something else, older than anything. */
	snprintf(stale, sizeof(stale), "%s/00000000000000000000000000000000000000ff.elf", dir);
	junk = open(stale, O_RDWR | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < 64; i++)
		assert_int_equal(write(junk, stale, 4096), 4096);
	close(junk);
	assert_int_equal(utimes(stale, old), 0);
	/* Half copies: a dead daemon's, an hour old and more, and one being written. */
	snprintf(dead, sizeof(dead), "%s/.00000000000000000000000000000000000000ee.elf.1", dir);
	snprintf(fresh, sizeof(fresh), "%s/.00000000000000000000000000000000000000dd.elf.2", dir);
	close(open(dead, O_RDWR | O_CREAT, 0644));
	close(open(fresh, O_RDWR | O_CREAT, 0644));
	assert_int_equal(utimes(dead, old), 0);

	/* Made once, under a limit the stale one no longer fits under. */
	debug_cache__configure(dir, 1);
	copy = debug_cache__open(fd, elf, &path);
	assert_true(copy >= 0);
	assert_non_null(path);
	assert_true(strncmp(path, dir, strlen(dir)) == 0);
	assert_int_equal(fstat(copy, &st1), 0);
	assert_int_not_equal(access(stale, F_OK), 0); /* pruned */
	assert_int_not_equal(access(dead, F_OK), 0);  /* a dead daemon's half copy: removed */
	assert_int_equal(access(fresh, F_OK), 0);     /* one being written now: kept */
	assert_int_equal(access(path, F_OK), 0);      /* not the one just made */
	close(copy);

	/* Asked again: the same file. */
	copy = debug_cache__open(fd, elf, &again);
	assert_true(copy >= 0);
	assert_string_equal(path, again);
	assert_int_equal(fstat(copy, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	close(copy);
	free(again);

	/* A bad copy (say, cut short by a full disk) is made again. */
	junk = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(junk, "junk", 4), 4);
	close(junk);
	copy = debug_cache__open(fd, elf, &again);
	assert_true(copy >= 0);
	assert_int_equal(fstat(copy, &st2), 0);
	assert_true(st2.st_size > 4);
	close(copy);
	free(again);
	free(path);
	elf_end(elf);
	close(fd);
}

/* Pages of a mapped copy go back, and what they held reads the same after. */
static void test_release_pages(void **state)
{
	char *path = NULL;
	Elf *self, *copy;
	Elf_Scn *scn = NULL;
	uint64_t sum1 = 0, sum2 = 0;
	int fd, cfd;

	(void)state;
	debug_cache__configure(dir, 1 << 30);
	fd = open_self(&self);
	cfd = debug_cache__open(fd, self, &path);
	assert_true(cfd >= 0);
	copy = elf_begin(cfd, ELF_C_READ_MMAP, NULL);
	assert_non_null(copy);
	/* Read every section: the mapping's pages are in. */
	for (int pass = 0; pass < 2; pass++) {
		while ((scn = elf_nextscn(copy, scn))) {
			Elf_Data *d = elf_getdata(scn, NULL);

			for (size_t i = 0; d && d->d_buf && i < d->d_size; i += 64)
				*(pass ? &sum2 : &sum1) += ((const unsigned char *)d->d_buf)[i];
		}
		if (!pass)
			assert_true(debug_cache__release_pages() > 0);
	}
	assert_int_equal(sum1, sum2);
	/* Nothing of a copy mapped: nothing to give back. */
	elf_end(copy);
	assert_int_equal(debug_cache__release_pages(), 0);
	close(cfd);
	free(path);
	elf_end(self);
	close(fd);
}

/* A cache directory that cannot be made: no copy, a clear error, no crash. */
static void test_unusable_dir(void **state)
{
	char bad[PATH_MAX], *path = NULL;
	Elf *elf;
	int fd;

	(void)state;
	snprintf(bad, sizeof(bad), "%s/no/such/parent", dir);
	debug_cache__configure(bad, 1 << 30);
	fd = open_self(&elf);
	assert_true(debug_cache__open(fd, elf, &path) < 0);
	assert_null(path);
	elf_end(elf);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_decompress_matches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_elf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_compressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_reuses_replaces_prunes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_release_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unusable_dir, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
