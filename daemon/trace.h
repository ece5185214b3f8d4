/* SPDX-License-Identifier: MIT */
/*
 * trace.h - /debug/pprof/trace: a timeline of every thread of the target in
 * the Trace Event Format (JSON with "traceEvents", opened by Perfetto UI and
 * chrome://tracing): on-CPU intervals as complete ("X") events, off-CPU
 * intervals with their reason, wakeups as flows from waker to wakee, CPU
 * samples with their stacks, thread names as metadata.  Bounded: at most
 * TRACE_MAX_EVENTS timeline events and TRACE_MAX_SAMPLES samples; what is
 * dropped past that is said in "otherData".
 */
#ifndef PPROFD_TRACE_H
#define PPROFD_TRACE_H

#include <stddef.h>

#define TRACE_MAX_EVENTS 200000
#define TRACE_MAX_SAMPLES 50000

struct daemon;
struct trace;

/*
 * Starts tracing (the scheduler timeline and CPU samples at hz).  Returns
 * NULL with a negative errno in *error (-EBUSY: a trace is running) and a
 * one-line reason in err.
 */
struct trace *trace__start(struct daemon *d, int hz, int *error, char *err, size_t errlen);

/* Stops tracing and writes the JSON into a malloc'd *out.  0 or -errno. */
int trace__finish(struct trace *t, char **out, size_t *len);

/* Stops tracing if it runs and frees; safe on NULL. */
void trace__free(struct trace *t);

#endif /* PPROFD_TRACE_H */
