// SPDX-License-Identifier: MIT
/*
 * gopclntab.c - see gopclntab.h.
 *
 * The layouts, from the Go runtime's runtime/symtab.go and runtime2.go (the
 * linker writes them in cmd/link/internal/ld/pcln.go):
 *
 *   pcHeader  magic u32, pad u8 u8, minLC u8, ptrSize u8, nfunc int,
 *             nfiles uint, [textStart uintptr: 1.18+], funcnameOffset,
 *             cuOffset, filetabOffset, pctabOffset, pclnOffset (uintptr,
 *             offsets from the header)
 *   functab   nfunc+1 entries at pclnOffset: {entry uintptr, funcoff
 *             uintptr} (1.16-1.17) or {entryoff u32, funcoff u32} (1.18+:
 *             entry = textStart + entryoff); funcoff from pclnOffset
 *   _func     [entry uintptr (1.16-17) | entryoff u32 (1.18+)], nameoff,
 *             args, deferreturn, pcsp, pcfile, pcln, npcdata, cuOffset
 *             (u32 each), [startLine i32: 1.20+], funcID u8, flag u8
 *             (1.17+, else padding), pad u8, nfuncdata u8; then npcdata
 *             u32 pctab offsets, then nfuncdata funcdata: uintptr addresses
 *             aligned to 8 (1.16-1.17) or u32 offsets from moduledata.gofunc
 *             (1.18+, ~0 = none)
 *   pc-value  pairs of varints (zigzag value delta, pc delta / minLC) from
 *             value -1 at the entry; a zero value delta after the first
 *             pair ends the table
 *   files     pcfile gives a per-CU index: filetab + cutab[cuOffset + i]
 *   inline    FUNCDATA_InlTree (3) indexed by PCDATA_InlTreeIndex (2):
 *             {parent i16, funcID u8, pad, file i32, line i32, nameoff
 *             i32, parentPc i32} (20 bytes, to 1.19) or {funcID u8, pad
 *             [3], nameoff i32, parentPc i32, startLine i32} (16, 1.20+)
 *
 * For 1.18+ the inline trees are at moduledata.gofunc, which only the
 * moduledata says: it is found in the data segment by its first word, the
 * header's address.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gopclntab.h"

#define MAGIC_116 0xfffffffaU
#define MAGIC_118 0xfffffff0U
#define MAGIC_120 0xfffffff1U

enum { PCDATA_INLTREE = 2, FUNCDATA_INLTREE = 3 };
enum { FLAG_TOPFRAME = 1, FLAG_SPWRITE = 2 };

/* Bounds against a hostile file: no real table comes near these. */
#define MAX_FUNCS (1U << 24)
#define MAX_INLINE_DEPTH 64
#define MAX_VERSION_LEN 128

/* One PT_LOAD of the file (ELF addresses). */
struct seg {
	uint64_t vaddr, filesz, offset;
	uint32_t flags;
};

struct name_index {
	uint32_t *funcs; /* function indices sorted by name */
	size_t n;
};

struct gopclntab {
	/* The bytes read: the segment holding the table (mmap'd or malloc'd). */
	const uint8_t *seg;
	uint64_t seg_vaddr, seg_size;
	void *map;	/* to munmap, or NULL */
	size_t map_len;
	void *copy;	/* to free, or NULL */
	/* The segment of moduledata.gofunc when not the table's (a PIE's .rodata). */
	const uint8_t *fseg;
	uint64_t fseg_vaddr, fseg_size;
	void *fmap, *fcopy;
	size_t fmap_len;
	uint64_t bias;

	int layout;	/* 116, 118, 120 */
	unsigned quantum, ptrsize;
	uint64_t hdr_vaddr;
	const uint8_t *tab; /* the header; the table's extent is tab_size */
	uint64_t tab_size;
	uint64_t nfunc, text_start;
	/* Offsets from tab, with sizes (each sub-table ends where the next begins). */
	uint64_t funcname_off, funcname_size;
	uint64_t cu_off, cu_size;
	uint64_t file_off, file_size;
	uint64_t pc_off, pc_size;
	uint64_t fn_off, fn_size;
	/* moduledata.gofunc (1.18+), an ELF address; 0 when not found. */
	uint64_t gofunc;
	uint64_t md_addr; /* the moduledata, an ELF address; 0 when not found */
	uint64_t lo, hi; /* ELF text range */
	struct name_index *names;
	char version[MAX_VERSION_LEN];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static uint64_t rdword(const struct gopclntab *t, const uint8_t *p)
{
	return t->ptrsize == 8 ? rd64(p) : rd32(p);
}

/* [off, off + len) inside a region of size size, without overflow. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* --- ELF: segments and sections ---------------------------------------------- */

static int read_segs(Elf *elf, struct seg **out, size_t *nout)
{
	size_t phnum, i, n = 0;
	struct seg *segs;

	if (elf_getphdrnum(elf, &phnum) || !phnum)
		return -ENOEXEC;
	segs = calloc(phnum, sizeof(*segs));
	if (!segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, i, &mem);

		if (!ph || ph->p_type != PT_LOAD || !ph->p_filesz)
			continue;
		segs[n].vaddr = ph->p_vaddr;
		segs[n].filesz = ph->p_filesz;
		segs[n].offset = ph->p_offset;
		segs[n].flags = ph->p_flags;
		n++;
	}
	*out = segs;
	*nout = n;
	return 0;
}

static const struct seg *seg_of(const struct seg *segs, size_t n, uint64_t vaddr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (vaddr >= segs[i].vaddr && vaddr - segs[i].vaddr < segs[i].filesz)
			return &segs[i];
	return NULL;
}

/* A section by name: its address and file range.  0 or -ENOENT. */
static int find_section(Elf *elf, const char *name, uint64_t *addr, uint64_t *offset,
			uint64_t *size)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		const char *n;

		if (!sh || sh->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name)) {
			*addr = sh->sh_addr;
			*offset = sh->sh_offset;
			*size = sh->sh_size;
			return 0;
		}
	}
	return -ENOENT;
}

/* --- the header -------------------------------------------------------------- */

