// SPDX-License-Identifier: MIT
/*
 * inject.c - see inject.h.
 *
 * The frame written below the stopped thread's red zone, from its stack
 * pointer down (the kernel's struct rt_sigframe, which rt_sigreturn reads
 * 8 bytes below the stack pointer it finds):
 *
 *     library path
 *     FPU/extended state (xsave layout, 64-byte aligned, FP_XSTATE_MAGIC2)
 *     struct ucontext: the registers to resume with, the signal mask
 *     return address                                               <- rsp
 *
 * The return address is where the call goes when it returns: a "done"
 * trampoline (below) or libc's __restore_rt (mov $15, %rax; syscall).
 * Either ends in rt_sigreturn on that frame, so that the thread resumes
 * as it was however the call ends and whether or not pprofd is still there.
 *
 * How pprofd learns that a call has ended (the stop time is the number of
 * round trips between the stopped thread and pprofd, times what a round
 * trip costs when every CPU is busy: a few ms):
 *
 *   signal  the call runs free (PTRACE_CONT); the trampoline sends its own
 *           thread a marker signal the target ignores anyway (SIGURG,
 *           SIGWINCH, one it set to SIG_IGN, ...), which stops a traced
 *           thread and is dropped by one that is not (pprofd gone), then
 *           rt_sigreturn.  The first load is three round trips: the
 *           interrupt; one mmap (the system call instruction of libc's mmap,
 *           single-stepped) for a page holding the trampoline; dlopen
 *           chained with the library's start (the trampoline calls it).
 *           Later calls use the library's own copy of the trampoline: two.
 *   step    (no marker signal, or asked for) every system call of the
 *           call stops the thread (PTRACE_SYSCALL) until the rt_sigreturn
 *           of libc's trampoline: two round trips per system call.
 *
 * The calls run with every asynchronous signal blocked but the marker
 * (they stay pending and are delivered once the thread resumes: none is
 * lost).
 *
 * Lock safety: a lock held by a thread that runs is released as it runs on;
 * the call only waits.  What must not be is a lock held by a thread that
 * cannot run before the call ends: the stopped thread itself (it is stopped
 * only in an allowed system call in libc's own code, with no frame of a
 * signal handler, of the allocator or of the loader on its stack), a thread
 * stopped (SIGSTOP, a debugger) or one blocked in a system call inside the
 * allocator or the loader (a constructor that waits, inside a dlopen: the
 * loader's lock).  Every thread is looked at before the stop and again
 * once the chosen one is stopped; the stacks are scanned word by word for
 * return addresses into those functions (a stale word only makes pprofd
 * wait and look again, up to FIND_THREAD_MS, then refuse with the reason).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inject.h"
#include "log.h"
#include "sampler.h"

/* How long a load may look for a thread it can stop safely. */
#define FIND_THREAD_MS 3000
/* A call that takes longer is left to finish alone on its frame. */
#define CALL_LIMIT_MS 5000
/* How far above its stack pointer a thread's stack is read (signal frames,
 * frames of the allocator or the loader). */
#define STACK_SCAN (128 << 10)
/* Room the calls need below the thread's stack pointer. */
#define STACK_ROOM (64 << 10)
/* Address ranges a stack must not return into. */
#define MAX_RANGES 64

/* The kernel's restart codes (include/linux/errno.h, not in uapi). */
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* uc_flags (arch/x86/include/uapi/asm/ucontext.h) */
#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define XSTATE_MAX 16384

/* struct sigcontext (x86_64, uapi/asm/sigcontext.h) and struct ucontext. */
struct k_sigcontext {
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	uint16_t cs, gs, fs, ss;
	uint64_t err, trapno, oldmask, cr2;
	uint64_t fpstate;
	uint64_t reserved1[8];
};

struct k_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	uint64_t ss_sp;
	int32_t ss_flags, pad;
	uint64_t ss_size;
	struct k_sigcontext mc;
	uint64_t sigmask;
};

_Static_assert(sizeof(struct k_sigcontext) == 256, "struct sigcontext is 256 bytes");
_Static_assert(offsetof(struct k_ucontext, mc) == 40, "uc_mcontext at 40");

/* The fxsave area's software-reserved bytes (struct _fpx_sw_bytes) at 464. */
struct fpx_sw_bytes {
	uint32_t magic1, extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size, padding[7];
};

/* "mov $0xf, %rax; syscall": glibc's __restore_rt, not an exported symbol. */
static const unsigned char restore_rt[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

/*
 * The page of the first load (its bytes also at SAMPLER_DONE in the
 * library, from "done" on).  Entered by dlopen's return, with rsp at the
 * ucontext, rbx the start's offset in the library, rbp the rate, r15 the
 * page itself, r12/r13/r14 the process, the thread and the marker signal
 * (callee-saved: dlopen and the start keep them):
 *
 *  0  test %rax,%rax; je done          dlopen failed
 *  5  mov (%rax),%rdx; add %rbx,%rdx   the link_map's l_addr + the offset
 *  b  mov %rbp,%rdi; mov %r15,%rsi     pprofd_sampler_start(rate, page)
 * 11  call *%rdx
 * 13  done: tgkill(r12, r13, r14)
 * 23  mov $15,%eax; syscall            rt_sigreturn
 */
static const unsigned char page_code[] = {
	0x48, 0x85, 0xc0, 0x74, 0x0e, 0x48, 0x8b, 0x10, 0x48, 0x01, 0xda, 0x48, 0x89, 0xef,
	0x4c, 0x89, 0xfe, 0xff, 0xd2, 0x44, 0x89, 0xe7, 0x44, 0x89, 0xee, 0x44, 0x89, 0xf2,
	0xb8, 0xea, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05,
};
#define PAGE_DONE 0x13
/* Where the thread is when the marker stops it: just past tgkill. */
#define DONE_SIGNALLED 0x10
_Static_assert(sizeof(page_code) == PAGE_DONE + DONE_SIGNALLED + 7, "the page's layout");

/* inject__set_method: INJECT_STEP, INJECT_NO_BOOST. */
static bool force_step, no_boost;

void inject__set_method(unsigned flags)
{
	force_step = flags & INJECT_STEP;
	no_boost = flags & INJECT_NO_BOOST;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* --- reading the target ------------------------------------------------------ */

/* "Key:\tvalue" of /proc/PID[/task/TID]/status as a number; -1 when absent. */
static long status_field(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	long v = -1;
	FILE *f = fopen(path, "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* The same for a hexadecimal mask (SigIgn, SigBlk, CapEff); 0 when absent. */
static uint64_t status_mask(const char *path, const char *key)
{
	char line[256];
	size_t n = strlen(key);
	uint64_t v = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':') {
			v = strtoull(line + n + 1, NULL, 16);
			break;
		}
	fclose(f);
	return v;
}

/* The start of the mapping of file at offset 0 in pid; 0 when not mapped. */
static uint64_t map_base(pid_t pid, const char *file)
{
	char path[64], line[PATH_MAX + 128];
	uint64_t base = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, off;
		char *name = strchr(line, '/');

		if (!name || sscanf(line, "%lx-%*x %*s %lx", &start, &off) != 2 || off)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, file)) {
			base = start;
			break;
		}
	}
	fclose(f);
	return base;
}

