// SPDX-License-Identifier: MIT
/* unwind.c - see unwind.h.  x86-64 DWARF register numbers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

#include "stacks.h"
#include "symbolize.h"
#include "unwind.h"

enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* Where the CFA of a frame is. */
enum cfa_kind {
	CFA_NONE,  /* no CFI here: walk the frame pointer */
	CFA_SP,    /* rsp + off */
	CFA_BP,    /* rbp + off */
	CFA_PLT,   /* PLT entries: rsp + off + ((rip & 15) >= plt_cut ? 8 : 0) */
	CFA_OUTERMOST, /* the return address is undefined: the stack ends here */
	CFA_SWITCH,    /* a runtime's stack switch (Go's systemstack...): this stack ends */
};

/* Where a register of the caller is. */
enum saved_kind {
	SAVED_SAME,   /* unchanged by this frame */
	SAVED_AT_CFA, /* in memory at CFA + off */
	SAVED_LOST,   /* undefined or an expression we do not follow */
};

/* unwind_rule.flags, from the runtime's tables (symbol_frame_rule) */
enum {
	RULE_HIDDEN = 1,	  /* a frame not shown (Go's systemstack_switch) */
	RULE_SWITCH_REPLACED = 2, /* CFA_SWITCH followed: the saved context's frame replaces it */
	RULE_AT_ENTRY = 4,	  /* pc is a function's entry */
};

struct unwind_rule {
	uint8_t cfa;      /* enum cfa_kind */
	uint8_t ra;       /* enum saved_kind */
	uint8_t bp;       /* enum saved_kind */
	uint8_t plt_cut;
	uint8_t flags;
	int32_t cfa_off, ra_off, bp_off;
};

#define RULE_CACHE_SLOTS 65536 /* power of two; cleared when half full */

struct rule_slot {
	uint64_t pc; /* 0 = empty */
	struct unwind_rule rule;
};

struct unwinder {
	pid_t pid;
	struct symbolizer *sym;
	unsigned generation; /* of the symbolizer's mappings the cache is for */
	struct rule_slot *cache;
	size_t cached;
	struct unwind_stats stats;
	uint64_t reach; /* the last stack: highest CFA its steps computed */
	uint64_t last_sp;  /* the last stack: its sp */
	bool cut;       /* the last stack: the copy ended first */
};

struct unwinder *unwinder__new(pid_t pid, struct symbolizer *sym)
{
	struct unwinder *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->cache = calloc(RULE_CACHE_SLOTS, sizeof(*u->cache));
	if (!u->cache) {
		free(u);
		return NULL;
	}
	u->pid = pid;
	u->sym = sym;
	u->generation = symbolizer__generation(sym);
	return u;
}

void unwinder__free(struct unwinder *u)
{
	if (!u)
		return;
	free(u->cache);
	free(u);
}

void unwinder__stats(const struct unwinder *u, struct unwind_stats *out)
{
	*out = u->stats;
}

/* A register rule of the form "at CFA + N" (or the same / lost). */
static enum saved_kind saved_rule(Dwarf_Frame *frame, int reg, int32_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t nops;

	if (dwarf_frame_register(frame, reg, mem, &ops, &nops))
		return SAVED_LOST;
	if (nops == 0)
		return ops ? SAVED_LOST : SAVED_SAME; /* undefined : same value */
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return SAVED_LOST;
	if (nops == 1) {
		*off = 0;
		return SAVED_AT_CFA;
	}
	if (nops == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int32_t)(int64_t)ops[1].number;
		return SAVED_AT_CFA;
	}
	if (nops == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus) {
		*off = (int32_t)(int64_t)ops[1].number;
		return SAVED_AT_CFA;
	}
	return SAVED_LOST; /* val_offset, expressions: not for the registers we track */
}

/*
 * The CFA rule: "reg + off", or the expression every PLT entry has:
 * rsp + 8 + ((rip & 15) >= 11 ? 8 : 0) (the push before the jump).
 */