static int magic_layout(uint32_t magic)
{
	switch (magic) {
	case MAGIC_116:
		return 116;
	case MAGIC_118:
		return 118;
	case MAGIC_120:
		return 120;
	}
	return 0;
}

/*
 * Reads the header at p (avail bytes to the end of what we have) into t.
 * 0, or -EINVAL with the reason in err.
 */
static int parse_header(struct gopclntab *t, const uint8_t *p, uint64_t avail, char *err,
			size_t errlen)
{
	uint64_t words[8], end;
	size_t nwords, i, hdr_size;

	if (avail < 8) {
		set_err(err, errlen, "pclntab header truncated");
		return -EINVAL;
	}
	t->layout = magic_layout(rd32(p));
	if (!t->layout) {
		set_err(err, errlen, "pclntab magic 0x%08x: not a Go 1.16+ table", rd32(p));
		return -ENOTSUP;
	}
	if (p[4] || p[5] || (p[6] != 1 && p[6] != 2 && p[6] != 4) || (p[7] != 4 && p[7] != 8)) {
		set_err(err, errlen, "pclntab header: bad quantum %u or pointer size %u", p[6],
			p[7]);
		return -EINVAL;
	}
	t->quantum = p[6];
	t->ptrsize = p[7];
	nwords = t->layout == 116 ? 7 : 8;
	hdr_size = 8 + nwords * t->ptrsize;
	if (avail < hdr_size) {
		set_err(err, errlen, "pclntab header truncated");
		return -EINVAL;
	}
	for (i = 0; i < nwords; i++)
		words[i] = rdword(t, p + 8 + i * t->ptrsize);
	t->nfunc = words[0];
	if (t->layout == 116) {
		t->text_start = 0;
		memmove(words + 3, words + 2, 5 * sizeof(words[0]));
	} else {
		t->text_start = words[2];
	}
	t->funcname_off = words[3];
	t->cu_off = words[4];
	t->file_off = words[5];
	t->pc_off = words[6];
	t->fn_off = words[7];
	if (!t->nfunc || t->nfunc > MAX_FUNCS) {
		set_err(err, errlen, "pclntab: %llu functions", (unsigned long long)t->nfunc);
		return -EINVAL;
	}
	/* The sub-tables follow each other in this order (the linker's). */
	if (t->funcname_off < hdr_size || t->cu_off < t->funcname_off ||
	    t->file_off < t->cu_off || t->pc_off < t->file_off || t->fn_off < t->pc_off ||
	    t->fn_off > avail) {
		set_err(err, errlen, "pclntab: sub-table offsets out of order or past the end");
		return -EINVAL;
	}
	t->funcname_size = t->cu_off - t->funcname_off;
	t->cu_size = t->file_off - t->cu_off;
	t->file_size = t->pc_off - t->file_off;
	t->pc_size = t->fn_off - t->pc_off;
	end = avail; /* the function table runs to the end of what the section holds */
	t->fn_size = end - t->fn_off;
	{
		uint64_t ent = t->layout == 116 ? 2 * t->ptrsize : 8;

		if ((t->nfunc + 1) > t->fn_size / ent) {
			set_err(err, errlen, "pclntab: function table past the end");
			return -EINVAL;
		}
	}
	t->tab = p;
	t->tab_size = avail;
	return 0;
}

/* --- functions ------------------------------------------------------------------ */

/* ELF entry address of function i (0 <= i <= nfunc: the last is the end of text). */
static uint64_t ftab_entry(const struct gopclntab *t, uint64_t i)
{
	const uint8_t *f = t->tab + t->fn_off;

	if (t->layout == 116)
		return rdword(t, f + i * 2 * t->ptrsize);
	return t->text_start + rd32(f + i * 8);
}

static uint64_t ftab_funcoff(const struct gopclntab *t, uint64_t i)
{
	const uint8_t *f = t->tab + t->fn_off;

	if (t->layout == 116)
		return rdword(t, f + i * 2 * t->ptrsize + t->ptrsize);
	return rd32(f + i * 8 + 4);
}

/* A decoded _func. */
struct func {
	uint64_t idx, entry, end;
	int32_t nameoff, args, start_line;
	uint32_t pcsp, pcfile, pcln, npcdata, cu_off;
	uint8_t func_id, flag, nfuncdata;
	const uint8_t *pcdata;	 /* npcdata u32 */
	const uint8_t *funcdata; /* nfuncdata words or u32 */
};

static int func_read(const struct gopclntab *t, uint64_t idx, struct func *fn)
{
	uint64_t off = ftab_funcoff(t, idx), fixed, fdsize, at;
	const uint8_t *p;

	fixed = t->layout == 116 ? t->ptrsize + 36 : t->layout == 118 ? 40 : 44;
	if (!in_bounds(off, fixed, t->fn_size))
		return -EINVAL;
	p = t->tab + t->fn_off + off;
	memset(fn, 0, sizeof(*fn));
	fn->idx = idx;
	fn->entry = ftab_entry(t, idx);
	fn->end = ftab_entry(t, idx + 1);
	if (fn->end < fn->entry)
		return -EINVAL;
	at = t->layout == 116 ? t->ptrsize : 4;
	fn->nameoff = (int32_t)rd32(p + at);
	fn->args = (int32_t)rd32(p + at + 4);
	fn->pcsp = rd32(p + at + 12);
	fn->pcfile = rd32(p + at + 16);
	fn->pcln = rd32(p + at + 20);
	fn->npcdata = rd32(p + at + 24);
	fn->cu_off = rd32(p + at + 28);
	at += 32;
	if (t->layout == 120) {
		fn->start_line = (int32_t)rd32(p + at);
		at += 4;
	}
	fn->func_id = p[at];
	fn->flag = p[at + 1];
	fn->nfuncdata = p[at + 3];
	at += 4;
	if (fn->npcdata > 1024)
		return -EINVAL;
	if (!in_bounds(off + at, (uint64_t)fn->npcdata * 4, t->fn_size))
		return -EINVAL;
	fn->pcdata = p + at;
	at += (uint64_t)fn->npcdata * 4;
	if (t->layout == 116) {
		/* Aligned to the pointer size from the table's start. */
		uint64_t abs = t->fn_off + off + at;

		if (abs % t->ptrsize)
			at += t->ptrsize - abs % t->ptrsize;
		fdsize = (uint64_t)fn->nfuncdata * t->ptrsize;
	} else {
		fdsize = (uint64_t)fn->nfuncdata * 4;
	}
	if (!in_bounds(off + at, fdsize, t->fn_size))
		return -EINVAL;
	fn->funcdata = p + at;
	return 0;
}

