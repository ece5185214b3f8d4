// SPDX-License-Identifier: MIT
/* dwarfindex.c - see dwarfindex.h. */
#define _GNU_SOURCE
#include <dwarf.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "dwarfindex.h"

const char *die_string(Dwarf_Die *die, int attr)
{
	Dwarf_Attribute mem;

	/* _integrate follows DW_AT_abstract_origin and DW_AT_specification. */
	return dwarf_formstring(dwarf_attr_integrate(die, attr, &mem));
}

int die_udata(Dwarf_Die *die, int attr, bool integrate)
{
	Dwarf_Attribute mem, *a;
	Dwarf_Word w;

	a = integrate ? dwarf_attr_integrate(die, attr, &mem) : dwarf_attr(die, attr, &mem);
	if (dwarf_formudata(a, &w) || w > INT_MAX)
		return 0;
	return (int)w;
}

/* The file an inlined_subroutine DIE was called from: its CU's file table. */
const char *die_call_file(Dwarf_Die *die)
{
	Dwarf_Attribute mem;
	Dwarf_Files *files;
	Dwarf_Word idx;
	Dwarf_Die cu;
	size_t nfiles;

	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &mem), &idx))
		return NULL;
	if (!dwarf_diecu(die, &cu, NULL, NULL) || dwarf_getsrcfiles(&cu, &files, &nfiles) ||
	    idx >= nfiles)
		return NULL;
	return dwarf_filesrc(files, idx, NULL, NULL);
}

bool is_function_tag(int tag)
{
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

void cu_index__free(struct cu_index *ix)
{
	if (!ix)
		return;
	free(ix->nodes);
	free(ix->ranges);
	free(ix->top);
	free(ix);
}


static int cu_index__add_range(struct cu_index *ix, uint64_t lo, uint64_t hi, uint32_t node)
{
	if (ix->nranges == ix->cap_ranges) {
		size_t cap = ix->cap_ranges ? ix->cap_ranges * 2 : 256;
		struct fn_range *r = realloc(ix->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		ix->ranges = r;
		ix->cap_ranges = cap;
	}
	ix->ranges[ix->nranges].lo = lo;
	ix->ranges[ix->nranges].hi = hi;
	ix->ranges[ix->nranges].node = node;
	ix->nranges++;
	return 0;
}

/* Adds the function DIEs below die; imported (dwz) units are followed. */
static int cu_index__walk(struct cu_index *ix, Dwarf_Die *die, int32_t parent, uint32_t depth,
			  int imports)
{
	Dwarf_Die child;
	int err;

	if (dwarf_child(die, &child))
		return 0;
	do {
		int tag = dwarf_tag(&child);
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;
		size_t first;
		uint32_t node;

		if (tag == DW_TAG_imported_unit) {
			Dwarf_Attribute mem;
			Dwarf_Die unit;

			if (imports < 8 &&
			    dwarf_formref_die(dwarf_attr(&child, DW_AT_import, &mem), &unit)) {
				err = cu_index__walk(ix, &unit, parent, depth, imports + 1);
				if (err)
					return err;
			}
			continue;
		}
		if (!is_function_tag(tag)) {
			/* Lexical blocks, namespaces: functions may be inside. */
			if (dwarf_haschildren(&child)) {
				err = cu_index__walk(ix, &child, parent, depth, imports);
				if (err)
					return err;
			}
			continue;
		}
		node = ix->nnodes;
		first = ix->nranges;
		while ((off = dwarf_ranges(&child, off, &base, &lo, &hi)) > 0) {
			if (hi > lo && cu_index__add_range(ix, lo, hi, node))
				return -ENOMEM;
		}
		/* A declaration or an abstract instance: no code of it here. */
		if (ix->nranges == first)
			continue;
		if (ix->nnodes == ix->cap_nodes) {
			size_t cap = ix->cap_nodes ? ix->cap_nodes * 2 : 128;
			struct fn_node *n = realloc(ix->nodes, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			ix->nodes = n;
			ix->cap_nodes = cap;
		}
		ix->nodes[node].die = child;
		ix->nodes[node].first_range = first;
		ix->nodes[node].nranges = ix->nranges - first;
		ix->nodes[node].parent = parent;
		ix->nodes[node].depth = depth;
		ix->nnodes++;
		err = cu_index__walk(ix, &child, node, depth + 1, imports);
		if (err)
			return err;
		ix->nodes[node].end = ix->nnodes;
	} while (dwarf_siblingof(&child, &child) == 0);
	return 0;
}

static int fn_range_cmp(const void *a, const void *b)
{
	const struct fn_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;
}

struct cu_index *cu_index__new(Dwarf_Die *cudie)
{
	struct cu_index *ix = calloc(1, sizeof(*ix));
	size_t i;

	if (!ix)
		return NULL;
	ix->cu_off = dwarf_dieoffset(cudie);
	if (cu_index__walk(ix, cudie, -1, 0, 0))
		goto fail;
	for (i = 0; i < ix->nranges; i++)
		ix->ntop += ix->nodes[ix->ranges[i].node].parent < 0;
	ix->top = malloc((ix->ntop ? ix->ntop : 1) * sizeof(*ix->top));
	if (!ix->top)
		goto fail;
	ix->ntop = 0;
	for (i = 0; i < ix->nranges; i++) {
		if (ix->nodes[ix->ranges[i].node].parent < 0)
			ix->top[ix->ntop++] = ix->ranges[i];
	}
	qsort(ix->top, ix->ntop, sizeof(*ix->top), fn_range_cmp);
	return ix;
fail:
	cu_index__free(ix);
	return NULL;
}

static bool fn_node__contains(const struct cu_index *ix, uint32_t n, uint64_t addr)
{
	const struct fn_range *r = &ix->ranges[ix->nodes[n].first_range];
	uint32_t i;

	for (i = 0; i < ix->nodes[n].nranges; i++) {
		if (addr >= r[i].lo && addr < r[i].hi)
			return true;
	}
	return false;
}

/* The innermost function node containing DWARF address addr, or -1. */
int32_t cu_index__innermost(const struct cu_index *ix, uint64_t addr)
{
	size_t lo = 0, hi = ix->ntop, i, tries;
	int32_t top = -1, best;
	uint32_t n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->top[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Outermost functions do not overlap; a few steps back allow for odd ones. */
	for (i = lo, tries = 0; i-- > 0 && tries < 16; tries++) {
		if (addr < ix->top[i].hi)
			break;
	}
	if (i < lo && addr < ix->top[i].hi) {
		/* Aliases of one assembly function: the first DIE, as dwarf_getscopes. */
		while (i > 0 && ix->top[i - 1].lo == ix->top[i].lo && addr < ix->top[i - 1].hi)
			i--;
		top = ix->top[i].node;
	}
	if (top < 0)
		return -1;
	best = top;
	for (n = top + 1; n < ix->nodes[top].end;) {
		if (fn_node__contains(ix, n, addr)) {
			if (ix->nodes[n].depth > ix->nodes[best].depth)
				best = n;
			n++;
		} else {
			n = ix->nodes[n].end;
		}
	}
	return best;
}

