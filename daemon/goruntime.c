// SPDX-License-Identifier: MIT
/*
 * goruntime.c - see goruntime.h.
 *
 * The pieces, in the order they appear:
 *
 *   remote memory   process_vm_readv() of the target, checked lengths
 *   layouts         DWARF (libdw) of runtime.g, m, bucket, memRecord, mstats,
 *                   gcControllerState; the per-version table for stripped
 *                   binaries
 *   globals         runtime.allgs & co. from .symtab
 *   goroutines      allglen, allgs, each g, its stack by frame pointers
 *   bucket lists    runtime.mbuckets, bbuckets, xbuckets: one walk, checked
 *   memory profile  each memory bucket's active cycle
 *   block, mutex    each blockRecord; the CPU ticks per second
 *   GC statistics   runtime.memstats, runtime.gcController
 */
#define _GNU_SOURCE
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "gopclntab.h"
#include "goruntime.h"
#include "log.h"

/* Bounds on what the target's memory may claim. */
#define MAX_GOROUTINES (1u << 22)   /* allglen beyond this is nonsense */
#define MAX_BUCKETS (1u << 22)	    /* memory profile buckets walked */
#define MAX_BUCKET_STACK 1024	    /* Go 1.23's GODEBUG profstackdepth at most (32 before) */
#define STACK_FIRST_READ_BYTES 1024 /* the first read of a goroutine's stack */
#define STACK_READ_BYTES 16384	    /* the next ones */
#define G_BATCH 64		    /* runtime.g's read in one process_vm_readv() */

struct go_runtime {
	pid_t pid;
	unsigned refs;
	char version[32];
	char layout_source[48];
	struct go_layout layout;
	struct go_globals globals;
	uint64_t text_lo, text_hi; /* executable's text, runtime addresses */
	int64_t tls_g_offset;	   /* of the thread's g from fs_base, 0: unknown */
	uint8_t *gbuf;		   /* G_BATCH runtime.g's */
	uint8_t *stack;		   /* STACK_READ_BYTES of a stack */
	uint64_t *allgs;	   /* the pointer array of the last walk */
	uint64_t tsc0;		   /* the TSC and CLOCK_MONOTONIC at open: cycles per second */
	int64_t mono0;
	char *wait_reasons[64];	   /* runtime.waitReasonStrings, from the binary */
	size_t nwait_reasons;
	size_t cap_allgs;
};

/* The daemon's one target. */
static struct go_runtime *shared;

/* --- remote memory ------------------------------------------------------- */

/* Reads len bytes at addr of the target.  0, -ESRCH (gone) or -EFAULT. */
static int remote_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
	ssize_t n;

	if (!addr)
		return -EFAULT;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return errno == ESRCH ? -ESRCH : -EFAULT;
	return (size_t)n == len ? 0 : -EFAULT;
}

static int remote_u64(pid_t pid, uint64_t addr, uint64_t *v)
{
	return remote_read(pid, addr, v, sizeof(*v));
}

static uint64_t get_u64(const uint8_t *p, int32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint32_t get_u32(const uint8_t *p, int32_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* The TSC, as the runtime's cputicks() reads it on amd64. */
static uint64_t read_tsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static int64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* --- globals ------------------------------------------------------------- */

static const struct {
	const char *name;
	size_t off; /* in struct go_globals */
} global_names[] = {
    {"runtime.allgs", offsetof(struct go_globals, allgs)},
    {"runtime.allglen", offsetof(struct go_globals, allglen)},
    {"runtime.mbuckets", offsetof(struct go_globals, mbuckets)},
    {"runtime.memstats", offsetof(struct go_globals, memstats)},
    {"runtime.MemProfileRate", offsetof(struct go_globals, mem_profile_rate)},
    {"runtime.mProfCycle", offsetof(struct go_globals, mprof_cycle)},
    {"runtime.gcController", offsetof(struct go_globals, gc_controller)},
    {"runtime.bbuckets", offsetof(struct go_globals, bbuckets)},
    {"runtime.xbuckets", offsetof(struct go_globals, xbuckets)},
    {"runtime.blockprofilerate", offsetof(struct go_globals, block_profile_rate)},
    {"runtime.mutexprofilerate", offsetof(struct go_globals, mutex_profile_rate)},
    {"runtime.ticks", offsetof(struct go_globals, ticks)},
};

/* The ELF symbols of the runtime's globals, and runtime.buildVersion's address. */
static void globals_from_symtab(Elf *elf, uint64_t bias, struct go_globals *g,
				uint64_t *build_version)
{
	Elf_Scn *scn = NULL;

	*build_version = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_OBJECT)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || strncmp(name, "runtime.", 8))
				continue;
			if (!strcmp(name, "runtime.buildVersion"))
				*build_version = sym.st_value + bias;
			for (size_t k = 0; k < sizeof(global_names) / sizeof(global_names[0]); k++)
				if (!strcmp(name, global_names[k].name))
					*(uint64_t *)((char *)g + global_names[k].off) =
					    sym.st_value + bias;
		}
	}
}

/*
 * Globals of a stripped binary: no .symtab, but .gopclntab names every
 * function.  The functions that use a global are decoded for their
 * RIP-relative operands (x86-64 ModRM mod 00 r/m 101: disp32 from the next
 * instruction); the addresses that fall in the data sections are the
 * candidates, and each global is taken only when exactly one candidate
 * passes checks on what the target holds there.
 */
#define MAX_FUNC_BYTES 65536
#define MAX_OPERANDS 1024

/* How an operand is used (bits: one target may be used several ways). */
enum operand_kind {
	OPERAND_LEA = 1,    /* 8d: the address taken */
	OPERAND_LOAD32 = 2, /* 8b without REX.W: a 32-bit load */
	OPERAND_OTHER = 4,
};

struct operand {
	uint64_t target;
	unsigned kinds;
};

struct data_ranges {
	uint64_t lo[8], hi[8];
	size_t n;
};

static bool in_data(const struct data_ranges *d, uint64_t a)
{
	for (size_t i = 0; i < d->n; i++)
		if (a >= d->lo[i] && a < d->hi[i])
			return true;
	return false;
}

/* The writable PT_LOAD segments (data, bss): where globals live. */
static void data_ranges_of(Elf *elf, uint64_t bias, struct data_ranges *d)
{
	size_t nph;

	d->n = 0;
	if (elf_getphdrnum(elf, &nph))
		return;
	for (size_t i = 0; i < nph && d->n < 8; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_W))
			continue;
		d->lo[d->n] = ph.p_vaddr + bias;
		d->hi[d->n] = ph.p_vaddr + ph.p_memsz + bias;
		d->n++;
	}
}

/*
 * The RIP-relative operands of function name that point into the data
 * segments, into ops (at most max, each target once).  How many, or a
 * negative errno (-ENOENT: no such function).
 */
