// SPDX-License-Identifier: MIT
/* test_stats.c - the /proc parsers of stats.c on fixture text, and the health thresholds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats.h"

static void test_stat(void **state)
{
	/* A comm with spaces and parentheses: only the last ')' ends it. */
	static const char text[] =
		"4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1234 0 7 0 250 31 0 0 20 0 "
		"5 0 98765 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 "
		"0 0 0 0\n";
	struct proc_stat st;

	(void)state;
	assert_int_equal(stats__parse_stat(text, &st), 0);
	assert_int_equal(st.pid, 4242);
	assert_string_equal(st.comm, "my (odd) prog");
	assert_int_equal(st.state, 'S');
	assert_int_equal(st.ppid, 1);
	assert_int_equal(st.minflt, 1234);
	assert_int_equal(st.majflt, 7);
	assert_int_equal(st.utime, 250);
	assert_int_equal(st.stime, 31);
	assert_int_equal(st.num_threads, 5);
	assert_int_equal(st.starttime, 98765);
	assert_int_equal(st.vsize, 123456789);
	assert_int_equal(st.rss_pages, 300);

	assert_int_equal(stats__parse_stat("", &st), -EINVAL);
	assert_int_equal(stats__parse_stat("12 (x) R 1 2", &st), -EINVAL);
	assert_int_equal(stats__parse_stat("12 x R 1 2", &st), -EINVAL);
}

static const char status[] = "Name:\tbusy\n"
			     "State:\tR (running)\n"
			     "Threads:\t3\n"
			     "VmRSS:\t    1172 kB\n"
			     "RssAnon:\t      92 kB\n"
			     "RssFile:\t    1080 kB\n"
			     "VmSwap:\t       0 kB\n"
			     "voluntary_ctxt_switches:\t12\n"
			     "nonvoluntary_ctxt_switches:\t3456\n";

static void test_field(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(stats__field(status, "VmRSS", &v), 0);
	assert_int_equal(v, 1172 * 1024);
	assert_int_equal(stats__field(status, "RssAnon", &v), 0);
	assert_int_equal(v, 92 * 1024);
	assert_int_equal(stats__field(status, "Threads", &v), 0);
	assert_int_equal(v, 3);
	/* No unit: the number as is. */
	assert_int_equal(stats__field(status, "nonvoluntary_ctxt_switches", &v), 0);
	assert_int_equal(v, 3456);
	assert_int_equal(stats__field(status, "voluntary_ctxt_switches", &v), 0);
	assert_int_equal(v, 12);
	/* A prefix of a key is not the key; the value must be a number. */
	assert_int_equal(stats__field(status, "Rss", &v), -ENOENT);
	assert_int_equal(stats__field(status, "VmHWM", &v), -ENOENT);
	assert_int_equal(stats__field(status, "Name", &v), -ENOENT);
	/* /proc/PID/io: "key: N". */
	assert_int_equal(stats__field("rchar: 3980\nwchar: 17\nread_bytes: 8192\n", "read_bytes",
				      &v),
			 0);
	assert_int_equal(v, 8192);
}

static void test_limit(void **state)
{
	static const char limits[] =
		"Limit                     Soft Limit           Hard Limit           Units     \n"
		"Max cpu time              unlimited            unlimited            seconds   \n"
		"Max open files            1024                 524288               files     \n"
		"Max locked memory         8388608              unlimited            bytes     \n";
	uint64_t soft, hard;

	(void)state;
	assert_int_equal(stats__parse_limit(limits, "Max open files", &soft, &hard), 0);
	assert_int_equal(soft, 1024);
	assert_int_equal(hard, 524288);
	assert_int_equal(stats__parse_limit(limits, "Max locked memory", &soft, &hard), 0);
	assert_int_equal(soft, 8388608);
	assert_true(hard == UINT64_MAX);
	assert_int_equal(stats__parse_limit(limits, "Max cpu time", &soft, &hard), 0);
	assert_true(soft == UINT64_MAX);
	assert_int_equal(stats__parse_limit(limits, "Max processes", &soft, &hard), -ENOENT);
}

