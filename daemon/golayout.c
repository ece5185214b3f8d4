// SPDX-License-Identifier: MIT
/*
 * golayout.c - where the Go runtime's fields are (struct go_layout,
 * goruntime.h): from the binary's DWARF, from its own type descriptors, or
 * from the per-version table, never guessed.
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "goruntime.h"
#include "log.h"

/* --- layouts ------------------------------------------------------------- */

/*
 * The per-version table, for binaries without DWARF: amd64 only.  A row
 * covers every go1.X.y; a version without one is never guessed.
 *
 *   go1.19   read from the DWARF of a program built with Debian's Go; the
 *            unit test test_goruntime checks it against that DWARF.
 *   go1.20, go1.22, go1.23, go1.25, go1.26   no toolchain of theirs here:
 *            read from the stripped esbuild binaries of
 *            tests/fetch-esbuild.sh.  g and m
 *            from their own type descriptors (test_goruntime checks each
 *            row against them); mstats from a live esbuild, where the
 *            runtime's invariants place each field exactly (numgc GCs:
 *            pause_total_ns the sum of pause_ns[0..numgc), last_gc_unix
 *            pause_end[numgc - 1], the six sysMemStat before them); the
 *            gcController fields from the code that uses them
 *            (heapGoalInternal: gcPercentHeapGoal, sweepDistMinTrigger;
 *            update: heapLive; readmemstats_m: heapInUse, heapFree,
 *            heapReleased) and GOGC / GOMEMLIMIT set to odd values at
 *            gcPercent and memoryLimit; bucket and memRecord, unchanged
 *            since go1.19, by walking a live esbuild's memory profile.
 *            test_goruntime reads a live esbuild of each through its row.
 *            blockRecord {count float64, cycles int64} is mprof.go's since
 *            Go 1.17; ticksType.val follows the lock and a pad until Go
 *            1.20, the lock, startTicks and startTime from Go 1.21 (a value
 *            read there is only used when it agrees with pprofd's own
 *            measurement, see go_runtime__cycles_per_second()).
 *            go1.22 and go1.25: readmemstats_m uses the same memstats and
 *            gcController offsets, in the same order, as go1.23's and
 *            go1.26's respectively (numgc, pause_ns and pause_end placed
 *            from its RIP-relative operands 2048 apart), heapGoalInternal,
 *            update's heapLive and ticksType.init are instruction for
 *            instruction go1.23's; the live invariants hold through each.
 *   go1.21, go1.24   no row: no esbuild was built with them (and no
 *            toolchain here); their binaries are read from their type
 *            descriptors (goroutines only).
 */
struct layout_row {
	const char *version; /* "go1.19": every go1.19.x */
	struct go_layout layout;
};

