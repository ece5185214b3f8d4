// SPDX-License-Identifier: MIT
/*
 * alloc.c - see alloc.h.
 *
 * The probes (bpf/alloc.bpf.h) send one event per sampled allocation (its
 * address, size and user stack at the return) and one per sampled block
 * freed.  The tracker unwinds the stack, adds the unsampled values to the
 * stack table (alloc_objects, alloc_space, inuse_objects, inuse_space) and
 * keeps the block in its table of live blocks; a free subtracts the block's
 * inuse values from its stack.  Both tables are bounded by ALLOC_MAX_LIVE
 * and by the stacks seen, whatever the allocation rate.
 *
 * Attaching: one uprobe session on the whole allocation family where the
 * kernel has them (the return probe runs for sampled calls only), else an
 * entry uprobe and a uretprobe per function; an entry uprobe on each free.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "alloc.h"
#include "pprofd.h" /* before the skeletons: their rodata has its types */
#include "alloc.skel.h"
#include "alloc_events.h"
#include "alloc_session.skel.h"
#include "bpfring.h"
#include "collector.h"
#include "collectors.h"
#include "config.h"
#include "gopclntab.h"
#include "inject.h"
#include "log.h"
#include "profile.h"
#include "sampler.h"
#include "stacks.h"
#include "unwind.h"

/* Linux 6.13 (uapi enum bpf_attach_type); Debian 12's headers predate it. */
#define ATTACH_TRACE_UPROBE_SESSION 57

/*
 * What one probe hit costs the target when calibrate() could not measure it
 * here: the figures of the project's reference machine (a uprobe ~2.4 us, a
 * uretprobe ~1.1 us more).
 */
#define DEFAULT_ENTRY_COST_NS 2400.0
#define DEFAULT_RETURN_COST_NS 1100.0

/* The governor looks at the target every GOVERNOR_PERIOD_S seconds and
 * pauses after GOVERNOR_STRIKES periods in a row over the budget. */
#define GOVERNOR_PERIOD_S 1
#define GOVERNOR_STRIKES 3

/* Objects loaded later are looked for every SCAN_PERIOD_TICKS periods. */
#define SCAN_PERIOD_TICKS 2

/* Objects defining malloc probed at most; objects of the target looked at. */
#define MAX_OBJECTS 16
#define MAX_EXAMINED 1024

static const struct sample_type heap_sample_types[] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },
};

/* The allocation family, and the C++ operators an allocator may define. */
static const struct {
	const char *name;
	enum alloc_func func;
} family[] = {
	{ "malloc", ALLOC_FUNC_MALLOC },
	{ "calloc", ALLOC_FUNC_CALLOC },
	{ "realloc", ALLOC_FUNC_REALLOC },
	{ "reallocarray", ALLOC_FUNC_REALLOCARRAY },
	{ "free", ALLOC_FUNC_FREE },
	{ "posix_memalign", ALLOC_FUNC_POSIX_MEMALIGN },
	{ "aligned_alloc", ALLOC_FUNC_MEMALIGN },
	{ "memalign", ALLOC_FUNC_MEMALIGN },
	{ "valloc", ALLOC_FUNC_MALLOC },
	{ "pvalloc", ALLOC_FUNC_MALLOC },
	/*
	 * libstdc++'s operator new and delete call malloc and free: with libc's
	 * allocator they are covered there.  Allocators that replace them
	 * (tcmalloc, jemalloc, mimalloc) define them next to malloc.
	 */
	{ "_Znwm", ALLOC_FUNC_MALLOC },
	{ "_Znam", ALLOC_FUNC_MALLOC },
	{ "_ZnwmRKSt9nothrow_t", ALLOC_FUNC_MALLOC },
	{ "_ZnamRKSt9nothrow_t", ALLOC_FUNC_MALLOC },
	{ "_ZnwmSt11align_val_t", ALLOC_FUNC_MALLOC },
	{ "_ZnamSt11align_val_t", ALLOC_FUNC_MALLOC },
	{ "_ZdlPv", ALLOC_FUNC_FREE },
	{ "_ZdaPv", ALLOC_FUNC_FREE },
	{ "_ZdlPvm", ALLOC_FUNC_FREE },
	{ "_ZdaPvm", ALLOC_FUNC_FREE },
	{ "_ZdlPvSt11align_val_t", ALLOC_FUNC_FREE },
	{ "_ZdaPvSt11align_val_t", ALLOC_FUNC_FREE },
	{ "_ZdlPvmSt11align_val_t", ALLOC_FUNC_FREE },
	{ "_ZdaPvmSt11align_val_t", ALLOC_FUNC_FREE },
};

#define NFAMILY (sizeof(family) / sizeof(family[0]))

struct probe_point {
	uint64_t offset; /* in the file */
	enum alloc_func func;
	const char *name;
};

/* A stack seen by the tracker, with its raw (sampled) counts for ?debug=1. */
struct interned_stack {
	uint64_t hash;
	int64_t alloc_objs, alloc_bytes, inuse_objs, inuse_bytes; /* sampled */
	struct stack s; /* tid 0, thread "": heap stacks have no thread */
};

/* A sampled block not yet freed. */
struct live_block {
	uint64_t addr; /* 0: empty slot */
	uint32_t stack;
	uint32_t pad;
	int64_t size;          /* requested bytes (sampled) */
	int64_t objs, bytes;   /* unsampled values it added to inuse */
};

#define LIVE_SLOTS (2 * ALLOC_MAX_LIVE) /* a power of two, half full at most */

struct alloc_tracker {
	unsigned refs;
	pid_t pid;
	enum heap_mode mode;
	/* heap.mode inject: the sampler loaded into the target, where its code is. */
	bool injected;
	struct sampler_target sampler;
	uint64_t sampler_lo, sampler_hi;
	char inject_refused[512]; /* why inject fell back to uprobes */
	struct unwinder *uw;
	int64_t rate;
	int max_overhead; /* percent; 0: no governor */
	time_t started;

	/* One of the two objects is loaded. */
	struct alloc_bpf *skel;
	struct alloc_session_bpf *sskel;
	bool session;
	bool no_session; /* the session link was refused: do not try again */
	int session_fds[MAX_OBJECTS]; /* the session links, one per object probed */
	size_t nsession;
	struct bpf_link **links;
	size_t nlinks, cap_links;
	int counters_fd;

	struct ring_watch ring;
	struct event *timer;
	struct stack_table *stacks;

	char allocator[PATH_MAX]; /* the object probed, as the target sees it */
	char probed[1024];        /* the function names */
	char also[1024];          /* objects loaded later that define malloc, probed too */
	size_t nobjects;          /* objects probed */
	char **examined;          /* objects of the target looked at (paths) */
	size_t nexamined;
	unsigned ticks;
	size_t nprobed;

	struct interned_stack **interned;
	size_t ninterned, cap_interned;
	uint32_t *index; /* open addressing: interned id + 1, 0 empty */
	size_t index_slots;

