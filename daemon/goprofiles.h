/* SPDX-License-Identifier: MIT */
/*
 * goprofiles.h - the profiles a Go target answers from its own runtime
 * (goruntime.h), as its net/http/pprof would, with zero probes:
 *
 *   goroutine  (COLLECT_SNAPSHOT) every goroutine that is not dead and not a
 *              runtime system goroutine (as runtime.NumGoroutine counts),
 *              its stack from its saved context; ?debug=1 Go's count
 *              format, ?debug=2 Go's full dump ("goroutine 7 [chan
 *              receive, 3 minutes]:" ... "created by ...").
 *   heap       (COLLECT_SNAPSHOT) runtime.mbuckets: alloc_objects,
 *   allocs     alloc_space, inuse_objects, inuse_space, scaled as Go's
 *              scaleHeapSample; the same data, allocs defaulting to
 *              alloc_space as Go's.
 *   block      (COLLECT_SNAPSHOT) runtime.bbuckets / xbuckets, when the app
 *   mutex      turned them on (SetBlockProfileRate, SetMutexProfileFraction):
 *              contentions, delay in ns (cycles at the runtime's ticks per
 *              second), ?debug=1 Go's text; with the rate 0 (Go's default)
 *              the OS-level collectors (offcpu.c, lock.c), their comment
 *              saying so.  The rate is looked at once, when pprofd attaches.
 *
 * Each constructor falls back to the native collector of the same name
 * (threads.c, alloc.c, offcpu.c, lock.c) when the target is no Go binary, or its runtime
 * cannot be read (an unsupported Go version: the reason is the fallback's
 * comment and in /debug/metrics' go_runtime).
 */
#ifndef PPROFD_GOPROFILES_H
#define PPROFD_GOPROFILES_H

#include <stddef.h>
#include <sys/types.h>

struct cJSON;
struct collector;
struct collector_env;

/* collector_new_fn's (collectors.h). */
struct collector *goroutine_collector__new(const struct collector_env *env, int *error, char *err,
					   size_t errlen);
struct collector *go_heap_collector__new(const struct collector_env *env, int *error, char *err,
					 size_t errlen);
struct collector *go_allocs_collector__new(const struct collector_env *env, int *error, char *err,
					   size_t errlen);
struct collector *go_block_collector__new(const struct collector_env *env, int *error, char *err,
					  size_t errlen);
struct collector *go_mutex_collector__new(const struct collector_env *env, int *error, char *err,
					  size_t errlen);

#include "goruntime.h"

struct symbolizer;

/* The Go runtime's own figures, for the /performance/ endpoints and /metrics. */
struct go_target_stats {
	char version[32];
	int64_t goroutines; /* as runtime.NumGoroutine counts; -1 not read */
	bool have_gc;	    /* gc read */
	struct go_gc_stats gc;
};

/*
 * Reads them now (a walk of allgs without stacks, memstats, gcController).
 * Returns 0, -ENOENT for a target that is not Go (why ""), or a negative
 * errno with why.
 */
int goprofiles__stats(pid_t pid, struct symbolizer *sym, struct go_target_stats *out, char *why,
		      size_t whylen);

/*
 * /debug/metrics' "go_runtime": whether the target is Go, its version,
 * where the layouts came from, or why its runtime is not read.  Adds
 * nothing for a target that is not Go.
 */
void goprofiles__metrics(pid_t pid, struct cJSON *root);

#endif /* PPROFD_GOPROFILES_H */
