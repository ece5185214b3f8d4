/* SPDX-License-Identifier: MIT */
/*
 * gopclntab.h - a Go binary's own symbol table, .gopclntab, read without the
 * Go toolchain: function names, entry/end, file:line, the inline tree, the
 * SP-delta table (for unwinding without DWARF CFI) and the funcID / flags the
 * Go traceback uses to know where a stack ends.  .gopclntab survives
 * `-ldflags='-s -w'`, so a stripped Go binary keeps its names.
 *
 * Layouts read: Go 1.16-1.17 (header magic 0xfffffffa), 1.18-1.19
 * (0xfffffff0), 1.20 and later (0xfffffff1).  Found through the .gopclntab
 * section, else (no section headers) by looking for the header in the
 * loaded segments.  The file is hostile input: every offset read is checked
 * against the table's bounds; a malformed table is an error at open, or a
 * lookup that finds nothing, never a read outside it.
 *
 * Also here: the Go version the binary was built with, from .go.buildinfo.
 *
 * Addresses in and out are the target's (runtime) addresses: the object is
 * opened with the load bias of the mapping (0 for a non-PIE executable).
 * Not thread-safe for open/free; lookups on one object are read-only.
 */
#ifndef PPROFD_GOPCLNTAB_H
#define PPROFD_GOPCLNTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

struct gopclntab;

/* One frame at a pc: several when code was inlined. */
struct gofunc_frame {
	const char *function; /* "main.(*server).handle"; borrowed, valid until __free */
	const char *file;     /* "/src/x/main.go"; NULL when the table has none */
	int line;	      /* 0 when unknown */
	int start_line;	      /* line of the func keyword (Go 1.20+ tables), else 0 */
	uint64_t entry;	      /* entry of the (outermost, not inlined) function holding pc */
};

/*
 * What the Go traceback needs to know about a function, by the function's
 * name (the raw funcID numbering changed between Go versions; this one does
 * not).
 */
enum gofunc_kind {
	GOFUNC_NORMAL = 0,
	GOFUNC_GOEXIT,		   /* runtime.goexit: outermost frame of every goroutine */
	GOFUNC_RUNTIME_MAIN,	   /* runtime.main: the main goroutine's outermost Go frame */
	GOFUNC_MSTART,		   /* runtime.mstart: where a thread's g0 stack begins */
	GOFUNC_RT0_GO,		   /* runtime.rt0_go: the first thread */
	GOFUNC_MORESTACK,	   /* runtime.morestack: switches to g0 to grow the stack */
	GOFUNC_SYSTEMSTACK,	   /* runtime.systemstack: switches to g0 */
	GOFUNC_SYSTEMSTACK_SWITCH, /* runtime.systemstack_switch: a g's sched.pc during one */
	GOFUNC_MCALL,		   /* runtime.mcall: switches to g0, never returns */
	GOFUNC_ASMCGOCALL,	   /* runtime.asmcgocall: switches to g0 for C */
	GOFUNC_CGOCALLBACK,	   /* runtime.cgocallback: C calls into Go */
	GOFUNC_GOGO,		   /* runtime.gogo: jumps to a g's sched */
	GOFUNC_SIGPANIC,	   /* runtime.sigpanic: the signal pushed a fake call */
	GOFUNC_ASYNC_PREEMPT,	   /* runtime.asyncPreempt: the signal pushed a fake call */
	GOFUNC_SIGTRAMP,	   /* runtime.sigtramp / cgoSigtramp: signal handler entry */
	GOFUNC_KIND_MAX,
};

/* One function of the table. */
struct gofunc_info {
	const char *name;    /* borrowed, valid until __free */
	uint64_t entry, end; /* [entry, end) */
	enum gofunc_kind kind;
	uint8_t func_id; /* the raw funcID byte (numbering depends on the version) */
	bool spwrite;	 /* funcFlag_SPWRITE (1.17+): writes SP; unwinding stops after it */
	bool topframe;	 /* funcFlag_TOPFRAME (1.17+) or a kind that ends a stack */
	int32_t args;	 /* argument bytes (_func.args), -1 when variable */
};

/*
 * Opens the table of an ELF file.  elf is borrowed for the call only (the
 * table is copied out); load_bias is added to every address read (0 for a
 * non-PIE executable, else mapping start - (p_vaddr rounded down) as for any
 * ELF).  Returns NULL with a one-line reason in err when the file is no Go
 * binary (ENOENT), the table is malformed (EINVAL) or the version is not
 * supported (ENOTSUP); errno is set too.  err may be NULL.
 */
struct gopclntab *gopclntab__open(Elf *elf, uint64_t load_bias, char *err, size_t errlen);
/* The same from an open file descriptor (not closed) or a path. */
struct gopclntab *gopclntab__open_fd(int fd, uint64_t load_bias, char *err, size_t errlen);
struct gopclntab *gopclntab__open_path(const char *path, uint64_t load_bias, char *err,
				       size_t errlen);