/* Go 1.16 has no flag byte, but that byte is padding there (zero); 1.17 has it, same magic. */
static uint8_t func_flag(const struct gopclntab *t, const struct func *fn)
{
	(void)t;
	return fn->flag;
}

/* Index of the function holding ELF address pc, or -1. */
static int64_t func_index(const struct gopclntab *t, uint64_t pc)
{
	uint64_t lo = 0, hi = t->nfunc; /* entries [lo, hi) */

	if (pc < t->lo || pc >= t->hi)
		return -1;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (ftab_entry(t, mid) <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (pc < ftab_entry(t, lo) || pc >= ftab_entry(t, lo + 1))
		return -1;
	return (int64_t)lo;
}

static int func_at(const struct gopclntab *t, uint64_t pc, struct func *fn)
{
	int64_t i = func_index(t, pc);

	if (i < 0)
		return -ENOENT;
	return func_read(t, (uint64_t)i, fn) ? -ENOENT : 0;
}

/* A NUL-terminated string at off in a sub-table, or NULL. */
static const char *table_str(const struct gopclntab *t, uint64_t base, uint64_t size, int64_t off)
{
	const uint8_t *s;

	if (off < 0 || (uint64_t)off >= size)
		return NULL;
	s = t->tab + base + off;
	if (!memchr(s, 0, size - off))
		return NULL;
	return (const char *)s;
}

static const char *func_name(const struct gopclntab *t, int32_t nameoff)
{
	return table_str(t, t->funcname_off, t->funcname_size, nameoff);
}

/* --- pc-value tables ------------------------------------------------------------ */

static bool varint(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
	uint32_t v = 0;
	unsigned shift;

	for (shift = 0; shift < 35; shift += 7) {
		uint8_t b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/*
 * The value of the table at pctab offset off for ELF address pc of fn.
 * 0 with *val, or -ENOENT (no table, pc past it, malformed).
 */
static int pcvalue(const struct gopclntab *t, const struct func *fn, uint32_t off, uint64_t pc,
		   int32_t *val)
{
	const uint8_t *p, *end = t->tab + t->pc_off + t->pc_size;
	uint64_t cur = fn->entry;
	int32_t v = -1;
	bool first = true;

	if (!off || off >= t->pc_size)
		return -ENOENT;
	p = t->tab + t->pc_off + off;
	for (;;) {
		uint32_t uv, pcd;

		if (!varint(&p, end, &uv))
			return -ENOENT;
		if (!uv && !first)
			return -ENOENT;
		first = false;
		uv = uv & 1 ? ~(uv >> 1) : uv >> 1;
		if (!varint(&p, end, &pcd))
			return -ENOENT;
		v += (int32_t)uv;
		cur += (uint64_t)pcd * t->quantum;
		if (pc < cur) {
			*val = v;
			return 0;
		}
		if (cur > fn->end)
			return -ENOENT;
	}
}

static int pcdata(const struct gopclntab *t, const struct func *fn, uint32_t table, uint64_t pc,
		  int32_t *val)
{
	if (table >= fn->npcdata)
		return -ENOENT;
	return pcvalue(t, fn, rd32(fn->pcdata + table * 4), pc, val);
}

/* File and line of fn at pc. */
static void func_line(const struct gopclntab *t, const struct func *fn, uint64_t pc,
		      const char **file, int *line)
{
	int32_t fileno, ln;

	*file = NULL;
	*line = 0;
	if (!pcvalue(t, fn, fn->pcln, pc, &ln) && ln > 0)
		*line = ln;
	if (pcvalue(t, fn, fn->pcfile, pc, &fileno) || fileno < 0)
		return;
	/* cutab: u32 offsets into filetab, per CU. */
	{
		uint64_t slot = (uint64_t)fn->cu_off + (uint64_t)fileno;
		uint32_t foff;

		if (slot >= t->cu_size / 4)
			return;
		foff = rd32(t->tab + t->cu_off + slot * 4);
		if (foff == UINT32_MAX)
			return;
		*file = table_str(t, t->file_off, t->file_size, foff);
	}
}

/*
 * The inline tree of fn, as a pointer into the segment with the bytes left
 * after it, or NULL.
 */
static const uint8_t *inline_tree(const struct gopclntab *t, const struct func *fn,
				  uint64_t *avail)
{
	uint64_t addr;

	if (FUNCDATA_INLTREE >= fn->nfuncdata)
		return NULL;
	if (t->layout == 116) {
		addr = rdword(t, fn->funcdata + FUNCDATA_INLTREE * t->ptrsize);
		if (!addr)
			return NULL;
	} else {
		uint32_t off = rd32(fn->funcdata + FUNCDATA_INLTREE * 4);

		if (off == UINT32_MAX || !t->gofunc)
			return NULL;
		addr = t->gofunc + off;
	}
	if (addr >= t->seg_vaddr && addr - t->seg_vaddr < t->seg_size) {
		*avail = t->seg_size - (addr - t->seg_vaddr);
		return t->seg + (addr - t->seg_vaddr);
	}
	if (t->fseg && addr >= t->fseg_vaddr && addr - t->fseg_vaddr < t->fseg_size) {
		*avail = t->fseg_size - (addr - t->fseg_vaddr);
		return t->fseg + (addr - t->fseg_vaddr);
	}
	return NULL;
}

/* --- kinds, by name ----------------------------------------------------------- */

static const struct {
	const char *name;
	enum gofunc_kind kind;
} kinds[] = {
	{ "runtime.goexit", GOFUNC_GOEXIT },
	{ "runtime.main", GOFUNC_RUNTIME_MAIN },
	{ "runtime.mstart", GOFUNC_MSTART },
	{ "runtime.rt0_go", GOFUNC_RT0_GO },
	{ "runtime.morestack", GOFUNC_MORESTACK },
	{ "runtime.systemstack", GOFUNC_SYSTEMSTACK },
	{ "runtime.systemstack_switch", GOFUNC_SYSTEMSTACK_SWITCH },
	{ "runtime.mcall", GOFUNC_MCALL },
	{ "runtime.asmcgocall", GOFUNC_ASMCGOCALL },
	{ "runtime.cgocallback", GOFUNC_CGOCALLBACK },
	{ "runtime.gogo", GOFUNC_GOGO },
	{ "runtime.sigpanic", GOFUNC_SIGPANIC },
	{ "runtime.asyncPreempt", GOFUNC_ASYNC_PREEMPT },
	{ "runtime.sigtramp", GOFUNC_SIGTRAMP },
	{ "runtime.cgoSigtramp", GOFUNC_SIGTRAMP },
};

static const char *const kind_names[GOFUNC_KIND_MAX] = {
	[GOFUNC_NORMAL] = "normal",
	[GOFUNC_GOEXIT] = "goexit",
	[GOFUNC_RUNTIME_MAIN] = "runtime_main",
	[GOFUNC_MSTART] = "mstart",
	[GOFUNC_RT0_GO] = "rt0_go",
	[GOFUNC_MORESTACK] = "morestack",
	[GOFUNC_SYSTEMSTACK] = "systemstack",
	[GOFUNC_SYSTEMSTACK_SWITCH] = "systemstack_switch",
	[GOFUNC_MCALL] = "mcall",
	[GOFUNC_ASMCGOCALL] = "asmcgocall",
	[GOFUNC_CGOCALLBACK] = "cgocallback",
	[GOFUNC_GOGO] = "gogo",
	[GOFUNC_SIGPANIC] = "sigpanic",
	[GOFUNC_ASYNC_PREEMPT] = "asyncPreempt",
	[GOFUNC_SIGTRAMP] = "sigtramp",
};

const char *gofunc_kind__name(enum gofunc_kind kind)
{
	return kind >= 0 && kind < GOFUNC_KIND_MAX ? kind_names[kind] : "?";
}

static enum gofunc_kind kind_of(const char *name)
{
	size_t i;

	if (!name || strncmp(name, "runtime.", 8))
		return GOFUNC_NORMAL;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(name, kinds[i].name))
			return kinds[i].kind;
	return GOFUNC_NORMAL;
}

/* --- build info -------------------------------------------------------------- */

static const char buildinfo_magic[14] = "\xff Go buildinf:";

/* Reads a Go string header {ptr, len} at vaddr through the raw file. */
static int read_at(const uint8_t *raw, size_t rawsize, const struct seg *segs, size_t nsegs,
		   uint64_t vaddr, uint64_t len, const uint8_t **out)
{
	const struct seg *s = seg_of(segs, nsegs, vaddr);
	uint64_t off;

	if (!s || !in_bounds(vaddr - s->vaddr, len, s->filesz))
		return -EINVAL;
	off = s->offset + (vaddr - s->vaddr);
	if (!in_bounds(off, len, rawsize))
		return -EINVAL;
	*out = raw + off;
	return 0;
}

static int buildinfo_parse(const uint8_t *raw, size_t rawsize, const struct seg *segs,
			   size_t nsegs, uint64_t off, char *buf, size_t len)
{
	const uint8_t *p = raw + off, *s;
	uint64_t vlen;
	unsigned ptrsize;

	if (!in_bounds(off, 32, rawsize))
		return -EINVAL;
	ptrsize = p[14];
	if (p[15] & 2) {
		/* 1.18+: varint length and the bytes, after the 32-byte header. */
		const uint8_t *q = p + 32, *end = raw + rawsize;
		uint32_t n;

		if (!varint(&q, end, &n) || n > (uint64_t)(end - q))
			return -EINVAL;
		vlen = n;
		s = q;
	} else {
		uint64_t strhdr, sptr;
		const uint8_t *h;

		if ((ptrsize != 4 && ptrsize != 8) || (p[15] & 1))
			return -EINVAL; /* big-endian: not ours */
		strhdr = ptrsize == 8 ? rd64(p + 16) : rd32(p + 16);
		if (read_at(raw, rawsize, segs, nsegs, strhdr, 2 * ptrsize, &h))
			return -EINVAL;
		sptr = ptrsize == 8 ? rd64(h) : rd32(h);
		vlen = ptrsize == 8 ? rd64(h + 8) : rd32(h + 4);
		if (vlen > MAX_VERSION_LEN || read_at(raw, rawsize, segs, nsegs, sptr, vlen, &s))
			return -EINVAL;
	}
	if (!vlen || vlen > MAX_VERSION_LEN || memcmp(s, "go", 2))
		return -EINVAL;
	if (vlen + 1 > len)
		return -ENOSPC;
	memcpy(buf, s, vlen);
	buf[vlen] = 0;
	return 0;
}

/*
 * Without build info (a binary whose .go.buildinfo was removed): the
 * runtime's own runtime.buildVersion, a Go string {ptr, len} in a writable
 * segment pointing at "go1.N[.M]" in a read-only one.  Both must be found:
 * the text alone could be any string that mentions a version.
 */
static int build_version_from(const uint8_t *raw, size_t rawsize, const struct seg *segs,
			      size_t nsegs, char *buf, size_t len)
{
	size_t i, j;

	for (i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];
		const uint8_t *base, *p, *end;

		if ((s->flags & (PF_W | PF_X)) || !in_bounds(s->offset, s->filesz, rawsize))
			continue;
		base = raw + s->offset;
		end = base + s->filesz;
		for (p = base; (p = memmem(p, end - p, "go1.", 4)); p += 4) {
			const uint8_t *q = p + 4;
			uint8_t pat[16];
			uint64_t va, n;

			while (q < end && ((*q >= '0' && *q <= '9') || *q == '.'))
				q++;
			n = q - p;
			if (n < 5 || n + 1 > len || n > MAX_VERSION_LEN)
				continue;
			va = s->vaddr + (p - base);
			memcpy(pat, &va, 8);
			memcpy(pat + 8, &n, 8);
			for (j = 0; j < nsegs; j++) {
				const struct seg *d = &segs[j];
				const uint8_t *h, *dbase, *dend;

				if (!(d->flags & PF_W) || !in_bounds(d->offset, d->filesz, rawsize))
					continue;
				dbase = raw + d->offset;
				dend = dbase + d->filesz;
				for (h = dbase; (h = memmem(h, dend - h, pat, 16)); h += 8) {
					if ((h - dbase) % 8)
						continue;
					memcpy(buf, p, n);
					buf[n] = 0;
					return 0;
				}
			}
		}
	}
	return -ENOENT;
}

static int buildinfo_from(Elf *elf, const struct seg *segs, size_t nsegs, char *buf, size_t len)
{
	uint64_t addr, off, size, i;
	size_t rawsize;
	const uint8_t *raw = (const uint8_t *)elf_rawfile(elf, &rawsize);

	if (!raw)
		return -ENOENT;
	if (!find_section(elf, ".go.buildinfo", &addr, &off, &size)) {
		if (!in_bounds(off, size, rawsize) || size < 32 ||
		    memcmp(raw + off, buildinfo_magic, sizeof(buildinfo_magic)))
			return -EINVAL;
		return buildinfo_parse(raw, rawsize, segs, nsegs, off, buf, len);
	}
	/* No section headers: the writable segments, 16-byte aligned. */
	for (i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];
		uint64_t o;

		if (!(s->flags & PF_W) || !in_bounds(s->offset, s->filesz, rawsize))
			continue;
		for (o = 0; o + 32 <= s->filesz; o += 16)
			if (!memcmp(raw + s->offset + o, buildinfo_magic, sizeof(buildinfo_magic)))
				return buildinfo_parse(raw, rawsize, segs, nsegs, s->offset + o,
						       buf, len);
	}
	return build_version_from(raw, rawsize, segs, nsegs, buf, len);
}