static const struct layout_row layout_table[] = {
    /* Debian 12's Go, read from its DWARF. */
    {"go1.19",
     {
	 .g_size = 392,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 104,
	 .g_atomicstatus = 144,
	 .g_goid = 152,
	 .g_waitsince = 168,
	 .g_waitreason = 176,
	 .g_startpc = 312,
	 .g_gopc = 296,
	 .g_lockedm = 232,
	 .g_m = 48,
	 .g_labels = 360,
	 .g_parent_goid = -1,
	 .g_syscallsp = 112,
	 .g_syscallpc = 120,
	 .m_procid = 72,
	 .m_g0 = 0,
	 .m_curg = 192,
	 .m_vdso_sp = 800,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 16,
	 .ms_numgc = 7704,
	 .ms_pause_total_ns = 3600,
	 .ms_pause_ns = 3608,
	 .ms_pause_end = 5656,
	 .ms_last_gc_unix = 3592,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3544,
	 .ms_gc_sys = 3576,
	 .ms_other_sys = 3584,
	 .ms_mspan_sys = 3552,
	 .ms_mcache_sys = 3560,
	 .ms_buckhash_sys = 3568,
	 .ms_numforcedgc = 7708,
	 .ms_gc_cpu_fraction = 7712,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 136,
	 .gcc_percent_heap_goal = 104,
	 .gcc_sweep_dist_min_trigger = 112,
	 .gcc_heap_in_use = 304,
	 .gcc_heap_free = 320,
	 .gcc_heap_released = 312,
     }},
    /* esbuild 0.17.19 (go1.20.4): g and m as go1.19; gcController shorter. */
    {"go1.20",
     {
	 .g_size = 392,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 104,
	 .g_atomicstatus = 144,
	 .g_goid = 152,
	 .g_waitsince = 168,
	 .g_waitreason = 176,
	 .g_startpc = 312,
	 .g_gopc = 296,
	 .g_lockedm = 232,
	 .g_m = 48,
	 .g_labels = 360,
	 .g_parent_goid = -1,
	 .g_syscallsp = 112,
	 .g_syscallpc = 120,
	 .m_procid = 72,
	 .m_curg = 192,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 16,
	 .ms_numgc = 7704,
	 .ms_pause_total_ns = 3600,
	 .ms_pause_ns = 3608,
	 .ms_pause_end = 5656,
	 .ms_last_gc_unix = 3592,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3544,
	 .ms_gc_sys = 3576,
	 .ms_other_sys = 3584,
	 .ms_mspan_sys = 3552,
	 .ms_mcache_sys = 3560,
	 .ms_buckhash_sys = 3568,
	 .ms_numforcedgc = 7708,
	 .ms_gc_cpu_fraction = 7712,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 80,
	 .gcc_percent_heap_goal = 48,
	 .gcc_sweep_dist_min_trigger = 56,
	 .gcc_heap_in_use = 248,
	 .gcc_heap_free = 264,
	 .gcc_heap_released = 256,
     }},
    /* esbuild 0.23.1 (go1.22.5): g 8 bytes shorter than go1.23's; mstats and gcController as go1.23. */
    {"go1.22",
     {
	 .g_size = 424,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 104,
	 .g_atomicstatus = 144,
	 .g_goid = 152,
	 .g_waitsince = 168,
	 .g_waitreason = 176,
	 .g_startpc = 296,
	 .g_gopc = 280,
	 .g_lockedm = 208,
	 .g_m = 48,
	 .g_labels = 344,
	 .g_parent_goid = 272,
	 .g_syscallsp = 112,
	 .g_syscallpc = 120,
	 .m_procid = 72,
	 .m_curg = 192,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 24,
	 .ms_numgc = 7704,
	 .ms_pause_total_ns = 3600,
	 .ms_pause_ns = 3608,
	 .ms_pause_end = 5656,
	 .ms_last_gc_unix = 3592,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3544,
	 .ms_gc_sys = 3576,
	 .ms_other_sys = 3584,
	 .ms_mspan_sys = 3552,
	 .ms_mcache_sys = 3560,
	 .ms_buckhash_sys = 3568,
	 .ms_numforcedgc = 7708,
	 .ms_gc_cpu_fraction = 7712,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 104,
	 .gcc_percent_heap_goal = 72,
	 .gcc_sweep_dist_min_trigger = 80,
	 .gcc_heap_in_use = 272,
	 .gcc_heap_free = 288,
	 .gcc_heap_released = 280,
     }},
    /* esbuild 0.25.5 (go1.23.8): g grew (parentGoid, syncGroup...); mstats as go1.19. */
    {"go1.23",
     {
	 .g_size = 432,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 104,
	 .g_atomicstatus = 152,
	 .g_goid = 160,
	 .g_waitsince = 176,
	 .g_waitreason = 184,
	 .g_startpc = 304,
	 .g_gopc = 288,
	 .g_lockedm = 216,
	 .g_m = 48,
	 .g_labels = 352,
	 .g_parent_goid = 280,
	 .g_syscallsp = 112,
	 .g_syscallpc = 120,
	 .m_procid = 72,
	 .m_curg = 192,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 24,
	 .ms_numgc = 7704,
	 .ms_pause_total_ns = 3600,
	 .ms_pause_ns = 3608,
	 .ms_pause_end = 5656,
	 .ms_last_gc_unix = 3592,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3544,
	 .ms_gc_sys = 3576,
	 .ms_other_sys = 3584,
	 .ms_mspan_sys = 3552,
	 .ms_mcache_sys = 3560,
	 .ms_buckhash_sys = 3568,
	 .ms_numforcedgc = 7708,
	 .ms_gc_cpu_fraction = 7712,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 104,
	 .gcc_percent_heap_goal = 72,
	 .gcc_sweep_dist_min_trigger = 80,
	 .gcc_heap_in_use = 272,
	 .gcc_heap_free = 288,
	 .gcc_heap_released = 280,
     }},
    /* esbuild 0.27.7 (go1.25.7): gobuf, m and mstats as go1.26; g 16 bytes shorter. */
    {"go1.25",
     {
	 .g_size = 440,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 96,
	 .g_atomicstatus = 144,
	 .g_goid = 152,
	 .g_waitsince = 168,
	 .g_waitreason = 176,
	 .g_startpc = 296,
	 .g_gopc = 280,
	 .g_lockedm = 208,
	 .g_m = 48,
	 .g_labels = 344,
	 .g_parent_goid = 272,
	 .g_syscallsp = 104,
	 .g_syscallpc = 112,
	 .m_procid = 64,
	 .m_curg = 184,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 24,
	 .ms_numgc = 7680,
	 .ms_pause_total_ns = 3576,
	 .ms_pause_ns = 3584,
	 .ms_pause_end = 5632,
	 .ms_last_gc_unix = 3568,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3520,
	 .ms_gc_sys = 3552,
	 .ms_other_sys = 3560,
	 .ms_mspan_sys = 3528,
	 .ms_mcache_sys = 3536,
	 .ms_buckhash_sys = 3544,
	 .ms_numforcedgc = 7684,
	 .ms_gc_cpu_fraction = 7688,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 104,
	 .gcc_percent_heap_goal = 72,
	 .gcc_sweep_dist_min_trigger = 80,
	 .gcc_heap_in_use = 272,
	 .gcc_heap_free = 288,
	 .gcc_heap_released = 280,
     }},
    /* esbuild 0.28.2 (go1.26.5): gobuf lost a word, mstats 24 bytes less before its GC part. */
    {"go1.26",
     {
	 .g_size = 456,
	 .g_stack_lo = 0,
	 .g_stack_hi = 8,
	 .g_sched_sp = 56,
	 .g_sched_pc = 64,
	 .g_sched_bp = 96,
	 .g_atomicstatus = 144,
	 .g_goid = 152,
	 .g_waitsince = 168,
	 .g_waitreason = 176,
	 .g_startpc = 304,
	 .g_gopc = 288,
	 .g_lockedm = 208,
	 .g_m = 48,
	 .g_labels = 352,
	 .g_parent_goid = 280,
	 .g_syscallsp = 104,
	 .g_syscallpc = 112,
	 .m_procid = 64,
	 .m_curg = 184,
	 .bucket_size = 48,
	 .bucket_allnext = 8,
	 .bucket_typ = 16,
	 .bucket_bsize = 32,
	 .bucket_nstk = 40,
	 .memrecord_active = 0,
	 .memrecord_future = 32,
	 .memrecord_cycle_size = 32,
	 .blockrecord_count = 0,
	 .blockrecord_cycles = 8,
	 .blockrecord_size = 16,
	 .ticks_val = 24,
	 .ms_numgc = 7680,
	 .ms_pause_total_ns = 3576,
	 .ms_pause_ns = 3584,
	 .ms_pause_end = 5632,
	 .ms_last_gc_unix = 3568,
	 .ms_heap_sys = -1,
	 .ms_stacks_sys = 3520,
	 .ms_gc_sys = 3552,
	 .ms_other_sys = 3560,
	 .ms_mspan_sys = 3528,
	 .ms_mcache_sys = 3536,
	 .ms_buckhash_sys = 3544,
	 .ms_numforcedgc = 7684,
	 .ms_gc_cpu_fraction = 7688,
	 .gcc_gc_percent = 0,
	 .gcc_memory_limit = 8,
	 .gcc_heap_live = 104,
	 .gcc_percent_heap_goal = 72,
	 .gcc_sweep_dist_min_trigger = 80,
	 .gcc_heap_in_use = 272,
	 .gcc_heap_free = 288,
	 .gcc_heap_released = 280,
     }},
};

