// SPDX-License-Identifier: MIT
/*
 * heap_insig - a process whose only thread sleeps inside a signal handler
 * (which might have interrupted the allocator with its lock held): the
 * sampler is not loaded through it (test_heap_inject).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_usr1(int sig)
{
	(void)sig;
	for (;;) {
		char *p = malloc(64); /* not async-signal-safe: the point of the test */

		if (p)
			memset(p, 0, 64);
		free(p);
		usleep(10000);
	}
}

int main(void)
{
	signal(SIGUSR1, on_usr1);
	raise(SIGUSR1);
	return 0;
}
