// SPDX-License-Identifier: MIT
/*
 * rusage.c - runs a command and, when it ends, writes down what it cost: its
 * user and system CPU time and its peak RSS, from wait4()'s struct rusage.
 * tests/bench/bench.sh builds it (into $OUTPUT/bench/) to measure tools that
 * it runs for one profile and that exit, like `perf record`, including what
 * they do after being told to stop (writing and finishing their file), which
 * /proc cannot show once the process is gone.  ru_maxrss is the same number
 * as VmHWM in /proc/PID/status, read at the very end.
 *
 * Usage: rusage OUTFILE COMMAND [ARGS...]
 *
 * OUTFILE gets the child's PID on its first line as soon as it is forked (so
 * the caller can read its /proc files and signal it), then, when it ends, a
 * second line: "UTIME_US STIME_US MAXRSS_KB STATUS" (STATUS is the exit
 * status, or 128 + the signal that killed it).  SIGINT, SIGTERM and SIGHUP
 * sent to rusage are passed on to the child.  Exits with the child's STATUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile pid_t child;

static void forward(int sig)
{
	if (child > 0)
		kill(child, sig);
}

int main(int argc, char **argv)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP };
	struct sigaction sa;
	struct rusage ru;
	FILE *out;
	int status, code;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: %s OUTFILE COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	out = fopen(argv[1], "w");
	if (!out) {
		fprintf(stderr, "rusage: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);

	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "rusage: fork: %s\n", strerror(errno));
		return 2;
	}
	if (pid == 0) {
		/* A background job of a script starts with SIGINT ignored: undo that. */
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rusage: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	child = pid;
	fprintf(out, "%d\n", (int)pid);
	fflush(out);

	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "rusage: wait4: %s\n", strerror(errno));
			return 2;
		}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	fprintf(out, "%lld %lld %ld %d\n",
		(long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
		(long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss, code);
	fclose(out);
	return code;
}