/* The target's libc (its path as the target sees it); -ENOENT: a static binary. */
static int find_libc(pid_t pid, char *out, size_t len)
{
	char path[64], line[PATH_MAX + 128];
	int ret = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, '/'), *base;

		if (!name)
			continue;
		name[strcspn(name, "\n")] = '\0';
		base = strrchr(name, '/') + 1;
		if (!strncmp(base, "libc.so.6", 9) || !strncmp(base, "libc-2.", 7)) {
			snprintf(out, len, "%s", name);
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* The address (in the file's own terms) and size of a symbol; 0 when absent. */
static uint64_t elf_symbol(Elf *elf, const char *want, uint64_t *size)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, want)) {
				if (size)
					*size = sym.st_size;
				return sym.st_value;
			}
		}
	}
	return 0;
}

/* Functions of libc inside which a thread may hold the allocator's or the
 * loader's lock (a blocked thread with one of them on its stack might). */
static const char *const libc_allocator[] = {
	"malloc", "free", "calloc", "realloc", "reallocarray", "memalign", "posix_memalign",
	"aligned_alloc", "valloc", "pvalloc", "malloc_trim", "mallinfo", "mallinfo2",
	"malloc_stats", "malloc_info", "mallopt",
};
static const char *const libc_loader[] = {
	"fork", "dlopen", "dlmopen", "dlclose", "dlsym", "dlvsym", "dladdr", "dladdr1", "dlinfo",
	"dl_iterate_phdr", "__libc_dlopen_mode", "__libc_dlsym", "__libc_dlvsym", "__libc_dlclose",
};
/* A thread in one of these has released the mutex it waits with. */
static const char *const libc_condvar[] = {
	"pthread_cond_wait", "pthread_cond_timedwait", "pthread_cond_clockwait",
};

/* What a range of addresses is, for the scans and the messages. */
enum range_kind { RANGE_HANDLER, RANGE_ALLOCATOR, RANGE_LOADER, RANGE_CONDVAR, RANGE_KINDS };

struct range {
	uint64_t lo, hi;
	enum range_kind kind;
	char name[48]; /* the function, or the allocator's file */
};

/* What the target is made of, found before any thread is stopped. */
struct layout {
	char libc[PATH_MAX];
	uint64_t libc_lo, libc_hi;          /* its executable mappings */
	uint64_t dlopen, restore, mmap_syscall; /* absolute; mmap_syscall 0: not found */
	struct range ranges[MAX_RANGES];    /* a stack must not return into these */
	size_t nranges;
	uint64_t lo, hi;                    /* the ranges' span: most words are outside */
	int marker;                         /* the marker signal; 0: step */
	uint64_t lib_base, lib_done;        /* the sampler, loaded: its trampoline (0: none) */
};

static void add_range(struct layout *l, uint64_t lo, uint64_t hi, const char *name,
		      enum range_kind kind)
{
	struct range *r;

	if (l->nranges == MAX_RANGES || lo >= hi)
		return;
	r = &l->ranges[l->nranges++];
	r->lo = lo;
	r->hi = hi;
	r->kind = kind;
	snprintf(r->name, sizeof(r->name), "%s", name);
	l->lo = !l->lo || lo < l->lo ? lo : l->lo;
	l->hi = hi > l->hi ? hi : l->hi;
}

/*
 * From the libc at path (a file of ours), loaded at base: dlopen, the
 * rt_sigreturn trampoline, the system call instruction of mmap (followed by
 * its result check and ret), and the ranges of libc_locking.  0, or
 * -ENOENT without dlopen or the trampoline.
 */
static int libc_entry_points(const char *path, uint64_t base, struct layout *l)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -ENOENT;
	const unsigned char *img;
	uint64_t mmap_at, mmap_size = 0;
	size_t nph, size;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	img = (const unsigned char *)elf_rawfile(elf, &size);
	l->dlopen = elf_symbol(elf, "dlopen", NULL);
	l->restore = 0;
	l->mmap_syscall = 0;
	mmap_at = elf_symbol(elf, "mmap", &mmap_size);
	static const struct {
		const char *const *names;
		size_t n;
		enum range_kind kind;
	} lists[] = {
		{ libc_allocator, sizeof(libc_allocator) / sizeof(*libc_allocator), RANGE_ALLOCATOR },
		{ libc_loader, sizeof(libc_loader) / sizeof(*libc_loader), RANGE_LOADER },
		{ libc_condvar, sizeof(libc_condvar) / sizeof(*libc_condvar), RANGE_CONDVAR },
	};
	/* Every symbol of those names: a versioned one has several (compat). */
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value ||
			    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			for (size_t j = 0; j < sizeof(lists) / sizeof(lists[0]); j++)
				for (size_t k = 0; k < lists[j].n; k++)
					if (!strcmp(name, lists[j].names[k]))
						add_range(l, base + sym.st_value,
							  base + sym.st_value + (sym.st_size ? sym.st_size : 1),
							  name, lists[j].kind);
		}
	}

	if (!elf_getphdrnum(elf, &nph)) {
		for (size_t i = 0; img && i < nph; i++) {
			GElf_Phdr ph;
			const unsigned char *text, *hit;

			if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
			    ph.p_offset + ph.p_filesz > size)
				continue;
			text = img + ph.p_offset;
			hit = memmem(text, ph.p_filesz, restore_rt, sizeof(restore_rt));
			if (hit && !l->restore)
				l->restore = ph.p_vaddr + (hit - text);
			/* "syscall; cmp $-4096|-4095, %rax; ja|jae err; ret": on any
			 * outcome a ret, onto the frame's return address. */
			if (mmap_at >= ph.p_vaddr && mmap_at + mmap_size <= ph.p_vaddr + ph.p_filesz) {
				const unsigned char *fn = text + (mmap_at - ph.p_vaddr);

				for (uint64_t k = 0; k + 11 <= mmap_size && !l->mmap_syscall; k++)
					if (fn[k] == 0x0f && fn[k + 1] == 0x05 && fn[k + 2] == 0x48 &&
					    fn[k + 3] == 0x3d && (fn[k + 8] == 0x77 || fn[k + 8] == 0x73) &&
					    fn[k + 10] == 0xc3)
						l->mmap_syscall = base + mmap_at + k;
			}
		}
	}
	if (l->dlopen && l->restore) {
		l->dlopen += base;
		l->restore += base;
		add_range(l, l->restore, l->restore + 1, "__restore_rt", RANGE_HANDLER);
		ret = 0;
	}
	elf_end(elf);
	close(fd);
	return ret;
}

static int sampler_symbols(const char *path, struct sampler_target *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	st->start = elf_symbol(elf, SAMPLER_START, NULL);
	st->stop = elf_symbol(elf, SAMPLER_STOP, NULL);
	st->rate = elf_symbol(elf, SAMPLER_RATE, NULL);
	st->counters = elf_symbol(elf, SAMPLER_COUNTERS, NULL);
	st->status = elf_symbol(elf, SAMPLER_STATUS, NULL);
	st->done = elf_symbol(elf, SAMPLER_DONE, NULL); /* optional */
	if (!st->start || !st->stop || !st->rate || !st->counters || !st->status)
		ret = -ENOENT;
	elf_end(elf);
	close(fd);
	return ret;
}

