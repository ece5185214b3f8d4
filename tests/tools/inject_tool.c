// SPDX-License-Identifier: MIT
/*
 * inject_tool - daemon/inject.c on its own, for test_heap_inject: loads the
 * sampler into a process and stops it again, ROUNDS times, as fast as it
 * can; checks the library's counters after each start (slots rewritten) and
 * each stop (none left); prints the longest stop of a thread.
 *
 * Usage: inject_tool PID LIBRARY RATE ROUNDS
 *        inject_tool PID LIBRARY counters    (the counters of a loaded sampler)
 * Exit status: 0 all rounds done, 1 a start or stop failed (message on
 * stderr), 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inject.h"
#include "sampler.h"

int main(int argc, char **argv)
{
	struct sampler_target st;
	struct sampler_counters c;
	double longest = 0, stops[2048];
	int nstops = 0;
	char err[512] = "";
	long rounds;

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
		longest = st.stop_ms > longest ? st.stop_ms : longest;
		if (nstops < 2048)
			stops[nstops++] = st.stop_ms;
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
		longest = st.stop_ms > longest ? st.stop_ms : longest;
	}
	for (int i = 1; i < nstops; i++) /* insertion sort: a few hundred */
		for (int j = i; j > 0 && stops[j] < stops[j - 1]; j--) {
			double x = stops[j];

			stops[j] = stops[j - 1];
			stops[j - 1] = x;
		}
	printf("rounds %ld longest_stop_ms %.2f load_stop_ms_median %.2f load_stop_ms_p90 %.2f\n",
	       rounds, longest, nstops ? stops[nstops / 2] : 0, nstops ? stops[nstops * 9 / 10] : 0);
	return 0;
}