int gobuildinfo__version(Elf *elf, char *buf, size_t len)
{
	struct seg *segs;
	size_t nsegs;
	int err;

	if (!elf || !buf || !len)
		return -EINVAL;
	err = read_segs(elf, &segs, &nsegs);
	if (err)
		return err == -ENOEXEC ? -ENOENT : err;
	err = buildinfo_from(elf, segs, nsegs, buf, len);
	free(segs);
	return err;
}

int gobuildinfo__parse(const char *v, int *major, int *minor, int *patch)
{
	int ma = 0, mi = 0, pa = 0, n = 0;

	if (!v)
		return -EINVAL;
	if (!strncmp(v, "devel ", 6))
		v += 6;
	if (sscanf(v, "go%d.%d%n", &ma, &mi, &n) != 2 || ma < 1 || mi < 0)
		return -EINVAL;
	if (v[n] == '.' && sscanf(v + n, ".%d", &pa) != 1)
		pa = 0;
	if (major)
		*major = ma;
	if (minor)
		*minor = mi;
	if (patch)
		*patch = pa;
	return 0;
}

/* --- locating the table ----------------------------------------------------------- */

/* Is there a plausible header at p (avail bytes)? */
static bool header_plausible(const uint8_t *p, uint64_t avail)
{
	struct gopclntab probe;

	memset(&probe, 0, sizeof(probe));
	return magic_layout(rd32(p)) && !parse_header(&probe, p, avail, NULL, 0) &&
	       probe.nfunc > 1;
}