static void test_loadavg(void **state)
{
	double l[3];

	(void)state;
	assert_int_equal(stats__parse_loadavg("0.52 1.25 15.00 3/712 12345\n", l), 0);
	assert_true(l[0] == 0.52 && l[1] == 1.25 && l[2] == 15.0);
	assert_int_equal(stats__parse_loadavg("x", l), -EINVAL);
}

struct seen {
	size_t n;
	char names[8][64];
	struct smaps_mapping m[8];
};

static void on_mapping(const struct smaps_mapping *m, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8) {
		s->m[s->n] = *m;
		snprintf(s->names[s->n], sizeof(s->names[0]), "%s", m->name);
		s->n++;
	}
}

static const char smaps[] =
		"55d0a0000000-55d0a0021000 rw-p 00000000 00:00 0                          [heap]\n"
		"Size:                132 kB\n"
		"Rss:                  12 kB\n"
		"Pss:                  12 kB\n"
		"Anonymous:            12 kB\n"
		"Swap:                  0 kB\n"
		"VmFlags: rd wr mr mw me ac \n"
		"7f0000000000-7f0000800000 rw-p 00000000 00:00 0 \n"
		"Rss:                2048 kB\n"
		"Private_Dirty:      2048 kB\n"
		"Anonymous:          2048 kB\n"
		"7f1000000000-7f1000001000 r-xp 00001000 fd:01 123456                     /opt/my app/lib x.so\n"
		"Rss:                   4 kB\n"
		"Shared_Clean:          4 kB\n"
		"Swap:                  8 kB\n";

static void test_smaps(void **state)
{
	struct seen s = { 0 };

	(void)state;
	assert_int_equal(stats__parse_smaps(smaps, on_mapping, &s), 3);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "[heap]");
	assert_true(s.m[0].start == 0x55d0a0000000ULL && s.m[0].end == 0x55d0a0021000ULL);
	assert_int_equal(s.m[0].rss, 12 * 1024);
	assert_int_equal(s.m[0].anonymous, 12 * 1024);
	assert_int_equal(s.m[0].size, 0x21000);
	assert_string_equal(s.m[0].perms, "rw-p");
	assert_string_equal(s.names[1], "");
	assert_int_equal(s.m[1].rss, 2048 * 1024);
	assert_int_equal(s.m[1].private_dirty, 2048 * 1024);
	assert_int_equal(s.m[1].inode, 0);
	assert_string_equal(s.names[2], "/opt/my app/lib x.so");
	assert_int_equal(s.m[2].inode, 123456);
	assert_int_equal(s.m[2].swap, 8 * 1024);
	assert_int_equal(s.m[2].shared_clean, 4 * 1024);
	assert_string_equal(s.m[2].perms, "r-xp");

	assert_int_equal(stats__parse_smaps("", on_mapping, &s), 0);
}

/* Fed a piece at a time, of every size, the parser sees what it sees at once. */
static void test_smaps_pieces(void **state)
{
	struct seen whole = { 0 };
	size_t len = strlen(smaps);

	(void)state;
	stats__parse_smaps(smaps, on_mapping, &whole);
	for (size_t piece = 1; piece <= len; piece += piece < 16 ? 1 : 37) {
		struct seen s = { 0 };
		struct smaps_parser *p = smaps_parser__new(on_mapping, &s);

		assert_non_null(p);
		for (size_t at = 0; at < len; at += piece)
			smaps_parser__feed(p, smaps + at, at + piece <= len ? piece : len - at);
		assert_int_equal(smaps_parser__end(p), 3);
		smaps_parser__free(p);
		assert_int_equal(s.n, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_string_equal(s.names[i], whole.names[i]);
			assert_true(s.m[i].start == whole.m[i].start && s.m[i].end == whole.m[i].end);
			assert_string_equal(s.m[i].perms, whole.m[i].perms);
			assert_int_equal(s.m[i].inode, whole.m[i].inode);
			assert_int_equal(s.m[i].size, whole.m[i].size);
			assert_int_equal(s.m[i].pss, whole.m[i].pss);
			assert_int_equal(s.m[i].anonymous, whole.m[i].anonymous);
			assert_int_equal(s.m[i].shared_clean, whole.m[i].shared_clean);
			assert_int_equal(s.m[i].rss, whole.m[i].rss);
			assert_int_equal(s.m[i].swap, whole.m[i].swap);
			assert_int_equal(s.m[i].private_dirty, whole.m[i].private_dirty);
		}
	}
}

