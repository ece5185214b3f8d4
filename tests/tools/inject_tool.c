// SPDX-License-Identifier: MIT
/*
 * inject_tool - daemon/inject.c on its own, for test_heap_inject: loads the
 * sampler into a process and stops it again, ROUNDS times, as fast as it
 * can; checks the library's counters after each start (slots rewritten) and
 * each stop (none left); prints the longest stop of a thread.
 *
 * Usage: inject_tool [--step] [--no-boost] [--previous] PID LIBRARY RATE ROUNDS
 *        inject_tool PID LIBRARY counters    (the counters of a loaded sampler)
 * --step, --no-boost: inject__set_method's INJECT_STEP, INJECT_NO_BOOST;
 * --previous: both (the method before the marker signal).  Prints the median and p90 of the
 * loads' and the stops' stop times and ptrace stops.
 * Exit status: 0 all rounds done, 1 a start or stop failed (message on
 * stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inject.h"
#include "sampler.h"

#define MAX_ROUNDS 2048

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* "NAME_median M NAME_p90 P" of n values (sorted here). */
static void print_stat(const char *name, double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf(" %s_median %.2f %s_p90 %.2f", name, n ? v[n / 2] : 0, name,
	       n ? v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1] : 0);
}

int main(int argc, char **argv)
{
	static double load_ms[MAX_ROUNDS], unload_ms[MAX_ROUNDS], load_stops[MAX_ROUNDS];
	struct sampler_target st;
	struct sampler_counters c;
	double longest = 0, first = 0;
	int n = 0, stepped = 0;
	char err[512] = "";
	long rounds;

	for (unsigned flags = 0; argc > 1 && !strncmp(argv[1], "--", 2); argv++, argc--) {
		if (!strcmp(argv[1], "--step"))
			flags |= INJECT_STEP;
		else if (!strcmp(argv[1], "--no-boost"))
			flags |= INJECT_NO_BOOST;
		else if (!strcmp(argv[1], "--previous"))
			flags |= INJECT_STEP | INJECT_NO_BOOST;
		else
			return 2;
		inject__set_method(flags);
	}
	if (argc == 4 && !strcmp(argv[3], "counters")) {
		if (inject__find(atoi(argv[1]), argv[2], &st) || inject__counters(&st, &c, sizeof(c)))
			return 1;
		printf("sampled %llu freed %llu untracked %llu slots %llu objects %llu starts %llu "
		       "stops %llu\n",
		       (unsigned long long)c.sampled, (unsigned long long)c.freed,
		       (unsigned long long)c.untracked, (unsigned long long)c.slots,
		       (unsigned long long)c.objects, (unsigned long long)c.starts,
		       (unsigned long long)c.stops);
		return 0;
	}
	if (argc != 5)
		return 2;
	rounds = atol(argv[4]);
	for (long r = 0; r < rounds; r++) {
		if (inject__start(atoi(argv[1]), argv[2], atol(argv[3]), &st, err, sizeof(err))) {
			fprintf(stderr, "round %ld: start: %s\n", r, err);
			return 1;
		}
		if (inject__counters(&st, &c, sizeof(c)) || !c.slots) {
			fprintf(stderr, "round %ld: no slot rewritten after start\n", r);
			return 1;
		}
		if (!r)
			first = st.last_stop_ms;
		longest = st.last_stop_ms > longest ? st.last_stop_ms : longest;
		stepped += st.stepped;
		if (n < MAX_ROUNDS) {
			load_ms[n] = st.last_stop_ms;
			load_stops[n] = st.last_stops;
		}
		usleep(10000);
		err[0] = '\0';
		if (inject__stop(&st, err, sizeof(err)) || err[0]) {
			fprintf(stderr, "round %ld: stop: %s\n", r, err);
			return 1;
		}
		if (inject__counters(&st, &c, sizeof(c)) || c.slots) {
			fprintf(stderr, "round %ld: %llu slots left after stop\n", r,
				(unsigned long long)c.slots);
			return 1;
		}
		longest = st.last_stop_ms > longest ? st.last_stop_ms : longest;
		stepped += st.stepped;
		if (n < MAX_ROUNDS)
			unload_ms[n++] = st.last_stop_ms;
	}
	printf("rounds %ld stepped_calls %d first_load_ms %.2f longest_stop_ms %.2f", rounds, stepped,
	       first, longest);
	print_stat("load_stop_ms", load_ms, n);
	print_stat("unload_stop_ms", unload_ms, n);
	print_stat("load_ptrace_stops", load_stops, n);
	printf("\n");
	return 0;
}
