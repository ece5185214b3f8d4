/* SPDX-License-Identifier: MIT */
/*
 * perfmap.h - symbols of JIT-compiled code from the target's perf map file,
 * /tmp/perf-PID.map (the convention of perf, V8, the JVM's perf-map-agent,
 * LuaJIT, ...): one "START SIZE name" line per function, hex.  Read in the
 * target's root (rootfs.h), with the PID as the target sees itself (its
 * namespace).
 *
 * The file is the target's to write, so it is hostile input: it must be a
 * regular file, not a symbolic link, owned by root or by the target's user
 * (as perf asks), at most PERF_MAP_MAX_BYTES; names are cut at
 * PERF_MAP_MAX_NAME, at most PERF_MAP_MAX_SYMBOLS are kept, and the names
 * of every version read (kept until perf_map__free()) at most
 * PERF_MAP_MAX_KEPT bytes.  A file refused is logged once per reason and
 * shown by perf_map__status().
 */
#ifndef PPROFD_PERFMAP_H
#define PPROFD_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PERF_MAP_MAX_BYTES (32u << 20)
#define PERF_MAP_MAX_NAME 1024
#define PERF_MAP_MAX_SYMBOLS (1u << 20)
#define PERF_MAP_MAX_KEPT (64u << 20)

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

/*
 * Replaces the symbols with those of perf map text (len bytes, NUL bytes
 * allowed: they end a name).  What perf_map__find() does after reading the
 * file; for the fuzzer and the tests.  Returns 0, -ENOMEM, or -EFBIG when
 * the names kept would pass PERF_MAP_MAX_KEPT (nothing changes then).
 */
int perf_map__parse(struct perf_map *m, const char *text, size_t len);

/* The file as pprofd last saw it. */
struct perf_map_status {
	const char *path;    /* in the target's root */
	const char *state;   /* "absent", "loaded" or "refused" */
	const char *reason;  /* why refused (or why absent), NULL when loaded */
	size_t symbols;      /* of the version loaded */
	uint64_t refusals;   /* times a version of the file was refused */
};
void perf_map__status(const struct perf_map *m, struct perf_map_status *out);

/* The last NSpid of /proc/PID/status text (the PID in its own namespace), or fallback. */
pid_t perf_map__namespace_pid(const char *status, pid_t fallback);

#endif /* PPROFD_PERFMAP_H */