const struct go_layout *go_layout__for_version(const char *version)
{
	for (size_t i = 0; i < sizeof(layout_table) / sizeof(layout_table[0]); i++) {
		size_t n = strlen(layout_table[i].version);

		/* "go1.19" matches "go1.19" and "go1.19.8", not "go1.190". */
		if (!strncmp(version, layout_table[i].version, n) &&
		    (version[n] == '\0' || version[n] == '.'))
			return &layout_table[i].layout;
	}
	return NULL;
}

static const struct layout_row *layout_row_of(const struct go_layout *l)
{
	return (const struct layout_row *)((const char *)l - offsetof(struct layout_row, layout));
}

/* One struct of the runtime read from DWARF: its DIE and size. */
struct dwarf_struct {
	const char *name;
	Dwarf_Die die;
	bool found;
};

enum {
	DS_G,
	DS_M,
	DS_STACK,
	DS_GOBUF,
	DS_BUCKET,
	DS_MEMRECORD,
	DS_MEMRECORDCYCLE,
	DS_BLOCKRECORD,
	DS_TICKS,
	DS_MSTATS,
	DS_GCCONTROLLER,
	DS_COUNT,
};

static const char *const dwarf_struct_names[DS_COUNT] = {
    [DS_G] = "runtime.g",
    [DS_M] = "runtime.m",
    [DS_STACK] = "runtime.stack",
    [DS_GOBUF] = "runtime.gobuf",
    [DS_BUCKET] = "runtime.bucket",
    [DS_MEMRECORD] = "runtime.memRecord",
    [DS_MEMRECORDCYCLE] = "runtime.memRecordCycle",
    [DS_BLOCKRECORD] = "runtime.blockRecord",
    [DS_TICKS] = "runtime.ticksType",
    [DS_MSTATS] = "runtime.mstats",
    [DS_GCCONTROLLER] = "runtime.gcControllerState",
};

