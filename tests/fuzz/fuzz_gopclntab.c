// SPDX-License-Identifier: MIT
/*
 * fuzz_gopclntab.c - a Go binary's .gopclntab (gopclntab.c), which the
 * symbolizer and the unwinder read from the target's executable, stripped
 * or not.  The input is the section's bytes, wrapped here in an ELF file of
 * one loaded segment at 0x400000 (section headers .gopclntab, .shstrtab);
 * then every lookup the daemon makes is tried, at addresses from the input
 * and across the text range the table claims: function and inline frames,
 * function info, SP deltas and unwinding rules, a function by name.  Names
 * and files handed back must be strings inside what was read.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>

#include "fuzz.h"
#include "gopclntab.h"

#define BASE 0x400000ULL
#define DATA_OFF 256 /* after the ELF and program headers */

static const char shstrtab[] = "\0.shstrtab\0.gopclntab";

/* The ELF image around the table; its length in *len.  NULL when out of memory. */
static char *wrap(const uint8_t *data, size_t size, size_t *len)
{
	size_t str_off = DATA_OFF + ((size + 7) & ~(size_t)7);
	size_t sh_off = (str_off + sizeof(shstrtab) + 7) & ~(size_t)7;
	char *img;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
	Elf64_Shdr *sh;

	*len = sh_off + 3 * sizeof(Elf64_Shdr);
	img = calloc(1, *len);
	if (!img)
		return NULL;
	eh = (Elf64_Ehdr *)img;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(*eh);
	eh->e_shoff = sh_off;
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	eh->e_shentsize = sizeof(*sh);
	eh->e_shnum = 3;
	eh->e_shstrndx = 2;
	ph = (Elf64_Phdr *)(img + sizeof(*eh));
	ph->p_type = PT_LOAD;
	ph->p_flags = PF_R;
	ph->p_offset = 0;
	ph->p_vaddr = ph->p_paddr = BASE;
	ph->p_filesz = ph->p_memsz = str_off;
	ph->p_align = 0x1000;
	memcpy(img + DATA_OFF, data, size);
	memcpy(img + str_off, shstrtab, sizeof(shstrtab));
	sh = (Elf64_Shdr *)(img + sh_off);
	sh[1].sh_name = 11; /* ".gopclntab" */
	sh[1].sh_type = SHT_PROGBITS;
	sh[1].sh_flags = SHF_ALLOC;
	sh[1].sh_addr = BASE + DATA_OFF;
	sh[1].sh_offset = DATA_OFF;
	sh[1].sh_size = size;
	sh[1].sh_addralign = 8;
	sh[2].sh_name = 1; /* ".shstrtab" */
	sh[2].sh_type = SHT_STRTAB;
	sh[2].sh_offset = str_off;
	sh[2].sh_size = sizeof(shstrtab);
	sh[2].sh_addralign = 1;
	return img;
}

/* A string the table handed back: NUL-terminated (ASan checks where) and not huge. */
static void check_string(const char *s)
{
	if (s && strlen(s) > (1u << 24))
		abort();
}

static void look_up(const struct gopclntab *t, uint64_t pc)
{
	struct gofunc_frame frames[16];
	struct gofunc_info info;
	struct gounwind_rule rule;
	int32_t delta;
	int n = gopclntab__lookup(t, pc, frames, 16);

	if (n > 16)
		abort();
	for (int i = 0; i < n; i++) {
		check_string(frames[i].function);
		check_string(frames[i].file);
	}
	if (!gopclntab__func_at(t, pc, &info)) {
		check_string(info.name);
		if (pc < info.entry || pc >= info.end)
			abort();
	}
	gopclntab__sp_delta(t, pc, &delta);
	gopclntab__unwind_rule(t, pc, &rule);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gopclntab *t;
	uint64_t lo, hi, entry, end;
	size_t len;
	char err[256], *img = wrap(data, size, &len);
	Elf *elf;

	if (!img)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_memory(img, len);
	t = elf ? gopclntab__open(elf, 0, err, sizeof(err)) : NULL;
	if (t) {
		gopclntab__text_range(t, &lo, &hi);
		for (size_t i = 0; i < size && i < 64 * 8; i += 8)
			look_up(t, fuzz_u64(data, size, i));
		/* Across the text the table claims, at most 256 addresses. */
		if (hi > lo)
			for (uint64_t k = 0, step = (hi - lo) / 256 + 1; k < 256; k++)
				look_up(t, lo + k * step);
		gopclntab__func_by_name(t, "main.main", &entry, &end);
		gopclntab__func_by_name(t, "runtime.goexit", &entry, &end);
		gopclntab__nfuncs(t);
		gopclntab__free(t);
	}
	if (elf)
		elf_end(elf);
	free(img);
	return 0;
}
