// SPDX-License-Identifier: MIT
/*
 * sampler.c - libpprofd-sampler.so: the heap sampler pprofd loads into a
 * running target (daemon/inject.c) for heap.mode "inject".
 *
 * pprofd_sampler_start() rewrites the GOT slots (R_X86_64_JUMP_SLOT and
 * R_X86_64_GLOB_DAT relocations) through which every loaded object calls the
 * allocator (malloc, calloc, realloc, reallocarray, free, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, and C++ new/delete when the
 * allocator defines them rather than libstdc++, whose operators call malloc
 * and free through slots rewritten already) and dlopen: objects dlopen'ed
 * later are rewritten when that dlopen returns (see hook_dlopen), or at the
 * next sampled call (the loader's count of objects added has moved: a
 * dlopen from libc itself, NSS say).  Each thread counts down an exponential
 * number of bytes of mean pprofd_sampler_rate, as Go does; the allocation
 * that reaches zero is sampled: its block goes into a set of sampled
 * addresses and pprofd_sampled_alloc() is called, where pprofd's uprobe
 * takes the stack.  A free looks its block up in that set (one cache line;
 * a per-bucket count skips even that for most blocks) and only a sampled
 * block calls pprofd_sampled_free().  Unsampled calls never trap.
 *
 * Nothing here needs the daemon: without it the probe points are empty
 * calls.  The set has no lock (atomic compare-and-swap per slot), so a fork
 * at any moment leaves a consistent copy; the slot rewriting is serialised
 * by a lock that pthread_atfork resets in the child.  pprofd_sampler_stop()
 * puts every slot back (a rate of 0 makes the next sampled call do it) and
 * leaves the library mapped and inert.
 *
 * The library keeps no header in the blocks: a block allocated before start
 * or after stop is freed by the same allocator whoever frees it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sampler.h"

#define EXPORT __attribute__((visibility("default")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Initial-exec TLS: a dlopen'ed library's dynamic TLS would be allocated with
 * malloc on first use, from inside the hooks. */
#define THREAD_LOCAL __thread __attribute__((tls_model("initial-exec")))

EXPORT volatile int64_t pprofd_sampler_rate;
EXPORT struct sampler_counters pprofd_sampler_counters;
EXPORT volatile int32_t pprofd_sampler_status = SAMPLER_STATUS_NONE;

/* --- the probe points ------------------------------------------------------- */

/* pprofd's uprobes attach here: the arguments are in the registers of the
 * ABI, the caller's stack above.  Not inlined, not merged, not elided. */
EXPORT __attribute__((noinline, noclone)) void pprofd_sampled_alloc(void *block, size_t size)
{
	__asm__ volatile("" : : "r"(block), "r"(size) : "memory");
}

EXPORT __attribute__((noinline, noclone)) void pprofd_sampled_free(void *block)
{
	__asm__ volatile("" : : "r"(block) : "memory");
}

/* --- per-thread sampling ---------------------------------------------------------- */

struct sampler_thread {
	int64_t countdown; /* bytes to the next sample */
	uint64_t rng;      /* xorshift state, 0: not seeded */
	uint64_t start;    /* the start its countdown was drawn in */
	uint64_t expired;  /* countdowns expired */
};

/*
 * Looking for objects loaded since (patch_new_objects) takes the loader's
 * lock: at most once per LOOK_EVERY samples of a thread at a high rate,
 * at every sample from LOOK_ALWAYS_RATE bytes (a few per MiB allocated).
 */
#define LOOK_EVERY 64
#define LOOK_ALWAYS_RATE 65536

/* Counts the starts: a thread's countdown drawn at an earlier rate is redrawn. */
static uint64_t generation;

static THREAD_LOCAL struct sampler_thread me;

/* ln(u) for u in (0, 1], to ~1e-6: the library links nothing but libc. */
static double ln(double u)
{
	union {
		double d;
		uint64_t u;
	} x = { .d = u };
	int e = (int)((x.u >> 52) & 0x7ff) - 1023;
	double m, z, z2;

	x.u = (x.u & ((1ULL << 52) - 1)) | (1023ULL << 52); /* m in [1, 2) */
	m = x.d;
	if (m > 1.41421356237) { /* m in [sqrt 2 / 2, sqrt 2): z small */
		m /= 2;
		e++;
	}
	z = (m - 1) / (m + 1);
	z2 = z * z;
	return e * 0.69314718055994531 +
	       2 * z * (1 + z2 * (1.0 / 3 + z2 * (1.0 / 5 + z2 * (1.0 / 7 + z2 / 9))));
}

