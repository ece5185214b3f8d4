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
 *     return address: libc's __restore_rt (mov $15, %rax; syscall)  <- rsp
 *
 * The calls run with every asynchronous signal blocked (they stay pending
 * and are delivered once the thread resumes: none is lost) and stop the
 * thread at each system call; the rt_sigreturn that ends a call is where
 * pprofd makes the next one (skipping it) or detaches (letting it run).
 */
#define _GNU_SOURCE
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
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "inject.h"
#include "log.h"
#include "sampler.h"

/* How long a load may look for a thread it can stop safely. */
#define FIND_THREAD_MS 3000
/* A call that takes longer is left to finish alone on its frame. */
#define CALL_LIMIT_MS 5000
/* How far above its stack pointer a thread's stack is read for a signal frame. */
#define SIGNAL_FRAME_SCAN (128 << 10)
/* Room the calls need below the thread's stack pointer. */
#define STACK_ROOM (64 << 10)

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

/* The address (in the file's own terms) of a symbol of file; 0 when absent. */
static uint64_t elf_symbol(Elf *elf, const char *want)
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
			if (name && !strcmp(name, want))
				return sym.st_value;
		}
	}
	return 0;
}

/* dlopen and the rt_sigreturn trampoline of the libc at path (a file of ours). */
static int libc_entry_points(const char *path, uint64_t *dlopen_at, uint64_t *restore_at)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = -ENOENT;
	size_t nph;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	*dlopen_at = elf_symbol(elf, "dlopen");
	*restore_at = 0;
	if (!elf_getphdrnum(elf, &nph)) {
		size_t size;
		const unsigned char *img = (const unsigned char *)elf_rawfile(elf, &size);

		for (size_t i = 0; img && i < nph && !*restore_at; i++) {
			GElf_Phdr ph;

			if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X) ||
			    ph.p_offset + ph.p_filesz > size)
				continue;
			const unsigned char *hit = memmem(img + ph.p_offset, ph.p_filesz, restore_rt,
							  sizeof(restore_rt));
			if (hit)
				*restore_at = ph.p_vaddr + (hit - img - ph.p_offset);
		}
	}
	if (*dlopen_at && *restore_at)
		ret = 0;
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
	st->start = elf_symbol(elf, SAMPLER_START);
	st->stop = elf_symbol(elf, SAMPLER_STOP);
	st->rate = elf_symbol(elf, SAMPLER_RATE);
	st->counters = elf_symbol(elf, SAMPLER_COUNTERS);
	st->status = elf_symbol(elf, SAMPLER_STATUS);
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

/* --- refusals ------------------------------------------------------------------ */