/* The ELF address of the header: the section, else a search of the read-only segments. */
static int find_table(Elf *elf, const uint8_t *raw, size_t rawsize, const struct seg *segs,
		      size_t nsegs, uint64_t *vaddr)
{
	uint64_t addr, off, size, i, o;

	if (!find_section(elf, ".gopclntab", &addr, &off, &size)) {
		*vaddr = addr;
		return 0;
	}
	/* No section headers (or a PIE whose table is inside .data.rel.ro). */
	for (i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];

		if ((s->flags & PF_X) || !in_bounds(s->offset, s->filesz, rawsize))
			continue;
		for (o = 0; o + 64 <= s->filesz; o += 8) {
			const uint8_t *p = raw + s->offset + o;
			uint32_t m = rd32(p);

			if ((m == MAGIC_116 || m == MAGIC_118 || m == MAGIC_120) &&
			    header_plausible(p, s->filesz - o)) {
				*vaddr = s->vaddr + o;
				return 0;
			}
		}
	}
	return -ENOENT;
}

bool gopclntab__present(Elf *elf)
{
	uint64_t addr, off, size;

	/* Go binaries have either section; a stripped-of-sections one, the build info. */
	if (!find_section(elf, ".gopclntab", &addr, &off, &size) ||
	    !find_section(elf, ".go.buildinfo", &addr, &off, &size))
		return true;
	{
		size_t shnum;
		char v[8];

		if (!elf_getshdrnum(elf, &shnum) && shnum)
			return false;
		return gobuildinfo__version(elf, v, sizeof(v)) != -ENOENT;
	}
}

/*
 * R_X86_64_RELATIVE relocations of a PIE, by the address they write: the
 * moduledata's words are 0 in the file there, the value is the addend.
 */
struct reloc {
	uint64_t offset, addend;
};

struct relocs {
	struct reloc *r;
	size_t n;
};

static int reloc_cmp(const void *a, const void *b)
{
	const struct reloc *x = a, *y = b;

	return (x->offset > y->offset) - (x->offset < y->offset);
}

static void relocs_read(Elf *elf, struct relocs *out)
{
	Elf_Scn *scn = NULL;
	size_t cap = 0;

	out->r = NULL;
	out->n = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);
		Elf_Data *data;
		size_t i, cnt;

		if (!sh || sh->sh_type != SHT_RELA || !sh->sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		cnt = sh->sh_size / sh->sh_entsize;
		for (i = 0; i < cnt; i++) {
			GElf_Rela rela;

			if (!gelf_getrela(data, (int)i, &rela) ||
			    GELF_R_TYPE(rela.r_info) != R_X86_64_RELATIVE)
				continue;
			if (out->n == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				struct reloc *r = realloc(out->r, ncap * sizeof(*r));

				if (!r)
					return;
				out->r = r;
				cap = ncap;
			}
			out->r[out->n].offset = rela.r_offset;
			out->r[out->n].addend = (uint64_t)rela.r_addend;
			out->n++;
		}
	}
	if (out->n)
		qsort(out->r, out->n, sizeof(*out->r), reloc_cmp);
}