static void cfa_rule(Dwarf_Frame *frame, struct unwind_rule *r)
{
	Dwarf_Op *ops;
	size_t nops;

	r->cfa = CFA_NONE;
	if (dwarf_frame_cfa(frame, &ops, &nops) || nops == 0)
		return;
	if (nops == 1 && ops[0].atom == DW_OP_bregx &&
	    (ops[0].number == REG_RSP || ops[0].number == REG_RBP)) {
		r->cfa = ops[0].number == REG_RSP ? CFA_SP : CFA_BP;
		r->cfa_off = (int32_t)(int64_t)ops[0].number2;
		return;
	}
	if (nops == 9 && ops[0].atom == DW_OP_breg7 && ops[1].atom == DW_OP_breg16 &&
	    ops[1].number == 0 && ops[2].atom == DW_OP_lit15 && ops[3].atom == DW_OP_and &&
	    ops[4].atom >= DW_OP_lit0 && ops[4].atom <= DW_OP_lit31 && ops[5].atom == DW_OP_ge &&
	    ops[6].atom == DW_OP_lit3 && ops[7].atom == DW_OP_shl && ops[8].atom == DW_OP_plus) {
		r->cfa = CFA_PLT;
		r->cfa_off = (int32_t)(int64_t)ops[0].number;
		r->plt_cut = ops[4].atom - DW_OP_lit0;
	}
}

static int rule_from_cfi(Dwarf_CFI *cfi, uint64_t addr, struct unwind_rule *r)
{
	Dwarf_Frame *frame;
	Dwarf_Addr start, end;
	bool signal;
	int ra_reg;

	if (!cfi || dwarf_cfi_addrframe(cfi, addr, &frame))
		return -ENOENT;
	ra_reg = dwarf_frame_info(frame, &start, &end, &signal);
	memset(r, 0, sizeof(*r));
	r->ra = saved_rule(frame, ra_reg >= 0 ? ra_reg : REG_RA, &r->ra_off);
	if (r->ra == SAVED_LOST) {
		Dwarf_Op mem[3], *ops;
		size_t nops;

		/* An undefined return address marks the outermost frame. */
		if (!dwarf_frame_register(frame, ra_reg >= 0 ? ra_reg : REG_RA, mem, &ops, &nops) &&
		    nops == 0 && ops) {
			r->cfa = CFA_OUTERMOST;
			free(frame);
			return 0;
		}
	}
	cfa_rule(frame, r);
	r->bp = saved_rule(frame, REG_RBP, &r->bp_off);
	free(frame);
	if (r->cfa == CFA_NONE || r->ra != SAVED_AT_CFA)
		r->cfa = CFA_NONE;
	return 0;
}

/*
 * The rule from a runtime's own tables (Go's pclntab): the CFA is SP plus the
 * frame's size at pc, the return address just below it and, in a frame that
 * has one, the caller's frame pointer below that.
 */
static void rule_from_runtime(const struct symbol_frame_rule *fr, struct unwind_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->cfa = CFA_SP;
	r->cfa_off = fr->cfa_sp_off;
	r->ra = SAVED_AT_CFA;
	r->ra_off = -8;
	if (fr->cfa_sp_off >= 16) {
		r->bp = SAVED_AT_CFA;
		r->bp_off = -16;
	}
}