static int function_operands(struct go_runtime *rt, const struct gopclntab *pcln,
			     const struct data_ranges *d, const char *name, struct operand *ops,
			     size_t max)
{
	uint64_t entry, end;
	uint8_t *code;
	size_t len, n = 0;

	if (gopclntab__func_by_name(pcln, name, &entry, &end))
		return -ENOENT;
	if (end <= entry)
		return -ENOENT;
	len = end - entry > MAX_FUNC_BYTES ? MAX_FUNC_BYTES : end - entry;
	code = malloc(len);
	if (!code)
		return -ENOMEM;
	if (remote_read(rt->pid, entry, code, len)) {
		free(code);
		return -EIO;
	}
	for (size_t i = 0; i + 6 <= len; i++) {
		size_t p = i, imm = 0;
		bool rexw = false, two = false;
		uint8_t op, modrm;
		int32_t disp;
		uint64_t target;
		enum operand_kind kind = OPERAND_OTHER;

		if (code[p] >= 0x40 && code[p] <= 0x4f) {
			rexw = code[p] & 0x08;
			p++;
		}
		if (p < len && code[p] == 0x0f) {
			two = true;
			p++;
		}
		if (p + 6 > len)
			continue;
		op = code[p++];
		if (two) {
			/* movzx/movsx, cmpxchg, xadd, movsd/ss, ucomisd, cvt... */
			if (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf && op != 0xb1 &&
			    op != 0xc1 && op != 0x10 && op != 0x11 && op != 0x2e && op != 0x2f &&
			    op != 0x58 && op != 0x59 && op != 0x5e && op != 0x2a)
				continue;
		} else if (op == 0x80 || op == 0x83 || op == 0xc6) {
			imm = 1;
		} else if (op == 0x81 || op == 0xc7) {
			imm = 4;
		} else if (op != 0x01 && op != 0x03 && op != 0x29 && op != 0x2b && op != 0x39 &&
			   op != 0x3b && op != 0x85 && op != 0x87 && op != 0x88 && op != 0x89 &&
			   op != 0x8a && op != 0x8b && op != 0x8d && op != 0xff && op != 0xfe &&
			   op != 0xf7) {
			continue;
		}
		modrm = code[p++];
		if ((modrm & 0xc7) != 0x05)
			continue;
		memcpy(&disp, code + p, sizeof(disp));
		p += 4 + imm;
		if (p > len)
			continue;
		target = entry + p + (int64_t)disp;
		if (!in_data(d, target))
			continue;
		if (!two && op == 0x8d)
			kind = OPERAND_LEA;
		else if (!two && op == 0x8b && !rexw)
			kind = OPERAND_LOAD32;
		for (size_t k = 0; k < n; k++)
			if (ops[k].target == target) {
				ops[k].kinds |= kind;
				goto next;
			}
		if (n < max)
			ops[n++] = (struct operand){target, kind};
	next:;
	}
	free(code);
	return (int)n;
}

static bool has_target(const struct operand *ops, int n, uint64_t t)
{
	for (int i = 0; i < n; i++)
		if (ops[i].target == t)
			return true;
	return false;
}

/*
 * runtime.allgs (a slice: its array, len and cap all used by allgadd) and
 * runtime.allglen (whose value is the slice's len), from runtime.allgadd.
 */
static void find_allgs(struct go_runtime *rt, const struct operand *ops, int n)
{
	uint64_t allgs = 0, slice[3] = {0}, allglen = 0;
	int found = 0;

	for (int i = 0; i < n; i++) {
		uint64_t t = ops[i].target, v[3];

		if ((t & 7) || !has_target(ops, n, t + 8) || !has_target(ops, n, t + 16) ||
		    remote_read(rt->pid, t, v, sizeof(v)))
			continue;
		if (!v[0] || !v[1] || v[1] > v[2] || v[2] > MAX_GOROUTINES || (v[0] & 7))
			continue;
		if (t == allgs)
			continue;
		allgs = t;
		memcpy(slice, v, sizeof(v));
		found++;
	}
	if (found != 1)
		return;
	found = 0;
	for (int i = 0; i < n; i++) {
		uint64_t t = ops[i].target, v;

		if ((t & 7) || (t >= allgs && t < allgs + 24) || remote_u64(rt->pid, t, &v))
			continue;
		if (v == slice[1] && t != allglen) {
			allglen = t;
			found++;
		}
	}
	if (found != 1)
		return;
	rt->globals.allgs = allgs;
	rt->globals.allglen = allglen;
}

/* Whether the target holds a plausible runtime.mbuckets at t: nil or a memProfile bucket. */
static bool plausible_mbuckets(struct go_runtime *rt, uint64_t t)
{
	const struct go_layout *l = &rt->layout;
	uint8_t b[64];
	uint64_t v;

	if ((t & 7) || remote_u64(rt->pid, t, &v))
		return false;
	if (!v)
		return true;
	if (l->bucket_size <= 0 || (size_t)l->bucket_size > sizeof(b) || (v & 7) ||
	    remote_read(rt->pid, v, b, (size_t)l->bucket_size))
		return false;
	return get_u64(b, l->bucket_typ) == 1 && get_u64(b, l->bucket_nstk) <= MAX_BUCKET_STACK;
}

/* The one candidate both functions use, or 0. */
static uint64_t common_target(const struct operand *a, int na, const struct operand *b, int nb)
{
	uint64_t t = 0;
	int found = 0;

	for (int i = 0; i < na; i++)
		if (has_target(b, nb, a[i].target) && a[i].target != t) {
			t = a[i].target;
			found++;
		}
	return found == 1 ? t : 0;
}

/* The operands of the first of names that the binary has (Go renamed some). */
static int operands_of_any(struct go_runtime *rt, const struct gopclntab *pcln,
			   const struct data_ranges *d, const char *const *names, struct operand *ops)
{
	int n = -ENOENT;

	for (size_t i = 0; names[i] && n == -ENOENT; i++)
		n = function_operands(rt, pcln, d, names[i], ops, MAX_OPERANDS);
	return n;
}

/*
 * The one data operand of the first of names that has exactly one (the
 * setter or the user of one global; the compiler inlines some of them
 * away), or 0.
 */
static uint64_t only_operand(struct go_runtime *rt, const struct gopclntab *pcln,
			     const struct data_ranges *d, const char *const *names,
			     struct operand *ops)
{
	for (size_t i = 0; names[i]; i++) {
		int n = function_operands(rt, pcln, d, names[i], ops, MAX_OPERANDS);
		uint64_t v;

		if (n == 1 && !(ops[0].target & 7) && !remote_u64(rt->pid, ops[0].target, &v))
			return ops[0].target;
	}
	return 0;
}

/*
 * The block and mutex profiles' globals of a stripped binary:
 *   bbuckets, xbuckets  the one address both the profile's reader
 *                       (BlockProfile / MutexProfile, blockProfileInternal /
 *                       mutexProfileInternal from Go 1.23) and stkbucket use
 *                       (stkbucket takes &bbuckets, &xbuckets, &mbuckets);
 *   blockprofilerate,   the one global SetBlockProfileRate or blockevent,
 *   mutexprofilerate    SetMutexProfileFraction or sync.event (mutexevent)
 *                       touch (the setters are often inlined away);
 *   ticks               the address ticksPerSecond locks (lea) whose val it
 *                       also reads.
 */