/* The word at ELF address vaddr as loaded: the file's, or a relocation's addend. */
static bool word_at(const struct gopclntab *t, const uint8_t *raw, size_t rawsize,
		    const struct seg *segs, size_t nsegs, const struct relocs *rel, uint64_t vaddr,
		    uint64_t *out)
{
	const struct seg *s = seg_of(segs, nsegs, vaddr);
	struct reloc key = { .offset = vaddr }, *hit;

	if (rel->n && (hit = bsearch(&key, rel->r, rel->n, sizeof(*rel->r), reloc_cmp))) {
		*out = hit->addend;
		return true;
	}
	if (!s || !in_bounds(vaddr - s->vaddr, t->ptrsize, s->filesz) ||
	    !in_bounds(s->offset + (vaddr - s->vaddr), t->ptrsize, rawsize))
		return false;
	*out = rdword(t, raw + s->offset + (vaddr - s->vaddr));
	return true;
}

/*
 * The moduledata (1.18+) starts with the header's address and the
 * funcnametab slice {ptr, len, cap}; its word 22 is text, and gofunc is word
 * 38 (1.18-1.19) or 40 (1.20+: covctrs added).  Go 1.26 writes textStart 0
 * in the header: entries are offsets from moduledata.text then.  Found in
 * the writable segments (.noptrdata, or .go.module since 1.26), or in a PIE
 * through the relocations that fill it.  0, or -ENOENT.
 */
static int moduledata_at(const struct gopclntab *t, const uint8_t *raw, size_t rawsize,
			 const struct seg *segs, size_t nsegs, const struct relocs *rel,
			 uint64_t md, uint64_t *text, uint64_t *gofunc, uint64_t *mdp)
{
	unsigned idx = t->layout == 118 ? 38 : 40, w = t->ptrsize;
	uint64_t v0, v1, tx, gf;

	if (!word_at(t, raw, rawsize, segs, nsegs, rel, md, &v0) || v0 != t->hdr_vaddr ||
	    !word_at(t, raw, rawsize, segs, nsegs, rel, md + w, &v1) ||
	    v1 != t->hdr_vaddr + t->funcname_off ||
	    !word_at(t, raw, rawsize, segs, nsegs, rel, md + 22 * w, &tx) ||
	    (t->text_start && tx != t->text_start) ||
	    !word_at(t, raw, rawsize, segs, nsegs, rel, md + idx * w, &gf))
		return -ENOENT;
	*text = tx;
	*gofunc = gf;
	*mdp = md;
	return 0;
}

static int find_moduledata(const struct gopclntab *t, Elf *elf, const uint8_t *raw,
			   size_t rawsize, const struct seg *segs, size_t nsegs, uint64_t *text,
			   uint64_t *gofunc, uint64_t *md)
{
	unsigned w = t->ptrsize;
	struct relocs rel = { 0 };
	uint64_t i, o;
	int err = -ENOENT;

	for (i = 0; i < nsegs; i++) {
		const struct seg *s = &segs[i];

		if (!(s->flags & PF_W) || !in_bounds(s->offset, s->filesz, rawsize))
			continue;
		for (o = 0; o + 2 * w <= s->filesz; o += w)
			if (rdword(t, raw + s->offset + o) == t->hdr_vaddr &&
			    !moduledata_at(t, raw, rawsize, segs, nsegs, &rel, s->vaddr + o, text,
					   gofunc, md))
				return 0;
	}
	/* A PIE: the words are written by relocations at load time. */
	relocs_read(elf, &rel);
	for (i = 0; i < rel.n && err; i++)
		if (rel.r[i].addend == t->hdr_vaddr)
			err = moduledata_at(t, raw, rawsize, segs, nsegs, &rel, rel.r[i].offset,
					    text, gofunc, md);
	free(rel.r);
	return err;
}

/* --- open / free ------------------------------------------------------------------ */

/* The bytes of segment sg: mmap'd from fd, or copied out of raw. */
static int seg_bytes(const struct seg *sg, int fd, const uint8_t *raw, const uint8_t **bytes,
		     void **map, size_t *map_len, void **copy)
{
	if (fd >= 0) {
		long page = sysconf(_SC_PAGESIZE);
		uint64_t start = sg->offset & ~((uint64_t)page - 1);

		*map_len = sg->offset - start + sg->filesz;
		*map = mmap(NULL, *map_len, PROT_READ, MAP_PRIVATE, fd, (off_t)start);
		if (*map == MAP_FAILED) {
			*map = NULL;
			return -errno;
		}
		*bytes = (const uint8_t *)*map + (sg->offset - start);
		return 0;
	}
	*copy = malloc(sg->filesz);
	if (!*copy)
		return -ENOMEM;
	memcpy(*copy, raw + sg->offset, sg->filesz);
	*bytes = *copy;
	return 0;
}