static int read_target(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

static int write_target(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	struct iovec local = { (void *)buf, len }, remote = { (void *)addr, len };

	return process_vm_writev(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ? 0 : -EFAULT;
}

/* Into memory the target cannot write (its code): /proc/PID/mem, as a debugger. */
static int poke_target(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pwrite(fd, buf, len, (off_t)addr);
	close(fd);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

/* --- refusals ------------------------------------------------------------------ */

/* kernel.yama.ptrace_scope; -1 without Yama. */
static int ptrace_scope(void)
{
	FILE *f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	int scope = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &scope) != 1)
		scope = -1;
	fclose(f);
	return scope;
}

/*
 * Why pprofd may not trace pid, for the messages: the Yama scope, its own
 * CAP_SYS_PTRACE, the process's owner.
 */
static void no_trace_reason(pid_t pid, int scope, char *out, size_t len)
{
	char path[64];
	bool cap = status_mask("/proc/self/status", "CapEff") & (1ULL << 19); /* CAP_SYS_PTRACE */
	struct stat sb;
	bool other_uid;

	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	other_uid = !stat(path, &sb) && sb.st_uid != geteuid();
	if (scope >= 3)
		snprintf(out, len, "kernel.yama.ptrace_scope is 3: no process may be traced (only a "
				   "reboot lowers it)");
	else if (scope == 2 && !cap)
		snprintf(out, len, "kernel.yama.ptrace_scope is 2: only a tracer with "
				   "CAP_SYS_PTRACE may attach, and pprofd has not got it");
	else if (scope == 1 && !cap)
		snprintf(out, len, "kernel.yama.ptrace_scope is 1: only an ancestor of the process "
				   "or a tracer with CAP_SYS_PTRACE may attach (run pprofd as root, "
				   "or give it CAP_SYS_PTRACE)");
	else if (!cap)
		snprintf(out, len, "pprofd has no CAP_SYS_PTRACE%s",
			 other_uid ? " and the process belongs to another user" :
				     " (is the process not dumpable, or setuid?)");
	else
		snprintf(out, len, "refused by the kernel (an LSM policy?)");
}

int inject__check(pid_t pid, const char *lib, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], libc[PATH_MAX], why[256];
	struct stat ours, theirs;
	struct layout *l;
	int scope = ptrace_scope(), fd, ret;
	long v;

	if (scope >= 3) {
		snprintf(err, errlen, "kernel.yama.ptrace_scope is 3: no process may be "
				      "traced, the sampler cannot be loaded");
		return -EPERM;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	v = status_field(path, "TracerPid");
	if (v < 0) {
		snprintf(err, errlen, "process %d: cannot read its status", (int)pid);
		return -ESRCH;
	}
	if (v > 0) {
		snprintf(err, errlen, "process %d is traced by process %ld already (a debugger?)",
			 (int)pid, v);
		return -EBUSY;
	}
	/* The kernel's own check for an attach (PTRACE_MODE_ATTACH), Yama's included,
	 * without stopping anything. */
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		no_trace_reason(pid, scope, why, sizeof(why));
		snprintf(err, errlen, "process %d may not be traced by pprofd (%s): %s; the "
				      "sampler cannot be loaded",
			 (int)pid, strerror(-ret), why);
		return ret == -ENOENT ? -ESRCH : -EPERM;
	}
	close(fd);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (status_field(path, "Seccomp") > 0) {
		snprintf(err, errlen, "process %d runs under a seccomp filter: the calls loading the "
				      "sampler might be refused or kill it",
			 (int)pid);
		return -EPERM;
	}
	if (find_libc(pid, libc, sizeof(libc))) {
		snprintf(err, errlen, "process %d has no libc.so.6 mapped (a static binary): "
				      "nothing to load the sampler with",
			 (int)pid);
		return -ENOEXEC;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, libc);
	ret = libc_entry_points(path, 0, l);
	free(l);
	if (ret) {
		snprintf(err, errlen, "%s exports no dlopen (glibc older than 2.34?) or has no "
				      "signal return trampoline",
			 libc);
		return -ENOTSUP;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, lib);
	if (stat(lib, &ours) || stat(path, &theirs) || ours.st_dev != theirs.st_dev ||
	    ours.st_ino != theirs.st_ino) {
		snprintf(err, errlen, "%s: not the same file in process %d's mount namespace "
				      "(a container?): the sampler cannot be loaded there",
			 lib, (int)pid);
		return -ENOENT;
	}
	return 0;
}

/* --- the target's layout, before any stop ---------------------------------------- */

/* Signals whose default action is to ignore them (signal(7)). */
#define DEFAULT_IGNORED ((1ULL << (SIGURG - 1)) | (1ULL << (SIGWINCH - 1)) | (1ULL << (SIGCHLD - 1)))

/*
 * A signal the target drops whatever happens: ignored (SIG_IGN, or the
 * default action ignore), not caught, and not blocked in thread tid (an
 * instance delivered to it is dropped, so pprofd's dropping it changes
 * nothing).  0 when there is none.
 */
static int marker_signal(pid_t pid, pid_t tid)
{
	static const int prefer[] = { SIGURG, SIGWINCH, SIGPIPE, SIGHUP, SIGUSR2, SIGUSR1, SIGCHLD };
	char path[96];
	uint64_t ign, cgt, blk;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	ign = status_mask(path, "SigIgn");
	cgt = status_mask(path, "SigCgt");
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	blk = status_mask(path, "SigBlk");
	for (size_t i = 0; i < sizeof(prefer) / sizeof(prefer[0]); i++) {
		uint64_t bit = 1ULL << (prefer[i] - 1);

		if (!(cgt & bit) && !(blk & bit) && ((ign & bit) || (DEFAULT_IGNORED & bit)))
			return prefer[i];
	}
	return 0;
}

/* Everything but which thread, before a stop; 0 or -errno with the reason. */
static int read_layout(pid_t pid, const struct sampler_target *st, struct layout *l, char *err,
		       size_t errlen)
{
	char path[PATH_MAX + 64], line[PATH_MAX + 128];
	uint64_t libc_base;
	FILE *f;

	memset(l, 0, sizeof(*l));
	if (find_libc(pid, l->libc, sizeof(l->libc))) {
		snprintf(err, errlen, "process %d has no libc.so.6 mapped", (int)pid);
		return -ENOEXEC;
	}
	libc_base = map_base(pid, l->libc);
	if (!libc_base) {
		snprintf(err, errlen, "process %d: %s not found in its mappings", (int)pid, l->libc);
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, l->libc);
	if (libc_entry_points(path, libc_base, l)) {
		snprintf(err, errlen, "%s: no dlopen or signal return trampoline", l->libc);
		return -ENOTSUP;
	}
	l->libc_lo = UINT64_MAX;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8], *name = strchr(line, '/'), *base;

		if (!name || sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 || perms[2] != 'x')
			continue;
		name[strcspn(name, "\n")] = '\0';
		base = strrchr(name, '/') + 1;
		if (!strcmp(name, l->libc)) {
			l->libc_lo = a < l->libc_lo ? a : l->libc_lo;
			l->libc_hi = b > l->libc_hi ? b : l->libc_hi;
		} else if (strstr(base, "jemalloc") || strstr(base, "tcmalloc") ||
			   strstr(base, "mimalloc")) {
			add_range(l, a, b, base, RANGE_ALLOCATOR);
		}
	}
	fclose(f);
	l->lib_base = map_base(pid, st->lib);
	if (l->lib_base && st->done) {
		unsigned char code[sizeof(page_code) - PAGE_DONE];

		/* A library of another build may not have the same trampoline. */
		if (!read_target(pid, l->lib_base + st->done, code, sizeof(code)) &&
		    !memcmp(code, page_code + PAGE_DONE, sizeof(code)))
			l->lib_done = l->lib_base + st->done;
	}
	return 0;
}