static void contention_globals(struct go_runtime *rt, const struct gopclntab *pcln,
			       const struct data_ranges *d, struct operand *a, struct operand *b)
{
	static const char *const block_readers[] = {"runtime.blockProfileInternal",
						    "runtime.BlockProfile", NULL};
	static const char *const mutex_readers[] = {"runtime.mutexProfileInternal",
						    "runtime.MutexProfile", NULL};
	static const char *const block_rate_fns[] = {"runtime.SetBlockProfileRate",
						      "runtime.blockevent", NULL};
	/* mutexevent is sync.event by its linkname (and inlined into it). */
	static const char *const mutex_rate_fns[] = {"runtime.SetMutexProfileFraction",
						      "sync.event", "runtime.mutexevent", NULL};
	static const char *const ticks_fns[] = {"runtime.ticksPerSecond", "runtime.tickspersecond",
						NULL};
	const struct go_layout *l = &rt->layout;
	int na, nb = function_operands(rt, pcln, d, "runtime.stkbucket", b, MAX_OPERANDS);

	if (nb > 0) {
		na = operands_of_any(rt, pcln, d, block_readers, a);
		if (na > 0)
			rt->globals.bbuckets = common_target(a, na, b, nb);
		na = operands_of_any(rt, pcln, d, mutex_readers, a);
		if (na > 0)
			rt->globals.xbuckets = common_target(a, na, b, nb);
	}
	rt->globals.block_profile_rate = only_operand(rt, pcln, d, block_rate_fns, a);
	rt->globals.mutex_profile_rate = only_operand(rt, pcln, d, mutex_rate_fns, a);
	na = operands_of_any(rt, pcln, d, ticks_fns, a);
	if (na > 0 && l->ticks_val > 0) {
		uint64_t t = 0;
		int found = 0;

		for (int i = 0; i < na; i++)
			if ((a[i].kinds & OPERAND_LEA) && !(a[i].target & 7) &&
			    has_target(a, na, a[i].target + (uint64_t)l->ticks_val) &&
			    a[i].target != t) {
				t = a[i].target;
				found++;
			}
		if (found == 1)
			rt->globals.ticks = t;
	}
}

static void globals_from_pclntab(struct go_runtime *rt, Elf *elf, uint64_t bias,
				 const struct gopclntab *pcln)
{
	const struct go_layout *l = &rt->layout;
	struct operand *a = calloc(2 * MAX_OPERANDS, sizeof(*a)), *b = a + MAX_OPERANDS;
	struct data_ranges d;
	int na, nb;

	if (!a)
		return;
	data_ranges_of(elf, bias, &d);
	na = function_operands(rt, pcln, &d, "runtime.allgadd", a, MAX_OPERANDS);
	if (na > 0)
		find_allgs(rt, a, na);

	/* mProf_FlushLocked walks the bucket list and nothing else global. */
	na = function_operands(rt, pcln, &d, "runtime.mProf_FlushLocked", a, MAX_OPERANDS);
	{
		uint64_t t = 0, v, held = 0;
		int found = 0, holding = 0;

		/*
		 * Decoding at every byte finds a few false operands: only one may
		 * fit, or (several nil) the one that holds a bucket.
		 */
		for (int i = 0; i < na; i++) {
			if (!plausible_mbuckets(rt, a[i].target))
				continue;
			t = a[i].target;
			found++;
			if (!remote_u64(rt->pid, t, &v) && v) {
				held = t;
				holding++;
			}
		}
		if (found > 1 && holding == 1) {
			t = held;
			found = 1;
		}
		if (found == 1)
			rt->globals.mbuckets = t;
	}

	/* MemProfileRate: the one global profilealloc and allocmcache both read. */
	na = function_operands(rt, pcln, &d, "runtime.profilealloc", a, MAX_OPERANDS);
	nb = function_operands(rt, pcln, &d, "runtime.allocmcache", b, MAX_OPERANDS);
	if (na > 0 && nb > 0) {
		uint64_t t = common_target(a, na, b, nb), v;

		if (t && !(t & 7) && !remote_u64(rt->pid, t, &v) && v <= (1ULL << 30))
			rt->globals.mem_profile_rate = t;
	}

	/* mProfCycle: the 32-bit load of mProf_Malloc (the rest are locks, by address). */
	na = function_operands(rt, pcln, &d, "runtime.mProf_Malloc", a, MAX_OPERANDS);
	for (int i = 0, found = 0; i < na; i++)
		if (a[i].kinds == OPERAND_LOAD32 && !found++)
			rt->globals.mprof_cycle = a[i].target;

	contention_globals(rt, pcln, &d, a, b);

	/* memstats: the base whose numgc, pause_ns and pause_end readmemstats_m all uses. */
	na = function_operands(rt, pcln, &d, "runtime.readmemstats_m", a, MAX_OPERANDS);
	if (l->ms_numgc >= 0 && l->ms_pause_ns >= 0 && l->ms_pause_end >= 0) {
		uint64_t base = 0;
		int found = 0;

		for (int i = 0; i < na; i++) {
			uint64_t t = a[i].target - (uint64_t)l->ms_numgc;

			if (a[i].target >= (uint64_t)l->ms_numgc &&
			    has_target(a, na, t + (uint64_t)l->ms_pause_ns) &&
			    has_target(a, na, t + (uint64_t)l->ms_pause_end) && t != base) {
				base = t;
				found++;
			}
		}
		if (found == 1)
			rt->globals.memstats = base;
	}
	/* gcController: the address readmemstats_m takes whose heapInUse and heapFree it reads. */
	if (l->gcc_heap_in_use > 0 && l->gcc_heap_free > 0) {
		uint64_t base = 0;
		int found = 0;

		for (int i = 0; i < na; i++) {
			uint64_t t = a[i].target;

			if ((a[i].kinds & OPERAND_LEA) &&
			    has_target(a, na, t + (uint64_t)l->gcc_heap_in_use) &&
			    has_target(a, na, t + (uint64_t)l->gcc_heap_free) && t != base) {
				base = t;
				found++;
			}
		}
		if (found == 1)
			rt->globals.gc_controller = base;
	}
	free(a);
}

/*
 * runtime.waitReasonStrings, read from the binary: a [N]string in the data
 * segments whose entry 1 is "GC assist marking" and entry 2 "IO wait" (the
 * order since Go 1.11), entry 0 "".  Every entry must be a string of the
 * read-only data; at most MAX_WAIT_REASONS.
 */
#define MAX_WAIT_REASONS 64

static void wait_reasons_from_binary(struct go_runtime *rt, Elf *elf, uint64_t bias)
{
	static const char first[] = "GC assist marking", second[] = "IO wait";
	struct data_ranges d;
	uint8_t *buf = NULL;

	data_ranges_of(elf, bias, &d);
	for (size_t seg = 0; seg < d.n && !rt->nwait_reasons; seg++) {
		size_t len = d.hi[seg] - d.lo[seg];

		if (len > (64u << 20))
			continue;
		free(buf);
		buf = malloc(len);
		if (!buf || remote_read(rt->pid, d.lo[seg], buf, len))
			continue;
		for (size_t o = 16; o + 48 <= len && !rt->nwait_reasons; o += 8) {
			uint64_t e[6];
			char text[32];
			size_t n = 0;

			memcpy(e, buf + o - 16, sizeof(e));
			if (e[1] != 0 || e[3] != sizeof(first) - 1 || e[5] != sizeof(second) - 1 ||
			    remote_read(rt->pid, e[2], text, e[3]) || memcmp(text, first, e[3]) ||
			    remote_read(rt->pid, e[4], text, e[5]) || memcmp(text, second, e[5]))
				continue;
			for (; n < MAX_WAIT_REASONS && o - 16 + 16 * (n + 1) <= len; n++) {
				uint64_t sv[2];
				char *str;

				memcpy(sv, buf + o - 16 + 16 * n, sizeof(sv));
				if (n && (sv[1] == 0 || sv[1] > 48))
					break;
				str = calloc(1, sv[1] + 1);
				if (!str || (sv[1] && remote_read(rt->pid, sv[0], str, sv[1]))) {
					free(str);
					break;
				}
				rt->wait_reasons[n] = str;
			}
			rt->nwait_reasons = n;
		}
	}
	free(buf);
}

