// SPDX-License-Identifier: MIT
/*
 * heap_static - a static binary without symbols (built -static -s): pprofd
 * finds no allocator to probe and says so.  Allocates now and then.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	for (;;) {
		char *p = malloc(4096);

		if (p)
			memset(p, 0, 64);
		free(p);
		usleep(10000);
	}
}