/* --- stopping one thread ----------------------------------------------------------- */

/*
 * System calls a thread may be stopped in: blocking ones that no allocator
 * makes while it holds a lock (malloc's are mmap, munmap, mremap, brk,
 * madvise, mprotect, and futex waits of its mutexes).  Those that swap the
 * signal mask for their duration (ppoll, pselect6, epoll_pwait,
 * rt_sigsuspend) are left out.
 */
static bool safe_syscall(long nr, uint64_t arg2)
{
	switch (nr) {
	case 0:   /* read */
	case 7:   /* poll */
	case 23:  /* select */
	case 34:  /* pause */
	case 35:  /* nanosleep */
	case 43:  /* accept */
	case 45:  /* recvfrom */
	case 47:  /* recvmsg */
	case 61:  /* wait4 */
	case 230: /* clock_nanosleep */
	case 232: /* epoll_wait */
	case 247: /* waitid */
	case 288: /* accept4 */
		return true;
	case 202: /* futex: a condition variable's or a semaphore's wait, not a mutex's */
		return (arg2 & 0x7f) == 9; /* FUTEX_WAIT_BITSET */
	default:
		return false;
	}
}

/*
 * Blocks SIGCHLD in pprofd's thread for the duration of a load: a tracee's
 * stop sends it, and wait_stop sleeps on it instead of polling.
 */
static void block_sigchld(sigset_t *old)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, old);
}

static void restore_sigmask(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

/*
 * Waits for tid's next stop until deadline (CLOCK_MONOTONIC ms): asleep
 * until the SIGCHLD of the stop (at most 1 ms a time: another thread of
 * pprofd could take that signal), so that it leaves the CPUs to the target,
 * whose thread needs one to get where it stops.
 */
static int wait_stop(pid_t tid, int *status, double deadline)
{
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		struct timespec ts = { 0, 1000000 };
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);

		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		sigtimedwait(&chld, NULL, &ts);
	}
}

/*
 * pprofd's own thread at SCHED_FIFO while a thread of the target is
 * stopped: each round trip with it is pprofd waking up (for the SIGCHLD of
 * its stop), and a target that keeps every CPU busy would otherwise make
 * pprofd wait its turn behind the target's threads, milliseconds a time.
 * pprofd sleeps most of that time; its priority dies with it.  Without
 * CAP_SYS_NICE, nothing changes.
 */
struct boost {
	int policy;
	struct sched_param param;
	bool on;
};

static void boost_on(struct boost *b)
{
	struct sched_param rt = { .sched_priority = 1 };

	b->on = false;
	if (no_boost)
		return;
	b->policy = sched_getscheduler(0);
	sched_getparam(0, &b->param);
	b->on = b->policy == SCHED_OTHER && !sched_setscheduler(0, SCHED_FIFO, &rt);
}

static void boost_off(struct boost *b)
{
	if (b->on)
		sched_setscheduler(0, b->policy, &b->param);
	b->on = false;
}

struct stopped {
	pid_t tid;
	struct boost boost; /* pprofd's, while the thread is stopped */
	struct user_regs_struct regs;
	uint64_t sigmask;
	size_t xstate_len;
	bool fx_only;
	double stopped_at;
	unsigned stops;   /* ptrace stops since (round trips with the thread) */
	int pending_stop; /* a SIGSTOP that arrived during the calls */
	/* Last: stop_thread() clears everything before it. */
	unsigned char xstate[XSTATE_MAX] __attribute__((aligned(64)));
};

static void release(struct stopped *s)
{
	ptrace(PTRACE_DETACH, s->tid, 0, 0);
	boost_off(&s->boost);
}

/*
 * The stack from sp up, read up to STACK_SCAN above sp in one read (which
 * ends at the end of the stack: the guard page or the end of the mapping):
 * per kind of range, the first word that points into one (NULL: none).
 * A stale word only makes the thread looked at again.
 */
struct scan {
	const struct range *hit[RANGE_KINDS];
};

static void stack_scan(pid_t pid, uint64_t sp, const struct layout *l, struct scan *out)
{
	static uint64_t stack[STACK_SCAN / 8];
	struct iovec local = { stack, sizeof(stack) }, remote = { (void *)(sp & ~7ULL), sizeof(stack) };
	ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);

	memset(out, 0, sizeof(*out));
	for (ssize_t i = 0; i < n / 8; i++) {
		if (stack[i] < l->lo || stack[i] >= l->hi)
			continue;
		for (size_t k = 0; k < l->nranges; k++) {
			const struct range *r = &l->ranges[k];

			if (stack[i] >= r->lo && stack[i] < r->hi && !out->hit[r->kind])
				out->hit[r->kind] = r;
		}
	}
}

/* Why a frame in r makes a thread unfit, for the messages. */
static void describe_hit(const struct range *r, char *out, size_t len)
{
	if (r->kind == RANGE_HANDLER)
		snprintf(out, len, "inside a signal handler (libc's %s on its stack)", r->name);
	else if (r->kind == RANGE_ALLOCATOR && !strchr(r->name, '.'))
		snprintf(out, len, "with a frame of %s (libc's allocator) on its stack", r->name);
	else if (r->kind == RANGE_ALLOCATOR)
		snprintf(out, len, "with a frame of the allocator (%s) on its stack", r->name);
	else
		snprintf(out, len, "with a frame of %s (libc, the loader's lock) on its stack", r->name);
}

/*
 * A thread's state without stopping it: from /proc/PID/task/TID/stat and
 * /syscall.  nr -2: running (no system call to see).
 */
struct thread_view {
	char state;
	long nr;
	uint64_t arg2, sp, pc;
};

static int view_thread(pid_t pid, pid_t tid, struct thread_view *v)
{
	char path[96], buf[512], *p;
	unsigned long long a[6], sp, pc;
	FILE *f;

	v->state = '?';
	v->nr = -2;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		v->state = p[2];
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	if (fgets(buf, sizeof(buf), f)) {
		if (sscanf(buf, "%ld %llx %llx %llx %llx %llx %llx %llx %llx", &v->nr, &a[0], &a[1],
			   &a[2], &a[3], &a[4], &a[5], &sp, &pc) == 9) {
			v->arg2 = a[1];
			v->sp = sp;
			v->pc = pc;
		} else if (sscanf(buf, "%ld %llx %llx", &v->nr, &sp, &pc) == 3 && v->nr == -1) {
			v->sp = sp; /* blocked, not in a system call (a fault) */
			v->pc = pc;
		} else {
			v->nr = -2;
		}
	}
	fclose(f);
	return 0;
}