int inject__check(pid_t pid, const char *lib, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], libc[PATH_MAX];
	struct stat ours, theirs;
	uint64_t dl, rt;
	long v;
	FILE *f;

	f = fopen("/proc/sys/kernel/yama/ptrace_scope", "re");
	if (f) {
		int scope = 0;

		if (fscanf(f, "%d", &scope) != 1)
			scope = 0;
		fclose(f);
		if (scope >= 3) {
			snprintf(err, errlen, "kernel.yama.ptrace_scope is 3: no process may be "
					      "traced, the sampler cannot be loaded");
			return -EPERM;
		}
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
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, libc);
	if (libc_entry_points(path, &dl, &rt)) {
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
 * Waits for tid's next stop until deadline (CLOCK_MONOTONIC ms).  A call
 * stops the thread at each of its system calls: yielding, not sleeping,
 * for the first 2 ms keeps each round trip at a few microseconds (a sleep
 * costs the timer slack, 50 us).
 */
static int wait_stop(pid_t tid, int *status, double deadline)
{
	double spin_until = now_ms() + 2;

	for (;;) {
		pid_t r = waitpid(tid, status, __WALL | WNOHANG);
		double t;

		if (r == tid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		t = now_ms();
		if (t > deadline)
			return -ETIMEDOUT;
		if (t < spin_until)
			sched_yield();
		else
			usleep(50);
	}
}

struct stopped {
	pid_t tid;
	struct user_regs_struct regs;
	uint64_t sigmask;
	size_t xstate_len;
	bool fx_only;
	double stopped_at;
	int pending_stop; /* a SIGSTOP that arrived during the calls */
	/* Last: stop_thread() clears everything before it. */
	unsigned char xstate[XSTATE_MAX] __attribute__((aligned(64)));
};

static void release(struct stopped *s)
{
	ptrace(PTRACE_DETACH, s->tid, 0, 0);
}

/*
 * Is the thread inside a signal handler?  A handler may have interrupted
 * the allocator with its lock held, and a handler may well sleep or read:
 * the return address of every handler, libc's __restore_rt, then lies on
 * the stack above its frames.  Read page by page up to SIGNAL_FRAME_SCAN
 * above sp (a stale copy of that address only makes the thread skipped).
 */
static bool in_signal_handler(pid_t tid, uint64_t sp, uint64_t restore)
{
	static uint64_t page[512];
	uint64_t addr = sp & ~7ULL, end = sp + SIGNAL_FRAME_SCAN;

	while (addr < end) {
		uint64_t next = (addr | 4095) + 1;
		size_t n = (next - addr) / 8;

		if (read_target(tid, addr, page, n * 8))
			return false; /* the end of the stack */
		for (size_t i = 0; i < n; i++)
			if (page[i] == restore)
				return true;
		addr = next;
	}
	return false;
}

/*
 * Seizes and interrupts tid; 0 when it stopped where the calls are safe,
 * -EAGAIN when not (released), another negative errno on failure.
 */
static int stop_thread(pid_t pid, pid_t tid, uint64_t libc_lo, uint64_t libc_hi, uint64_t restore,
		       struct stopped *s, char *err, size_t errlen)
{
	struct iovec iov;
	int status, ret;
	long rax;

	memset(s, 0, offsetof(struct stopped, xstate));
	s->tid = tid;
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD)) {
		ret = -errno;
		snprintf(err, errlen, "ptrace(PTRACE_SEIZE) of thread %d of process %d: %s%s",
			 (int)tid, (int)pid, strerror(errno),
			 errno == EPERM ? " (another tracer, kernel.yama.ptrace_scope, or no "
					  "CAP_SYS_PTRACE)"
					: "");
		return ret;
	}
	s->stopped_at = now_ms();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0)) {
		ret = -errno;
		ptrace(PTRACE_DETACH, tid, 0, 0);
		return ret;
	}
	for (;;) {
		ret = wait_stop(tid, &status, s->stopped_at + 1000);
		if (ret == -ETIMEDOUT)
			ret = wait_stop(tid, &status, s->stopped_at + 60000);
		if (ret)
			return ret;
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
	    s->regs.rip < libc_lo || s->regs.rip >= libc_hi) {
		pr_debug("inject: thread %d stopped in system call %ld (result %ld) at %#llx: not "
			 "where the calls are safe",
			 (int)tid, (long)s->regs.orig_rax, rax, (unsigned long long)s->regs.rip);
		release(s);
		return -EAGAIN;
	}
	if (in_signal_handler(tid, s->regs.rsp, restore)) {
		pr_debug("inject: thread %d is in a signal handler: not stopped there", (int)tid);
		release(s);
		return -EAGAIN;
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

/* A thread of pid stopped where the calls are safe; -EAGAIN when none in time. */
static int find_thread(pid_t pid, const char *libc, uint64_t restore, struct stopped *s, char *err,
		       size_t errlen)
{
	char path[64], line[PATH_MAX + 128];
	uint64_t lo = UINT64_MAX, hi = 0;
	double deadline = now_ms() + FIND_THREAD_MS;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perms[8], *name = strchr(line, '/');

		if (!name || sscanf(line, "%lx-%lx %7s", &a, &b, perms) != 3 || perms[2] != 'x')
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (!strcmp(name, libc)) {
			lo = a < lo ? a : lo;
			hi = b > hi ? b : hi;
		}
	}
	fclose(f);
	while (now_ms() < deadline) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
		d = opendir(path);
		if (!d)
			return -ESRCH;
		while ((de = readdir(d))) {
			char spath[96], buf[256];
			long nr;
			unsigned long long a1, a2;
			pid_t tid = atoi(de->d_name);
			int ret;

			if (tid <= 0)
				continue;
			/* Looked at without stopping it first: "nr arg1 arg2 ..." */
			snprintf(spath, sizeof(spath), "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
			f = fopen(spath, "re");
			if (!f)
				continue;
			if (!fgets(buf, sizeof(buf), f) ||
			    sscanf(buf, "%ld %llx %llx", &nr, &a1, &a2) != 3 || !safe_syscall(nr, a2)) {
				fclose(f);
				continue;
			}
			fclose(f);
			ret = stop_thread(pid, tid, lo, hi, restore, s, err, errlen);
			if (ret == -EAGAIN || ret == -ESRCH) {
				pr_debug("inject: thread %d: %s", (int)tid, strerror(-ret));
				continue;
			}
			closedir(d);
			return ret;
		}
		closedir(d);
		usleep(2000);
	}
	snprintf(err, errlen, "no thread of process %d was blocked, outside a signal handler, in a "
			      "system call where it can be stopped safely (waiting on a condition "
			      "variable, a read, epoll_wait, ...) within %d ms",
		 (int)pid, FIND_THREAD_MS);
	return -EAGAIN;
}

