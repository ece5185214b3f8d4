// SPDX-License-Identifier: MIT
/*
 * jit_static.c - jit.c built static and without debug info (Makefile), so
 * that it runs chrooted into a directory that holds nothing else: the
 * target whose view of the files is not pprofd's (test_containment).
 */
#include "jit.c"