/*
 * Every thread but skip: none stopped, none blocked with a frame of the
 * allocator or the loader (a lock it may hold until its system call
 * returns).  0, or -EAGAIN with the reason in why.
 */
static int others_safe(pid_t pid, pid_t skip, const struct layout *l, char *why, size_t len)
{
	char path[64];
	struct dirent *de;
	int ret = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -ESRCH;
	while (!ret && (de = readdir(d))) {
		pid_t tid = atoi(de->d_name);
		struct thread_view v;
		const struct range *hit = NULL;
		struct scan sc;
		char what[128];

		if (tid <= 0 || tid == skip || view_thread(pid, tid, &v))
			continue;
		if (v.nr != -2 && v.sp) {
			stack_scan(pid, v.sp, l, &sc);
			hit = sc.hit[RANGE_LOADER];
			/* A condition variable's wait has released its mutex: how an
			 * allocator's background thread (jemalloc's) sleeps. */
			if (!hit && !(v.nr == 202 && sc.hit[RANGE_CONDVAR]))
				hit = sc.hit[RANGE_ALLOCATOR];
		}
		if (v.state == 'T' || v.state == 't') {
			snprintf(why, len, "thread %d is stopped (SIGSTOP or a debugger): a lock it "
					   "holds would not be released",
				 (int)tid);
			ret = -EAGAIN;
		} else if (hit) {
			describe_hit(hit, what, sizeof(what));
			snprintf(why, len, "thread %d is blocked %s: it may hold the allocator's or "
					   "the loader's lock until it wakes",
				 (int)tid, what);
			ret = -EAGAIN;
		}
	}
	closedir(d);
	return ret;
}

/*
 * Seizes and interrupts tid; 0 when it stopped where the calls are safe,
 * -EAGAIN when not (released, why said), another negative errno on failure.
 */
static int stop_thread(pid_t pid, pid_t tid, const struct layout *l, struct stopped *s,
		       char *why, size_t whylen, char *err, size_t errlen)
{
	const struct range *hit;
	struct scan sc;
	struct iovec iov;
	int status, ret;
	long rax;

	boost_off(&s->boost); /* from a thread looked at before */
	memset(s, 0, offsetof(struct stopped, xstate));
	s->tid = tid;
	boost_on(&s->boost);
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD)) {
		boost_off(&s->boost);
		char reason[256];

		ret = -errno;
		no_trace_reason(pid, ptrace_scope(), reason, sizeof(reason));
		snprintf(err, errlen, "ptrace(PTRACE_SEIZE) of thread %d of process %d: %s%s%s",
			 (int)tid, (int)pid, strerror(-ret), ret == -EPERM ? ": " : "",
			 ret == -EPERM ? reason : "");
		return ret;
	}
	s->stopped_at = now_ms();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		ret = -errno;
		release(s);
		return ret;
	}
	for (;;) {
		ret = wait_stop(tid, &status, s->stopped_at + 60000);
		if (ret)
			return ret;
		s->stops++;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (status >> 16 == PTRACE_EVENT_STOP)
			break;
		/* A signal on its way: delivered as it would be, then the interrupt stop. */
		if (ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status)))
			return -errno;
	}
	if (ptrace(PTRACE_GETREGS, tid, 0, &s->regs)) {
		ret = -errno;
		release(s);
		return ret;
	}
	rax = (long)s->regs.rax;
	/* In user code (orig_rax -1), or a restart the frame cannot redo. */
	if ((long)s->regs.orig_rax < 0 || !safe_syscall((long)s->regs.orig_rax, s->regs.rsi) ||
	    s->regs.rip < l->libc_lo || s->regs.rip >= l->libc_hi) {
		snprintf(why, whylen, "thread %d stopped in system call %ld (result %ld) at %#llx, "
				      "not in one where the calls are safe",
			 (int)tid, (long)s->regs.orig_rax, rax, (unsigned long long)s->regs.rip);
		release(s);
		return -EAGAIN;
	}
	stack_scan(tid, s->regs.rsp, l, &sc);
	hit = sc.hit[RANGE_HANDLER] ? sc.hit[RANGE_HANDLER]
	      : sc.hit[RANGE_LOADER] ? sc.hit[RANGE_LOADER] : sc.hit[RANGE_ALLOCATOR];
	if (hit) {
		char what[128];

		describe_hit(hit, what, sizeof(what));
		snprintf(why, whylen, "thread %d is %s", (int)tid, what);
		release(s);
		return -EAGAIN;
	}
	/* Again, now that this one is stopped: the others may have moved. */
	ret = others_safe(pid, tid, l, why, whylen);
	if (ret) {
		release(s);
		return ret;
	}
	if (ptrace(PTRACE_GETSIGMASK, tid, sizeof(s->sigmask), &s->sigmask)) {
		ret = -errno;
		release(s);
		return ret;
	}
	iov.iov_base = s->xstate;
	iov.iov_len = sizeof(s->xstate);
	if (!ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov) && iov.iov_len >= 576) {
		s->xstate_len = iov.iov_len;
	} else {
		iov.iov_len = 512;
		if (ptrace(PTRACE_GETREGSET, tid, NT_PRFPREG, &iov) || iov.iov_len < 512) {
			release(s);
			return -EAGAIN;
		}
		s->xstate_len = 512;
		s->fx_only = true;
	}
	return 0;
}

/*
 * A thread of pid stopped where the calls are safe, every other thread
 * looked at first; -EAGAIN when none in FIND_THREAD_MS (the last reason in
 * err).
 */
static int find_thread(pid_t pid, const struct layout *l, struct stopped *s, char *err,
		       size_t errlen)
{
	char path[64], why[320] = "";
	double deadline = now_ms() + FIND_THREAD_MS;
	unsigned looks = 0;

	while (now_ms() < deadline) {
		struct dirent *de;
		DIR *d;

		if (looks++)
			usleep(2000);
		if (others_safe(pid, 0, l, why, sizeof(why)))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		if (!d)
			return -ESRCH;
		while ((de = readdir(d))) {
			pid_t tid = atoi(de->d_name);
			struct thread_view v;
			int ret;

			if (tid <= 0 || view_thread(pid, tid, &v) || !safe_syscall(v.nr, v.arg2))
				continue;
			ret = stop_thread(pid, tid, l, s, why, sizeof(why), err, errlen);
			if (ret == -EAGAIN || ret == -ESRCH) {
				pr_debug("inject: thread %d: %s", (int)tid,
					 ret == -EAGAIN ? why : strerror(-ret));
				continue;
			}
			closedir(d);
			return ret;
		}
		closedir(d);
	}
	if (why[0])
		snprintf(err, errlen, "no thread of process %d could be stopped safely within %d ms: "
				      "%s",
			 (int)pid, FIND_THREAD_MS, why);
	else
		snprintf(err, errlen, "no thread of process %d was blocked, outside a signal handler, "
				      "in a system call where it can be stopped safely (waiting on a "
				      "condition variable, a read, epoll_wait, ...) within %d ms",
			 (int)pid, FIND_THREAD_MS);
	return -EAGAIN;
}