static void lookup_rule(struct unwinder *u, uint64_t pc, struct unwind_rule *r)
{
	Dwarf_CFI *eh = NULL, *debug = NULL;
	struct symbol_frame_rule fr;
	bool have_fr;
	uint64_t bias = 0;

	memset(r, 0, sizeof(*r));
	r->cfa = CFA_NONE;
	u->stats.rules++;
	/* Where the runtime's own stacks end (Go: goexit, mstart; a stack switch). */
	have_fr = !symbolizer__frame_rule(u->sym, pc, &fr);
	if (have_fr && (fr.outermost || fr.stack_switch)) {
		r->cfa = fr.outermost ? CFA_OUTERMOST : CFA_SWITCH;
		r->flags = fr.switch_replaced ? RULE_SWITCH_REPLACED : 0;
		goto out;
	}
	/* .eh_frame, which x86-64 code has unless stripped of it ... */
	if (!symbolizer__cfi(u->sym, pc, &eh, NULL, &bias) && !rule_from_cfi(eh, pc - bias, r))
		goto out;
	/* ... else .debug_frame from the debug info ... */
	if (!symbolizer__cfi(u->sym, pc, &eh, &debug, &bias) && !rule_from_cfi(debug, pc - bias, r))
		goto out;
	/* ... else the runtime's frame sizes (a stripped Go binary). */
	if (have_fr && fr.has_cfa) {
		rule_from_runtime(&fr, r);
		u->stats.runtime_rules++;
		goto out;
	}
	r->cfa = CFA_NONE;
out:
	if (have_fr && fr.hidden)
		r->flags |= RULE_HIDDEN;
	if (have_fr && fr.at_entry)
		r->flags |= RULE_AT_ENTRY;
}

static const struct unwind_rule *rule_for(struct unwinder *u, uint64_t pc)
{
	unsigned gen = symbolizer__generation(u->sym);
	size_t i;

	/* New mappings may put other code at known addresses. */
	if (gen != u->generation || u->cached * 2 >= RULE_CACHE_SLOTS) {
		memset(u->cache, 0, RULE_CACHE_SLOTS * sizeof(*u->cache));
		u->cached = 0;
		u->generation = gen;
	}
	i = (pc * 0x9e3779b97f4a7c15ULL >> 40) & (RULE_CACHE_SLOTS - 1);
	while (u->cache[i].pc) {
		if (u->cache[i].pc == pc)
			return &u->cache[i].rule;
		i = (i + 1) & (RULE_CACHE_SLOTS - 1);
	}
	u->cache[i].pc = pc;
	lookup_rule(u, pc, &u->cache[i].rule);
	u->cached++;
	return &u->cache[i].rule;
}

/*
 * One window of the copy (user addresses [start, start + len) at data):
 * the stack being walked.  Below floor (the sp the walk entered it at) is
 * free stack: nothing a caller saved is there.
 */
struct window {
	const uint8_t *data;
	uint64_t start, floor;
	uint32_t len;
};

/* The window of the copy that holds sp (from sp up), into *w.  false: none. */
static bool window_at(const struct user_stack_copy *st, uint64_t sp, struct window *w)
{
	if (sp >= st->sp && sp >= st->start && sp - st->start < st->len &&
	    st->len <= STACK_COPY_BYTES) {
		*w = (struct window){ st->stack, st->start, sp, st->len };
		return true;
	}
	if (st->other_len && st->other_off <= STACK_COPY_BYTES &&
	    st->other_len <= STACK_COPY_BYTES - st->other_off && sp >= st->other_start &&
	    sp - st->other_start < st->other_len) {
		*w = (struct window){ st->stack + st->other_off, st->other_start, sp, st->other_len };
		return true;
	}
	return false;
}

/* Reads the word at addr from the window. */
static bool stack_word(const struct window *w, uint64_t addr, uint64_t *out)
{
	if (addr < w->floor || addr - w->start > w->len || addr - w->start + 8 > w->len)
		return false;
	memcpy(out, w->data + (addr - w->start), 8);
	return true;
}

enum step { STEP_OK, STEP_END, STEP_NO_COPY, STEP_LOST, STEP_SWITCH };

/*
 * One frame up: from (ip, sp, bp) of a frame to its caller's.  STEP_SWITCH:
 * the caller is on another stack (*flags: the frame's RULE_ flags).
 */
