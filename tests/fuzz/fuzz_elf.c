// SPDX-License-Identifier: MIT
/*
 * fuzz_elf.c - an ELF file of the target, as the symbolizer reads it
 * (symbolize.c): the input is written to a file, mapped (in a maps text
 * given to symbolizer__new_from_maps) executable twice, at offset 0 and at
 * a page further, and addresses in it are resolved: program headers, build
 * ID, .gnu_debuglink (looked for next to the file, in the root of this
 * process), symbol tables, DWARF (function DIEs by CU, lines, inline
 * chains) and CFI.  Compressed sections are inflated by libdw (the debug
 * cache is off here: fuzz_elf_decompress covers the copy).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "debugcache.h"
#include "fuzz.h"
#include "log.h"
#include "symbolize.h"

static char dir[] = "/tmp/pprofd-fuzz-elf.XXXXXX";
static char path[sizeof(dir) + 16];

static void remove_dir(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/lib.so", dir);
	atexit(remove_dir);
	debug_cache__configure("", 0);
	return 0;
}

#define BASE UINT64_C(0x7f0000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t span = (size + 4095) & ~UINT64_C(4095);
	char maps[2 * PATH_MAX];
	struct symbolizer *s;
	struct stat st;
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size || fstat(fd, &st))
		abort();
	close(fd);
	if (!span)
		span = 4096;
	n = snprintf(maps, sizeof(maps),
		     "%" PRIx64 "-%" PRIx64 " r-xp 00000000 %02x:%02x %lu %s\n"
		     "%" PRIx64 "-%" PRIx64 " r-xp 00001000 %02x:%02x %lu %s (deleted)\n",
		     BASE, BASE + span, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino,
		     path, BASE + UINT64_C(0x100000000), BASE + UINT64_C(0x100000000) + span, major(st.st_dev),
		     minor(st.st_dev), (unsigned long)st.st_ino, path);
	s = symbolizer__new_from_maps(getpid(), maps, n);
	if (!s)
		return 0;
	for (size_t i = 0; i < 24; i++) {
		uint64_t pc = BASE + (i < 8 ? i * span / 8 : fuzz_u64(data, size, i * 8) % span);
		struct symbol_location loc;
		struct Dwarf_CFI_s *eh, *debug;
		uint64_t bias;
		size_t total = 0;

		if (i & 1)
			pc += UINT64_C(0x100000000);
		if (symbolizer__lookup(s, pc, &loc))
			continue;
		for (size_t f = 0; f < loc.nframes; f++) {
			const struct symbol_frame *fr = &loc.frames[f];

			total += (fr->function ? strlen(fr->function) : 0) +
				 (fr->system_name ? strlen(fr->system_name) : 0) +
				 (fr->file ? strlen(fr->file) : 0);
		}
		if (loc.mapping)
			total += strlen(loc.mapping->path) + strlen(loc.mapping->build_id);
		symbolizer__cfi(s, pc, &eh, &debug, &bias);
		(void)total;
	}
	symbolizer__free(s);
	return 0;
}