	struct live_block *live;
	size_t nlive;

	/* Counters of the daemon's side. */
	uint64_t allocs, frees, unknown_frees, live_overflow, oom;

	/* Governor. */
	double entry_cost_ns, return_cost_ns;
	bool calibrated;
	uint64_t last_hits[3];
	uint64_t last_cpu_ns;
	double overhead_percent;
	int strikes;
	bool paused;
	char paused_reason[1024];
	char paused_text[1100]; /* the collectors' unavailable reason once paused */
	struct collector *collectors[2]; /* heap and allocs: running while tracking */
	size_t ncollectors;
	char comment[PATH_MAX + 1024]; /* allocator path and inject_refused included */
};

struct alloc_collector {
	struct collector c;
	struct alloc_tracker *t;
};

/* The daemon follows one target: the two collectors share one tracker. */
static struct alloc_tracker *shared_tracker;

/* --- sampling arithmetic -------------------------------------------------- */

void alloc__unsample(int64_t rate, int64_t count, int64_t size, int64_t *objs, int64_t *bytes)
{
	double avg, scale;

	if (count == 0 || size == 0) {
		*objs = 0;
		*bytes = 0;
		return;
	}
	if (rate <= 1) {
		*objs = count;
		*bytes = size;
		return;
	}
	avg = (double)size / count;
	scale = 1 / (1 - exp(-avg / rate));
	*objs = (int64_t)(count * scale);
	*bytes = (int64_t)(size * scale);
}

size_t alloc__ring_bytes(int64_t sample_rate)
{
	/* Twice the ring for half the rate: the smallest one from this rate up. */
	int64_t r = (int64_t)ALLOC_RING_RATE * (ALLOC_RING_BYTES / ALLOC_RING_MIN_BYTES);
	size_t bytes = ALLOC_RING_MIN_BYTES;

	for (; sample_rate < r && bytes < ALLOC_RING_MAX_BYTES; r /= 2)
		bytes *= 2;
	return bytes;
}

void alloc__exponential_draws(uint64_t mean, uint64_t seed, uint64_t *out, size_t n)
{
	uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i < n; i++) {
		double u;

		if (mean <= 1) {
			out[i] = 0;
			continue;
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* u in (0, 1]: 53 random bits, never 0. */
		u = ((x >> 11) + 1) * (1.0 / 9007199254740992.0);
		out[i] = (uint64_t)(-log(u) * (double)mean) + 1;
	}
}

/* --- interned stacks and live blocks ---------------------------------------- */

static uint64_t hash_pcs(const uint64_t *pcs, uint32_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ n;

	for (uint32_t i = 0; i < n; i++) {
		h ^= pcs[i];
		h *= 0x100000001b3ULL;
		h ^= h >> 29;
	}
	return h;
}

static int index_grow(struct alloc_tracker *t)
{
	size_t slots = t->index_slots ? 2 * t->index_slots : 1024;
	uint32_t *index = calloc(slots, sizeof(*index));

	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < t->ninterned; i++) {
		size_t j = t->interned[i]->hash & (slots - 1);

		while (index[j])
			j = (j + 1) & (slots - 1);
		index[j] = i + 1;
	}
	free(t->index);
	t->index = index;
	t->index_slots = slots;
	return 0;
}

/* The id of a stack, interned on first use; -ENOMEM. */
static long intern_stack(struct alloc_tracker *t, const uint64_t *pcs, uint32_t n)
{
	uint64_t h = hash_pcs(pcs, n);
	struct interned_stack *is;
	size_t j;

	if (2 * (t->ninterned + 1) > t->index_slots && index_grow(t))
		return -ENOMEM;
	for (j = h & (t->index_slots - 1); t->index[j]; j = (j + 1) & (t->index_slots - 1)) {
		is = t->interned[t->index[j] - 1];
		if (is->hash == h && is->s.npcs == n && !memcmp(is->s.pcs, pcs, n * sizeof(*pcs)))
			return t->index[j] - 1;
	}
	if (t->ninterned == t->cap_interned) {
		size_t cap = t->cap_interned ? 2 * t->cap_interned : 256;
		struct interned_stack **more = realloc(t->interned, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		t->interned = more;
		t->cap_interned = cap;
	}
	is = calloc(1, sizeof(*is) + n * sizeof(*pcs));
	if (!is)
		return -ENOMEM;
	is->hash = h;
	is->s.npcs = n;
	memcpy(is->s.pcs, pcs, n * sizeof(*pcs));
	t->interned[t->ninterned] = is;
	t->index[j] = ++t->ninterned;
	return t->ninterned - 1;
}

static size_t live_slot(uint64_t addr)
{
	return (addr * 0x9e3779b97f4a7c15ULL >> 20) & (LIVE_SLOTS - 1);
}

static struct live_block *live_find(struct alloc_tracker *t, uint64_t addr)
{
	for (size_t j = live_slot(addr);; j = (j + 1) & (LIVE_SLOTS - 1)) {
		if (t->live[j].addr == addr)
			return &t->live[j];
		if (!t->live[j].addr)
			return NULL;
	}
}

/* Removes a found block, shifting back the ones after it (no tombstones). */
static void live_remove(struct alloc_tracker *t, struct live_block *b)
{
	size_t i = b - t->live, j = i;

	t->live[i].addr = 0;
	t->nlive--;
	for (;;) {
		size_t k;

		j = (j + 1) & (LIVE_SLOTS - 1);
		if (!t->live[j].addr)
			return;
		k = live_slot(t->live[j].addr);
		/* Can entry j move to the hole at i? Only if its home k is not in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			t->live[i] = t->live[j];
			t->live[j].addr = 0;
			i = j;
		}
	}
}

static void subtract_block(struct alloc_tracker *t, const struct live_block *b)
{
	struct interned_stack *is = t->interned[b->stack];
	int64_t values[4] = { 0, 0, -b->objs, -b->bytes };

	is->inuse_objs--;
	is->inuse_bytes -= b->size;
	if (stack_table__add(t->stacks, is->s.pcs, is->s.npcs, 0, "", values))
		t->oom++;
}

static void on_alloc(struct alloc_tracker *t, const struct alloc_event *e)
{
	uint64_t pcs[MAX_USER_FRAMES + 1];
	int64_t objs, bytes, values[4];
	struct interned_stack *is;
	struct live_block *b;
	size_t n;
	long id;

	n = unwinder__user_stack(t->uw, &e->user, NULL, 0, pcs, MAX_USER_FRAMES + 1);
	if (t->injected) {
		/* Taken in the sampler's probe point: its frames are not the program's. */
		size_t skip = 0;

		while (skip < n && pcs[skip] >= t->sampler_lo && pcs[skip] < t->sampler_hi)
			skip++;
		n -= skip;
		memmove(pcs, pcs + skip, n * sizeof(*pcs));
	}
	if (!n)
		return;
	/* Taken at the return: the leaf is a return address; show the call. */
	if (pcs[0] != STACK_PC_TRUNCATED)
		pcs[0]--;
	id = intern_stack(t, pcs, n);
	if (id < 0) {
		t->oom++;
		return;
	}
	is = t->interned[id];
	alloc__unsample(t->rate, 1, e->size, &objs, &bytes);
	values[0] = objs;
	values[1] = bytes;
	values[2] = objs;
	values[3] = bytes;
	is->alloc_objs++;
	is->alloc_bytes += e->size;
	t->allocs++;

	b = live_find(t, e->addr);
	if (b) { /* its free was lost: it is gone */
		subtract_block(t, b);
		live_remove(t, b);
	}
	if ((e->flags & ALLOC_F_UNTRACKED) || t->nlive >= ALLOC_MAX_LIVE) {
		if (!(e->flags & ALLOC_F_UNTRACKED))
			t->live_overflow++;
		values[2] = values[3] = 0;
	} else {
		size_t j;

		for (j = live_slot(e->addr); t->live[j].addr; j = (j + 1) & (LIVE_SLOTS - 1))
			;
		t->live[j] = (struct live_block){ .addr = e->addr, .stack = id, .size = e->size,
						  .objs = objs, .bytes = bytes };
		t->nlive++;
		is->inuse_objs++;
		is->inuse_bytes += e->size;
	}
	if (stack_table__add(t->stacks, pcs, n, 0, "", values))
		t->oom++;
}

static void on_free(struct alloc_tracker *t, const struct alloc_event *e)
{
	struct live_block *b = live_find(t, e->addr);

	if (!b) {
		t->unknown_frees++;
		return;
	}
	subtract_block(t, b);
	live_remove(t, b);
	t->frees++;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct alloc_tracker *t = ctx;
	const struct alloc_event *e = data;

	if (size < ALLOC_FREE_EVENT_SIZE)
		return 0;
	if (e->type == ALLOC_EVENT_ALLOC && size >= sizeof(*e))
		on_alloc(t, e);
	else if (e->type == ALLOC_EVENT_FREE)
		on_free(t, e);
	return 0;
}

/* --- finding the allocator ---------------------------------------------------- */

/* File offset of a virtual address of an ELF object; 0 when not in a PT_LOAD. */
static uint64_t elf_file_offset(Elf *elf, uint64_t vaddr)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz)
			return vaddr - ph.p_vaddr + ph.p_offset;
	}
	return 0;
}