/* Bytes to the next sample: exponential of mean rate (>= 1); 0 at rate 1. */
static int64_t draw(struct sampler_thread *t, int64_t rate)
{
	uint64_t x = t->rng;
	double u;

	if (rate <= 1)
		return 0;
	if (!x)
		x = ((uint64_t)(uintptr_t)t * 0x9e3779b97f4a7c15ULL) ^ (uint64_t)gettid() ^
		    0x2545f4914f6cdd1dULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	u = ((x >> 11) + 1) * (1.0 / 9007199254740992.0); /* (0, 1] */
	return (int64_t)(-ln(u) * (double)rate) + 1;
}

/* --- the set of sampled blocks ----------------------------------------------------- */

/* SAMPLER_BUCKETS cache lines of addresses, and how many each holds. */
static uintptr_t (*buckets)[SAMPLER_BUCKET_SLOTS];
static uint8_t *bucket_count;

static inline uint32_t bucket_of(const void *p)
{
	return (uint32_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ULL >> (64 - SAMPLER_BUCKET_BITS));
}

/* A block went into the set since it was last emptied. */
static bool set_used;

static bool set_insert(void *p)
{
	uint32_t b = bucket_of(p);

	if (unlikely(!__atomic_load_n(&set_used, __ATOMIC_RELAXED)))
		__atomic_store_n(&set_used, true, __ATOMIC_RELAXED);
	__atomic_fetch_add(&bucket_count[b], 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < SAMPLER_BUCKET_SLOTS; i++) {
		uintptr_t empty = 0;

		if (__atomic_compare_exchange_n(&buckets[b][i], &empty, (uintptr_t)p, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			return true;
	}
	__atomic_fetch_sub(&bucket_count[b], 1, __ATOMIC_SEQ_CST);
	return false;
}

/* True when p was sampled (and is now out of the set). */
static inline bool set_remove(void *p)
{
	uint32_t b = bucket_of(p);

	if (likely(!__atomic_load_n(&bucket_count[b], __ATOMIC_RELAXED)))
		return false;
	for (int i = 0; i < SAMPLER_BUCKET_SLOTS; i++) {
		uintptr_t want = (uintptr_t)p;

		if (__atomic_load_n(&buckets[b][i], __ATOMIC_RELAXED) != want)
			continue;
		if (__atomic_compare_exchange_n(&buckets[b][i], &want, 0, false, __ATOMIC_SEQ_CST,
						__ATOMIC_RELAXED)) {
			__atomic_fetch_sub(&bucket_count[b], 1, __ATOMIC_SEQ_CST);
			return true;
		}
	}
	return false;
}

static void count(uint64_t *c, int64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

static void report_alloc(void *p, size_t size)
{
	if (!set_insert(p))
		count(&pprofd_sampler_counters.untracked, 1);
	count(&pprofd_sampler_counters.sampled, 1);
	pprofd_sampled_alloc(p, size);
}

static inline void forget(void *p)
{
	if (p && unlikely(set_remove(p))) {
		count(&pprofd_sampler_counters.freed, 1);
		pprofd_sampled_free(p);
	}
}

/* --- the hooks ------------------------------------------------------------------------ */

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void *(*real_reallocarray)(void *, size_t, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static void *(*real_new)(size_t);
static void *(*real_new_array)(size_t);
static void *(*real_new_nothrow)(size_t, const void *);
static void *(*real_new_array_nothrow)(size_t, const void *);
static void (*real_delete)(void *);
static void (*real_delete_array)(void *);
static void (*real_delete_sized)(void *, size_t);
static void (*real_delete_array_sized)(void *, size_t);
/* Named from the asm of hook_dlopen: not static. */
__attribute__((visibility("hidden"))) void *(*pprofd_real_dlopen)(const char *, int);

static void restore_all(bool wait);
static void patch_new_objects(void);
static void patch_now(void);

/* A dlopen by a path the sampler did not see the end of: look at the next sample. */
static volatile int dlopen_seen;

/*
 * The slow path of every allocation hook: the countdown reached zero (or
 * the thread's first call).  True when this allocation is sampled.
 */
static __attribute__((noinline)) bool countdown_expired(struct sampler_thread *t, size_t size)
{
	int64_t rate = pprofd_sampler_rate;
	uint64_t gen = __atomic_load_n(&generation, __ATOMIC_RELAXED);
	bool first = t->start != gen;

	if (unlikely(rate <= 0)) {
		/* The daemon asked for a stop it could not call. */
		restore_all(false);
		t->countdown = 0;
		return false;
	}
	if (rate >= LOOK_ALWAYS_RATE || first || dlopen_seen || ++t->expired % LOOK_EVERY == 0)
		patch_new_objects();
	t->start = gen;
	t->countdown = draw(t, rate);
	if (first && rate > 1) {
		t->countdown -= (int64_t)size;
		return t->countdown <= 0;
	}
	return size != 0;
}

/* The fast path: a thread-local subtraction and a compare. */
static inline bool sample(size_t size)
{
	struct sampler_thread *t = &me;

	t->countdown -= (int64_t)size;
	if (likely(t->countdown > 0 && t->start == generation))
		return false;
	return countdown_expired(t, size);
}

static void *hook_malloc(size_t size)
{
	void *p = real_malloc(size);

	if (unlikely(sample(size)) && p)
		report_alloc(p, size);
	return p;
}

static void *hook_calloc(size_t n, size_t size)
{
	void *p = real_calloc(n, size);
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return p;
	if (unlikely(sample(bytes)) && p)
		report_alloc(p, bytes);
	return p;
}

static void *hook_realloc(void *old, size_t size)
{
	void *p;

	/* The old block is gone (moved, resized or freed): before the call,
	 * so that its address, once reused by another thread, is not seen
	 * allocated before it is seen freed. */
	forget(old);
	p = real_realloc(old, size);
	if (size && unlikely(sample(size)) && p)
		report_alloc(p, size);
	return p;
}

static void *hook_reallocarray(void *old, size_t n, size_t size)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(n, size, &bytes))
		return real_reallocarray(old, n, size); /* ENOMEM, old kept */
	forget(old);
	p = real_reallocarray(old, n, size);
	if (bytes && unlikely(sample(bytes)) && p)
		report_alloc(p, bytes);
	return p;
}

static void hook_free(void *p)
{
	forget(p);
	real_free(p);
}

static int hook_posix_memalign(void **out, size_t align, size_t size)
{
	int ret = real_posix_memalign(out, align, size);

	if (unlikely(sample(size)) && !ret)
		report_alloc(*out, size);
	return ret;
}

#define HOOK_ALIGNED(name)                                       \
	static void *hook_##name(size_t align, size_t size)      \
	{                                                        \
		void *p = real_##name(align, size);              \
                                                                 \
		if (unlikely(sample(size)) && p)                 \
			report_alloc(p, size);                   \
		return p;                                        \
	}
HOOK_ALIGNED(aligned_alloc)
HOOK_ALIGNED(memalign)

#define HOOK_SIZE(name)                                          \
	static void *hook_##name(size_t size)                    \
	{                                                        \
		void *p = real_##name(size);                     \
                                                                 \
		if (unlikely(sample(size)) && p)                 \
			report_alloc(p, size);                   \
		return p;                                        \
	}
HOOK_SIZE(valloc)
HOOK_SIZE(pvalloc)
HOOK_SIZE(new)
HOOK_SIZE(new_array)

#define HOOK_NOTHROW(name)                                            \
	static void *hook_##name(size_t size, const void *tag)        \
	{                                                             \
		void *p = real_##name(size, tag);                     \
                                                                      \
		if (unlikely(sample(size)) && p)                      \
			report_alloc(p, size);                        \
		return p;                                             \
	}
HOOK_NOTHROW(new_nothrow)
HOOK_NOTHROW(new_array_nothrow)

static void hook_delete(void *p)
{
	forget(p);
	real_delete(p);
}

static void hook_delete_array(void *p)
{
	forget(p);
	real_delete_array(p);
}

static void hook_delete_sized(void *p, size_t size)
{
	forget(p);
	real_delete_sized(p, size);
}

static void hook_delete_array_sized(void *p, size_t size)
{
	forget(p);
	real_delete_array_sized(p, size);
}


/*
 * dlopen looks at its caller's return address: the caller's namespace,
 * $ORIGIN and RUNPATH decide what a name without a slash loads.  The hook
 * keeps that address: a file name with a slash and no '$' (where the caller
 * changes nothing) is loaded by hook_dlopen_path, which rewrites the new
 * objects' slots before it returns; any other is a jump to the real dlopen
 * (the caller's own call), its objects rewritten at the next sample.
 */
__attribute__((used, visibility("hidden"))) int pprofd_dlopen_by_path(const char *file)
{
	if (file && strchr(file, '/') && !strchr(file, '$'))
		return 1;
	dlopen_seen = 1;
	return 0;
}

__attribute__((used, visibility("hidden"))) void *pprofd_dlopen_path(const char *file, int mode)
{
	void *h = pprofd_real_dlopen(file, mode);

	if (h)
		patch_now();
	return h;
}

void *hook_dlopen(const char *file, int mode);
__asm__(".text\n"
	".globl hook_dlopen\n"
	".hidden hook_dlopen\n"
	".type hook_dlopen, @function\n"
	"hook_dlopen:\n"
	"	.cfi_startproc\n"
	"	push %rdi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	push %rsi\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	sub $8, %rsp\n"
	"	.cfi_adjust_cfa_offset 8\n"
	"	call pprofd_dlopen_by_path\n"
	"	add $8, %rsp\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	pop %rsi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	pop %rdi\n"
	"	.cfi_adjust_cfa_offset -8\n"
	"	test %eax, %eax\n"
	"	jnz pprofd_dlopen_path\n"
	"	jmp *pprofd_real_dlopen(%rip)\n"
	"	.cfi_endproc\n"
	".size hook_dlopen, .-hook_dlopen\n");

/* --- rewriting the slots ---------------------------------------------------------------- */

struct hook {
	const char *name;
	void *hook;
	void **real;
	bool cxx; /* hooked only when libstdc++ does not define it */
};

#define HOOK(sym, fn, cxx) { sym, (void *)hook_##fn, (void **)&real_##fn, cxx }
#define real_dlopen pprofd_real_dlopen

static const struct hook hooks[] = {
	HOOK("malloc", malloc, false),
	HOOK("calloc", calloc, false),
	HOOK("realloc", realloc, false),
	HOOK("reallocarray", reallocarray, false),
	HOOK("free", free, false),
	HOOK("posix_memalign", posix_memalign, false),
	HOOK("aligned_alloc", aligned_alloc, false),
	HOOK("memalign", memalign, false),
	HOOK("valloc", valloc, false),
	HOOK("pvalloc", pvalloc, false),
	HOOK("dlopen", dlopen, false),
	HOOK("_Znwm", new, true),
	HOOK("_Znam", new_array, true),
	HOOK("_ZnwmRKSt9nothrow_t", new_nothrow, true),
	HOOK("_ZnamRKSt9nothrow_t", new_array_nothrow, true),
	HOOK("_ZdlPv", delete, true),
	HOOK("_ZdaPv", delete_array, true),
	HOOK("_ZdlPvm", delete_sized, true),
	HOOK("_ZdaPvm", delete_array_sized, true),
};

#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))

/* Which hooks are on (their real function found, and not libstdc++'s). */
static bool hook_on[NHOOKS];

/* A rewritten slot and what it held: put back as it was. */
struct saved_slot {
	void **slot;
	void *old;
};

#define MAX_SLOTS 8192
static struct saved_slot *saved; /* MAX_SLOTS, mmap'ed */
static size_t nsaved;

static pthread_mutex_t patch_lock = PTHREAD_MUTEX_INITIALIZER;
static bool active;
static uintptr_t self_base; /* this library's load address: never rewritten */

static void *saved_old(void **slot)
{
	for (size_t i = 0; i < nsaved; i++)
		if (saved[i].slot == slot)
			return saved[i].old;
	return NULL;
}

static void forget_saved(void **slot)
{
	for (size_t i = 0; i < nsaved; i++)
		if (saved[i].slot == slot) {
			saved[i] = saved[--nsaved];
			return;
		}
}

/* The dynamic section's pointers are relocated by ld.so, except in the vdso. */
static uintptr_t dyn_ptr(const struct dl_phdr_info *info, uintptr_t p)
{
	return p < info->dlpi_addr ? p + info->dlpi_addr : p;
}

/* What a callback over the objects does to a slot of a hooked name. */
enum slot_op { SLOT_PATCH, SLOT_RESTORE };

struct walk {
	enum slot_op op;
	size_t slots, objects;
};

/* Is addr inside one of the object's loaded segments? */
static bool in_object(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && addr >= start && addr < start + ph->p_memsz)
			return true;
	}
	return false;
}

