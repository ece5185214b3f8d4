// SPDX-License-Identifier: MIT
/*
 * heap_seccomp - allocates now and then under a seccomp filter (one that
 * allows everything): the sampler is not loaded into such a process
 * (test_heap_inject), since a filter could refuse the loader's system calls.
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(void)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { 1, &allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("heap_seccomp: seccomp");
		return 1;
	}
	for (;;) {
		char *p = malloc(4096);

		if (p)
			memset(p, 0, 64);
		free(p);
		usleep(10000);
	}
}