/*
 * The allocation functions a file defines (symbol tables, both), one probe
 * point per address.  Returns how many, 0 when it does not define malloc, or
 * a negative errno when the file cannot be read.
 */
static int object_probe_points(const char *path, struct probe_point *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;
	bool has_malloc = false;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf) {
		close(fd);
		return -EINVAL;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;
			uint64_t off;
			int k;

			if (!gelf_getsym(data, i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			if (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
			    GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
				continue;
			if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			for (k = 0; k < (int)NFAMILY; k++)
				if (!strcmp(name, family[k].name))
					break;
			if (k == (int)NFAMILY)
				continue;
			off = elf_file_offset(elf, sym.st_value);
			if (!off)
				continue;
			has_malloc |= family[k].func == ALLOC_FUNC_MALLOC && !strcmp(name, "malloc");
			for (int j = 0; j < n; j++)
				if (out[j].offset == off)
					goto next;
			out[n++] = (struct probe_point){ off, family[k].func, family[k].name };
next:;
		}
	}
	elf_end(elf);
	close(fd);
	return has_malloc ? n : 0;
}

static bool is_libc(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5) ||
	       !strncmp(base, "ld-linux", 8) || !strncmp(base, "ld-musl", 7);
}

/*
 * The object whose malloc the target calls: the executable (a statically
 * linked allocator), then the other libraries in the order they are mapped
 * (a preloaded or linked allocator comes before libc in the link map), then
 * libc.  path gets the file as seen from here (/proc/PID/root/...).
 */
static int find_allocator(struct alloc_tracker *t, char *path, size_t pathlen,
			  struct probe_point *points, int *npoints, char *err, size_t errlen)
{
	char maps[64], line[PATH_MAX + 128], exe[PATH_MAX], libc[PATH_MAX] = "";
	char seen[64][PATH_MAX / 16];
	size_t nseen = 0;
	ssize_t len;
	FILE *f;
	int n;

	snprintf(maps, sizeof(maps), "/proc/%d/exe", (int)t->pid);
	len = readlink(maps, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	snprintf(path, pathlen, "/proc/%d/exe", (int)t->pid);
	n = object_probe_points(path, points);
	if (n > 0) {
		snprintf(t->allocator, sizeof(t->allocator), "%s", exe);
		*npoints = n;
		return 0;
	}
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)t->pid);
	f = fopen(maps, "re");
	if (!f) {
		snprintf(err, errlen, "process %d: cannot read its mappings: %s", (int)t->pid,
			 strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *file = strchr(line, '/');
		bool dup = false;

		if (!file || (!strstr(line, " r-xp ") && !strstr(line, " r--p ")))
			continue;
		file[strcspn(file, "\n")] = '\0';
		if (!strcmp(file, exe) || strstr(file, " (deleted)"))
			continue;
		for (size_t i = 0; i < nseen; i++)
			dup |= !strncmp(seen[i], file, sizeof(seen[i]) - 1);
		if (dup)
			continue;
		if (nseen < 64)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", file);
		if (is_libc(file)) {
			if (!libc[0] && strstr(file, "libc"))
				snprintf(libc, sizeof(libc), "%s", file);
			continue;
		}
		snprintf(path, pathlen, "/proc/%d/root%s", (int)t->pid, file);
		n = object_probe_points(path, points);
		if (n > 0) {
			fclose(f);
			snprintf(t->allocator, sizeof(t->allocator), "%s", file);
			*npoints = n;
			return 0;
		}
	}
	fclose(f);
	if (libc[0]) {
		snprintf(path, pathlen, "/proc/%d/root%s", (int)t->pid, libc);
		n = object_probe_points(path, points);
		if (n > 0) {
			snprintf(t->allocator, sizeof(t->allocator), "%s", libc);
			*npoints = n;
			return 0;
		}
	}
	snprintf(err, errlen,
		 "no allocator found: no object of process %d defines malloc (a static binary "
		 "without symbols?)",
		 (int)t->pid);
	return -ENOENT;
}

/* --- attaching ---------------------------------------------------------------- */

/* struct bpf_attr for BPF_LINK_CREATE of a uprobe_multi / session link. */
struct link_create_uprobe_multi {
	uint32_t prog_fd, target_fd, attach_type, flags;
	uint64_t path, offsets, ref_ctr_offsets, cookies;
	uint32_t cnt, multi_flags, pid, pad;
};

