// SPDX-License-Identifier: MIT
/* gostack.c - see gostack.h.  linux/amd64. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "goruntime.h"
#include "gostack.h"

/*
 * The thread's g relative to its thread pointer (fs base).  Go's linker
 * puts runtime.tlsg in the executable's TLS block, which on x86-64 ends at
 * the thread pointer: -8 with Go's own linker, the same formula with the
 * system's (cgo) where other thread-local data may come first.
 */
static int tls_g_offset(pid_t pid, int32_t *off)
{
	char path[64];
	uint64_t tlsg = 0, block = 8;
	size_t nph = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_getphdrnum(elf, &nph)) {
		elf_end(elf);
		close(fd);
		return -EINVAL;
	}
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_TLS) {
			uint64_t align = ph.p_align ? ph.p_align : 1;

			block = (ph.p_memsz + align - 1) / align * align;
			break;
		}
	}
	/* Where the symbol table says runtime.tlsg is in the block (else first). */
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_TLS)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, "runtime.tlsg")) {
				tlsg = sym.st_value;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	if (tlsg + 8 > block)
		return -EINVAL;
	*off = (int32_t)((int64_t)tlsg - (int64_t)block);
	return 0;
}

int go_stack_switch__config(const struct go_runtime *rt, pid_t pid, struct go_stack_switch *out)
{
	const struct go_layout *l = go_runtime__layout(rt);
	int32_t tls_g = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	/* m.vdsoPC follows m.vdsoSP in every version that has them (1.12+). */
	if (l->g_m < 0 || l->g_sched_sp < 0 || l->g_sched_pc < 0 || l->g_sched_bp < 0 ||
	    l->m_g0 < 0 || l->m_curg < 0)
		return -ENOTSUP;
	ret = tls_g_offset(pid, &tls_g);
	if (!ret) {
		out->enabled = 1;
		out->tls_g = tls_g;
		out->g_m = l->g_m;
		out->g_sched_sp = l->g_sched_sp;
		out->g_sched_pc = l->g_sched_pc;
		out->g_sched_bp = l->g_sched_bp;
		out->m_g0 = l->m_g0;
		out->m_curg = l->m_curg;
		out->m_vdso_sp = l->m_vdso_sp > 0 ? l->m_vdso_sp : 0;
	}
	return ret;
}