/* --- the calls ---------------------------------------------------------------------- */

struct frame {
	uint64_t rsp;       /* at the call: the return address slot */
	uint64_t uc;        /* the ucontext rt_sigreturn reads */
	uint64_t path;      /* the library path */
	uint64_t restore;   /* the trampoline */
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

/*
 * Runs func(arg1, arg2) on the frame and waits for the rt_sigreturn that
 * ends it (the thread stopped at its entry).  0, or a negative errno: the
 * thread is then released and resumes through the frame.
 */
static int call(struct stopped *s, const struct frame *fr, uint64_t func, uint64_t arg1,
		uint64_t arg2, char *err, size_t errlen)
{
	struct user_regs_struct regs = s->regs;
	double deadline = now_ms() + CALL_LIMIT_MS;
	uint64_t all = ~0ULL, sync;
	int status, ret;

	regs.rip = func;
	regs.rsp = fr->rsp;
	regs.rdi = arg1;
	regs.rsi = arg2;
	regs.rax = 0;
	regs.orig_rax = -1; /* no restart, or the rt_sigreturn skipped */
	if (write_target(s->tid, fr->rsp, &fr->restore, 8) || ptrace(PTRACE_SETREGS, s->tid, 0, &regs)) {
		snprintf(err, errlen, "setting up the call in thread %d failed", (int)s->tid);
		return -EFAULT;
	}
	/* Asynchronous signals wait; the faults a call could raise do not. */
	sync = (1ULL << (SIGSEGV - 1)) | (1ULL << (SIGBUS - 1)) | (1ULL << (SIGILL - 1)) |
	       (1ULL << (SIGFPE - 1)) | (1ULL << (SIGTRAP - 1));
	all &= ~sync;
	ptrace(PTRACE_SETSIGMASK, s->tid, sizeof(all), &all);
	if (ptrace(PTRACE_SYSCALL, s->tid, 0, 0))
		return -errno;
	for (;;) {
		struct __ptrace_syscall_info info;

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
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			snprintf(err, errlen, "process exited during the call");
			return -ESRCH;
		}
		if (WSTOPSIG(status) == (SIGTRAP | 0x80)) {
			if (ptrace(PTRACE_GET_SYSCALL_INFO, s->tid, sizeof(info), &info) > 0 &&
			    info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == 15 &&
			    info.instruction_pointer == fr->restore + sizeof(restore_rt))
				return 0;
			ptrace(PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		if (status >> 16 == PTRACE_EVENT_STOP) {
			/* A group stop (SIGSTOP to the process): finish the call first. */
			ptrace(PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		if (WSTOPSIG(status) == SIGSTOP) {
			s->pending_stop = 1; /* sent again once the thread is back */
			ptrace(PTRACE_SYSCALL, s->tid, 0, 0);
			continue;
		}
		/* A fault inside the call: unwind to the frame, which puts the thread back. */
		snprintf(err, errlen, "signal %d in thread %d during the call (at %#llx)",
			 WSTOPSIG(status), (int)s->tid, (unsigned long long)regs.rip);
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
 * The last stop, at the rt_sigreturn that ended the calls: skipped, the
 * thread gets back its registers, FPU state and signal mask from here, and
 * resumes its system call as the kernel resumes it after a stop: restarted
 * (restart_syscall for a sleep, whose restart block rt_sigreturn would have
 * dropped), or its result returned.
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
	release(s);
	ms = now_ms() - s->stopped_at;
	if (s->pending_stop)
		kill(pid, SIGSTOP);
	return ms;
}

int inject__start(pid_t pid, const char *lib, int64_t rate, struct sampler_target *st, char *err,
		  size_t errlen)
{
	char libc[PATH_MAX], path[PATH_MAX + 64];
	uint64_t libc_base, dl, rt;
	struct stopped *s;
	struct frame fr;
	int32_t status = SAMPLER_STATUS_NONE;
	double ms;
	int ret;

	memset(st, 0, sizeof(*st));
	st->pid = pid;
	snprintf(st->lib, sizeof(st->lib), "%s", lib);
	ret = inject__check(pid, lib, err, errlen);
	if (ret)
		return ret;
	ret = sampler_symbols(lib, st);
	if (ret) {
		snprintf(err, errlen, "%s: not the pprofd sampler library (%s)", lib, strerror(-ret));
		return ret;
	}
	find_libc(pid, libc, sizeof(libc));
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, libc);
	libc_entry_points(path, &dl, &rt);
	libc_base = map_base(pid, libc);
	if (!libc_base) {
		snprintf(err, errlen, "process %d: %s not found in its mappings", (int)pid, libc);
		return -ENOENT;
	}
	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		return -ENOMEM;
	ret = find_thread(pid, libc, libc_base + rt, s, err, errlen);
	if (ret)
		goto out;
	ret = write_frame(pid, s, lib, libc_base + rt, &fr);
	if (ret) {
		snprintf(err, errlen, "writing to thread %d's stack failed", (int)s->tid);
		release(s);
		goto out;
	}
	st->base = map_base(pid, lib);
	if (!st->base) {
		ret = call(s, &fr, libc_base + dl, fr.path, RTLD_NOW | RTLD_LOCAL, err, errlen);
		if (ret)
			goto out;
		st->calls++;
		st->base = map_base(pid, lib);
		if (!st->base) {
			ms = finish(pid, s);
			snprintf(err, errlen, "dlopen(%s) failed in process %d (thread stopped %.1f ms); "
					      "static TLS exhausted, or a noexec mount?",
				 lib, (int)pid, ms);
			ret = -ENOEXEC;
			goto out;
		}
	}
	ret = call(s, &fr, st->base + st->start, (uint64_t)rate, 0, err, errlen);
	if (ret)
		goto out;
	st->calls++;
	read_target(pid, st->base + st->status, &status, sizeof(status));
	ms = finish(pid, s);
	st->stop_ms = ms > st->stop_ms ? ms : st->stop_ms;
	if (status) {
		snprintf(err, errlen, "the sampler did not start in process %d: %s", (int)pid,
			 status == SAMPLER_STATUS_NONE ? "no result" : strerror(-status));
		ret = status < 0 ? status : -EIO;
		goto out;
	}
	pr_info("inject: sampler loaded into process %d at %#" PRIx64 " (thread %d stopped %.2f ms)",
		(int)pid, st->base, (int)s->tid, ms);
out:
	free(s);
	return ret;
}

int inject__stop(struct sampler_target *st, char *err, size_t errlen)
{
	char libc[PATH_MAX];
	struct stopped *s;
	struct frame fr;
	int64_t zero = 0;
	int32_t status = SAMPLER_STATUS_NONE;
	double ms;
	int ret;

	err[0] = '\0';
	if (!st->base || (kill(st->pid, 0) && errno == ESRCH))
		return 0; /* nothing loaded, or nothing left to stop */
	if (inject__check(st->pid, st->lib, err, errlen) || find_libc(st->pid, libc, sizeof(libc)))
		goto lazy;
	s = aligned_alloc(64, sizeof(*s));
	if (!s)
		goto lazy;
	char path[PATH_MAX + 64];
	uint64_t dl, rt;

	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)st->pid, libc);
	ret = libc_entry_points(path, &dl, &rt);
	if (!ret)
		ret = find_thread(st->pid, libc, map_base(st->pid, libc) + rt, s, err, errlen);
	if (!ret) {
		ret = write_frame(st->pid, s, st->lib, map_base(st->pid, libc) + rt, &fr);
		if (ret)
			release(s);
	}
	if (!ret)
		ret = call(s, &fr, st->base + st->stop, 0, 0, err, errlen);
	if (!ret) {
		st->calls++;
		read_target(st->pid, st->base + st->status, &status, sizeof(status));
		ms = finish(st->pid, s);
		st->stop_ms = ms > st->stop_ms ? ms : st->stop_ms;
	}
	free(s);
	if (!ret && !status) {
		pr_info("inject: sampler stopped in process %d (thread stopped %.2f ms)",
			(int)st->pid, ms);
		return 0;
	}
lazy:
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