static int attach_session(struct alloc_tracker *t, const char *path,
			  const struct probe_point *points, int n)
{
	uint64_t offsets[NFAMILY], cookies[NFAMILY];
	struct link_create_uprobe_multi attr;
	uint32_t cnt = 0;
	int fd;

	for (int i = 0; i < n; i++) {
		if (points[i].func == ALLOC_FUNC_FREE)
			continue;
		offsets[cnt] = points[i].offset;
		cookies[cnt++] = points[i].func;
	}
	if (!cnt)
		return -ENOENT;
	memset(&attr, 0, sizeof(attr));
	attr.prog_fd = bpf_program__fd(t->sskel->progs.alloc_session);
	attr.attach_type = ATTACH_TRACE_UPROBE_SESSION;
	attr.path = (uintptr_t)path;
	attr.offsets = (uintptr_t)offsets;
	attr.cookies = (uintptr_t)cookies;
	attr.cnt = cnt;
	attr.pid = t->pid;
	fd = syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	if (fd < 0)
		return -errno;
	t->session_fds[t->nsession++] = fd;
	return 0;
}

static int add_link(struct alloc_tracker *t, struct bpf_program *prog, const char *path,
		    const struct probe_point *p, bool retprobe)
{
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .bpf_cookie = p->func, .retprobe = retprobe);
	struct bpf_link *link;

	/* No offset: the function of that name (the sampler's probe points). */
	if (!p->offset)
		opts.func_name = p->name;
	if (t->nlinks == t->cap_links) {
		size_t cap = t->cap_links ? 2 * t->cap_links : 32;
		struct bpf_link **more = realloc(t->links, cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		t->links = more;
		t->cap_links = cap;
	}
	link = bpf_program__attach_uprobe_opts(prog, t->pid, path, p->offset, &opts);
	if (!link)
		return -errno;
	t->links[t->nlinks++] = link;
	return 0;
}

static void detach_all(struct alloc_tracker *t)
{
	for (size_t i = 0; i < t->nlinks; i++)
		bpf_link__destroy(t->links[i]);
	t->nlinks = 0;
	while (t->nsession)
		close(t->session_fds[--t->nsession]);
}

static int attach_probes(struct alloc_tracker *t, const char *path,
			 const struct probe_point *points, int n, char *err, size_t errlen)
{
	struct bpf_program *free_prog = t->session ? t->sskel->progs.free_entry
						   : t->skel->progs.free_entry;
	int ret = 0;

	if (t->nobjects == MAX_OBJECTS) {
		snprintf(err, errlen, "more than %d objects define malloc", MAX_OBJECTS);
		return -E2BIG;
	}
	if (!t->nobjects) {
		t->probed[0] = '\0';
		for (int i = 0; i < n; i++) {
			size_t len = strlen(t->probed);

			snprintf(t->probed + len, sizeof(t->probed) - len, "%s%s", len ? " " : "",
				 points[i].name);
		}
		t->nprobed = n;
	}
	if (t->session) {
		ret = attach_session(t, path, points, n);
		if (ret) {
			snprintf(err, errlen, "uprobe session on %s: %s", path, strerror(-ret));
			return ret;
		}
	}
	for (int i = 0; i < n; i++) {
		const struct probe_point *p = &points[i];

		if (p->func == ALLOC_FUNC_FREE)
			ret = add_link(t, free_prog, path, p, false);
		else if (!t->session) {
			ret = add_link(t, t->skel->progs.alloc_entry, path, p, false);
			if (!ret)
				ret = add_link(t, t->skel->progs.alloc_return, path, p, true);
		}
		if (ret) {
			snprintf(err, errlen, "probes refused: uprobe on %s in %s: %s", p->name,
				 path, strerror(-ret));
			if (!t->nobjects)
				detach_all(t);
			return ret;
		}
	}
	t->nobjects++;
	return 0;
}

/*
 * Objects of the target not looked at yet: with attach, each that defines
 * malloc (a library loaded later with an allocator of its own, used through
 * RTLD_DEEPBIND or -Bsymbolic) is probed too; without, they are only noted
 * (at start: the allocator was chosen among them).
 */
static void scan_objects(struct alloc_tracker *t, bool attach)
{
	char maps[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)t->pid);
	f = fopen(maps, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && t->nexamined < MAX_EXAMINED) {
		struct probe_point points[NFAMILY];
		char *file = strchr(line, '/'), path[PATH_MAX + 64], err[256], **more;
		bool seen = false;
		int n;

		if (!file || !strstr(line, " r-xp "))
			continue;
		file[strcspn(file, "\n")] = '\0';
		for (size_t i = 0; i < t->nexamined && !seen; i++)
			seen = !strcmp(t->examined[i], file);
		if (seen || strstr(file, " (deleted)"))
			continue;
		more = realloc(t->examined, (t->nexamined + 1) * sizeof(*more));
		if (!more)
			break;
		t->examined = more;
		t->examined[t->nexamined] = strdup(file);
		if (!t->examined[t->nexamined])
			break;
		t->nexamined++;
		if (!attach)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)t->pid, file);
		n = object_probe_points(path, points);
		if (n <= 0)
			continue;
		if (attach_probes(t, path, points, n, err, sizeof(err))) {
			pr_warn("heap: %s, loaded later, defines malloc: %s", file, err);
			continue;
		}
		pr_info("heap: probing %s too: loaded later, it defines malloc", file);
		snprintf(t->also + strlen(t->also), sizeof(t->also) - strlen(t->also), "%s%s",
			 t->also[0] ? " " : "", file);
	}
	fclose(f);
}

/*
 * Loads the session object if the kernel takes it, else the two-probe one.
 * Sets the globals and fills the draws first.
 */
static int load_probes(struct alloc_tracker *t, char *err, size_t errlen)
{
	uint64_t *draws = calloc(ALLOC_DRAWS, sizeof(*draws));
	struct bpf_map *draws_map;
	int ret;

	if (!draws) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	alloc__exponential_draws(t->rate, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32), draws,
				 ALLOC_DRAWS);
	t->sskel = t->no_session ? NULL : alloc_session_bpf__open();
	if (t->sskel) {
		t->sskel->rodata->target_pid = t->pid;
		t->sskel->rodata->sample_rate = t->rate;
		bpf_map__set_max_entries(t->sskel->maps.alloc_events, alloc__ring_bytes(t->rate));
		bpf_program__set_expected_attach_type(t->sskel->progs.alloc_session,
						      ATTACH_TRACE_UPROBE_SESSION);
		ret = alloc_session_bpf__load(t->sskel);
		if (!ret) {
			t->session = true;
		} else {
			pr_info("heap: no uprobe sessions here (%s): entry and return probes on "
				"every allocation",
				strerror(-ret));
			alloc_session_bpf__destroy(t->sskel);
			t->sskel = NULL;
		}
	}
	if (!t->session) {
		t->skel = alloc_bpf__open();
		if (!t->skel) {
			ret = -errno;
			snprintf(err, errlen, "opening the allocation probes: %s", strerror(errno));
			goto out;
		}
		t->skel->rodata->target_pid = t->pid;
		t->skel->rodata->sample_rate = t->rate;
		bpf_map__set_max_entries(t->skel->maps.alloc_events, alloc__ring_bytes(t->rate));
		ret = alloc_bpf__load(t->skel);
		if (ret) {
			snprintf(err, errlen, "loading the allocation probes: %s", strerror(-ret));
			goto out;
		}
	}
	draws_map = t->session ? t->sskel->maps.draws : t->skel->maps.draws;
	for (uint32_t i = 0; i < ALLOC_DRAWS; i++) {
		ret = bpf_map_update_elem(bpf_map__fd(draws_map), &i, &draws[i], BPF_ANY);
		if (ret) {
			ret = -errno;
			snprintf(err, errlen, "filling the sampling draws: %s", strerror(errno));
			goto out;
		}
	}
	t->counters_fd = bpf_map__fd(t->session ? t->sskel->maps.alloc_counters
						: t->skel->maps.alloc_counters);
	ret = 0;