static struct gopclntab *open_elf(Elf *elf, int fd, uint64_t bias, char *err, size_t errlen)
{
	uint64_t md_text = 0, md_gofunc = 0;
	struct gopclntab *t = NULL;
	const struct seg *tseg;
	struct seg *segs = NULL;
	size_t nsegs, rawsize;
	const uint8_t *raw;
	uint64_t hdr;
	int e;

	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		set_err(err, errlen, "not an ELF file");
		errno = ENOEXEC;
		return NULL;
	}
	raw = (const uint8_t *)elf_rawfile(elf, &rawsize);
	e = read_segs(elf, &segs, &nsegs);
	if (e || !raw) {
		set_err(err, errlen, "no loadable segments");
		errno = e ? -e : EINVAL;
		goto fail;
	}
	if (find_table(elf, raw, rawsize, segs, nsegs, &hdr)) {
		set_err(err, errlen, "no Go pclntab (not a Go binary)");
		errno = ENOENT;
		goto fail;
	}
	tseg = seg_of(segs, nsegs, hdr);
	if (!tseg || !in_bounds(tseg->offset, tseg->filesz, rawsize)) {
		set_err(err, errlen, "pclntab at 0x%llx is in no loaded segment",
			(unsigned long long)hdr);
		errno = EINVAL;
		goto fail;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		errno = ENOMEM;
		goto fail;
	}
	t->bias = bias;
	t->seg_vaddr = tseg->vaddr;
	t->seg_size = tseg->filesz;
	e = seg_bytes(tseg, fd, raw, &t->seg, &t->map, &t->map_len, &t->copy);
	if (e) {
		set_err(err, errlen, "reading the table's segment: %s", strerror(-e));
		errno = -e;
		goto fail;
	}
	t->hdr_vaddr = hdr;
	e = parse_header(t, t->seg + (hdr - t->seg_vaddr), t->seg_size - (hdr - t->seg_vaddr), err,
			 errlen);
	if (e) {
		errno = -e;
		goto fail;
	}
	if (find_moduledata(t, elf, raw, rawsize, segs, nsegs, &md_text, &md_gofunc, &t->md_addr))
		md_text = md_gofunc = t->md_addr = 0;
	if (t->layout != 116) {
		/* 1.16-1.17: funcdata are addresses; the moduledata has no gofunc. */
		t->gofunc = md_gofunc;
		if (!t->text_start)
			t->text_start = md_text;
		if (t->gofunc && (t->gofunc < t->seg_vaddr || t->gofunc - t->seg_vaddr >= t->seg_size)) {
			/* A PIE: the table in .data.rel.ro, go:func.* in .rodata. */
			const struct seg *fs = seg_of(segs, nsegs, t->gofunc);

			if (!fs || !in_bounds(fs->offset, fs->filesz, rawsize) ||
			    seg_bytes(fs, fd, raw, &t->fseg, &t->fmap, &t->fmap_len, &t->fcopy)) {
				t->gofunc = 0; /* no inline frames */
			} else {
				t->fseg_vaddr = fs->vaddr;
				t->fseg_size = fs->filesz;
			}
		}
		if (!t->text_start) {
			set_err(err, errlen, "pclntab: no text start in the header and no moduledata");
			errno = ENOTSUP;
			goto fail;
		}
	}
	t->lo = ftab_entry(t, 0);
	t->hi = ftab_entry(t, t->nfunc);
	if (t->hi <= t->lo) {
		set_err(err, errlen, "pclntab: empty or reversed text range");
		errno = EINVAL;
		goto fail;
	}
	if (buildinfo_from(elf, segs, nsegs, t->version, sizeof(t->version)))
		t->version[0] = 0;
	free(segs);
	return t;
fail:
	e = errno;
	free(segs);
	gopclntab__free(t);
	errno = e;
	return NULL;
}

struct gopclntab *gopclntab__open(Elf *elf, uint64_t load_bias, char *err, size_t errlen)
{
	return open_elf(elf, -1, load_bias, err, errlen);
}

struct gopclntab *gopclntab__open_fd(int fd, uint64_t load_bias, char *err, size_t errlen)
{
	struct gopclntab *t;
	Elf *elf;
	int e;

	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		set_err(err, errlen, "not an ELF file: %s", elf_errmsg(-1));
		errno = ENOEXEC;
		return NULL;
	}
	t = open_elf(elf, fd, load_bias, err, errlen);
	e = errno;
	elf_end(elf);
	errno = e;
	return t;
}