static int walk_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	const ElfW(Dyn) *dyn = NULL;
	const ElfW(Sym) *symtab = NULL;
	const char *strtab = NULL;
	const ElfW(Rela) *rel[2] = { NULL, NULL };
	size_t relsz[2] = { 0, 0 };
	uintptr_t relro = 0, relro_end = 0;
	struct walk *w = arg;
	struct {
		void **slot;
		void *old, *new;
	} todo[NHOOKS * 4];
	size_t ntodo = 0;
	long pltrel = DT_RELA;

	(void)size;
	if (info->dlpi_addr == self_base || !info->dlpi_name)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + ph->p_vaddr);
		else if (ph->p_type == PT_GNU_RELRO) {
			relro = info->dlpi_addr + ph->p_vaddr;
			relro_end = relro + ph->p_memsz;
		}
	}
	if (!dyn)
		return 0;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			symtab = (const ElfW(Sym) *)dyn_ptr(info, dyn->d_un.d_ptr);
			break;
		case DT_STRTAB:
			strtab = (const char *)dyn_ptr(info, dyn->d_un.d_ptr);
			break;
		case DT_JMPREL:
			rel[0] = (const ElfW(Rela) *)dyn_ptr(info, dyn->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			relsz[0] = dyn->d_un.d_val;
			break;
		case DT_PLTREL:
			pltrel = dyn->d_un.d_val;
			break;
		case DT_RELA:
			rel[1] = (const ElfW(Rela) *)dyn_ptr(info, dyn->d_un.d_ptr);
			break;
		case DT_RELASZ:
			relsz[1] = dyn->d_un.d_val;
			break;
		}
	}
	if (!symtab || !strtab || pltrel != DT_RELA)
		return 0;
	for (int r = 0; r < 2; r++) {
		for (size_t i = 0; rel[r] && i < relsz[r] / sizeof(ElfW(Rela)); i++) {
			const ElfW(Rela) *rl = &rel[r][i];
			uint32_t type = ELF64_R_TYPE(rl->r_info);
			const ElfW(Sym) *sym;
			const char *name;
			void **slot;

			if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
				continue;
			sym = &symtab[ELF64_R_SYM(rl->r_info)];
			if (!sym->st_name)
				continue;
			name = strtab + sym->st_name;
			for (size_t k = 0; k < NHOOKS; k++) {
				void *cur;

				if (!hook_on[k] || strcmp(name, hooks[k].name))
					continue;
				slot = (void **)(info->dlpi_addr + rl->r_offset);
				cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
				if (w->op == SLOT_PATCH) {
					/*
					 * Only a slot bound to the allocator everyone uses, or
					 * not bound yet (lazy binding: its own PLT) in an
					 * object that does not define the name itself: an
					 * object bound to an allocator of its own (DEEPBIND)
					 * keeps it.
					 */
					if (cur == hooks[k].hook)
						break;
					if (cur != *hooks[k].real &&
					    !(in_object(info, (uintptr_t)cur) &&
					      sym->st_shndx == SHN_UNDEF))
						break;
					if (nsaved + ntodo >= MAX_SLOTS || ntodo == NHOOKS * 4)
						break;
					todo[ntodo].slot = slot;
					todo[ntodo].old = cur;
					todo[ntodo++].new = hooks[k].hook;
				} else if (cur == hooks[k].hook && ntodo < NHOOKS * 4) {
					void *old = saved_old(slot);

					todo[ntodo].slot = slot;
					todo[ntodo].old = cur;
					todo[ntodo++].new = old ? old : *hooks[k].real;
				}
				break;
			}
		}
	}
	if (!ntodo)
		return 0;
	/* RELRO: read-only since relocation; writable for the stores only. */
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	bool in_relro = false;

	for (size_t i = 0; i < ntodo; i++) {
		uintptr_t a = (uintptr_t)todo[i].slot;

		if (a >= relro && a < relro_end) {
			in_relro = true;
			lo = a < lo ? a : lo;
			hi = a + sizeof(void *) > hi ? a + sizeof(void *) : hi;
		}
	}
	if (in_relro) {
		long page = sysconf(_SC_PAGESIZE);

		lo &= ~(uintptr_t)(page - 1);
		hi = (hi + page - 1) & ~(uintptr_t)(page - 1);
		if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE))
			return 0; /* this object keeps its slots */
	}
	for (size_t i = 0; i < ntodo; i++) {
		if (w->op == SLOT_PATCH) {
			/* A slot saved for an object unloaded since, at the same address,
			 * is this object's now. */
			forget_saved(todo[i].slot);
			saved[nsaved].slot = todo[i].slot;
			saved[nsaved++].old = todo[i].old;
		} else {
			forget_saved(todo[i].slot);
		}
		__atomic_store_n(todo[i].slot, todo[i].new, __ATOMIC_RELEASE);
	}
	if (in_relro)
		mprotect((void *)lo, hi - lo, PROT_READ);
	w->slots += ntodo;
	w->objects++;
	return 0;
}