/* Whether the ELF file is a Go binary: a section Go's linker writes. */
static bool elf_is_go(Elf *elf)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && (!strcmp(name, ".gopclntab") || !strcmp(name, ".go.buildinfo") ||
			     !strcmp(name, ".note.go.buildid")))
			return true;
	}
	return false;
}

/*
 * The load bias of the executable: 0 for ET_EXEC, else where its first
 * segment is mapped (from /proc/PID/maps) minus its p_vaddr.
 */
static int load_bias(pid_t pid, Elf *elf, uint64_t *bias)
{
	GElf_Ehdr eh;
	size_t nph;
	uint64_t first = UINT64_MAX;
	char path[64], exe[4096], line[4608];
	ssize_t n;
	FILE *f;

	*bias = 0;
	if (!gelf_getehdr(elf, &eh))
		return -EINVAL;
	if (eh.e_type == ET_EXEC)
		return 0;
	if (elf_getphdrnum(elf, &nph))
		return -EINVAL;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < first)
			first = ph.p_vaddr & ~0xfffULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0 || first == UINT64_MAX)
		return -EINVAL;
	exe[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start, end, off;
		int pos = 0;

		if (sscanf(line, "%llx-%llx %*s %llx %*s %*s %n", &start, &end, &off, &pos) < 3 ||
		    !pos)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (off == 0 && !strncmp(line + pos, exe, (size_t)n)) {
			*bias = start - first;
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -ENOENT;
}

/*
 * The offset of the thread's g from fs_base.  Go's linker puts g at -8
 * (linux/amd64) when it links alone; with an external linker it is
 * runtime.tlsg in the executable's TLS block, which x86-64 places just
 * below the thread pointer: tlsg's offset in PT_TLS minus the block's
 * aligned size.  Without the symbol, only a block of Go's one slot says
 * where.  0: unknown.
 */
static int64_t tls_g_offset(Elf *elf)
{
	uint64_t tlsg = UINT64_MAX, size = 0, align = 1;
	bool have_tls = false;
	Elf_Scn *scn = NULL;
	size_t nph;

	if (elf_getphdrnum(elf, &nph))
		return 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_TLS) {
			have_tls = true;
			size = ph.p_memsz;
			align = ph.p_align ? ph.p_align : 1;
		}
	}
	if (!have_tls)
		return -8;
	if (align > 4096 || size > (1u << 20))
		return 0;
	size = (size + align - 1) / align * align;
	while ((scn = elf_nextscn(elf, scn)) && tlsg == UINT64_MAX) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_TLS)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, "runtime.tlsg")) {
				tlsg = sym.st_value;
				break;
			}
		}
	}
	if (tlsg == UINT64_MAX)
		return size == 8 ? -8 : 0;
	if (tlsg + 8 > size)
		return 0;
	return (int64_t)tlsg - (int64_t)size;
}

int64_t go_runtime__tls_g_offset(const struct go_runtime *rt)
{
	return rt->tls_g_offset;
}

pid_t go_runtime__pid(const struct go_runtime *rt)
{
	return rt->pid;
}

/* Text range of the executable (for checking pcs read from the target). */
static void text_range(Elf *elf, uint64_t bias, uint64_t *lo, uint64_t *hi)
{
	size_t nph;

	*lo = UINT64_MAX;
	*hi = 0;
	if (elf_getphdrnum(elf, &nph))
		return;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (ph.p_vaddr + bias < *lo)
			*lo = ph.p_vaddr + bias;
		if (ph.p_vaddr + ph.p_memsz + bias > *hi)
			*hi = ph.p_vaddr + ph.p_memsz + bias;
	}
}

/* A Go string (pointer, length) at addr, into buf.  0 or -errno. */
static int remote_go_string(pid_t pid, uint64_t addr, char *buf, size_t len)
{
	uint64_t hdr[2];
	int ret = remote_read(pid, addr, hdr, sizeof(hdr));

	if (ret)
		return ret;
	if (hdr[1] == 0 || hdr[1] >= len)
		return -EINVAL;
	ret = remote_read(pid, hdr[0], buf, hdr[1]);
	if (ret)
		return ret;
	buf[hdr[1]] = '\0';
	return 0;
}

/* --- the object ---------------------------------------------------------- */

static void runtime_free(struct go_runtime *rt)
{
	if (!rt)
		return;
	free(rt->gbuf);
	free(rt->stack);
	free(rt->allgs);
	for (size_t i = 0; i < rt->nwait_reasons; i++)
		free(rt->wait_reasons[i]);
	free(rt);
}

static struct go_runtime *runtime_open(pid_t pid, char *err, size_t errlen)
{
	struct go_runtime *rt = calloc(1, sizeof(*rt));
	uint64_t bias = 0, build_version = 0;
	struct gopclntab *pcln = NULL;
	char path[64];
	Elf *elf = NULL;
	int fd = -1, ret;

	err[0] = '\0';
	if (!rt) {
		errno = ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rt->pid = pid;
	rt->tsc0 = read_tsc();
	rt->mono0 = mono_ns();
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		ret = -ENOENT;
		goto fail;
	}
	if (!elf_is_go(elf)) {
		ret = -ENOENT; /* not Go: no reason, the native view is the view */
		goto fail;
	}
	ret = load_bias(pid, elf, &bias);
	if (ret) {
		snprintf(err, errlen, "cannot find where the Go executable is mapped: %s",
			 strerror(-ret));
		ret = -EIO;
		goto fail;
	}
	text_range(elf, bias, &rt->text_lo, &rt->text_hi);
	rt->tls_g_offset = tls_g_offset(elf);
	globals_from_symtab(elf, bias, &rt->globals, &build_version);
	pcln = gopclntab__open(elf, bias, NULL, 0);
	if (pcln && gopclntab__go_version(pcln)[0])
		snprintf(rt->version, sizeof(rt->version), "%s", gopclntab__go_version(pcln));
	else if (build_version)
		remote_go_string(pid, build_version, rt->version, sizeof(rt->version));
	if (go_layout__from_elf(elf, &rt->layout) == 0 && go_layout__usable(&rt->layout)) {
		snprintf(rt->layout_source, sizeof(rt->layout_source), "dwarf");
	} else {
		const struct go_layout *row = go_layout__for_version(rt->version);

		if (!row && go_layout__from_types(elf, rt->version, &rt->layout) == 0 &&
		    go_layout__usable(&rt->layout)) {
			snprintf(rt->layout_source, sizeof(rt->layout_source), "type descriptors");
		} else if (!row) {
			snprintf(err, errlen,
				 "unsupported Go version %s (no DWARF, and no layout "
				 "known for it)",
				 rt->version[0] ? rt->version : "(unknown)");
			ret = -ENOTSUP;
			goto fail;
		}
		if (row) {
			rt->layout = *row;
			snprintf(rt->layout_source, sizeof(rt->layout_source), "%s table",
				 go_layout__version(row));
		}
	}
	/* No symbol table: the globals from the code that uses them. */
	if (pcln && !rt->globals.allgs)
		globals_from_pclntab(rt, elf, bias, pcln);
	if (!rt->globals.allgs || !rt->globals.allglen) {
		snprintf(err, errlen,
			 "Go %s: runtime.allgs / runtime.allglen not found (stripped "
			 "binary)",
			 rt->version[0] ? rt->version : "(unknown version)");
		ret = -ENOTSUP;
		goto fail;
	}
	wait_reasons_from_binary(rt, elf, bias);
	rt->gbuf = malloc((size_t)rt->layout.g_size * G_BATCH);
	rt->stack = malloc(STACK_READ_BYTES);
	if (!rt->gbuf || !rt->stack) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	gopclntab__free(pcln);
	elf_end(elf);
	close(fd);
	pr_info("go runtime: %s, layouts from %s", rt->version[0] ? rt->version : "(version?)",
		rt->layout_source);
	return rt;
fail:
	gopclntab__free(pcln);
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	runtime_free(rt);
	errno = -ret;
	return NULL;
}