/* Offset of member name of a struct DIE, or -1. */
static int32_t member_offset(Dwarf_Die *st, const char *name)
{
	Dwarf_Die child;

	if (dwarf_child(st, &child))
		return -1;
	do {
		Dwarf_Attribute a;
		Dwarf_Word off;
		const char *n;

		if (dwarf_tag(&child) != DW_TAG_member)
			continue;
		n = dwarf_diename(&child);
		if (!n || strcmp(n, name))
			continue;
		if (!dwarf_attr(&child, DW_AT_data_member_location, &a) ||
		    dwarf_formudata(&a, &off) || off > INT32_MAX)
			return -1;
		return (int32_t)off;
	} while (dwarf_siblingof(&child, &child) == 0);
	return -1;
}

static int32_t struct_size(Dwarf_Die *st)
{
	int sz = dwarf_bytesize(st);

	return sz > 0 ? sz : -1;
}

/* Offset of a member of a member ("sched", "pc"), or -1. */
static int32_t nested(Dwarf_Die *outer, const char *member, int32_t inner_off)
{
	int32_t off = member_offset(outer, member);

	return off < 0 || inner_off < 0 ? -1 : off + inner_off;
}

/* Finds the named structs among the top-level DIEs of every CU. */
static void find_structs(Dwarf *dw, struct dwarf_struct *ds)
{
	Dwarf_Off off = 0, next;
	size_t hsize;
	unsigned left = DS_COUNT;

	while (left && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		Dwarf_Die cu, child;

		if (!dwarf_offdie(dw, off + hsize, &cu) || dwarf_child(&cu, &child)) {
			off = next;
			continue;
		}
		do {
			const char *n;

			if (dwarf_tag(&child) != DW_TAG_structure_type)
				continue;
			n = dwarf_diename(&child);
			if (!n || strncmp(n, "runtime.", 8))
				continue;
			for (int i = 0; i < DS_COUNT; i++)
				if (!ds[i].found && !strcmp(n, ds[i].name) &&
				    dwarf_hasattr(&child, DW_AT_byte_size)) {
					ds[i].die = child;
					ds[i].found = true;
					left--;
				}
		} while (left && dwarf_siblingof(&child, &child) == 0);
		off = next;
	}
}

