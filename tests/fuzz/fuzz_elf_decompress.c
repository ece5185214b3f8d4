// SPDX-License-Identifier: MIT
/*
 * fuzz_elf_decompress.c - the uncompressed copy of an ELF file with
 * compressed debug sections (debugcache.c: its own section and header
 * rewriting, zlib streaming).  The copy of a file libelf reads as ELF must
 * be one too, with no compressed section left.
 */
#define _GNU_SOURCE
#include <gelf.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

#include "debugcache.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("fuzz-in", MFD_CLOEXEC), out = memfd_create("fuzz-out", MFD_CLOEXEC);
	bool is_elf;

	if (in < 0 || out < 0 || write(in, data, size) != (ssize_t)size)
		abort();
	elf_version(EV_CURRENT);
	/* The daemon copies only files libelf took for ELF: only their copies must be. */
	{
		Elf *elf = elf_begin(in, ELF_C_READ, NULL);

		is_elf = elf && elf_kind(elf) == ELF_K_ELF;
		elf_end(elf);
	}
	if (!debug_cache__decompress(in, out)) {
		Elf *elf = elf_begin(out, ELF_C_READ, NULL);
		Elf_Scn *scn = NULL;

		if (is_elf && (!elf || elf_kind(elf) != ELF_K_ELF))
			abort(); /* the copy of an ELF file must be one */
		while ((scn = elf_nextscn(elf, scn))) {
			GElf_Shdr mem, *sh = gelf_getshdr(scn, &mem);

			if (sh && (sh->sh_flags & SHF_COMPRESSED))
				abort();
		}
		elf_end(elf);
	}
	close(in);
	close(out);
	return 0;
}