/* Safe on NULL. */
void gopclntab__free(struct gopclntab *t);

/* Cheap check (no table is built): does this ELF file carry a Go pclntab? */
bool gopclntab__present(Elf *elf);

/*
 * The frames at pc, innermost (inlined callee) first, at most max of them.
 * pc is the instruction's address (for a caller frame, return address - 1).
 * Returns how many frames were written, 0 when pc is in no function of the
 * table (or past the end of its line table: padding, or C code of a cgo
 * binary between Go functions), or a negative errno (-EINVAL: max is 0).
 */
int gopclntab__lookup(const struct gopclntab *t, uint64_t pc, struct gofunc_frame *frames,
		      size_t max);

/* The function holding pc.  0, or -ENOENT. */
int gopclntab__func_at(const struct gopclntab *t, uint64_t pc, struct gofunc_info *info);

/*
 * Entry and end of the function called exactly name ("runtime.allgadd").
 * When two share the name (an assembly function and its ABI wrapper), the
 * one at the lower address.  0, -ENOENT, or -ENOMEM.  The index by name is
 * built on the first call (the only lookup that writes into the object).
 */
int gopclntab__func_by_name(const struct gopclntab *t, const char *name, uint64_t *entry,
			    uint64_t *end);

/*
 * How far SP at pc is below SP at the function's entry (after the call
 * pushed the return address): on amd64 the caller's frame begins at
 * SP + delta + 8 and the return address is at SP + delta.  0, or -ENOENT
 * when pc is in no function or its pcsp table has no entry for it.
 */
int gopclntab__sp_delta(const struct gopclntab *t, uint64_t pc, int32_t *delta);

/* What an unwinder needs at pc. */
struct gounwind_rule {
	bool has_sp_delta;
	int32_t sp_delta;  /* as gopclntab__sp_delta() */
	bool outermost;	   /* goexit, mstart, rt0_go, or a TOPFRAME function: the stack ends */
	bool stack_switch; /* systemstack, mcall, morestack, asmcgocall, gogo, cgocallback,
			    * sigtramp, or another SPWRITE function: its caller is on
			    * another stack (or in a signal frame) */
	bool switch_replaced; /* morestack: Go's traceback shows the function that
			       * grows its stack in its place */
	bool hidden;	      /* systemstack_switch: only ever a g's saved pc, never shown */
	bool at_entry;	      /* pc is the function's entry */
};

/* 0, or -ENOENT when pc is in no function. */
int gopclntab__unwind_rule(const struct gopclntab *t, uint64_t pc, struct gounwind_rule *rule);

/* Lowest and highest+1 text address the table covers (runtime addresses). */
void gopclntab__text_range(const struct gopclntab *t, uint64_t *lo, uint64_t *hi);

/* Number of functions in the table. */
size_t gopclntab__nfuncs(const struct gopclntab *t);

/*
 * The version of the table's layout: 116 (1.16-1.17), 118 (1.18-1.19) or
 * 120 (1.20 and later), from the header magic.
 */
int gopclntab__layout(const struct gopclntab *t);

/* The runtime address of the pclntab header (moduledata.pcHeader points there). */
uint64_t gopclntab__header_addr(const struct gopclntab *t);

/*
 * The runtime address of the binary's moduledata (runtime.firstmoduledata:
 * text/data/bss bounds, types, typelinks...), found by its first words (a
 * PIE's through its relocations), or 0 when not found.  Its layout beyond
 * the words this reader checks (0: pcHeader, 1: funcnametab, 22: text) is
 * the runtime reader's.
 */
uint64_t gopclntab__moduledata_addr(const struct gopclntab *t);

/*
 * "go1.19.8": the Go version the binary was built with, from .go.buildinfo
 * (read at open), or "" when the binary has none.  Borrowed.
 */
const char *gopclntab__go_version(const struct gopclntab *t);

/*
 * The same read on its own: writes the version ("go1.21.4") into buf.
 * 0, -ENOENT (no build info), -EINVAL (malformed), -ENOSPC (buf too small).
 */
int gobuildinfo__version(Elf *elf, char *buf, size_t len);

/*
 * "go1.21.4" -> 1, 21, 4; "go1.22" or "go1.22rc1" -> 1, 22, 0; "devel
 * go1.23-abcdef ..." -> 1, 23, 0.  0, or -EINVAL when v names no version.
 */
int gobuildinfo__parse(const char *v, int *major, int *minor, int *patch);

/* "goexit", "mstart"...: the kind's name, for messages and tests. */
const char *gofunc_kind__name(enum gofunc_kind kind);

#endif /* PPROFD_GOPCLNTAB_H */