struct gopclntab *gopclntab__open_path(const char *path, uint64_t load_bias, char *err,
				       size_t errlen)
{
	struct gopclntab *t;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		set_err(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	t = gopclntab__open_fd(fd, load_bias, err, errlen);
	e = errno;
	close(fd);
	errno = e;
	return t;
}

void gopclntab__free(struct gopclntab *t)
{
	if (!t)
		return;
	if (t->map)
		munmap(t->map, t->map_len);
	free(t->copy);
	if (t->fmap)
		munmap(t->fmap, t->fmap_len);
	free(t->fcopy);
	if (t->names)
		free(t->names->funcs);
	free(t->names);
	free(t);
}

/* --- lookups ---------------------------------------------------------------------- */

int gopclntab__lookup(const struct gopclntab *t, uint64_t pc, struct gofunc_frame *frames,
		      size_t max)
{
	const uint8_t *tree = NULL;
	uint64_t tree_avail = 0, cur, rec;
	const char *outer;
	struct func fn;
	size_t n = 0;

	if (!t || !frames || !max)
		return -EINVAL;
	pc -= t->bias;
	if (func_at(t, pc, &fn))
		return 0;
	outer = func_name(t, fn.nameoff);
	if (!outer)
		return 0;
	/*
	 * Past the end of the function's line table: the padding after it,
	 * or code the Go linker knows nothing of (C objects of a cgo binary
	 * placed between Go functions): not this function.
	 */
	{
		int32_t ln;

		if (fn.pcln && pcvalue(t, &fn, fn.pcln, pc, &ln))
			return 0;
	}
	tree = inline_tree(t, &fn, &tree_avail);
	rec = t->layout == 120 ? 16 : 20;
	cur = pc;
	while (n < max) {
		struct gofunc_frame *f = &frames[n];
		int32_t ix = -1;

		func_line(t, &fn, cur, &f->file, &f->line);
		f->entry = fn.entry + t->bias;
		if (tree && n < MAX_INLINE_DEPTH && !pcdata(t, &fn, PCDATA_INLTREE, cur, &ix) &&
		    ix >= 0 && (uint64_t)ix < tree_avail / rec) {
			const uint8_t *r = tree + (uint64_t)ix * rec;
			int32_t nameoff = (int32_t)rd32(r + (t->layout == 120 ? 4 : 12));
			int32_t parent_pc = (int32_t)rd32(r + (t->layout == 120 ? 8 : 16));
			const char *name = func_name(t, nameoff);

			if (name && parent_pc >= 0 && fn.entry + parent_pc < fn.end) {
				f->function = name;
				f->start_line = t->layout == 120 ? (int32_t)rd32(r + 12) : 0;
				n++;
				/* The call site: where the parent's code stands for the call. */
				cur = fn.entry + (uint64_t)parent_pc;
				continue;
			}
		}
		f->function = outer;
		f->start_line = fn.start_line;
		n++;
		break;
	}
	return (int)n;
}

int gopclntab__func_at(const struct gopclntab *t, uint64_t pc, struct gofunc_info *info)
{
	struct func fn;
	uint8_t flag;

	if (!t || func_at(t, pc - t->bias, &fn))
		return -ENOENT;
	memset(info, 0, sizeof(*info));
	info->name = func_name(t, fn.nameoff);
	if (!info->name)
		info->name = "?";
	info->entry = fn.entry + t->bias;
	info->end = fn.end + t->bias;
	info->kind = kind_of(info->name);
	info->func_id = fn.func_id;
	flag = func_flag(t, &fn);
	info->spwrite = flag & FLAG_SPWRITE;
	info->topframe = (flag & FLAG_TOPFRAME) || info->kind == GOFUNC_GOEXIT ||
			 info->kind == GOFUNC_MSTART || info->kind == GOFUNC_RT0_GO;
	info->args = fn.args;
	return 0;
}

int gopclntab__sp_delta(const struct gopclntab *t, uint64_t pc, int32_t *delta)
{
	struct func fn;

	if (!t || func_at(t, pc - t->bias, &fn))
		return -ENOENT;
	if (pcvalue(t, &fn, fn.pcsp, pc - t->bias, delta) || *delta < 0)
		return -ENOENT;
	return 0;
}

int gopclntab__unwind_rule(const struct gopclntab *t, uint64_t pc, struct gounwind_rule *rule)
{
	struct gofunc_info fi;

	if (gopclntab__func_at(t, pc, &fi))
		return -ENOENT;
	memset(rule, 0, sizeof(*rule));
	rule->has_sp_delta = !gopclntab__sp_delta(t, pc, &rule->sp_delta);
	rule->outermost = fi.topframe;
	rule->switch_replaced = fi.kind == GOFUNC_MORESTACK;
	rule->hidden = fi.kind == GOFUNC_SYSTEMSTACK_SWITCH;
	rule->at_entry = pc == fi.entry;
	switch (fi.kind) {
	case GOFUNC_MORESTACK:
	case GOFUNC_SYSTEMSTACK:
	case GOFUNC_MCALL:
	case GOFUNC_ASMCGOCALL:
	case GOFUNC_CGOCALLBACK:
	case GOFUNC_GOGO:
	case GOFUNC_SIGTRAMP:
		rule->stack_switch = true;
		break;
	default:
		rule->stack_switch = fi.spwrite && !rule->outermost;
		break;
	}
	return 0;
}

static const struct gopclntab *sort_table;

static int name_cmp(const void *a, const void *b)
{
	const struct gopclntab *t = sort_table;
	struct func fa, fb;
	const char *na, *nb;

	func_read(t, *(const uint32_t *)a, &fa);
	func_read(t, *(const uint32_t *)b, &fb);
	int c;

	na = func_name(t, fa.nameoff);
	nb = func_name(t, fb.nameoff);
	c = strcmp(na ? na : "", nb ? nb : "");
	/* Equal names (an assembly function and its ABI wrapper): address order. */
	return c ? c : (fa.idx > fb.idx) - (fa.idx < fb.idx);
}

/* The index by name, built on the first name lookup. */
static struct name_index *names_of(const struct gopclntab *t)
{
	struct name_index *ix;
	uint64_t i;

	if (t->names)
		return t->names;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return NULL;
	ix->funcs = malloc(t->nfunc * sizeof(*ix->funcs));
	if (!ix->funcs) {
		free(ix);
		return NULL;
	}
	for (i = 0; i < t->nfunc; i++) {
		struct func fn;

		if (!func_read(t, i, &fn) && func_name(t, fn.nameoff))
			ix->funcs[ix->n++] = (uint32_t)i;
	}
	sort_table = t;
	qsort(ix->funcs, ix->n, sizeof(*ix->funcs), name_cmp);
	sort_table = NULL;
	/* Lookups are read-only but for this cache, built once. */
	((struct gopclntab *)t)->names = ix;
	return ix;
}

int gopclntab__func_by_name(const struct gopclntab *t, const char *name, uint64_t *entry,
			    uint64_t *end)
{
	const struct name_index *ix;
	size_t lo = 0, hi;

	if (!t || !name)
		return -ENOENT;
	ix = names_of(t);
	if (!ix)
		return -ENOMEM;
	hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct func fn;
		const char *n;
		int c;

		func_read(t, ix->funcs[mid], &fn);
		n = func_name(t, fn.nameoff);
		c = strcmp(n ? n : "", name);
		if (!c && mid > lo) {
			/* The first of equal names. */
			struct func prev;
			const char *pn;

			func_read(t, ix->funcs[mid - 1], &prev);
			pn = func_name(t, prev.nameoff);
			if (pn && !strcmp(pn, name)) {
				hi = mid;
				continue;
			}
		}
		if (!c) {
			if (entry)
				*entry = fn.entry + t->bias;
			if (end)
				*end = fn.end + t->bias;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

void gopclntab__text_range(const struct gopclntab *t, uint64_t *lo, uint64_t *hi)
{
	*lo = t->lo + t->bias;
	*hi = t->hi + t->bias;
}

size_t gopclntab__nfuncs(const struct gopclntab *t)
{
	return t->nfunc;
}

int gopclntab__layout(const struct gopclntab *t)
{
	return t->layout;
}

uint64_t gopclntab__moduledata_addr(const struct gopclntab *t)
{
	return t->md_addr ? t->md_addr + t->bias : 0;
}

uint64_t gopclntab__header_addr(const struct gopclntab *t)
{
	return t->hdr_vaddr + t->bias;
}

const char *gopclntab__go_version(const struct gopclntab *t)
{
	return t->version;
}