static enum step step(struct unwinder *u, const struct window *st, uint64_t lookup_pc,
		      uint64_t *ip, uint64_t *sp, uint64_t *bp, unsigned *flags)
{
	const struct unwind_rule *r = rule_for(u, lookup_pc);
	uint64_t cfa, ra, caller_bp = *bp;

	*flags = r->flags;
	switch (r->cfa) {
	case CFA_OUTERMOST:
		return STEP_END;
	case CFA_SWITCH:
		return STEP_SWITCH;
	case CFA_NONE:
		/* No CFI: the frame pointer, if this code keeps one (Go, JIT
		 * code); the outermost frame has none. */
		if (!*bp)
			return STEP_END;
		if (*bp < *sp)
			return STEP_LOST;
		if (!stack_word(st, *bp, &caller_bp) || !stack_word(st, *bp + 8, &ra))
			return *bp - st->start < (1 << 20) ? STEP_NO_COPY : STEP_LOST;
		u->stats.fp_steps++;
		cfa = *bp + 16;
		break;
	default:
		if (r->cfa == CFA_SP)
			cfa = *sp + r->cfa_off;
		else if (r->cfa == CFA_BP)
			cfa = *bp + r->cfa_off;
		else
			cfa = *sp + r->cfa_off + ((*ip & 15) >= r->plt_cut ? 8 : 0);
		if (!stack_word(st, cfa + r->ra_off, &ra))
			return STEP_NO_COPY;
		if (r->bp == SAVED_AT_CFA && !stack_word(st, cfa + r->bp_off, &caller_bp))
			return STEP_NO_COPY;
		break;
	}
	if (cfa > u->reach)
		u->reach = cfa;
	if (!ra)
		return STEP_END;
	/* The stack grows down: a caller's frame is above its callee's. */
	if (cfa <= *sp)
		return STEP_LOST;
	*ip = ra;
	*sp = cfa;
	*bp = caller_bp;
	return STEP_OK;
}

/*
 * The copy ended inside a frame: if the kernel's frame-pointer walk has the
 * frame we are in (ip), its callers follow it there.  Returns the new n.
 */
static size_t finish_from_fp(struct unwinder *u, uint64_t ip, const __u64 *fp_pcs,
			     size_t fp_depth, uint64_t *out, size_t n, size_t max)
{
	size_t k;

	for (k = 0; k < fp_depth; k++)
		if (fp_pcs[k] == ip)
			break;
	if (k >= fp_depth - 1 || k + 1 >= fp_depth)
		return n;
	for (k++; k < fp_depth && n < max - 1; k++)
		out[n++] = fp_pcs[k] - 1;
	u->stats.fp_finished++;
	return n;
}

/* A context saved at a stack switch (the copy's g_ or vdso_ registers). */
struct saved_context {
	uint64_t pc, sp, bp;
};

size_t unwinder__user_stack(struct unwinder *u, const struct user_stack_copy *st,
			    const __u64 *fp_pcs, size_t fp_depth, uint64_t *out, size_t max)
{
	uint64_t ip = st->ip, sp = st->sp, bp = st->bp, look = ip;
	struct saved_context ctx[2];
	size_t n = 0, nctx = 0, used = 0;
	struct window w = { st->stack, st->start, st->sp, st->len <= STACK_COPY_BYTES ? st->len : 0 };

	u->reach = sp;
	u->last_sp = sp;
	u->cut = false;
	if (!ip || max < 2)
		return 0;
	u->stats.stacks++;
	/* Innermost first: a vDSO call is made from the stack the thread is on. */
	if (st->vdso_sp)
		ctx[nctx++] = (struct saved_context){ st->vdso_pc, st->vdso_sp, st->vdso_bp };
	if (st->g_sp)
		ctx[nctx++] = (struct saved_context){ st->g_pc, st->g_sp, st->g_bp };
	out[n++] = ip;
	for (;;) {
		unsigned flags;
		/* From the frame at look: the leaf's own PC, then return addresses
		 * - 1 (a caller's is past its call). */
		enum step s = step(u, &w, look, &ip, &sp, &bp, &flags);

		look = ip - 1;
		if (s == STEP_SWITCH) {
			/* The frames go on where the runtime saved them, if it did. */
			if (used == nctx) {
				u->stats.runtime_switches++;
				u->stats.complete++;
				return n;
			}
			if (!ctx[used].pc) {
				u->stats.truncated_lost++;
				break;
			}
			if (!window_at(st, ctx[used].sp, &w)) {
				u->stats.truncated_copy++;
				break;
			}
			u->stats.switches_followed++;
			if (flags & RULE_SWITCH_REPLACED)
				n--;
			ip = ctx[used].pc;
			sp = ctx[used].sp;
			bp = ctx[used].bp;
			used++;
			/* What the copy of the last stack needs (copy_budget). */
			u->reach = u->last_sp = sp;
			fp_depth = 0; /* the kernel's walk is of the first stack only */
			/* A saved pc is a return address, or a function's entry
			 * (a fake one: Go's systemstack_switch, not shown). */
			look = rule_for(u, ip)->flags & RULE_AT_ENTRY ? ip : ip - 1;
			if (rule_for(u, look)->flags & RULE_HIDDEN)
				continue;
			s = STEP_OK;
		}
		if (s == STEP_END) {
			u->stats.complete++;
			return n;
		}
		if (s == STEP_NO_COPY && fp_pcs && fp_depth) {
			size_t m = finish_from_fp(u, ip, fp_pcs, fp_depth, out, n, max);

			/* Its walk ends where the stack does (or at its depth limit). */
			if (m > n && fp_depth < MAX_STACK_DEPTH) {
				u->stats.complete++;
				return m;
			}
			n = m;
		}
		if (s != STEP_OK) {
			if (s == STEP_NO_COPY) {
				u->stats.truncated_copy++;
				u->cut = true;
			}
			else
				u->stats.truncated_lost++;
			break;
		}
		if (n == max - 1) {
			u->stats.truncated_depth++;
			break;
		}
		out[n++] = look;
	}
	out[n++] = STACK_PC_TRUNCATED;
	return n;
}