/* --- the calls ---------------------------------------------------------------------- */

struct frame {
	uint64_t rsp;       /* at the call: the return address slot */
	uint64_t uc;        /* the ucontext rt_sigreturn reads */
	uint64_t path;      /* the library path */
	uint64_t restore;   /* libc's trampoline */
};

/* Writes the frame that puts the thread back as it was. */
static int write_frame(pid_t pid, struct stopped *s, const char *lib, uint64_t restore,
		       struct frame *fr)
{
	size_t plen = strlen(lib) + 1, fplen = s->xstate_len + 4, total;
	uint64_t top = s->regs.rsp - 128 - 64, path, fp, uc;
	struct k_ucontext k = { 0 };
	unsigned char *buf;
	long rax = (long)s->regs.rax;
	int ret;

	path = (top - plen) & ~15ULL;
	fp = (path - fplen) & ~63ULL;
	uc = (fp - sizeof(k) - 128) & ~15ULL;
	fr->rsp = uc - 8;
	fr->uc = uc;
	fr->path = path;
	fr->restore = restore;
	total = top - fr->rsp;

	/* Resume as the kernel would without a handler to run. */
	k.mc.r8 = s->regs.r8;
	k.mc.r9 = s->regs.r9;
	k.mc.r10 = s->regs.r10;
	k.mc.r11 = s->regs.r11;
	k.mc.r12 = s->regs.r12;
	k.mc.r13 = s->regs.r13;
	k.mc.r14 = s->regs.r14;
	k.mc.r15 = s->regs.r15;
	k.mc.rdi = s->regs.rdi;
	k.mc.rsi = s->regs.rsi;
	k.mc.rbp = s->regs.rbp;
	k.mc.rbx = s->regs.rbx;
	k.mc.rdx = s->regs.rdx;
	k.mc.rcx = s->regs.rcx;
	k.mc.rsp = s->regs.rsp;
	k.mc.eflags = s->regs.eflags;
	k.mc.cs = (uint16_t)s->regs.cs;
	k.mc.ss = (uint16_t)s->regs.ss;
	if (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND) {
		k.mc.rip = s->regs.rip - 2; /* the syscall instruction again */
		k.mc.rax = s->regs.orig_rax;
	} else if (rax == -ERESTART_RESTARTBLOCK) {
		/* rt_sigreturn forgets the restart block: a sleep cut short, as by a
		 * signal.  Only if pprofd dies during the calls: finish() restarts it. */
		k.mc.rip = s->regs.rip;
		k.mc.rax = -EINTR;
	} else {
		k.mc.rip = s->regs.rip;
		k.mc.rax = s->regs.rax;
	}
	k.mc.fpstate = fp;
	k.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (s->fx_only ? 0 : UC_FP_XSTATE);
	/* An invalid mode: rt_sigreturn leaves the thread's sigaltstack as it is. */
	k.ss_flags = 4;
	k.sigmask = s->sigmask;

	buf = calloc(1, total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &restore, 8);
	memcpy(buf + (uc - fr->rsp), &k, sizeof(k));
	memcpy(buf + (fp - fr->rsp), s->xstate, s->xstate_len);
	if (s->fx_only) {
		memset(buf + (fp - fr->rsp) + 464, 0, 48); /* no extended state */
	} else {
		struct fpx_sw_bytes sw;
		uint32_t magic2 = FP_XSTATE_MAGIC2;

		memcpy(&sw, s->xstate + 464, sizeof(sw));
		if (sw.magic1 != FP_XSTATE_MAGIC1 || sw.xstate_size > s->xstate_len ||
		    sw.xstate_size < 576) {
			/* Not what a signal frame needs: the legacy state only. */
			memset(buf + (fp - fr->rsp) + 464, 0, 48);
			k.uc_flags &= ~UC_FP_XSTATE;
			memcpy(buf + (uc - fr->rsp), &k, sizeof(k));
		} else {
			memcpy(buf + (fp - fr->rsp) + sw.xstate_size, &magic2, 4);
		}
	}
	memcpy(buf + (path - fr->rsp), lib, plen);
	ret = write_target(pid, fr->rsp, buf, total);
	free(buf);
	return ret;
}

/* What a call is: where it starts, with what, and how its end is seen. */
struct call_spec {
	uint64_t func, arg1, arg2;
	uint64_t rbx, rbp, r15; /* for the page's chain */
	uint64_t ret_to;        /* the return address: a trampoline */
	int marker;             /* 0: step to the rt_sigreturn of ret_to */
	uint64_t end_rip;       /* marker: where the thread is when it stops for it */
};

/* The thread's signal mask during a call: asynchronous signals wait. */
static void call_mask(struct stopped *s, int marker)
{
	uint64_t all = ~0ULL, sync;

	sync = (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | (1ULL << (SIGILL - 1)) |
	       (1ULL << (SIGFPE - 1)) | (1ULL << (SIGTRAP - 1));
	all &= ~sync;
	if (marker)
		all &= ~(1ULL << (marker - 1));
	ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(all), &all);
}

/*
 * Runs spec on the frame and waits for its end (the thread stopped by the
 * marker past its trampoline's tgkill, or at the entry of ret_to's
 * rt_sigreturn).  0, or a negative errno: the thread is then released and
 * resumes through the frame.
 */