int go_layout__from_elf(Elf *elf, struct go_layout *l)
{
	struct dwarf_struct ds[DS_COUNT];
	Dwarf *dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	int32_t stack_lo, stack_hi, sp, pc, bp;

	if (!dw)
		return -ENOENT;
	for (int i = 0; i < DS_COUNT; i++)
		ds[i] = (struct dwarf_struct){.name = dwarf_struct_names[i]};
	find_structs(dw, ds);
	if (!ds[DS_G].found || !ds[DS_STACK].found || !ds[DS_GOBUF].found) {
		dwarf_end(dw);
		return -ENOENT;
	}
	memset(l, 0xff, sizeof(*l)); /* every field -1 */
	stack_lo = member_offset(&ds[DS_STACK].die, "lo");
	stack_hi = member_offset(&ds[DS_STACK].die, "hi");
	sp = member_offset(&ds[DS_GOBUF].die, "sp");
	pc = member_offset(&ds[DS_GOBUF].die, "pc");
	bp = member_offset(&ds[DS_GOBUF].die, "bp");
	l->g_size = struct_size(&ds[DS_G].die);
	l->g_stack_lo = nested(&ds[DS_G].die, "stack", stack_lo);
	l->g_stack_hi = nested(&ds[DS_G].die, "stack", stack_hi);
	l->g_sched_sp = nested(&ds[DS_G].die, "sched", sp);
	l->g_sched_pc = nested(&ds[DS_G].die, "sched", pc);
	l->g_sched_bp = nested(&ds[DS_G].die, "sched", bp);
	l->g_atomicstatus = member_offset(&ds[DS_G].die, "atomicstatus");
	l->g_goid = member_offset(&ds[DS_G].die, "goid");
	l->g_waitsince = member_offset(&ds[DS_G].die, "waitsince");
	l->g_waitreason = member_offset(&ds[DS_G].die, "waitreason");
	l->g_startpc = member_offset(&ds[DS_G].die, "startpc");
	l->g_gopc = member_offset(&ds[DS_G].die, "gopc");
	l->g_lockedm = member_offset(&ds[DS_G].die, "lockedm");
	l->g_m = member_offset(&ds[DS_G].die, "m");
	l->g_labels = member_offset(&ds[DS_G].die, "labels");
	l->g_parent_goid = member_offset(&ds[DS_G].die, "parentGoid");
	l->g_syscallsp = member_offset(&ds[DS_G].die, "syscallsp");
	l->g_syscallpc = member_offset(&ds[DS_G].die, "syscallpc");
	if (ds[DS_M].found) {
		l->m_procid = member_offset(&ds[DS_M].die, "procid");
		l->m_g0 = member_offset(&ds[DS_M].die, "g0");
		l->m_curg = member_offset(&ds[DS_M].die, "curg");
		l->m_vdso_sp = member_offset(&ds[DS_M].die, "vdsoSP");
	}
	if (ds[DS_BUCKET].found) {
		l->bucket_size = struct_size(&ds[DS_BUCKET].die);
		l->bucket_allnext = member_offset(&ds[DS_BUCKET].die, "allnext");
		l->bucket_typ = member_offset(&ds[DS_BUCKET].die, "typ");
		l->bucket_bsize = member_offset(&ds[DS_BUCKET].die, "size");
		l->bucket_nstk = member_offset(&ds[DS_BUCKET].die, "nstk");
	}
	if (ds[DS_MEMRECORD].found && ds[DS_MEMRECORDCYCLE].found) {
		l->memrecord_active = member_offset(&ds[DS_MEMRECORD].die, "active");
		l->memrecord_future = member_offset(&ds[DS_MEMRECORD].die, "future");
		l->memrecord_cycle_size = struct_size(&ds[DS_MEMRECORDCYCLE].die);
	}
	if (ds[DS_BLOCKRECORD].found) {
		l->blockrecord_count = member_offset(&ds[DS_BLOCKRECORD].die, "count");
		l->blockrecord_cycles = member_offset(&ds[DS_BLOCKRECORD].die, "cycles");
		l->blockrecord_size = struct_size(&ds[DS_BLOCKRECORD].die);
	}
	if (ds[DS_TICKS].found)
		l->ticks_val = member_offset(&ds[DS_TICKS].die, "val");
	if (ds[DS_MSTATS].found) {
		Dwarf_Die *ms = &ds[DS_MSTATS].die;

		l->ms_numgc = member_offset(ms, "numgc");
		l->ms_numforcedgc = member_offset(ms, "numforcedgc");
		l->ms_pause_total_ns = member_offset(ms, "pause_total_ns");
		l->ms_pause_ns = member_offset(ms, "pause_ns");
		l->ms_pause_end = member_offset(ms, "pause_end");
		l->ms_last_gc_unix = member_offset(ms, "last_gc_unix");
		l->ms_gc_cpu_fraction = member_offset(ms, "gc_cpu_fraction");
		l->ms_stacks_sys = member_offset(ms, "stacks_sys");
		l->ms_mspan_sys = member_offset(ms, "mspan_sys");
		l->ms_mcache_sys = member_offset(ms, "mcache_sys");
		l->ms_buckhash_sys = member_offset(ms, "buckhash_sys");
		l->ms_gc_sys = member_offset(ms, "gcMiscSys");
		l->ms_other_sys = member_offset(ms, "other_sys");
		l->ms_heap_sys = -1; /* MemStats.HeapSys is derived, not an mstats field */
	}
	if (ds[DS_GCCONTROLLER].found) {
		Dwarf_Die *gc = &ds[DS_GCCONTROLLER].die;

		l->gcc_gc_percent = member_offset(gc, "gcPercent");
		l->gcc_memory_limit = member_offset(gc, "memoryLimit");
		l->gcc_heap_live = member_offset(gc, "heapLive");
		l->gcc_percent_heap_goal = member_offset(gc, "gcPercentHeapGoal");
		l->gcc_sweep_dist_min_trigger = member_offset(gc, "sweepDistMinTrigger");
		l->gcc_heap_in_use = member_offset(gc, "heapInUse");
		l->gcc_heap_free = member_offset(gc, "heapFree");
		l->gcc_heap_released = member_offset(gc, "heapReleased");
	}
	dwarf_end(dw);
	return 0;
}