/* Why the last open failed, so that asking again costs nothing. */
static struct {
	pid_t pid;
	int error;
	char reason[256];
} failed;

struct go_runtime *go_runtime__get(pid_t pid, char *err, size_t errlen)
{
	if (shared && shared->pid == pid) {
		shared->refs++;
		return shared;
	}
	if (failed.pid == pid && failed.error) {
		snprintf(err, errlen, "%s", failed.reason);
		errno = failed.error;
		return NULL;
	}
	if (shared) { /* another target: this one is not shared */
		struct go_runtime *rt = runtime_open(pid, err, errlen);

		if (rt)
			rt->refs = 1;
		return rt;
	}
	shared = runtime_open(pid, err, errlen);
	if (shared) {
		shared->refs = 1;
	} else {
		failed.pid = pid;
		failed.error = errno ? errno : EIO;
		snprintf(failed.reason, sizeof(failed.reason), "%s", err);
		errno = failed.error;
	}
	return shared;
}

void go_runtime__put(struct go_runtime *rt)
{
	if (!rt || --rt->refs)
		return;
	if (rt == shared)
		shared = NULL;
	runtime_free(rt);
}

const char *go_runtime__version(const struct go_runtime *rt)
{
	return rt->version;
}

int go_runtime__version_number(const struct go_runtime *rt)
{
	return go_version__number(rt->version);
}

bool go_runtime__has_mem_profile(const struct go_runtime *rt)
{
	const struct go_layout *l = &rt->layout;

	return rt->globals.mbuckets && l->bucket_size > 0 && l->bucket_allnext >= 0 &&
	       l->bucket_nstk >= 0 && l->bucket_typ >= 0 && l->memrecord_active >= 0 &&
	       l->memrecord_future >= 0 && l->memrecord_cycle_size == 32;
}

const char *go_runtime__layout_source(const struct go_runtime *rt)
{
	return rt->layout_source;
}

const struct go_layout *go_runtime__layout(const struct go_runtime *rt)
{
	return &rt->layout;
}

const struct go_globals *go_runtime__globals(const struct go_runtime *rt)
{
	return &rt->globals;
}

/* --- goroutines ---------------------------------------------------------- */

/* runtime2.go's waitReasonStrings of Go 1.19 (the numbering changes with versions). */
static const char *const wait_reasons_119[] = {
    "",
    "GC assist marking",
    "IO wait",
    "chan receive (nil chan)",
    "chan send (nil chan)",
    "dumping heap",
    "garbage collection",
    "garbage collection scan",
    "panicwait",
    "select",
    "select (no cases)",
    "GC assist wait",
    "GC sweep wait",
    "GC scavenge wait",
    "chan receive",
    "chan send",
    "finalizer wait",
    "force gc (idle)",
    "semacquire",
    "sleep",
    "sync.Cond.Wait",
    "timer goroutine (idle)",
    "trace reader (blocked)",
    "wait for GC cycle",
    "GC worker (idle)",
    "preempted",
    "debug call",
};

const char *go_runtime__wait_reason(const struct go_runtime *rt, uint32_t reason)
{
	if (rt->nwait_reasons)
		return reason < rt->nwait_reasons ? rt->wait_reasons[reason]
						  : "unknown wait reason";
	if (strncmp(rt->version, "go1.19", 6) || (rt->version[6] && rt->version[6] != '.'))
		return NULL;
	if (reason >= sizeof(wait_reasons_119) / sizeof(wait_reasons_119[0]))
		return "unknown wait reason";
	return wait_reasons_119[reason];
}

const char *go_runtime__status_name(uint32_t status)
{
	/* runtime2.go gStatusStrings */
	static const char *const names[] = {"idle",	  "runnable", "running", "syscall",
					    "waiting",	  "moribund", "dead",	 "enqueue",
					    "copy stack", "preempted"};

	status &= ~(uint32_t)GO_STATUS_SCAN;
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "???";
}

static bool in_text(const struct go_runtime *rt, uint64_t pc)
{
	return pc >= rt->text_lo && pc < rt->text_hi;
}

/*
 * The stack of a goroutine that is not running, from its saved context:
 * the pc where it stopped, then the frame-pointer chain from the saved bp
 * (Go keeps frame pointers on amd64: [bp] the caller's bp, [bp + 8] the
 * return address).  Every bp must be inside the goroutine's stack and
 * above the last; the walk ends at bp 0 (the goroutine's first frame).
 */
static void walk_stack(struct go_runtime *rt, struct go_goroutine *g, uint64_t pc, uint64_t sp,
		       uint64_t bp, uint64_t lo, uint64_t hi)
{
	uint64_t base = 0, got = 0; /* rt->stack holds [base, base + got) */

	g->npcs = 0;
	g->truncated = false;
	if (!in_text(rt, pc)) {
		g->truncated = true;
		return;
	}
	g->pcs[g->npcs++] = pc;
	if (hi <= lo || hi - lo > (1ULL << 30) || sp < lo || sp > hi) {
		g->truncated = true;
		return;
	}
	while (bp) {
		uint64_t frame[2];

		if (bp < sp || bp < lo || bp + 16 > hi || (bp & 7)) {
			g->truncated = true;
			return;
		}
		if (bp < base || bp + 16 > base + got) {
			/* A parked goroutine's frames fit in a few hundred bytes: small first. */
			uint64_t want = got ? STACK_READ_BYTES : STACK_FIRST_READ_BYTES;

			base = bp;
			got = hi - bp < want ? hi - bp : want;
			if (remote_read(rt->pid, base, rt->stack, got)) {
				g->truncated = true;
				return;
			}
		}
		memcpy(frame, rt->stack + (bp - base), sizeof(frame));
		if (!frame[1])
			return;
		if (!in_text(rt, frame[1]) || g->npcs == GO_MAX_FRAMES) {
			g->truncated = true;
			return;
		}
		g->pcs[g->npcs++] = frame[1];
		if (frame[0] && frame[0] <= bp) {
			g->truncated = true;
			return;
		}
		sp = bp + 16;
		bp = frame[0];
	}
}

