/* SPDX-License-Identifier: MIT */
/*
 * debugcache.h - uncompressed copies, on disk, of ELF files whose debug
 * sections are compressed (SHF_COMPRESSED: Debian's -dbg packages, Go
 * binaries).
 *
 * libdw decompresses every compressed section it opens into malloc'd
 * memory, whole: libc6-dbg's DWARF alone is ~10 MB of RSS for as long as
 * its module lives, however few addresses are looked up in it.  An
 * uncompressed copy is mapped instead, and only the pages the lookups touch
 * count (page cache, shared and reclaimable).  The copy is written once per
 * build ID, streaming (no section is ever held in memory), into the cache
 * directory (symbols.cache_dir, /var/cache/pprofd by default; systemd's
 * CacheDirectory=pprofd).  The directory is kept under symbols.cache_max_mb
 * by removing the least recently used copies.
 *
 * Process-wide, like kallsyms: configured once at start-up.
 */
#ifndef PPROFD_DEBUGCACHE_H
#define PPROFD_DEBUGCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <libelf.h>

/* dir "" turns the cache off (libdw then decompresses in memory, as before). */
void debug_cache__configure(const char *dir, uint64_t max_bytes);

/*
 * If elf (open on fd) has compressed sections, returns an fd of its
 * uncompressed copy, made now if needed, and its path in *path (malloc'd).
 * -ENOENT: nothing compressed, use the file itself; another negative errno:
 * no copy (cache off or unwritable, no build ID, an ELF layout the copy
 * does not handle): the file itself still works.  fd is left as it is.
 */
int debug_cache__open(int fd, Elf *elf, char **path);

/* Where separate debug files are looked for by build ID (libdwfl's default). */
#define DEBUGINFO_DIR "/usr/lib/debug"

/*
 * The separate debug file of the file with build ID id, as libdwfl's
 * build-ID search finds it, or its uncompressed copy: an fd, and its path
 * in *path (malloc'd); -ENOENT when there is none.  (libdwfl's own search
 * keeps the file it validated open, compressed: it cannot be swapped after.)
 */
int debug_cache__open_debuginfo(const unsigned char *id, size_t idlen, char **path);

/*
 * Gives back the pages of the copies that are mapped (by libelf) and that
 * nothing wrote to: libdw reads every CU header of a file to index it once
 * (all of libc's 5.7 MB .debug_info), and the pages would stay in pprofd's
 * RSS.  They stay in the page cache; later lookups fault back in the few
 * they read.  Returns the bytes given back.
 */
uint64_t debug_cache__release_pages(void);

/*
 * Writes the ELF file read from in to out with every compressed section
 * decompressed (64-bit ELF, native byte order, zlib).  Sections that the
 * program headers place (SHF_ALLOC) are left where they are; the ones after
 * the first compressed section move.  0 or a negative errno.  For the tests.
 */
int debug_cache__decompress(int in, int out);

#endif /* PPROFD_DEBUGCACHE_H */
