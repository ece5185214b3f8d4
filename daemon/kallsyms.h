/* SPDX-License-Identifier: MIT */
/*
 * kallsyms.h - the kernel's text symbols (/proc/kallsyms), read once at the
 * first lookup and kept compact (names compressed by blocks), for the
 * kernel frames of every profile.  Without privilege every address reads 0:
 * then there are none and kernel frames stay unresolved.
 */
#ifndef PPROFD_KALLSYMS_H
#define PPROFD_KALLSYMS_H

#include <stdint.h>

/*
 * The text symbol addr is in (the last one at or below it, not more than
 * 128 KiB before it) and, in *start, where it begins.  The name is valid
 * until the next call; NULL when there is none.
 */
const char *kallsyms__lookup(uint64_t addr, uint64_t *start);

#endif /* PPROFD_KALLSYMS_H */