/* One g, its bytes (l->g_size of them) at b, read. */
static int read_goroutine(struct go_runtime *rt, uint64_t addr, const uint8_t *b, bool stack,
			  struct go_goroutine *g)
{
	const struct go_layout *l = &rt->layout;
	uint64_t pc, sp, bp;
	uint32_t status;

	status = get_u32(b, l->g_atomicstatus);
	memset(g, 0, offsetof(struct go_goroutine, pcs));
	g->addr = addr;
	g->status = status;
	if ((status & ~(uint32_t)GO_STATUS_SCAN) > 16)
		return -EFAULT;
	if ((status & ~(uint32_t)GO_STATUS_SCAN) == GO_STATUS_DEAD)
		return 0;
	g->goid = get_u64(b, l->g_goid);
	g->start_pc = get_u64(b, l->g_startpc);
	g->go_pc = l->g_gopc >= 0 ? get_u64(b, l->g_gopc) : 0;
	if (l->g_parent_goid >= 0)
		g->parent_goid = get_u64(b, l->g_parent_goid);
	if (l->g_waitreason >= 0)
		g->wait_reason = b[l->g_waitreason];
	if (l->g_waitsince >= 0)
		g->wait_since = (int64_t)get_u64(b, l->g_waitsince);
	if (l->g_lockedm >= 0)
		g->locked = get_u64(b, l->g_lockedm) != 0;
	if (l->g_labels >= 0 && l->g_labels + 8 <= l->g_size)
		g->labels = get_u64(b, l->g_labels);
	pc = get_u64(b, l->g_sched_pc);
	sp = get_u64(b, l->g_sched_sp);
	bp = get_u64(b, l->g_sched_bp);
	/* gogo() clears sched.sp when it resumes a goroutine: sp 0 is "running". */
	if (!stack) {
		g->npcs = 0;
		return 0;
	}
	if (!sp) {
		g->stack_unavailable = true;
		g->npcs = 0;
		return 0;
	}
	walk_stack(rt, g, pc, sp, bp, get_u64(b, l->g_stack_lo), get_u64(b, l->g_stack_hi));
	return 0;
}

int go_runtime__goroutines(struct go_runtime *rt, unsigned flags, go_goroutine_fn fn, void *ctx)
{
	const struct go_layout *l = &rt->layout;
	struct go_goroutine *g;
	uint64_t allglen, slice[3];
	int ret;

	/* allglen first: allgs only grows, and its array holds at least allglen. */
	ret = remote_u64(rt->pid, rt->globals.allglen, &allglen);
	if (!ret)
		ret = remote_read(rt->pid, rt->globals.allgs, slice, sizeof(slice));
	if (ret)
		return ret == -ESRCH ? -ESRCH : -EIO;
	/* slice: array, len, cap */
	if (allglen > slice[1])
		allglen = slice[1];
	if (slice[1] > slice[2] || allglen > MAX_GOROUTINES || (allglen && !slice[0]))
		return -EIO;
	if (allglen > rt->cap_allgs) {
		uint64_t *more = realloc(rt->allgs, allglen * sizeof(*more));

		if (!more)
			return -ENOMEM;
		rt->allgs = more;
		rt->cap_allgs = allglen;
	}
	if (allglen && remote_read(rt->pid, slice[0], rt->allgs, allglen * sizeof(uint64_t)))
		return -EIO;
	g = malloc(sizeof(*g));
	if (!g)
		return -ENOMEM;
	ret = 0;
	for (uint64_t i = 0; i < allglen && !ret; i += G_BATCH) {
		size_t k = allglen - i < G_BATCH ? allglen - i : G_BATCH, sz = (size_t)l->g_size;
		struct iovec local[G_BATCH], remote[G_BATCH];
		ssize_t got;

		/* G_BATCH g's in one call; what it could not read is read one by one. */
		for (size_t j = 0; j < k; j++) {
			local[j] = (struct iovec){rt->gbuf + j * sz, sz};
			remote[j] = (struct iovec){(void *)(uintptr_t)rt->allgs[i + j], sz};
		}
		got = process_vm_readv(rt->pid, local, k, remote, k, 0);
		if (got < 0 && errno == ESRCH) {
			ret = -ESRCH;
			break;
		}
		for (size_t j = 0; j < k && !ret; j++) {
			uint64_t addr = rt->allgs[i + j];
			uint8_t *b = rt->gbuf + j * sz;
			int r = 0;

			if (!addr || (addr & 7))
				continue;
			if (got < (ssize_t)((j + 1) * sz))
				r = remote_read(rt->pid, addr, b, sz);
			if (!r)
				r = read_goroutine(rt, addr, b, !(flags & GO_WALK_NO_STACKS), g);
			if (r == -ESRCH) {
				ret = r;
				break;
			}
			/* A g freed and reused while we read it: skipped. */
			if (r || (g->status & ~(uint32_t)GO_STATUS_SCAN) == GO_STATUS_DEAD)
				continue;
			ret = fn(ctx, g);
		}
	}
	free(g);
	return ret;
}

/* --- memory profile ------------------------------------------------------ */

int go_runtime__mem_profile_rate(struct go_runtime *rt, int64_t *rate)
{
	uint64_t v;
	int ret;

	if (!rt->globals.mem_profile_rate)
		return -ENOENT;
	ret = remote_u64(rt->pid, rt->globals.mem_profile_rate, &v);
	if (ret)
		return ret;
	*rate = (int64_t)v;
	return 0;
}

