// SPDX-License-Identifier: MIT
/* daemon.c - see daemon.h. */
#include <string.h>

#include "collector.h"
#include "daemon.h"

struct collector *daemon__collector(const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->ncollectors; i++)
		if (!strcmp(d->collectors[i]->name, name))
			return d->collectors[i];
	return NULL;
}
