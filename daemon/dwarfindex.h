/* SPDX-License-Identifier: MIT */
/*
 * dwarfindex.h - DWARF for the symbolizer: attribute helpers and the index
 * of a compilation unit's function DIEs (struct cu_index), which finds the
 * innermost function (inlined or not) at an address.
 */
#ifndef PPROFD_DWARFINDEX_H
#define PPROFD_DWARFINDEX_H

#include <stdbool.h>
#include <stdint.h>

#include <elfutils/libdw.h>

/* A string attribute, following DW_AT_abstract_origin and DW_AT_specification. */
const char *die_string(Dwarf_Die *die, int attr);
/* An unsigned attribute up to INT_MAX (0 when absent), integrated or not. */
int die_udata(Dwarf_Die *die, int attr, bool integrate);
/* The file an inlined_subroutine DIE was called from: its CU's file table. */
const char *die_call_file(Dwarf_Die *die);
bool is_function_tag(int tag);

/*
 * cu_index: the function DIEs of one CU (subprogram, inlined_subroutine,
 * entry_point with code), in preorder, each with its address ranges and the
 * end of its subtree; and the ranges of the outermost ones sorted.  Built by
 * one walk of the CU on its first pc, it finds the innermost function at a
 * pc in a binary search and a scan of one function's subtree, where
 * dwarf_getscopes() walks the whole CU every time (milliseconds in C++).  It
 * prunes like dwarf_getscopes: a DIE that does not contain the pc is not
 * looked into.
 */
struct fn_node {
	Dwarf_Die die;
	uint32_t first_range, nranges;
	int32_t parent; /* enclosing function node, -1 for none */
	uint32_t end;   /* one past the last node of its subtree */
	uint32_t depth;
};

struct fn_range {
	uint64_t lo, hi; /* DWARF addresses */
	uint32_t node;
};

struct cu_index {
	Dwarf_Off cu_off;
	struct fn_node *nodes;
	struct fn_range *ranges, *top;
	size_t nnodes, nranges, ntop, cap_nodes, cap_ranges;
};

/* Built by one walk of the CU; NULL on allocation failure. */
struct cu_index *cu_index__new(Dwarf_Die *cudie);
void cu_index__free(struct cu_index *ix);
/* The innermost function node containing DWARF address addr, or -1. */
int32_t cu_index__innermost(const struct cu_index *ix, uint64_t addr);

#endif /* PPROFD_DWARFINDEX_H */