int go_runtime__set_mem_profile_rate(struct go_runtime *rt, int64_t rate)
{
	struct iovec local = {&rate, sizeof(rate)},
		     remote = {(void *)(uintptr_t)rt->globals.mem_profile_rate, sizeof(rate)};

	if (!rt->globals.mem_profile_rate)
		return -ENOENT;
	if (rate < 0)
		return -EINVAL;
	if (process_vm_writev(rt->pid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof(rate))
		return -errno;
	return 0;
}

/* memRecordCycle: allocs, frees, alloc_bytes, free_bytes (uintptr each). */
static void add_cycle(struct go_mem_record *r, const uint8_t *p)
{
	uint64_t v[4];

	memcpy(v, p, sizeof(v));
	r->allocs += (int64_t)v[0];
	r->frees += (int64_t)v[1];
	r->alloc_bytes += (int64_t)v[2];
	r->free_bytes += (int64_t)v[3];
}

/* --- bucket lists -------------------------------------------------------- */

/* What the list walk reads with: the target's memory. */
static int read_target(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct go_runtime *rt = ctx;

	return remote_read(rt->pid, addr, buf, len);
}

int go_buckets__walk(const struct go_layout *l, uint64_t head, uint64_t typ, size_t rec_size,
		     go_remote_read_fn read, void *rctx, go_bucket_fn fn, void *ctx)
{
	uint64_t b, saved = 0, n = 0, power = 1, lam = 0;
	size_t hdr, buf_len;
	uint8_t *buf;
	int ret;

	if (!head || l->bucket_size < 48 || l->bucket_size > 256 || l->bucket_allnext < 0 ||
	    l->bucket_nstk < 0 || l->bucket_typ < 0 || l->bucket_allnext + 8 > l->bucket_size ||
	    l->bucket_nstk + 8 > l->bucket_size || l->bucket_typ + 8 > l->bucket_size ||
	    rec_size > 4096)
		return -ENOTSUP;
	hdr = (size_t)l->bucket_size;
	/* A bucket, its deepest stack and its record. */
	buf_len = hdr + MAX_BUCKET_STACK * 8 + rec_size;
	buf = malloc(buf_len);
	if (!buf)
		return -ENOMEM;
	ret = read(rctx, head, &b, sizeof(b));
	while (!ret && b) {
		struct go_bucket bk;
		uint64_t nstk;
		size_t need;

		if (n++ == MAX_BUCKETS || (b & 7) || b == saved) {
			ret = -EIO; /* too many, misaligned, or a cycle */
			break;
		}
		/* Brent: saved jumps ahead at powers of two; a cycle comes back to it. */
		if (++lam == power) {
			saved = b;
			power *= 2;
			lam = 0;
		}
		/* Header first, to learn nstk; then header, stack and record in one read. */
		if (read(rctx, b, buf, hdr)) {
			ret = -EIO;
			break;
		}
		nstk = get_u64(buf, l->bucket_nstk);
		if (nstk > MAX_BUCKET_STACK || get_u64(buf, l->bucket_typ) != typ) {
			ret = -EIO;
			break;
		}
		need = hdr + nstk * 8 + rec_size;
		if (need > buf_len || read(rctx, b, buf, need)) {
			ret = -EIO;
			break;
		}
		bk = (struct go_bucket){b, nstk, (const uint64_t *)(buf + hdr),
					buf + hdr + nstk * 8};
		b = get_u64(buf, l->bucket_allnext);
		ret = fn(ctx, &bk);
	}
	free(buf);
	return ret == -ESRCH ? -ESRCH : ret;
}

/* The bucket's stack, the first GO_MAX_FRAMES of it (Go 1.23 keeps up to 128 by default). */
static uint32_t bucket_stack(const struct go_bucket *b, uint64_t *stk)
{
	uint32_t n = b->nstk < GO_MAX_FRAMES ? (uint32_t)b->nstk : GO_MAX_FRAMES;

	memcpy(stk, b->stk, n * 8);
	return n;
}

/* --- memory profile ------------------------------------------------------ */

/* What the memory profile's walk collects before it calls back. */
struct mem_walk {
	const struct go_layout *l;
	uint64_t cycle;
	struct go_mem_record *recs, *later; /* per bucket: later the two other future cycles */
	size_t n, cap;
	bool clear;
};

static int on_mem_bucket(void *ctx, const struct go_bucket *b)
{
	struct mem_walk *w = ctx;
	const struct go_layout *l = w->l;
	struct go_mem_record *r;

	if (w->n == w->cap) {
		size_t nc = w->cap ? 2 * w->cap : 256;
		struct go_mem_record *more = realloc(w->recs, nc * sizeof(*more));

		if (!more)
			return -ENOMEM;
		w->recs = more;
		more = realloc(w->later, nc * sizeof(*more));
		if (!more)
			return -ENOMEM;
		w->later = more;
		w->cap = nc;
	}
	r = &w->recs[w->n];
	memset(r, 0, offsetof(struct go_mem_record, stk));
	memset(&w->later[w->n], 0, offsetof(struct go_mem_record, stk));
	r->nstk = bucket_stack(b, r->stk);
	add_cycle(r, b->rec + l->memrecord_active);
	/* mProf_FlushLocked(cycle % 3): the cycle published, not yet flushed. */
	add_cycle(r, b->rec + l->memrecord_future + (w->cycle % 3) * 32);
	for (unsigned c = 0; c < 3; c++)
		if (c != w->cycle % 3)
			add_cycle(&w->later[w->n], b->rec + l->memrecord_future + c * 32);
	if (r->allocs || r->frees)
		w->clear = false;
	w->n++;
	return 0;
}

int go_runtime__mem_records(struct go_runtime *rt, go_mem_record_fn fn, void *ctx)
{
	const struct go_layout *l = &rt->layout;
	struct mem_walk w = {.l = l, .clear = true};
	int ret;

	if (!go_runtime__has_mem_profile(rt))
		return -ENOTSUP;
	if (rt->globals.mprof_cycle) {
		uint32_t v;

		if (!remote_read(rt->pid, rt->globals.mprof_cycle, &v, sizeof(v)))
			w.cycle = v >> 1; /* mProfCycleHolder: cycle << 1 | flushed */
	}
	/* The list first (a copy), then the records, as MemProfile does. */
	ret = go_buckets__walk(l, rt->globals.mbuckets, 1 /* memProfile */,
			       (size_t)l->memrecord_future + 3 * 32, read_target, rt, on_mem_bucket,
			       &w);
	for (size_t i = 0; i < w.n && !ret; i++) {
		struct go_mem_record *r = &w.recs[i];

		/* No GC yet ("clear"): every cycle, so there is a profile before the first GC. */
		if (w.clear) {
			r->allocs += w.later[i].allocs;
			r->frees += w.later[i].frees;
			r->alloc_bytes += w.later[i].alloc_bytes;
			r->free_bytes += w.later[i].free_bytes;
		}
		ret = fn(ctx, r);
	}
	free(w.recs);
	free(w.later);
	return ret;
}

/* --- block and mutex profiles -------------------------------------------- */

bool go_runtime__has_contention_profile(const struct go_runtime *rt, enum go_contention which)
{
	const struct go_layout *l = &rt->layout;
	uint64_t list = which == GO_BLOCK_PROFILE ? rt->globals.bbuckets : rt->globals.xbuckets;
	uint64_t rate = which == GO_BLOCK_PROFILE ? rt->globals.block_profile_rate
						  : rt->globals.mutex_profile_rate;

	return list && rate && l->bucket_size > 0 && l->blockrecord_count >= 0 &&
	       l->blockrecord_cycles >= 0 && l->blockrecord_size >= 16 &&
	       l->blockrecord_count + 8 <= l->blockrecord_size &&
	       l->blockrecord_cycles + 8 <= l->blockrecord_size;
}

int go_runtime__contention_rate(struct go_runtime *rt, enum go_contention which, int64_t *rate)
{
	uint64_t a = which == GO_BLOCK_PROFILE ? rt->globals.block_profile_rate
					       : rt->globals.mutex_profile_rate;
	uint64_t v;
	int ret;

	if (!a)
		return -ENOENT;
	ret = remote_u64(rt->pid, a, &v);
	if (ret)
		return ret;
	*rate = v > INT64_MAX ? INT64_MAX : (int64_t)v;
	return 0;
}

int go_block_record__decode(const struct go_layout *l, enum go_contention which,
			    const struct go_bucket *b, struct go_block_record *out)
{
	double count;
	int64_t cycles;

	memcpy(&count, b->rec + l->blockrecord_count, sizeof(count));
	memcpy(&cycles, b->rec + l->blockrecord_cycles, sizeof(cycles));
	/* !(count >= 0) is also a NaN. */
	if (!(count >= 0) || count > 4.6e18 || cycles < 0)
		return -EINVAL;
	out->count = (int64_t)count;
	/* BlockProfile: "Prevent callers from having to worry about division by zero". */
	if (which == GO_BLOCK_PROFILE && !out->count)
		out->count = 1;
	out->cycles = cycles;
	out->nstk = bucket_stack(b, out->stk);
	/* A logical stack's sentinel (^0, some Go 1.23 stacks) is no frame. */
	if (out->nstk && out->stk[0] == UINT64_MAX) {
		memmove(out->stk, out->stk + 1, (out->nstk - 1) * 8);
		out->nstk--;
	}
	return 0;
}

struct contention_walk {
	const struct go_layout *l;
	enum go_contention which;
	go_block_record_fn fn;
	void *ctx;
	struct go_block_record r;
};

static int on_block_bucket(void *ctx, const struct go_bucket *b)
{
	struct contention_walk *w = ctx;

	/* A bucket being filled in (its record not written yet) is skipped, not an error. */
	if (go_block_record__decode(w->l, w->which, b, &w->r))
		return 0;
	return w->fn(w->ctx, &w->r);
}

int go_runtime__contention_records(struct go_runtime *rt, enum go_contention which,
				   go_block_record_fn fn, void *ctx)
{
	const struct go_layout *l = &rt->layout;
	struct contention_walk *w;
	int ret;

	if (!go_runtime__has_contention_profile(rt, which))
		return -ENOTSUP;
	w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct contention_walk){.l = l, .which = which, .fn = fn, .ctx = ctx};
	ret = go_buckets__walk(l, which == GO_BLOCK_PROFILE ? rt->globals.bbuckets
							    : rt->globals.xbuckets,
			       which == GO_BLOCK_PROFILE ? 2 : 3, (size_t)l->blockrecord_size,
			       read_target, rt, on_block_bucket, w);
	free(w);
	return ret;
}