static int call(pid_t pid, struct stopped *s, const struct frame *fr, const struct call_spec *c,
		char *err, size_t errlen)
{
	struct user_regs_struct regs = s->regs;
	double deadline = now_ms() + CALL_LIMIT_MS;
	int status, ret;

	regs.rip = c->func;
	regs.rsp = fr->rsp;
	regs.rdi = c->arg1;
	regs.rsi = c->arg2;
	regs.rax = 0;
	regs.orig_rax = -1; /* no restart, or the rt_sigreturn skipped */
	if (c->marker) {
		regs.rbx = c->rbx;
		regs.rbp = c->rbp;
		regs.r15 = c->r15;
		regs.r12 = (uint64_t)pid;
		regs.r13 = (uint64_t)s->tid;
		regs.r14 = (uint64_t)c->marker;
	}
	call_mask(s, c->marker);
	/* The registers first, then the return address: should pprofd die in
	 * between, the call returns to what was there (the frame either way). */
	if (ptrace(PTRACE_SETREGS, s->tid, 0, &regs) ||
	    write_target(s->tid, fr->rsp, &c->ret_to, 8)) {
		snprintf(err, errlen, "setting up the call in thread %d failed", (int)s->tid);
		return -EFAULT;
	}
	if (ptrace(c->marker ? PTRACE_CONT : PTRACE_SYSCALL, s->tid, 0, 0))
		return -errno;
	for (;;) {
		struct __ptrace_syscall_info info;
		int sig;

		ret = wait_stop(s->tid, &status, deadline);
		if (ret == -ETIMEDOUT) {
			snprintf(err, errlen, "the call in thread %d took over %d ms: left to finish "
					      "on its own",
				 (int)s->tid, CALL_LIMIT_MS);
			pr_warn("inject: %s", err);
			ptrace(PTRACE_INTERRUPT, s->tid, 0, 0);
			if (!wait_stop(s->tid, &status, now_ms() + 60000))
				release(s);
			return -ETIMEDOUT;
		}
		if (ret)
			return ret;
		s->stops++;
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			snprintf(err, errlen, "process exited during the call");
			return -ESRCH;
		}
		sig = WSTOPSIG(status);
		if (!c->marker && sig == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GET_SYSCALL_INFO, s->tid, sizeof(info), &info) > 0 &&
			    info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == 15 &&
			    info.instruction_pointer == c->ret_to + sizeof(restore_rt))
				return 0;
			ptrace(PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		if (status >> 16 == PTRACE_EVENT_STOP) {
			/* A group stop (SIGSTOP to the process): finish the call first. */
			ptrace(c->marker ? PTRACE_CONT : PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		if (c->marker && sig == c->marker) {
			struct user_regs_struct now;

			if (!ptrace(PTRACE_GETREGS, s->tid, 0, &now) && now.rip == c->end_rip)
				return 0;
			/* Another's: ignored by the target, so dropped. */
			ptrace(PTRACE_CONT, s->tid, 0, 0);
			continue;
		}
		if (sig == SIGSTOP) {
			s->pending_stop = 1; /* sent again once the thread is back */
			ptrace(c->marker ? PTRACE_CONT : PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		/* A fault inside the call: unwind to the frame, which puts the thread back. */
		snprintf(err, errlen, "signal %d in thread %d during the call (at %#llx)", sig,
			 (int)s->tid, (unsigned long long)regs.rip);
		pr_warn("inject: %s", err);
		regs.rip = fr->restore;
		regs.rsp = fr->uc;
		regs.orig_rax = -1;
		ptrace(PTRACE_SETREGS, s->tid, 0, &regs);
		release(s);
		return -EFAULT;
	}
}

/*
 * mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS) in
 * the stopped thread: its registers set to libc's mmap system call
 * instruction, one single step.  Should pprofd die, mmap's own ret takes
 * the thread to the frame's return address, libc's trampoline.  0 with the
 * page's address in *page (0: none, the thread still stopped), or a
 * negative errno: the thread released (it returns through the frame).
 */
static int remote_mmap(struct stopped *s, const struct frame *fr, const struct layout *l,
		       uint64_t *page)
{
	struct user_regs_struct regs = s->regs;
	double deadline = now_ms() + CALL_LIMIT_MS;
	int status;

	*page = 0;
	regs.rip = l->mmap_syscall;
	regs.rsp = fr->rsp;
	regs.rax = 9; /* __NR_mmap */
	regs.rdi = 0;
	regs.rsi = 4096;
	regs.rdx = PROT_READ | PROT_EXEC;
	regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS;
	regs.r8 = (uint64_t)-1;
	regs.r9 = 0;
	regs.orig_rax = -1;
	call_mask(s, 0);
	if (write_target(s->tid, fr->rsp, &fr->restore, 8))
		return 0;
	if (ptrace(PTRACE_SETREGS, s->tid, 0, &regs) || ptrace(PTRACE_SINGLESTEP, s->tid, 0, 0)) {
		release(s);
		return -EFAULT;
	}
	for (;;) {
		if (wait_stop(s->tid, &status, deadline)) {
			ptrace(PTRACE_INTERRUPT, s->tid, 0, 0);
			if (!wait_stop(s->tid, &status, now_ms() + 60000))
				release(s);
			return -ETIMEDOUT;
		}
		s->stops++;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (WSTOPSIG(status) == SIGTRAP && !(status >> 16)) {
			if (ptrace(PTRACE_GETREGS, s->tid, 0, &regs) || regs.rip != l->mmap_syscall + 2) {
				release(s);
				return -EFAULT;
			}
			if ((int64_t)regs.rax < 0 && (int64_t)regs.rax > -4096)
				return 0;
			*page = regs.rax;
			return 0;
		}
		if (WSTOPSIG(status) == SIGSTOP)
			s->pending_stop = 1;
		/* A group stop, a SIGSTOP: the step again. */
		ptrace(PTRACE_SINGLESTEP, s->tid, 0, 0);
	}
}

/*
 * The last stop, at the end of the calls: the thread gets back its
 * registers, FPU state and signal mask from here, and resumes its system
 * call as the kernel resumes it after a stop: restarted (restart_syscall
 * for a sleep, whose restart block rt_sigreturn would have dropped), or its
 * result returned.  The marker, if that is where it stopped, is dropped.
 */
static double finish(pid_t pid, struct stopped *s)
{
	struct user_regs_struct regs = s->regs;
	struct iovec iov = { s->xstate, s->xstate_len };
	long rax = (long)regs.rax;
	double ms;

	if (rax == -ERESTARTSYS || rax == -ERESTARTNOINTR || rax == -ERESTARTNOHAND) {
		regs.rip -= 2;
		regs.rax = regs.orig_rax;
	} else if (rax == -ERESTART_RESTARTBLOCK) {
		regs.rip -= 2;
		regs.rax = 219; /* __NR_restart_syscall */
	}
	regs.orig_rax = -1;
	if (ptrace(PTRACE_SETREGSET, s->tid, s->fx_only ? NT_PRFPREG : NT_X86_XSTATE, &iov) ||
	    ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(s->sigmask), &s->sigmask) ||
	    ptrace(PTRACE_SETREGS, s->tid, 0, &regs)) {
		/* The frame then: every register but a sleep's restart. */
		pr_warn("inject: thread %d: restoring its registers failed: %s; resumed through "
			"its frame",
			(int)s->tid, strerror(errno));
	}
	ptrace(PTRACE_DETACH, s->tid, 0, 0);
	ms = now_ms() - s->stopped_at; /* before pprofd's priority drops */
	boost_off(&s->boost);
	if (s->pending_stop)
		kill(pid, SIGSTOP);
	return ms;
}


/* The call is over: the sampler's status, the thread resumed, the stop's figures. */
static int load_done(struct sampler_target *st, struct stopped *s, bool marker)
{
	int32_t status = SAMPLER_STATUS_NONE;
	double ms;

	read_target(st->pid, st->base + st->status, &status, sizeof(status));
	ms = finish(st->pid, s);
	st->stop_ms = ms > st->stop_ms ? ms : st->stop_ms;
	st->last_stop_ms = ms;
	st->last_stops = s->stops;
	st->stepped = !marker;
	st->tid = s->tid;
	return status;
}

/* One stop of the target for a call of func (the library's start or stop). */
static int stop_and_call(struct sampler_target *st, const struct layout *l, uint64_t func,
			 uint64_t arg, char *err, size_t errlen)
{
	struct call_spec c = { .func = func, .arg1 = arg };
	struct stopped *s;
	struct frame fr;
	int ret;

	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, offsetof(struct stopped, xstate));
	ret = find_thread(st->pid, l, s, err, errlen);
	if (ret)
		goto out;
	ret = write_frame(st->pid, s, st->lib, l->restore, &fr);
	if (ret) {
		snprintf(err, errlen, "writing to thread %d's stack failed", (int)s->tid);
		release(s);
		goto out;
	}
	c.marker = force_step || !l->lib_done ? 0 : marker_signal(st->pid, s->tid);
	c.ret_to = c.marker ? l->lib_done : l->restore;
	c.end_rip = l->lib_done + DONE_SIGNALLED;
	ret = call(st->pid, s, &fr, &c, err, errlen);
	if (ret)
		goto out;
	st->calls++;
	ret = load_done(st, s, c.marker);
out:
	boost_off(&s->boost);
	free(s);
	return ret;
}

/*
 * The first load: dlopen and the start in one call, from a page mapped
 * for it (the marker method), or dlopen and then the start, stepped.
 */
static int first_load(struct sampler_target *st, const struct layout *l, int64_t rate, char *err,
		      size_t errlen)
{
	struct call_spec c = { 0 };
	struct stopped *s;
	struct frame fr;
	uint64_t page = 0;
	double ms;
	int ret;

	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, offsetof(struct stopped, xstate));
	ret = find_thread(st->pid, l, s, err, errlen);
	if (ret)
		goto out;
	ret = write_frame(st->pid, s, st->lib, l->restore, &fr);
	if (ret) {
		snprintf(err, errlen, "writing to thread %d's stack failed", (int)s->tid);
		release(s);
		goto out;
	}
	c.marker = force_step || !l->mmap_syscall ? 0 : marker_signal(st->pid, s->tid);
	if (c.marker) {
		ret = remote_mmap(s, &fr, l, &page);
		if (ret) {
			snprintf(err, errlen, "mapping a page in thread %d failed: %s", (int)s->tid,
				 strerror(-ret));
			goto out;
		}
		if (page && poke_target(st->pid, page, page_code, sizeof(page_code)))
			page = 0; /* left mapped, empty: 4 KiB */
		if (!page)
			c.marker = 0;
	}
	c.func = l->dlopen;
	c.arg1 = fr.path;
	c.arg2 = RTLD_NOW | RTLD_LOCAL;
	if (c.marker) {
		c.ret_to = page;
		c.end_rip = page + PAGE_DONE + DONE_SIGNALLED;
		c.rbx = st->start;
		c.rbp = (uint64_t)rate;
		c.r15 = page;
	} else {
		c.ret_to = l->restore;
	}
	ret = call(st->pid, s, &fr, &c, err, errlen);
	if (ret)
		goto out;
	st->calls++;
	st->base = map_base(st->pid, st->lib);
	if (!st->base) {
		ms = finish(st->pid, s);
		snprintf(err, errlen, "dlopen(%s) failed in process %d (thread stopped %.1f ms); "
				      "static TLS exhausted, or a noexec mount?",
			 st->lib, (int)st->pid, ms);
		ret = -ENOEXEC;
		goto out;
	}
	if (!c.marker) {
		struct call_spec start = { .func = st->base + st->start, .arg1 = (uint64_t)rate,
					   .ret_to = l->restore };

		ret = call(st->pid, s, &fr, &start, err, errlen);
		if (ret)
			goto out;
		st->calls++;
	}
	ret = load_done(st, s, c.marker);
out:
	boost_off(&s->boost);
	free(s);
	return ret;
}