/*
 * Layouts from the binary's own type descriptors (no DWARF, no table row):
 * the runtime allocates its g's and m's with new(), so their types are in
 * .rodata as Go's reflection sees them (abi.StructType: the Type header of
 * 48 bytes, the package path, the fields slice; each field a Name pointer,
 * a Type pointer and its offset).  A struct is found from a field name:
 * the Name's bytes, the fields that point at it, back to the field at
 * offset 0, the slice that holds that array; every step checked.  Names are
 * Go 1.17+'s (flags byte, varint length); offsets before Go 1.19 are
 * shifted left one (offsetAnon).  The heap and GC structs have no
 * descriptors: a version known only this way has goroutines, not heap/GC.
 */
#define TYPE_KIND_STRUCT 25
#define MAX_STRUCT_FIELDS 512

struct rodata {
	const uint8_t *p;
	uint64_t va;
	size_t len;
};

static bool ro_u64(const struct rodata *r, uint64_t va, uint64_t *v)
{
	if (va < r->va || va - r->va + 8 > r->len)
		return false;
	memcpy(v, r->p + (va - r->va), 8);
	return true;
}

/* The text of the Name at va, into buf; false when it is no Name. */
static bool ro_name(const struct rodata *r, uint64_t va, char *buf, size_t len)
{
	size_t o, n = 0, shift = 0;

	if (va < r->va || va - r->va + 2 > r->len)
		return false;
	o = va - r->va + 1;		   /* flags */
	for (int i = 0; i < 3; i++, o++) { /* varint length */
		if (o >= r->len)
			return false;
		n |= (size_t)(r->p[o] & 0x7f) << shift;
		shift += 7;
		if (!(r->p[o] & 0x80))
			break;
	}
	o++;
	if (n == 0 || n >= len || o + n > r->len)
		return false;
	memcpy(buf, r->p + o, n);
	buf[n] = '\0';
	return true;
}

struct type_field {
	char name[32];
	uint64_t type;
	int32_t offset;
};

/* The fields of the struct type at va (false when it is no struct type). */
static bool struct_type_fields(const struct rodata *r, uint64_t va, bool shifted,
			       struct type_field *f, size_t max, size_t *n, int32_t *size)
{
	uint64_t sz, arr, len;