int go_runtime__cycles_per_second(struct go_runtime *rt, int64_t *tps, const char **from)
{
	/* What runtime.tickspersecond() measures over (Go 1.19: a usleep of 100 ms). */
	const int64_t min_ns = 100000000;
	int64_t elapsed = mono_ns() - rt->mono0, measured;
	uint64_t ticks = 0;

	if (elapsed < min_ns) {
		struct timespec rest = {0, min_ns - elapsed};

		nanosleep(&rest, NULL);
	}
	elapsed = mono_ns() - rt->mono0;
	measured = (int64_t)((double)(read_tsc() - rt->tsc0) * 1e9 / (double)elapsed);
	if (measured <= 0)
		return -EIO;
	*tps = measured;
	*from = "measured";
	/* The runtime's own, when it has one and a read of it agrees within 10%. */
	if (rt->globals.ticks && rt->layout.ticks_val >= 0 &&
	    !remote_u64(rt->pid, rt->globals.ticks + (uint64_t)rt->layout.ticks_val, &ticks) &&
	    ticks && ticks < INT64_MAX && (double)ticks > 0.9 * (double)measured &&
	    (double)ticks < 1.1 * (double)measured) {
		*tps = (int64_t)ticks;
		*from = "runtime.ticks";
	}
	return 0;
}

/* --- GC statistics ------------------------------------------------------- */

/* GOGC, GOMEMLIMIT, the heap goal and HeapSys from runtime.gcController. */
static void read_controller(struct go_runtime *rt, struct go_gc_stats *out)
{
	const struct go_layout *l = &rt->layout;
	int32_t need[] = {
	    l->gcc_gc_percent,	      l->gcc_memory_limit,	     l->gcc_heap_live,
	    l->gcc_percent_heap_goal, l->gcc_sweep_dist_min_trigger, l->gcc_heap_in_use,
	    l->gcc_heap_free,	      l->gcc_heap_released};
	uint8_t buf[1024];
	size_t size = 0;
	int32_t pct;
	uint64_t goal, sweep;

	if (!rt->globals.gc_controller)
		return;
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (need[i] < 0 || (size_t)need[i] + 8 > sizeof(buf))
			return;
		if ((size_t)need[i] + 8 > size)
			size = (size_t)need[i] + 8;
	}
	if (remote_read(rt->pid, rt->globals.gc_controller, buf, size))
		return;
	pct = (int32_t)get_u32(buf, l->gcc_gc_percent);
	out->gogc = pct < 0 ? -1 : pct;
	out->memory_limit = (int64_t)get_u64(buf, l->gcc_memory_limit);
	out->heap_live = (int64_t)get_u64(buf, l->gcc_heap_live);
	/* heapGoalInternal(), outside the memory-limit regime: the larger of the two. */
	goal = get_u64(buf, l->gcc_percent_heap_goal);
	sweep = get_u64(buf, l->gcc_sweep_dist_min_trigger);
	out->next_gc = (int64_t)(sweep > goal ? sweep : goal);
	out->heap_sys_bytes =
	    (int64_t)(get_u64(buf, l->gcc_heap_in_use) + get_u64(buf, l->gcc_heap_free) +
		      get_u64(buf, l->gcc_heap_released));
	out->have_controller = true;
}

int go_runtime__gc_stats(struct go_runtime *rt, struct go_gc_stats *out)
{
	const struct go_layout *l = &rt->layout;
	uint8_t *ms;
	size_t size;
	int ret;

	if (!rt->globals.memstats || l->ms_numgc < 0 || l->ms_pause_ns < 0 ||
	    l->ms_pause_total_ns < 0 || l->ms_pause_end < 0 || l->ms_last_gc_unix < 0)
		return -ENOTSUP;
	size = (size_t)l->ms_numgc + 4;
	if ((size_t)l->ms_pause_end + 2048 > size)
		size = (size_t)l->ms_pause_end + 2048;
	if ((size_t)l->ms_pause_ns + 2048 > size)
		size = (size_t)l->ms_pause_ns + 2048;
	if (l->ms_gc_cpu_fraction >= 0 && (size_t)l->ms_gc_cpu_fraction + 8 > size)
		size = (size_t)l->ms_gc_cpu_fraction + 8;
	if (size > 65536)
		return -ENOTSUP;
	ms = malloc(size);
	if (!ms)
		return -ENOMEM;
	ret = remote_read(rt->pid, rt->globals.memstats, ms, size);
	if (ret) {
		free(ms);
		return ret;
	}
	memset(out, 0, sizeof(*out));
	out->num_gc = get_u32(ms, l->ms_numgc);
	if (l->ms_numforcedgc >= 0)
		out->num_forced_gc = get_u32(ms, l->ms_numforcedgc);
	out->pause_total_ns = get_u64(ms, l->ms_pause_total_ns);
	out->last_gc_unix_ns = get_u64(ms, l->ms_last_gc_unix);
	memcpy(out->pause_ns, ms + l->ms_pause_ns, sizeof(out->pause_ns));
	memcpy(out->pause_end, ms + l->ms_pause_end, sizeof(out->pause_end));
	if (l->ms_gc_cpu_fraction >= 0)
		memcpy(&out->gc_cpu_fraction, ms + l->ms_gc_cpu_fraction, sizeof(double));
	free(ms);
	out->gogc = out->memory_limit = out->heap_live = out->next_gc = out->heap_sys_bytes = -1;
	read_controller(rt, out);
	return 0;
}