int inject__start(pid_t pid, const char *lib, int64_t rate, struct sampler_target *st, char *err,
		  size_t errlen)
{
	struct layout *l = NULL;
	sigset_t mask;
	int ret;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	snprintf(st->lib, sizeof(st->lib), "%s", lib);
	err[0] = '\0';
	ret = inject__check(pid, lib, err, errlen);
	if (ret)
		return ret;
	ret = sampler_symbols(lib, st);
	if (ret) {
		snprintf(err, errlen, "%s: not the pprofd sampler library (%s)", lib, strerror(-ret));
		return ret;
	}
	l = malloc(sizeof(*l));
	if (!l)
		return -ENOMEM;
	ret = read_layout(pid, st, l, err, errlen);
	if (ret)
		goto out;
	block_sigchld(&mask);
	st->base = l->lib_base;
	if (st->base)
		ret = stop_and_call(st, l, st->base + st->start, (uint64_t)rate, err, errlen);
	else
		ret = first_load(st, l, rate, err, errlen);
	restore_sigmask(&mask);
	if (ret > 0 || (ret < 0 && !err[0])) {
		/* The call ran, the library said no. */
		snprintf(err, errlen, "the sampler did not start in process %d: %s", (int)pid,
			 ret == SAMPLER_STATUS_NONE ? "no result" : strerror(-ret));
		ret = ret < 0 ? ret : -EIO;
	}
	if (!ret)
		pr_info("inject: sampler %s process %d at %#" PRIx64 " (thread %d stopped %.2f ms, "
			"%u stops, %s)",
			l->lib_base ? "started in" : "loaded into", (int)pid, st->base, (int)st->tid,
			st->last_stop_ms, st->last_stops, st->stepped ? "stepped" : "signalled");
out:
	free(l);
	return ret;
}

int inject__stop(struct sampler_target *st, char *err, size_t errlen)
{
	struct layout *l = NULL;
	int64_t zero = 0;
	sigset_t mask;
	int ret;

	err[0] = '\0';
	if (!st->base || (kill(st->pid, 0) && errno == ESRCH))
		return 0; /* nothing loaded, or nothing left to stop */
	if (inject__check(st->pid, st->lib, err, errlen))
		goto lazy;
	l = malloc(sizeof(*l));
	if (!l || read_layout(st->pid, st, l, err, errlen))
		goto lazy;
	block_sigchld(&mask);
	ret = stop_and_call(st, l, st->base + st->stop, 0, err, errlen);
	restore_sigmask(&mask);
	if (!ret) {
		pr_info("inject: sampler stopped in process %d (thread %d stopped %.2f ms, %u stops, "
			"%s)",
			(int)st->pid, (int)st->tid, st->last_stop_ms, st->last_stops,
			st->stepped ? "stepped" : "signalled");
		free(l);
		return 0;
	}
lazy:
	free(l);
	/* The library stops itself at its next sample. */
	pr_warn("inject: stopping the sampler in process %d by its rate (%s)", (int)st->pid,
		err[0] ? err : "no call");
	return write_target(st->pid, st->base + st->rate, &zero, sizeof(zero));
}

int inject__find(pid_t pid, const char *lib, struct sampler_target *st)
{
	memset(st, 0, sizeof(*st));
	st->pid = pid;
	snprintf(st->lib, sizeof(st->lib), "%s", lib);
	if (sampler_symbols(lib, st))
		return -ENOENT;
	st->base = map_base(pid, lib);
	return st->base ? 0 : -ENOENT;
}

int inject__counters(const struct sampler_target *st, void *out, size_t len)
{
	if (!st->base)
		return -ENOENT;
	return read_target(st->pid, st->base + st->counters, out, len);
}