out:
	free(draws);
	return ret;
}

/* --- heap.mode inject ------------------------------------------------------------ */

static const char *probe_mode(const struct alloc_tracker *t)
{
	if (t->injected)
		return "sampler in the target (inject)";
	return t->session ? "uprobe session" : "entry + return uprobes";
}

/* The sampler library next to pprofd: build/, or $(PREFIX)/lib/pprofd/. */
static int find_sampler(char *out, size_t len)
{
	static const char *const where[] = { "%s/libpprofd-sampler.so",
					     "%s/../lib/pprofd/libpprofd-sampler.so" };
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, sizeof(path), where[i], exe);
		if (realpath(path, out) && strlen(out) < len)
			return 0;
	}
	return -ENOENT;
}

/* Where the sampler's code is in the target: its frames are dropped. */
static void sampler_range(struct alloc_tracker *t)
{
	char maps[64], line[PATH_MAX + 128];
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)t->pid);
	f = fopen(maps, "re");
	if (!f)
		return;
	t->sampler_lo = UINT64_MAX;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char *name = strchr(line, '/');

		if (!name || sscanf(line, "%lx-%lx", &a, &b) != 2)
			continue;
		name[strcspn(name, "\n")] = '\0';
		if (strcmp(name, t->sampler.lib))
			continue;
		t->sampler_lo = a < t->sampler_lo ? a : t->sampler_lo;
		t->sampler_hi = b > t->sampler_hi ? b : t->sampler_hi;
	}
	fclose(f);
}

/*
 * A Go executable (its pclntab): here only when the runtime's own memory
 * profile cannot be read (goprofiles.c falls back to this tracker).
 */
static bool is_go_binary(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool go = false;
	Elf *elf;

	if (fd < 0)
		return false;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf)
		go = gopclntab__present(elf);
	elf_end(elf);
	close(fd);
	return go;
}

/* Allocators whose entry points every object calls through its GOT. */
static bool injectable_allocator(const struct alloc_tracker *t, const char *exe)
{
	const char *base = strrchr(t->allocator, '/');

	base = base ? base + 1 : t->allocator;
	if (!strcmp(t->allocator, exe))
		return false;
	return is_libc(t->allocator) || strstr(base, "jemalloc") || strstr(base, "tcmalloc") ||
	       strstr(base, "mimalloc");
}

/*
 * heap.mode inject: the two probe points attached, then the sampler loaded
 * into the target and started.  0, or a negative errno and why in err
 * (nothing left attached or running).
 */
static int start_inject(struct alloc_tracker *t, char *err, size_t errlen)
{
	struct probe_point alloc_pt = { 0, ALLOC_FUNC_MALLOC, SAMPLER_PROBE_ALLOC };
	struct probe_point free_pt = { 0, ALLOC_FUNC_FREE, SAMPLER_PROBE_FREE };
	char exe[PATH_MAX], lib[PATH_MAX], link[64];
	ssize_t len;
	int ret;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)t->pid);
	len = readlink(link, exe, sizeof(exe) - 1);
	exe[len > 0 ? len : 0] = '\0';
	if (is_go_binary(link)) {
		snprintf(err, errlen, "%s is a Go program: the sampler is for C and C++ "
				      "allocators, and the Go runtime's threads make their system "
				      "calls outside libc, where the load never stops a thread",
			 exe);
		return -ENOTSUP;
	}
	if (!injectable_allocator(t, exe)) {
		snprintf(err, errlen, "the allocator in %s is %s: its calls from inside the "
				      "executable do not go through the GOT",
			 t->allocator, !strcmp(t->allocator, exe) ? "linked into the executable"
								  : "not one the sampler knows");
		return -ENOTSUP;
	}
	if (find_sampler(lib, sizeof(lib))) {
		snprintf(err, errlen, "libpprofd-sampler.so not found next to pprofd (make "
				      "install puts it in PREFIX/lib/pprofd)");
		return -ENOENT;
	}
	ret = inject__check(t->pid, lib, err, errlen);
	if (ret)
		return ret;
	t->no_session = true;
	ret = load_probes(t, err, errlen);
	if (ret)
		return ret;
	/* Attached before the start: per file, they are there from its first sample. */
	ret = add_link(t, t->skel->progs.sampled_alloc, lib, &alloc_pt, false);
	if (!ret)
		ret = add_link(t, t->skel->progs.sampled_free, lib, &free_pt, false);
	if (ret) {
		snprintf(err, errlen, "uprobe on the sampler's probe points in %s: %s", lib,
			 strerror(-ret));
		detach_all(t);
		return ret;
	}
	ret = inject__start(t->pid, lib, t->rate, &t->sampler, err, errlen);
	if (ret) {
		detach_all(t);
		return ret;
	}
	t->injected = true;
	sampler_range(t);
	snprintf(t->probed, sizeof(t->probed), "%s %s", SAMPLER_PROBE_ALLOC, SAMPLER_PROBE_FREE);
	return 0;
}

/* Every slot put back (the library stays mapped, inert), then the probes off. */
static void stop_inject(struct alloc_tracker *t)
{
	char err[512];

	if (!t->injected)
		return;
	if (inject__stop(&t->sampler, err, sizeof(err)))
		pr_warn("heap: stopping the sampler in process %d: %s", (int)t->pid, err);
	t->injected = false;
}

/* --- governor -------------------------------------------------------------------- */

/* What the calibration probes: a function of the daemon's own. */
static __attribute__((noinline, used)) int calibration_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

static double time_calls(int n)
{
	struct timespec a, b;
	int x = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++)
		x = calibration_target(x);
	clock_gettime(CLOCK_MONOTONIC, &b);
	return ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
}