	if (va < r->va || va - r->va + 72 > r->len ||
	    (r->p[va - r->va + 23] & 0x1f) != TYPE_KIND_STRUCT || !ro_u64(r, va, &sz) ||
	    !ro_u64(r, va + 56, &arr) || !ro_u64(r, va + 64, &len) || len > max || sz > 65536)
		return false;
	for (uint64_t i = 0; i < len; i++) {
		uint64_t name, typ, off;

		if (!ro_u64(r, arr + 24 * i, &name) || !ro_u64(r, arr + 24 * i + 8, &typ) ||
		    !ro_u64(r, arr + 24 * i + 16, &off) ||
		    !ro_name(r, name, f[i].name, sizeof(f[i].name)))
			return false;
		if (shifted)
			off >>= 1;
		if (off > sz)
			return false;
		f[i].type = typ;
		f[i].offset = (int32_t)off;
	}
	*n = len;
	*size = (int32_t)sz;
	return true;
}

static int32_t field_offset(const struct type_field *f, size_t n, const char *name, uint64_t *type)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(f[i].name, name)) {
			if (type)
				*type = f[i].type;
			return f[i].offset;
		}
	return -1;
}

/*
 * The struct type that has a field called key and every field of also[]
 * (NULL-terminated): its fields into f.  false when none, or more than one.
 */
static bool find_struct_type(const struct rodata *r, bool shifted, const char *key,
			     const char *const *also, struct type_field *f, size_t *n,
			     int32_t *size)
{
	size_t klen = strlen(key), found = 0;
	struct type_field *tmp = calloc(MAX_STRUCT_FIELDS, sizeof(*tmp));

	if (!tmp)
		return false;
	for (size_t o = 0; o + klen + 2 <= r->len && found < 2; o++) {
		uint64_t name_va;

		/* A Name: flags (0: unexported, no tag), length, the bytes. */
		if (r->p[o] != 0 || r->p[o + 1] != klen || memcmp(r->p + o + 2, key, klen))
			continue;
		name_va = r->va + o;
		for (size_t w = 0; w + 24 <= r->len && found < 2; w += 8) {
			uint64_t v, start, off;
			size_t back = 0;

			memcpy(&v, r->p + w, 8);
			if (v != name_va)
				continue;
			/* A field pointing at the Name: back to the field at offset 0. */
			start = r->va + w;
			while (back < MAX_STRUCT_FIELDS && ro_u64(r, start + 16, &off) && off) {
				start -= 24;
				back++;
			}
			/* The slice (array, len, cap) of a struct type holding that array. */
			for (size_t q = 56; q + 24 <= r->len; q += 8) {
				uint64_t a, l, c, tva;
				size_t m;
				int32_t sz;
				bool all = true;

				memcpy(&a, r->p + q, 8);
				if (a != start)
					continue;
				memcpy(&l, r->p + q + 8, 8);
				memcpy(&c, r->p + q + 16, 8);
				tva = r->va + q - 56;
				if (l != c || l <= back ||
				    !struct_type_fields(r, tva, shifted, tmp, MAX_STRUCT_FIELDS, &m,
							&sz))
					continue;
				for (size_t k = 0; also[k] && all; k++)
					all = field_offset(tmp, m, also[k], NULL) >= 0;
				if (!all || field_offset(tmp, m, key, NULL) < 0)
					continue;
				if (!found++) {
					memcpy(f, tmp, m * sizeof(*f));
					*n = m;
					*size = sz;
				}
				break;
			}
		}
	}
	free(tmp);
	return found == 1;
}

/* "go1.17.3" -> 117; 0 when it does not parse. */
int go_version__number(const char *v)
{
	int major, minor;

	return sscanf(v, "go%d.%d", &major, &minor) == 2 ? major * 100 + minor : 0;
}

