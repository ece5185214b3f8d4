/* SPDX-License-Identifier: MIT */
/*
 * perfmap.h - symbols of JIT-compiled code from the target's perf map file,
 * /tmp/perf-PID.map (the convention of perf, V8, the JVM's perf-map-agent,
 * LuaJIT, ...): one "START SIZE name" line per function, hex.  Read through
 * /proc/PID/root, with the PID as the target sees itself (its namespace).
 */
#ifndef PPROFD_PERFMAP_H
#define PPROFD_PERFMAP_H

#include <stdint.h>
#include <sys/types.h>

struct perf_map;

/* NULL on allocation failure; a missing file is not a failure. */
struct perf_map *perf_map__new(pid_t pid);
void perf_map__free(struct perf_map *m);

/*
 * The name of the JIT function holding addr, or NULL.  The file is read
 * again when it changed, not more often than once a second.  The string is
 * borrowed and stays valid until perf_map__free().
 */
const char *perf_map__find(struct perf_map *m, uint64_t addr);

#endif /* PPROFD_PERFMAP_H */
