// SPDX-License-Identifier: MIT
/*
 * switcher.c - context switches on demand, for tests/bench/bench.sh's
 * "switch" section (the cost of the block and mutex collectors per context
 * switch of the target): two threads ping-pong one byte through a pair of
 * pipes, N round trips, each side blocking in read() until the other
 * writes.  Both threads are pinned to one CPU (the one main starts on), so
 * that every hand-off is one context switch from one thread to the other,
 * not a wake-up of an idle CPU.
 *
 * Usage: switcher N [now]
 *
 * Both threads exist from the start; the timed loop begins on SIGUSR1 (or
 * at once with "now"), so a profiler can attach first.  Prints, and exits:
 *	ns_per_switch <ns>     wall time of the loop / context switches of both
 *	                       threads during it (getrusage RUSAGE_THREAD)
 *	switches <n>           those switches (about 2 N)
 *	ns_per_roundtrip <ns>  wall time of the loop / N
 *	cpu_ns_per_switch <ns> CPU time of the process (both threads) during
 *	                       the loop / those switches: what waiting for a
 *	                       busy CPU adds to the wall time is not in it
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t go;
static int ping[2], pong[2];
static long rounds;
static long peer_switches;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static long thread_switches(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static void read_byte(int fd)
{
	char c;

	if (read(fd, &c, 1) != 1) {
		perror("read");
		exit(1);
	}
}

static void write_byte(int fd)
{
	char c = 0;

	if (write(fd, &c, 1) != 1) {
		perror("write");
		exit(1);
	}
}

/* The other side: the first byte says the loop starts; then echo. */
static void *ponger(void *arg)
{
	long s0;

	(void)arg;
	pthread_setname_np(pthread_self(), "switch-pong");
	read_byte(ping[0]);
	s0 = thread_switches();
	write_byte(pong[1]);
	for (long i = 0; i < rounds; i++) {
		read_byte(ping[0]);
		write_byte(pong[1]);
	}
	peer_switches = thread_switches() - s0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct timespec a, b, ca, cb;
	cpu_set_t cpus;
	pthread_t t;
	long s0, switches;
	double ns, cpu_ns;

	rounds = argc > 1 ? atol(argv[1]) : 100000;
	if (rounds <= 0) {
		fprintf(stderr, "usage: switcher N [now]\n");
		return 2;
	}
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	if (sched_setaffinity(0, sizeof(cpus), &cpus))
		perror("sched_setaffinity"); /* still works, just noisier */
	if (pipe(ping) || pipe(pong)) {
		perror("pipe");
		return 1;
	}
	signal(SIGUSR1, on_usr1);
	/* Created after the affinity is set: it inherits it. */
	if (pthread_create(&t, NULL, ponger, NULL)) {
		perror("pthread_create");
		return 1;
	}
	pthread_setname_np(pthread_self(), "switch-ping");
	if (argc < 3 || strcmp(argv[2], "now")) {
		printf("waiting for SIGUSR1\n");
		fflush(stdout);
		while (!go)
			usleep(1000);
	}
	/* Warm-up round trip: both threads are in the loop from here on. */
	write_byte(ping[1]);
	read_byte(pong[0]);

	s0 = thread_switches();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < rounds; i++) {
		write_byte(ping[1]);
		read_byte(pong[0]);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
	switches = thread_switches() - s0;
	pthread_join(t, NULL);
	switches += peer_switches;

	ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
	printf("ns_per_switch %.1f\n", switches ? ns / switches : 0.0);
	printf("switches %ld\n", switches);
	printf("ns_per_roundtrip %.1f\n", ns / rounds);
	cpu_ns = (cb.tv_sec - ca.tv_sec) * 1e9 + (cb.tv_nsec - ca.tv_nsec);
	printf("cpu_ns_per_switch %.1f\n", switches ? cpu_ns / switches : 0.0);
	return 0;
}