/* The file offset of an address of this process's executable code. */
static long self_file_offset(uintptr_t addr)
{
	char line[PATH_MAX + 128];
	long offset = -1;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end, off;

		if (sscanf(line, "%lx-%lx %*s %lx", &start, &end, &off) == 3 && addr >= start &&
		    addr < end) {
			offset = addr - start + off;
			break;
		}
	}
	fclose(f);
	return offset;
}

/*
 * Measures what one uprobe hit and one uretprobe hit cost on this machine:
 * the free program (which leaves at once: not the target) on a function of
 * the daemon's own, called CALIBRATION_CALLS times bare, with an entry
 * probe, with both.  A few milliseconds at start; the defaults stay when
 * it cannot run.
 */
#define CALIBRATION_CALLS 2000

static void calibrate(struct alloc_tracker *t)
{
	struct bpf_program *prog = t->session ? t->sskel->progs.free_entry
					      : t->skel->progs.free_entry;
	LIBBPF_OPTS(bpf_uprobe_opts, ret_opts, .retprobe = true);
	struct bpf_link *entry, *ret = NULL;
	double bare, with_entry, with_both;
	long off = self_file_offset((uintptr_t)calibration_target);

	if (off < 0)
		return;
	bare = time_calls(CALIBRATION_CALLS);
	entry = bpf_program__attach_uprobe_opts(prog, getpid(), "/proc/self/exe", off, NULL);
	if (!entry)
		return;
	with_entry = time_calls(CALIBRATION_CALLS);
	ret = bpf_program__attach_uprobe_opts(prog, getpid(), "/proc/self/exe", off, &ret_opts);
	if (ret) {
		with_both = time_calls(CALIBRATION_CALLS);
		bpf_link__destroy(ret);
		if (with_both > with_entry)
			t->return_cost_ns = with_both - with_entry;
	}
	bpf_link__destroy(entry);
	if (with_entry > bare)
		t->entry_cost_ns = with_entry - bare;
	t->calibrated = true;
	pr_debug("heap: a uprobe hit costs %.0f ns, a uretprobe hit %.0f ns more", t->entry_cost_ns,
		 t->return_cost_ns);
}

static uint64_t counter(const struct alloc_tracker *t, uint32_t which)
{
	return t->counters_fd < 0 ? 0 : bpf_counter__sum(t->counters_fd, which);
}

/* The target's CPU time (user + system), 0 when gone. */
static uint64_t target_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return 0;
	return (utime + stime) * (1000000000ULL / sysconf(_SC_CLK_TCK));
}

static void pause_tracking(struct alloc_tracker *t, const char *why)
{
	stop_inject(t);
	detach_all(t);
	t->paused = true;
	snprintf(t->paused_reason, sizeof(t->paused_reason), "%s", why);
	snprintf(t->paused_text, sizeof(t->paused_text), "heap tracking paused: %s", why);
	/* The endpoints answer 503 with this; /debug/metrics shows it. */
	for (size_t i = 0; i < t->ncollectors; i++) {
		t->collectors[i]->unavailable = t->paused_text;
		t->collectors[i]->users = 0;
	}
	pr_warn("heap: tracking paused: %s", why);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct alloc_tracker *t = arg;
	uint64_t hits[3], cpu, dcpu;
	double cost;

	(void)fd;
	(void)what;
	ring_watch__consume(&t->ring);
	hits[0] = counter(t, ALLOC_COUNTER_ENTRY_HITS);
	hits[1] = counter(t, ALLOC_COUNTER_RETURN_HITS);
	hits[2] = counter(t, ALLOC_COUNTER_FREE_HITS);
	cpu = target_cpu_ns(t->pid);
	dcpu = cpu - t->last_cpu_ns;
	cost = (hits[0] - t->last_hits[0] + hits[2] - t->last_hits[2]) * t->entry_cost_ns +
	       (hits[1] - t->last_hits[1]) * t->return_cost_ns;
	memcpy(t->last_hits, hits, sizeof(hits));
	t->last_cpu_ns = cpu;
	if (t->paused)
		return;
	/* The sampler sees objects loaded later by itself. */
	if (++t->ticks % SCAN_PERIOD_TICKS == 0 && !t->injected)
		scan_objects(t, true);
	if (!cpu) /* gone, or no CPU time to its name yet */
		return;
	/* Less than 10 ms of CPU in the period: too little to judge. */
	if (dcpu < 10000000) {
		t->overhead_percent = 0;
		t->strikes = 0;
		return;
	}
	t->overhead_percent = 100.0 * cost / dcpu;
	if (t->overhead_percent > 100)
		t->overhead_percent = 100;
	if (!t->max_overhead || t->overhead_percent <= t->max_overhead) {
		t->strikes = 0;
		return;
	}
	if (++t->strikes >= GOVERNOR_STRIKES) {
		char why[1024];

		if (t->injected)
			snprintf(why, sizeof(why),
				 "the probes on sampled allocations cost the target about %.0f%% of "
				 "its CPU time, over heap.max_overhead_percent (%d%%); raise "
				 "heap.sample_rate (fewer samples, fewer traps) or the budget "
				 "(--heap-max-overhead, 0: no limit) and restart pprofd",
				 t->overhead_percent, t->max_overhead);
		else if (t->inject_refused[0])
			/* heap.mode inject asked for already: say what stood in its way. */
			snprintf(why, sizeof(why),
				 "the allocation probes cost the target about %.0f%% of its CPU "
				 "time, over heap.max_overhead_percent (%d%%); the sampler could "
				 "not be loaded (%s), so every allocation traps whatever "
				 "heap.sample_rate: remove that obstacle, or raise the budget "
				 "(--heap-max-overhead, 0: no limit), and restart pprofd",
				 t->overhead_percent, t->max_overhead, t->inject_refused);
		else
			snprintf(why, sizeof(why),
				 "the allocation probes cost the target about %.0f%% of its CPU "
				 "time, over heap.max_overhead_percent (%d%%); in uprobe mode every "
				 "allocation traps whatever heap.sample_rate: use heap.mode "
				 "\"inject\" (--heap-mode inject: only sampled allocations trap) or "
				 "raise the budget (--heap-max-overhead, 0: no limit), and restart "
				 "pprofd",
				 t->overhead_percent, t->max_overhead);
		pause_tracking(t, why);
	}
}

/* --- the tracker ---------------------------------------------------------------------- */

static void tracker__free(struct alloc_tracker *t)
{
	if (!t)
		return;
	stop_inject(t);
	detach_all(t);
	if (t->timer)
		event_free(t->timer);
	ring_watch__close(&t->ring);
	alloc_bpf__destroy(t->skel);
	alloc_session_bpf__destroy(t->sskel);
	stack_table__free(t->stacks);
	for (size_t i = 0; i < t->ninterned; i++)
		free(t->interned[i]);
	free(t->interned);
	free(t->index);
	free(t->live);
	free(t->links);
	for (size_t i = 0; i < t->nexamined; i++)
		free(t->examined[i]);
	free(t->examined);
	free(t);
}

