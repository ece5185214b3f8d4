/* SPDX-License-Identifier: MIT */
/*
 * symbolize.h - addresses of the target process to mappings, functions,
 * files, lines and inline frames (elfutils libdwfl), and kernel addresses to
 * kernel functions (/proc/kallsyms).
 *
 * Files are opened through /proc/PID/root/<path> (so a target in a container
 * resolves against its own files) and, when that fails or the file was
 * deleted or replaced, through /proc/PID/map_files/<start>-<end>.  What is
 * resolved is cached per build ID (module-relative address), so repeated
 * profiles, and a restarted target with the same binaries, are cheap.
 *
 * Not thread-safe: one symbolizer is used from the event loop only.
 */
#ifndef PPROFD_SYMBOLIZE_H
#define PPROFD_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "perfmap.h"

struct symbolizer;

/* One executable mapping of the target (a line of /proc/PID/maps with x). */
struct symbol_mapping {
	uint64_t start, limit, offset; /* as in /proc/PID/maps */
	const char *path;              /* " (deleted)" trimmed; "[vdso]", "[kernel.kallsyms]" */
	const char *build_id;          /* lowercase hex, or "" when none */
	bool kernel;                   /* the kernel pseudo-mapping */
};

/* One function frame at an address: several for inlined code. */
struct symbol_frame {
	const char *function;    /* demangled name; NULL when unknown */
	const char *system_name; /* linkage (mangled) name; same as function for C */
	const char *file;        /* source file, NULL when unknown */
	int line;                /* 0 when unknown */
	int start_line;          /* DW_AT_decl_line of the function, 0 when unknown */
};

struct symbol_location {
	const struct symbol_mapping *mapping; /* NULL when the address is in no mapping */
	uint64_t symbol_start;                /* address of the ELF symbol holding pc, 0 if none */
	size_t nframes;                       /* 0 when unresolved */
	const struct symbol_frame *frames;    /* innermost (inlined callee) first */
};

/* Kernel addresses are at or above this on x86-64 (and arm64). */
#define KERNEL_ADDR_MIN 0xffff800000000000ULL

/*
 * Creates a symbolizer for process pid, reading its maps now.  Returns NULL
 * and sets errno on failure (ESRCH: no such process).
 */
struct symbolizer *symbolizer__new(pid_t pid);
/* Safe on NULL. */
void symbolizer__free(struct symbolizer *s);

/*
 * Re-reads /proc/PID/maps: libraries dlopen'ed since are picked up.  Cheap
 * when nothing changed.  Pointers handed out before stay valid.
 */
int symbolizer__reload(struct symbolizer *s);

/*
 * Resolves pc (for caller frames the caller passes return address - 1).
 * Fills *loc; the pointers in it are borrowed and stay valid until
 * symbolizer__free().  Returns 0, or a negative errno on internal failure (an
 * unresolvable address is not a failure: nframes is 0 then).  An address in
 * no known mapping triggers one symbolizer__reload() (rate-limited) before it
 * is given up.
 */
int symbolizer__lookup(struct symbolizer *s, uint64_t pc, struct symbol_location *loc);

/*
 * The executable mappings of the target, in address order, the kernel
 * pseudo-mapping last.  Borrowed; valid until the next reload.
 */
size_t symbolizer__mappings(struct symbolizer *s, const struct symbol_mapping *const **out);

/*
 * Changes whenever a reload changes the set of executable mappings: what a
 * caller cached by pc (an unwinder's rules) may be stale then.
 */
unsigned symbolizer__generation(const struct symbolizer *s);

struct Dwarf_CFI_s; /* elfutils' Dwarf_CFI */

/*
 * The call frame information of the module holding pc, for unwinding: its
 * .eh_frame (*eh) and .debug_frame (*debug, from the separate debug file if
 * there is one; debug may be NULL not to look for debug info), either NULL
 * when absent; subtract *bias from pc to get
 * addresses in them.  Borrowed from libdwfl, valid until the next reload.
 * Returns 0, or -ENOENT when pc is in no known mapping, its file cannot be
 * read or it has no CFI.  An address in no mapping rereads the maps, as
 * symbolizer__lookup() does.
 */
int symbolizer__cfi(struct symbolizer *s, uint64_t pc, struct Dwarf_CFI_s **eh,
		    struct Dwarf_CFI_s **debug, uint64_t *bias);

/*
 * How to step out of the frame at pc by what a runtime's own tables say,
 * for code without CFI (Go's pclntab: SP deltas per pc, and the functions
 * its stacks end at).  On x86-64 the return address is at CFA - 8.
 */
struct symbol_frame_rule {
	bool has_cfa;         /* cfa_sp_off is known for this pc */
	int32_t cfa_sp_off;   /* the caller's SP (the CFA) is SP + this */
	bool outermost;       /* a stack ends in this function (runtime.goexit, mstart) */
	bool stack_switch;    /* this function runs its callee on another stack
			       * (Go's systemstack, mcall, morestack): the
			       * frames above it are not on this stack */
	bool switch_replaced; /* followed across, the frame switched from stands
			       * in its place (Go's morestack, as Go's traceback) */
	bool hidden;	      /* a frame the runtime's own stacks never show, only
			       * ever a saved context's (Go's systemstack_switch) */
	bool at_entry;	      /* pc is its function's first instruction: as a saved
			       * pc, not a return address (Go's systemstack_switch) */
};

/*
 * Fills *rule for pc.  0, or -ENOENT when the code at pc has no such table
 * (not Go) or pc is in none of its functions.  Rereads the maps for an
 * address in no mapping, as symbolizer__lookup() does.
 */
int symbolizer__frame_rule(struct symbolizer *s, uint64_t pc, struct symbol_frame_rule *rule);

/*
 * The files the target controls that symbolizing reads, and what was
 * refused of them (/debug/metrics): its perf map, and the debug files its
 * .gnu_debuglink sections name (process-wide count).
 */
struct symbolizer_files {
	struct perf_map_status perf_map;
	uint64_t debuglinks_refused;
	const char *last_debuglink_refused; /* "FILE: LINK: why", "" when none */
};
void symbolizer__files(const struct symbolizer *s, struct symbolizer_files *out);

/*
 * For the fuzzers: a symbolizer of pid whose mappings are those of maps
 * text (as /proc/PID/maps shows them) instead of the file's, never reread;
 * its files are opened as for any target.  NULL with errno on failure.
 */
struct symbolizer *symbolizer__new_from_maps(pid_t pid, const char *maps, size_t len);

#endif /* PPROFD_SYMBOLIZE_H */
