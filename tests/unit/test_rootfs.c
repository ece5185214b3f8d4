// SPDX-License-Identifier: MIT
/*
 * test_rootfs.c - opening files inside a root (rootfs.c), by openat2 and by
 * the walk: symbolic links and ".." that point out of the root land inside
 * it, FIFOs and directories are refused without blocking, sizes bounded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "rootfs.h"

static char top[] = "/tmp/pprofd-test-rootfs.XXXXXX";
static char root[sizeof(top) + 8];
static int root_fd = -1;

static void put(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void link_at(const char *target, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", root, name);
	assert_int_equal(symlink(target, path), 0);
}

static int setup(void **state)
{
	char path[256];

	(void)state;
	if (!mkdtemp(top))
		return -1;
	/* top/outside/secret is outside the root; top/root/outside/secret inside it. */
	snprintf(root, sizeof(root), "%s/root", top);
	snprintf(path, sizeof(path), "%s/outside", top);
	mkdir(path, 0700);
	put(path, "secret", "outside\n");
	mkdir(root, 0700);
	snprintf(path, sizeof(path), "%s/outside", root);
	mkdir(path, 0700);
	put(path, "secret", "inside\n");
	snprintf(path, sizeof(path), "%s/tmp", root);
	mkdir(path, 0700);
	put(path, "perf.map", "1000 10 f\n");
	put(path, "big", "0123456789");
	snprintf(path, sizeof(path), "%s/tmp/fifo", root);
	mkfifo(path, 0600);
	snprintf(path, sizeof(path), "%s/outside/secret", top);
	link_at(path, "tmp/abs");              /* absolute, naming the outside file */
	link_at("../../../../../../outside/secret", "tmp/rel");
	link_at("/", "tmp/slash");
	link_at("loop2", "tmp/loop1");
	link_at("loop1", "tmp/loop2");
	link_at("/proc/self/root/etc/hostname", "tmp/magic");
	root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return root_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	close(root_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	return system(cmd) ? -1 : 0;
}

static const char *read_in_root(const char *path, unsigned flags, uint64_t max, int *err)
{
	static char buf[64];
	int fd = rootfs__open_at(root_fd, path, flags, max, NULL);
	ssize_t n;

	*err = fd < 0 ? fd : 0;
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void check_all(void)
{
	int err;

	assert_string_equal(read_in_root("/tmp/perf.map", ROOTFS_NOFOLLOW, 0, &err), "1000 10 f\n");
	assert_string_equal(read_in_root("tmp/../tmp/./perf.map", 0, 0, &err), "1000 10 f\n");
	/* Out of the root by "..", an absolute or a relative link: inside it. */
	assert_string_equal(read_in_root("/../../../outside/secret", 0, 0, &err), "inside\n");
	assert_string_equal(read_in_root("/tmp/abs", 0, 0, &err) ?: "", "");
	assert_int_equal(err, -ENOENT); /* top/root/tmp/pprofd-... does not exist */
	assert_string_equal(read_in_root("/tmp/rel", 0, 0, &err), "inside\n");
	assert_string_equal(read_in_root("/tmp/slash/tmp/slash/outside/secret", 0, 0, &err),
			    "inside\n");
	/* Refusals. */
	assert_null(read_in_root("/tmp/rel", ROOTFS_NOFOLLOW, 0, &err));
	assert_int_equal(err, -ELOOP);
	assert_null(read_in_root("/tmp/loop1", 0, 0, &err));
	assert_int_equal(err, -ELOOP);
	assert_null(read_in_root("/tmp/fifo", 0, 0, &err)); /* and it did not block */
	assert_int_equal(err, -EPERM);
	assert_null(read_in_root("/tmp", 0, 0, &err));
	assert_int_equal(err, -EPERM);
	assert_null(read_in_root("/tmp/big", 0, 9, &err));
	assert_int_equal(err, -EFBIG);
	assert_non_null(read_in_root("/tmp/big", 0, 10, &err));
	assert_null(read_in_root("/tmp/perf.map/x", 0, 0, &err));
	assert_int_equal(err, -ENOTDIR);
	/* /proc's magic link (openat2) or its text (the walk): never the host's file. */
	assert_null(read_in_root("/tmp/magic", 0, 0, &err));
}

static void test_openat2(void **state)
{
	(void)state;
	rootfs__force_walk(false);
	check_all();
}

static void test_walk(void **state)
{
	(void)state;
	rootfs__force_walk(true);
	check_all();
	rootfs__force_walk(false);
}

static void test_read_bounded(void **state)
{
	char *text = NULL;
	size_t len = 0;
	int fd;

	(void)state;
	fd = rootfs__open_at(root_fd, "/tmp/big", 0, 0, NULL);
	assert_true(fd >= 0);
	assert_int_equal(rootfs__read_fd(fd, 5, &text, &len), -EFBIG);
	close(fd);
	fd = rootfs__open_at(root_fd, "/tmp/big", 0, 0, NULL);
	assert_int_equal(rootfs__read_fd(fd, 10, &text, &len), 0);
	close(fd);
	assert_int_equal(len, 10);
	assert_string_equal(text, "0123456789");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_openat2),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_read_bounded),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