int go_layout__from_types(Elf *elf, const char *version, struct go_layout *l)
{
	static const char *const g_also[] = {"atomicstatus", "sched", "stack", "startpc", NULL};
	static const char *const m_also[] = {"curg", "g0", NULL};
	struct type_field *g = calloc(3 * MAX_STRUCT_FIELDS, sizeof(*g)),
			  *sub = g + MAX_STRUCT_FIELDS, *m = sub + MAX_STRUCT_FIELDS;
	bool shifted = go_version__number(version) < 119;
	size_t ng = 0, nsub = 0, nm = 0, shstrndx;
	struct rodata r = {0};
	Elf_Scn *scn = NULL;
	uint64_t sched_t = 0, stack_t = 0;
	int32_t size, off;
	int ret = -ENOENT;

	if (!g)
		return -ENOMEM;
	if (go_version__number(version) < 117 || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".rodata") || !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		r = (struct rodata){d->d_buf, sh.sh_addr, d->d_size};
	}
	if (!r.p || !find_struct_type(&r, shifted, "goid", g_also, g, &ng, &size))
		goto out;
	memset(l, 0xff, sizeof(*l));
	l->g_size = size;
	l->g_sched_pc = field_offset(g, ng, "sched", &sched_t);
	l->g_stack_lo = field_offset(g, ng, "stack", &stack_t);
	if (!struct_type_fields(&r, sched_t, shifted, sub, MAX_STRUCT_FIELDS, &nsub, &size))
		goto out;
	off = l->g_sched_pc;
	l->g_sched_sp = off + field_offset(sub, nsub, "sp", NULL);
	l->g_sched_pc = off + field_offset(sub, nsub, "pc", NULL);
	l->g_sched_bp = off + field_offset(sub, nsub, "bp", NULL);
	if (field_offset(sub, nsub, "sp", NULL) < 0 || field_offset(sub, nsub, "pc", NULL) < 0 ||
	    field_offset(sub, nsub, "bp", NULL) < 0 ||
	    !struct_type_fields(&r, stack_t, shifted, sub, MAX_STRUCT_FIELDS, &nsub, &size) ||
	    field_offset(sub, nsub, "lo", NULL) < 0 || field_offset(sub, nsub, "hi", NULL) < 0)
		goto out;
	off = l->g_stack_lo;
	l->g_stack_lo = off + field_offset(sub, nsub, "lo", NULL);
	l->g_stack_hi = off + field_offset(sub, nsub, "hi", NULL);
	l->g_atomicstatus = field_offset(g, ng, "atomicstatus", NULL);
	l->g_goid = field_offset(g, ng, "goid", NULL);
	l->g_waitsince = field_offset(g, ng, "waitsince", NULL);
	l->g_waitreason = field_offset(g, ng, "waitreason", NULL);
	l->g_startpc = field_offset(g, ng, "startpc", NULL);
	l->g_gopc = field_offset(g, ng, "gopc", NULL);
	l->g_lockedm = field_offset(g, ng, "lockedm", NULL);
	l->g_m = field_offset(g, ng, "m", NULL);
	l->g_labels = field_offset(g, ng, "labels", NULL);
	l->g_parent_goid = field_offset(g, ng, "parentGoid", NULL);
	l->g_syscallsp = field_offset(g, ng, "syscallsp", NULL);
	l->g_syscallpc = field_offset(g, ng, "syscallpc", NULL);
	if (find_struct_type(&r, shifted, "procid", m_also, m, &nm, &size)) {
		l->m_procid = field_offset(m, nm, "procid", NULL);
		l->m_g0 = field_offset(m, nm, "g0", NULL);
		l->m_curg = field_offset(m, nm, "curg", NULL);
		l->m_vdso_sp = field_offset(m, nm, "vdsoSP", NULL);
	}
	ret = 0;
out:
	free(g);
	return ret;
}

int go_layout__from_dwarf(const char *path, struct go_layout *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	ret = elf ? go_layout__from_elf(elf, out) : -EINVAL;
	elf_end(elf);
	close(fd);
	return ret;
}

/* What a goroutine walk cannot do without. */
bool go_layout__usable(const struct go_layout *l)
{
	return l->g_size > 0 && l->g_size <= 4096 && l->g_stack_lo >= 0 && l->g_stack_hi >= 0 &&
	       l->g_sched_sp >= 0 && l->g_sched_pc >= 0 && l->g_sched_bp >= 0 &&
	       l->g_atomicstatus >= 0 && l->g_goid >= 0 && l->g_startpc >= 0 &&
	       l->g_sched_bp + 8 <= l->g_size && l->g_goid + 8 <= l->g_size &&
	       l->g_startpc + 8 <= l->g_size && l->g_atomicstatus + 4 <= l->g_size;
}

const char *go_layout__version(const struct go_layout *l)
{
	return layout_row_of(l)->version;
}