/* With patch_lock held. */
static struct walk walk_all(enum slot_op op)
{
	struct walk w = { .op = op };

	dl_iterate_phdr(walk_object, &w);
	return w;
}

/* Objects the loader added so far (dlpi_adds): a change means a dlopen. */
static unsigned long long known_adds;

static int read_adds(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(unsigned long long *)arg = info->dlpi_adds;
	return 1;
}

/*
 * From the sampled path: objects dlopen'ed since the last look get their
 * slots rewritten.  Never waits for the lock (a hook may run inside the
 * loader or a start).
 */
static void patch_new_objects(void)
{
	unsigned long long adds = 0;
	struct walk w;

	dl_iterate_phdr(read_adds, &adds);
	if (adds == __atomic_load_n(&known_adds, __ATOMIC_RELAXED))
		return;
	if (pthread_mutex_trylock(&patch_lock))
		return;
	dlopen_seen = 0;
	if (active) {
		w = walk_all(SLOT_PATCH);
		pprofd_sampler_counters.slots += w.slots;
		pprofd_sampler_counters.objects += w.objects;
	}
	__atomic_store_n(&known_adds, adds, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&patch_lock);
}

/* After a dlopen the hook saw through: waits for the lock. */
static void patch_now(void)
{
	unsigned long long adds = 0;
	struct walk w;

	pthread_mutex_lock(&patch_lock);
	if (active) {
		dl_iterate_phdr(read_adds, &adds);
		w = walk_all(SLOT_PATCH);
		pprofd_sampler_counters.slots += w.slots;
		pprofd_sampler_counters.objects += w.objects;
		__atomic_store_n(&known_adds, adds, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&patch_lock);
}

static void restore_locked(void)
{
	if (!active)
		return;
	walk_all(SLOT_RESTORE);
	/* Slots of objects unloaded since: gone with them. */
	nsaved = 0;
	active = false;
	pprofd_sampler_counters.slots = 0;
	pprofd_sampler_counters.objects = 0;
	count(&pprofd_sampler_counters.stops, 1);
}

static void restore_all(bool wait)
{
	if (wait)
		pthread_mutex_lock(&patch_lock);
	else if (pthread_mutex_trylock(&patch_lock))
		return;
	restore_locked();
	pthread_mutex_unlock(&patch_lock);
}

/* A fork while a thread rewrote slots: the child's lock is free again. */
static void atfork_prepare(void)
{
	pthread_mutex_lock(&patch_lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&patch_lock);
}

static void atfork_child(void)
{
	pthread_mutex_init(&patch_lock, NULL);
}

/* The allocator everyone uses: the first definition in the global scope. */
static int find_real(void)
{
	void *stdcxx_new = NULL;
	Dl_info di;

	for (size_t k = 0; k < NHOOKS; k++) {
		*hooks[k].real = dlsym(RTLD_DEFAULT, hooks[k].name);
		hook_on[k] = *hooks[k].real != NULL;
	}
	if (!real_malloc || !real_free || !real_realloc || !real_calloc)
		return -ENOENT;
	/* libstdc++'s operators call malloc and free through slots of their own. */
	if (real_new && dladdr((void *)real_new, &di) && di.dli_fname &&
	    strstr(di.dli_fname, "libstdc++"))
		stdcxx_new = real_new;
	for (size_t k = 0; k < NHOOKS; k++)
		if (hooks[k].cxx && stdcxx_new)
			hook_on[k] = false;
	return 0;
}

/*
 * The call's end, for the daemon: a call from it returns here with rsp at
 * the signal frame it wrote; tgkill(%r12, %r13, %r14) sends the calling
 * thread the marker signal (which stops it while traced, and which the
 * target ignores anyway), rt_sigreturn puts the thread back.  The same
 * bytes as the daemon's own page (page_code in daemon/inject.c, from
 * "done"): it compares them before using this copy.
 */
__asm__(".text\n"
	".globl pprofd_sampler_done\n"
	".type pprofd_sampler_done, @function\n"
	"pprofd_sampler_done:\n"
	"	mov %r12d, %edi\n"
	"	mov %r13d, %esi\n"
	"	mov %r14d, %edx\n"
	"	mov $234, %eax\n" /* tgkill */
	"	syscall\n"
	"	mov $15, %eax\n" /* rt_sigreturn */
	"	syscall\n"
	".size pprofd_sampler_done, .-pprofd_sampler_done\n");

/* The daemon's page of the first load: unmapped once nothing runs in it. */
static uintptr_t daemon_page;

static void unmap_daemon_page(uintptr_t caller_page)
{
	if (caller_page) {
		daemon_page = caller_page; /* returns into it: later */
	} else if (daemon_page) {
		munmap((void *)daemon_page, 4096);
		daemon_page = 0;
	}
}

EXPORT int pprofd_sampler_start(int64_t rate, uintptr_t page)
{
	static bool once;
	Dl_info di;
	struct walk w;
	int ret = 0;

	if (rate < 1)
		return pprofd_sampler_status = -EINVAL;
	pthread_mutex_lock(&patch_lock);
	unmap_daemon_page(page);
	if (!once) {
		buckets = mmap(NULL, SAMPLER_BUCKETS * sizeof(*buckets) + SAMPLER_BUCKETS +
					     MAX_SLOTS * sizeof(*saved),
			       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		if (buckets == MAP_FAILED) {
			buckets = NULL;
			ret = -ENOMEM;
			goto out;
		}
		bucket_count = (uint8_t *)(buckets + SAMPLER_BUCKETS);
		saved = (struct saved_slot *)(bucket_count + SAMPLER_BUCKETS);
		if (!dladdr((void *)pprofd_sampler_start, &di)) {
			ret = -ENOENT;
			goto out;
		}
		self_base = (uintptr_t)di.dli_fbase;
		ret = find_real();
		if (ret)
			goto out;
		pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
		once = true;
	}
	__atomic_store_n(&pprofd_sampler_rate, rate, __ATOMIC_RELEASE);
	__atomic_fetch_add(&generation, 1, __ATOMIC_RELEASE);
	if (!active) {
		/* Blocks sampled in an earlier run: their frees went unseen.  Zero
		 * pages again, faulted in as the set fills (a memset of its 4 MiB
		 * is milliseconds of the stopped thread's time). */
		if (set_used)
			madvise(buckets, SAMPLER_BUCKETS * sizeof(*buckets) + SAMPLER_BUCKETS,
				MADV_DONTNEED);
		set_used = false;
		active = true;
	}
	dl_iterate_phdr(read_adds, &known_adds);
	w = walk_all(SLOT_PATCH);
	pprofd_sampler_counters.slots += w.slots;
	pprofd_sampler_counters.objects += w.objects;
	count(&pprofd_sampler_counters.starts, 1);
out:
	pthread_mutex_unlock(&patch_lock);
	return pprofd_sampler_status = ret;
}

EXPORT int pprofd_sampler_stop(void)
{
	pthread_mutex_lock(&patch_lock);
	unmap_daemon_page(0);
	__atomic_store_n(&pprofd_sampler_rate, 0, __ATOMIC_RELEASE);
	restore_locked();
	pthread_mutex_unlock(&patch_lock);
	return pprofd_sampler_status = 0;
}