static struct alloc_tracker *tracker__new(const struct collector_env *env, int *error, char *err,
					  size_t errlen)
{
	struct probe_point points[NFAMILY];
	char path[PATH_MAX + 64];
	struct alloc_tracker *t;
	struct timeval period = { GOVERNOR_PERIOD_S, 0 };
	int ret, n = 0;

	if (!settings__profiling_enabled(env->settings)) {
		*error = -EPERM;
		snprintf(err, errlen, "heap tracking runs only in development mode");
		return NULL;
	}
	if (env->settings->heap_mode == HEAP_MODE_OFF) {
		*error = -ENOTSUP;
		snprintf(err, errlen, "heap tracking is off (heap.mode \"off\")");
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->counters_fd = -1;
	t->pid = env->pid;
	t->mode = env->settings->heap_mode;
	t->uw = env->uw;
	t->rate = env->settings->heap_sample_rate;
	t->max_overhead = env->settings->heap_max_overhead_percent;
	t->entry_cost_ns = DEFAULT_ENTRY_COST_NS;
	t->return_cost_ns = DEFAULT_RETURN_COST_NS;
	t->started = time(NULL);
	/* Tests and the bench: the two-probe way on a kernel with sessions. */
	t->no_session = getenv("PPROFD_HEAP_NO_SESSION") != NULL;
	elf_version(EV_CURRENT);
	t->stacks = stack_table__new(4);
	t->live = calloc(LIVE_SLOTS, sizeof(*t->live));
	if (!t->stacks || !t->live) {
		ret = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	ret = find_allocator(t, path, sizeof(path), points, &n, err, errlen);
	if (ret)
		goto fail;
	if (t->mode == HEAP_MODE_INJECT && start_inject(t, err, errlen)) {
		/* The fallback: uprobes, which the governor guards the same way. */
		snprintf(t->inject_refused, sizeof(t->inject_refused), "%s", err);
		pr_warn("heap: the sampler cannot be loaded into process %d: %s; uprobes instead",
			(int)t->pid, err);
		alloc_bpf__destroy(t->skel);
		t->skel = NULL;
		t->counters_fd = -1;
		t->no_session = getenv("PPROFD_HEAP_NO_SESSION") != NULL;
	}
	if (!t->injected) {
		ret = load_probes(t, err, errlen);
		if (ret)
			goto fail;
		ret = attach_probes(t, path, points, n, err, errlen);
	}
	if (ret && t->session) {
		/* A kernel that loads session programs but refuses their link. */
		pr_info("heap: %s: entry and return probes instead", err);
		detach_all(t);
		free(t->links);
		t->links = NULL;
		t->nlinks = t->cap_links = 0;
		t->nobjects = 0;
		alloc_session_bpf__destroy(t->sskel);
		t->sskel = NULL;
		t->session = false;
		t->no_session = true;
		ret = load_probes(t, err, errlen);
		if (!ret)
			ret = attach_probes(t, path, points, n, err, errlen);
	}
	if (ret)
		goto fail;
	ret = ring_watch__open(&t->ring, env->base,
			       bpf_map__fd(t->session ? t->sskel->maps.alloc_events
						      : t->skel->maps.alloc_events),
			       on_event, t);
	if (ret) {
		snprintf(err, errlen, "watching the allocation ring buffer: %s", strerror(-ret));
		goto fail;
	}
	t->timer = event_new(env->base, -1, EV_PERSIST, on_timer, t);
	if (!t->timer || event_add(t->timer, &period)) {
		ret = -ENOMEM;
		snprintf(err, errlen, "starting the heap tracker's timer failed");
		goto fail;
	}
	calibrate(t);
	scan_objects(t, false);
	t->last_cpu_ns = target_cpu_ns(t->pid);
	snprintf(t->comment, sizeof(t->comment),
		 "pprofd heap tracking of process %d since attach at %ld (Unix time): "
		 "allocations made before attach are unknown. Allocator: %s; one sample every "
		 "%" PRId64 " bytes on average; %s%s%s%s.",
		 (int)t->pid, (long)t->started, t->allocator, t->rate, probe_mode(t),
		 t->inject_refused[0] ? " (heap.mode inject refused: " : "", t->inject_refused,
		 t->inject_refused[0] ? ")" : "");
	pr_info("heap: tracking %s in %s (%s), one sample per %" PRId64 " bytes", t->probed,
		t->allocator, probe_mode(t), t->rate);
	return t;
fail:
	*error = ret;
	tracker__free(t);
	return NULL;
}

/* --- the two collectors ------------------------------------------------------------------ */

static int alloc_acquire(struct collector *c, const struct collect_request *req, char *err,
			 size_t errlen)
{
	struct alloc_tracker *t = ((struct alloc_collector *)c)->t;

	(void)req;
	if (t->paused) {
		snprintf(err, errlen, "%s profile unavailable: heap tracking paused: %s", c->name,
			 t->paused_reason);
		return -EAGAIN;
	}
	c->users++;
	return 0;
}

static void alloc_release(struct collector *c)
{
	/* The tracker's own user stays while it runs. */
	if (c->users > 1 || (c->users && ((struct alloc_collector *)c)->t->paused))
		c->users--;
}

static void alloc_drain(struct collector *c)
{
	ring_watch__consume(&((struct alloc_collector *)c)->t->ring);
}

static int64_t alloc_period(const struct collector *c)
{
	return ((const struct alloc_collector *)c)->t->rate;
}

struct text_record {
	const struct interned_stack *is;
};

static int cmp_inuse_desc(const void *a, const void *b)
{
	const struct interned_stack *x = *(const struct interned_stack *const *)a;
	const struct interned_stack *y = *(const struct interned_stack *const *)b;

	if (x->inuse_bytes != y->inuse_bytes)
		return x->inuse_bytes < y->inuse_bytes ? 1 : -1;
	return x->alloc_bytes < y->alloc_bytes ? 1 : x->alloc_bytes > y->alloc_bytes ? -1 : 0;
}

/*
 * Go's heap text: "heap profile: <inuse objs>: <inuse bytes> [<alloc objs>:
 * <alloc bytes>] @ heap/<2*rate>", then one record per stack with the same
 * four sampled counts (consumers unsample them with the rate).  Cumulative
 * only: the HTTP layer refuses ?debug with ?seconds.
 */
static int alloc_text(const struct collector *c, const struct stack_snapshot *since,
		      struct symbolizer *sym, int debug, char **out, size_t *len)
{
	struct alloc_tracker *t = ((const struct alloc_collector *)c)->t;
	const struct interned_stack **recs;
	int64_t total[4] = { 0 };
	size_t nrec = 0;
	FILE *f;

	(void)since;
	(void)debug;
	recs = calloc(t->ninterned ? t->ninterned : 1, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	for (size_t i = 0; i < t->ninterned; i++) {
		const struct interned_stack *is = t->interned[i];

		if (!is->alloc_objs)
			continue;
		recs[nrec++] = is;
		total[0] += is->inuse_objs;
		total[1] += is->inuse_bytes;
		total[2] += is->alloc_objs;
		total[3] += is->alloc_bytes;
	}
	qsort(recs, nrec, sizeof(*recs), cmp_inuse_desc);
	f = open_memstream(out, len);
	if (!f) {
		free(recs);
		return -ENOMEM;
	}
	fprintf(f, "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRId64 "\n",
		total[0], total[1], total[2], total[3], 2 * t->rate);
	for (size_t r = 0; r < nrec; r++) {
		const struct interned_stack *is = recs[r];

		fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @", is->inuse_objs,
			is->inuse_bytes, is->alloc_objs, is->alloc_bytes);
		for (uint32_t k = 0; k < is->s.npcs; k++)
			fprintf(f, " %#" PRIx64, is->s.pcs[k]);
		fputc('\n', f);
		profile__text_frames(f, &is->s, sym);
		fputc('\n', f);
	}
	fprintf(f, "# %s\n", t->comment);
	if (t->paused)
		fprintf(f, "# tracking paused: %s\n", t->paused_reason);
	free(recs);
	return fclose(f) ? -ENOMEM : 0;
}

static void alloc_stats(const struct collector *c, cJSON *out)
{
	const struct alloc_tracker *t = ((const struct alloc_collector *)c)->t;

	cJSON_AddStringToObject(out, "allocator", t->allocator);
	cJSON_AddStringToObject(out, "probed", t->probed);
	cJSON_AddStringToObject(out, "also_probed", t->also);
	cJSON_AddStringToObject(out, "mode", t->injected ? "inject" : "uprobe");
	cJSON_AddStringToObject(out, "probe_mode", probe_mode(t));
	if (t->inject_refused[0])
		cJSON_AddStringToObject(out, "inject_refused", t->inject_refused);
	if (t->injected) {
		struct sampler_counters sc = { 0 };

		inject__counters(&t->sampler, &sc, sizeof(sc));
		cJSON_AddStringToObject(out, "sampler_library", t->sampler.lib);
		cJSON_AddNumberToObject(out, "sampler_slots", sc.slots);
		cJSON_AddNumberToObject(out, "sampler_objects", sc.objects);
		cJSON_AddNumberToObject(out, "sampler_untracked", sc.untracked);
		cJSON_AddNumberToObject(out, "load_stop_ms", t->sampler.stop_ms);
	}
	cJSON_AddNumberToObject(out, "sample_rate_bytes", t->rate);
	cJSON_AddBoolToObject(out, "paused", t->paused);
	if (t->paused)
		cJSON_AddStringToObject(out, "paused_reason", t->paused_reason);
	cJSON_AddNumberToObject(out, "overhead_percent", t->overhead_percent);
	cJSON_AddNumberToObject(out, "max_overhead_percent", t->max_overhead);
	cJSON_AddNumberToObject(out, "entry_cost_ns", t->entry_cost_ns);
	cJSON_AddNumberToObject(out, "return_cost_ns", t->return_cost_ns);
	cJSON_AddBoolToObject(out, "costs_measured", t->calibrated);
	cJSON_AddNumberToObject(out, "entry_hits", counter(t, ALLOC_COUNTER_ENTRY_HITS));
	cJSON_AddNumberToObject(out, "return_hits", counter(t, ALLOC_COUNTER_RETURN_HITS));
	cJSON_AddNumberToObject(out, "free_hits", counter(t, ALLOC_COUNTER_FREE_HITS));
	cJSON_AddNumberToObject(out, "sampled", t->allocs);
	cJSON_AddNumberToObject(out, "sampled_freed", t->frees);
	cJSON_AddNumberToObject(out, "live_blocks", t->nlive);
	cJSON_AddNumberToObject(out, "events_lost", counter(t, ALLOC_COUNTER_LOST));
	cJSON_AddNumberToObject(out, "live_map_full", counter(t, ALLOC_COUNTER_LIVE_FULL) +
							  t->live_overflow);
	cJSON_AddNumberToObject(out, "nested_calls", counter(t, ALLOC_COUNTER_NESTED));
	cJSON_AddNumberToObject(out, "unknown_frees", t->unknown_frees);
	cJSON_AddNumberToObject(out, "stacks", t->ninterned);
}

static void alloc_free(struct collector *c)
{
	struct alloc_collector *ac = (struct alloc_collector *)c;

	if (!ac)
		return;
	if (ac->t && --ac->t->refs == 0) {
		if (shared_tracker == ac->t)
			shared_tracker = NULL;
		tracker__free(ac->t);
	}
	free(ac);
}

static const struct collector_ops alloc_ops = {
	.acquire = alloc_acquire,
	.release = alloc_release,
	.drain = alloc_drain,
	.text = alloc_text,
	.period = alloc_period,
	.stats = alloc_stats,
	.free = alloc_free,
};

static struct collector *alloc_collector__new(const struct collector_env *env, const char *name,
					      const char *description, const char *default_type,
					      int *error, char *err, size_t errlen)
{
	struct alloc_collector *ac;

	if (!shared_tracker) {
		shared_tracker = tracker__new(env, error, err, errlen);
		if (!shared_tracker)
			return NULL;
	}
	ac = calloc(1, sizeof(*ac));
	if (!ac) {
		*error = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		if (!shared_tracker->refs) {
			tracker__free(shared_tracker);
			shared_tracker = NULL;
		}
		return NULL;
	}
	ac->t = shared_tracker;
	ac->t->refs++;
	ac->c.name = name;
	ac->c.description = description;
	ac->c.mode = COLLECT_CUMULATIVE;
	ac->c.sample_types = heap_sample_types;
	ac->c.nsample_types = 4;
	ac->c.period_type = (struct sample_type){ "space", "bytes" };
	ac->c.default_sample_type = default_type;
	ac->c.ops = &alloc_ops;
	ac->c.stacks = ac->t->stacks;
	ac->c.comment = ac->t->comment;
	/* Tracking runs from attach: one user for as long as it does. */
	ac->c.users = 1;
	if (ac->t->ncollectors < 2)
		ac->t->collectors[ac->t->ncollectors++] = &ac->c;
	return &ac->c;
}

struct collector *heap_collector__new(const struct collector_env *env, int *error, char *err,
				      size_t errlen)
{
	/* Go sets no default: consumers show the last type, inuse_space. */
	return alloc_collector__new(env, "heap",
				    "A sampling of memory allocations of live objects (since "
				    "pprofd attached). You can specify the gc GET parameter to "
				    "run GC before taking the heap sample.",
				    NULL, error, err, errlen);
}

struct collector *allocs_collector__new(const struct collector_env *env, int *error, char *err,
					size_t errlen)
{
	return alloc_collector__new(env, "allocs",
				    "A sampling of all past memory allocations (since pprofd "
				    "attached)",
				    "alloc_space", error, err, errlen);
}