/*
 * A name longer than any path keeps its start; its fields are still its
 * own and the next mapping is read.  The last line may lack its newline.
 */
static void test_smaps_long_line(void **state)
{
	size_t n = 9000, at;
	char *text = malloc(n + 512);
	struct seen s = { 0 };

	(void)state;
	assert_non_null(text);
	at = sprintf(text, "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 /");
	memset(text + at, 'x', n);
	at += n;
	at += sprintf(text + at, "\nRss: 4 kB\n7f1000000000-7f1000002000 r--p 00000000 00:00 0 "
				 "[vvar]\nRss: 8 kB");
	assert_int_equal(stats__parse_smaps(text, on_mapping, &s), 2);
	assert_int_equal(s.m[0].rss, 4096);
	assert_int_equal(strncmp(s.names[0], "/xxxxxxxx", 9), 0);
	assert_string_equal(s.names[1], "[vvar]");
	assert_int_equal(s.m[1].rss, 8192);
	free(text);
}

static void test_syscall_sp(void **state)
{
	uint64_t sp = 0;

	(void)state;
	assert_int_equal(stats__parse_syscall_sp("230 0x1 0x0 0x7ffd1000 0x0 0x0 0x0 0x7ffd0ff8 "
						 "0x7f00001234\n",
						 &sp),
			 0);
	assert_true(sp == 0x7ffd0ff8ULL);
	assert_int_equal(stats__parse_syscall_sp("-1 0x7f12345678 0x55aa00\n", &sp), 0);
	assert_true(sp == 0x7f12345678ULL);
	assert_int_equal(stats__parse_syscall_sp("running\n", &sp), -EAGAIN);
	assert_int_equal(stats__parse_syscall_sp("garbage", &sp), -EINVAL);
}

static void test_thresholds(void **state)
{
	(void)state;
	/* Over a max: critical; above 80% of it: warning. */
	assert_int_equal(health__against_max(0, 1000), HEALTH_OK);
	assert_int_equal(health__against_max(800, 1000), HEALTH_OK);
	assert_int_equal(health__against_max(801, 1000), HEALTH_WARNING);
	assert_int_equal(health__against_max(1000, 1000), HEALTH_WARNING);
	assert_int_equal(health__against_max(1001, 1000), HEALTH_CRITICAL);
	assert_int_equal(health__against_max(5, 4), HEALTH_CRITICAL);
	assert_int_equal(health__against_max(4, 4), HEALTH_WARNING);
	assert_int_equal(health__against_max(3, 4), HEALTH_OK);
	/* Two thresholds (scheduling stalls, ms). */
	assert_int_equal(health__against(100, 100, 500), HEALTH_OK);
	assert_int_equal(health__against(100.5, 100, 500), HEALTH_WARNING);
	assert_int_equal(health__against(500, 100, 500), HEALTH_WARNING);
	assert_int_equal(health__against(501, 100, 500), HEALTH_CRITICAL);
	/* The overall status: the worst; unknown never fails it. */
	assert_int_equal(health__worst(HEALTH_OK, HEALTH_WARNING), HEALTH_WARNING);
	assert_int_equal(health__worst(HEALTH_CRITICAL, HEALTH_WARNING), HEALTH_CRITICAL);
	assert_int_equal(health__worst(HEALTH_UNKNOWN, HEALTH_OK), HEALTH_OK);
	assert_int_equal(health__worst(HEALTH_WARNING, HEALTH_UNKNOWN), HEALTH_WARNING);
	assert_int_equal(health__http_code(HEALTH_OK), 200);
	assert_int_equal(health__http_code(HEALTH_WARNING), 202);
	assert_int_equal(health__http_code(HEALTH_CRITICAL), 503);
	assert_string_equal(health__name(HEALTH_UNKNOWN), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat),     cmocka_unit_test(test_field),
		cmocka_unit_test(test_limit),    cmocka_unit_test(test_loadavg),
		cmocka_unit_test(test_smaps),    cmocka_unit_test(test_smaps_pieces),
		cmocka_unit_test(test_smaps_long_line), cmocka_unit_test(test_syscall_sp),
		cmocka_unit_test(test_thresholds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