int user_stack_copy__unpack(struct user_stack_copy *out, const void *data, size_t size)
{
	const uint8_t *bytes = (const uint8_t *)data + USER_STACK_HEAD;

	if (size < USER_STACK_HEAD)
		return -1;
	memcpy(out, data, USER_STACK_HEAD);
	if (out->len > STACK_COPY_BYTES || out->other_off != out->len ||
	    out->other_len > STACK_COPY_BYTES - out->len ||
	    size - USER_STACK_HEAD != (size_t)out->len + out->other_len)
		return -1;
	memcpy(out->stack, bytes, out->len + out->other_len);
	return 0;
}

void unwinder__last_need(const struct unwinder *u, uint32_t *above_sp, bool *cut)
{
	*above_sp = 0;
	*cut = u->cut;
	/* The callee-saved words a step reads lie below its CFA. */
	if (u->reach > 0 && u->reach >= u->last_sp)
		*above_sp = u->reach - u->last_sp > UINT32_MAX ? UINT32_MAX
								: (uint32_t)(u->reach - u->last_sp);
}

void copy_budget__init(struct copy_budget *b)
{
	*b = (struct copy_budget){ .limit = STACK_COPY_BYTES };
}

bool copy_budget__update(struct copy_budget *b, const struct unwinder *u,
			 const struct user_stack_copy *st)
{
	uint32_t need, limit;
	bool cut;

	/* Of two windows (a Go thread's system stack and its goroutine's), the
	 * limit is of the goroutine's: the system stack is copied to its top. */
	unwinder__last_need(u, &need, &cut);
	if (cut && st->limited) {
		b->cut++;
		if (b->limit >= STACK_COPY_BYTES)
			return false;
		b->limit = b->limit > STACK_COPY_BYTES / 2 ? STACK_COPY_BYTES : 2 * b->limit;
		return true;
	}
	if (b->seen >= COPY_BUDGET_ROUND)
		return false;
	if (need > b->most)
		b->most = need;
	if (++b->seen < COPY_BUDGET_ROUND)
		return false;
	/* A quarter and 512 bytes more than the deepest: stacks vary a little. */
	limit = b->most > STACK_COPY_BYTES ? STACK_COPY_BYTES : b->most;
	limit = (limit + limit / 4 + 512 + 255) & ~255u;
	if (limit < COPY_BUDGET_MIN)
		limit = COPY_BUDGET_MIN;
	if (limit >= b->limit)
		return false;
	b->limit = limit;
	return true;
}
