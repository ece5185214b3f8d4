// SPDX-License-Identifier: MIT
/*
 * symbolize.c - see symbolize.h.
 *
 * The pieces, in the order they appear:
 *
 *   arena, strset   memory that lives as long as its owner: every string and
 *                   frame array handed out is carved from the symbolizer's
 *                   arena, so it stays valid until symbolizer__free()
 *   loc_table       pc -> symbol_location of one symbolizer: the hot path
 *   gcache          (build ID, ELF address) -> frames, shared by every
 *                   symbolizer of the daemon: a restarted target, or a second
 *                   symbolizer on the same binaries, resolves without DWARF
 *   kallsyms        /proc/kallsyms, read once per process
 *   module          one ELF file as loaded in the target = one Dwfl_Module
 *   mapping         one executable line of /proc/PID/maps
 *   resolution      libdwfl: ELF symbol, line table, inline chain
 *
 * Mappings and modules are never freed before the symbolizer: a reload builds
 * a new current set, reusing the objects of lines that did not change, and
 * leaves the others where they are, so pointers handed out stay valid.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "debugcache.h"
#include "dwarfindex.h"
#include "gopclntab.h"
#include "kallsyms.h"
#include "log.h"
#include "perfmap.h"
#include "rootfs.h"
#include "symbolize.h"

/*
 * libstdc++'s demangler (returns malloc'd text), loaded on the first C++
 * name: a C target never maps the C++ runtime into pprofd (~1 MB of RSS).
 * NULL when libstdc++ is missing: C++ names then stay mangled.
 */
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

static demangle_fn demangler(void)
{
	static demangle_fn fn;
	static bool tried;
	void *lib;

	if (tried)
		return fn;
	tried = true;
	lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
	if (lib)
		*(void **)&fn = dlsym(lib, "__cxa_demangle");
	if (!fn)
		pr_warn("symbols: no __cxa_demangle in libstdc++.so.6 (%s): C++ names stay mangled",
			dlerror());
	return fn;
}

/* An address in no known mapping rereads the maps at most this often. */
#define AUTO_RELOAD_INTERVAL_NS 1000000000ULL
/*
 * Bound of the global cache.  An entry with its frames is about 100 bytes:
 * 256Ki entries cap it near 32 MiB.  When full it is cleared (symbolizers
 * keep their own copies, so nothing they handed out goes away).
 */
#ifndef GCACHE_MAX_ENTRIES
#define GCACHE_MAX_ENTRIES (1U << 18)
#endif

/* How far past a kernel symbol an address is still taken as in it. */

static const char kernel_path[] = "[kernel.kallsyms]";
static const char vdso_path[] = "[vdso]";

/* --- arena: bump allocation, freed all at once ----------------------------- */

#define ARENA_CHUNK_SIZE (64 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[] __attribute__((aligned(16)));
};

struct arena {
	struct arena_chunk *head;
};

static void *arena__alloc(struct arena *a, size_t size)
{
	struct arena_chunk *c = a->head;
	void *p;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->size - c->used < size) {
		/* A big request gets a chunk of its own, behind the current one. */
		bool own = size > ARENA_CHUNK_SIZE / 4;
		size_t csize = own ? size : ARENA_CHUNK_SIZE;

		c = malloc(sizeof(*c) + csize);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = csize;
		if (own && a->head) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	p = c->data + c->used;
	c->used += size;
	return p;
}

static void arena__free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

/* --- hashing ---------------------------------------------------------------- */

static uint64_t hash_u64(uint64_t x)
{
	/* splitmix64's finalizer: every input bit reaches every output bit. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* --- strset: interned strings, stored in an arena ---------------------------- */

struct strset_slot {
	uint64_t hash;
	const char *str;
};

struct strset {
	struct strset_slot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
	struct arena *arena;
};

static int strset__grow(struct strset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 256, i, j;
	struct strset_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < set->cap; i++) {
		if (!set->slots[i].str)
			continue;
		for (j = set->slots[i].hash & (cap - 1); slots[j].str; j = (j + 1) & (cap - 1))
			;
		slots[j] = set->slots[i];
	}
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

/* *out = the interned copy of str (NULL for NULL).  0 or -ENOMEM. */
static int strset__intern(struct strset *set, const char *str, const char **out)
{
	uint64_t h;
	size_t i, len;
	char *copy;

	*out = NULL;
	if (!str)
		return 0;
	if ((set->n + 1) * 2 > set->cap && strset__grow(set))
		return -ENOMEM;
	h = hash_str(str);
	for (i = h & (set->cap - 1); set->slots[i].str; i = (i + 1) & (set->cap - 1)) {
		if (set->slots[i].hash == h && !strcmp(set->slots[i].str, str)) {
			*out = set->slots[i].str;
			return 0;
		}
	}
	len = strlen(str) + 1;
	copy = arena__alloc(set->arena, len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, str, len);
	set->slots[i].hash = h;
	set->slots[i].str = copy;
	set->n++;
	*out = copy;
	return 0;
}

static void strset__free(struct strset *set)
{
	free(set->slots);
	set->slots = NULL;
	set->cap = set->n = 0;
}

/* --- ptrmap: pointer -> pointer ---------------------------------------------- */

struct ptrmap_slot {
	const void *key, *val;
};

struct ptrmap {
	struct ptrmap_slot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
};

static const void *ptrmap__get(const struct ptrmap *m, const void *key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	for (i = hash_u64((uintptr_t)key) & (m->cap - 1); m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
	}
	return NULL;
}

static int ptrmap__put(struct ptrmap *m, const void *key, const void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 256, j;
		struct ptrmap_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (i = 0; i < m->cap; i++) {
			if (!m->slots[i].key)
				continue;
			for (j = hash_u64((uintptr_t)m->slots[i].key) & (cap - 1); slots[j].key;
			     j = (j + 1) & (cap - 1))
				;
			slots[j] = m->slots[i];
		}
		free(m->slots);
		m->slots = slots;
		m->cap = cap;
	}
	for (i = hash_u64((uintptr_t)key) & (m->cap - 1); m->slots[i].key; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key) {
			m->slots[i].val = val;
			return 0;
		}
	}
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

static void ptrmap__free(struct ptrmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->n = 0;
}

/* Copies n frames into arena memory, interning their strings in set. */
static int frames__copy(struct arena *arena, struct strset *set, const struct symbol_frame *src,
			size_t n, struct symbol_frame **out)
{
	struct symbol_frame *f;
	size_t i;

	*out = NULL;
	if (!n)
		return 0;
	f = arena__alloc(arena, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		f[i].line = src[i].line;
		f[i].start_line = src[i].start_line;
		if (strset__intern(set, src[i].function, &f[i].function) ||
		    strset__intern(set, src[i].system_name, &f[i].system_name) ||
		    strset__intern(set, src[i].file, &f[i].file))
			return -ENOMEM;
	}
	*out = f;
	return 0;
}

/* --- loc_table: pc -> location, per symbolizer ------------------------------- */

struct loc_slot {
	uint64_t pc;
	bool used;
	struct symbol_location loc;
};

struct loc_table {
	struct loc_slot *slots;
	size_t cap, n; /* cap is 0 or a power of two */
};

static const struct symbol_location *loc_table__find(const struct loc_table *t, uint64_t pc)
{
	size_t i;

	if (!t->cap)
		return NULL;
	for (i = hash_u64(pc) & (t->cap - 1); t->slots[i].used; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].pc == pc)
			return &t->slots[i].loc;
	}
	return NULL;
}

static int loc_table__insert(struct loc_table *t, uint64_t pc, const struct symbol_location *loc)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024, j;
		struct loc_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (i = 0; i < t->cap; i++) {
			if (!t->slots[i].used)
				continue;
			for (j = hash_u64(t->slots[i].pc) & (cap - 1); slots[j].used;
			     j = (j + 1) & (cap - 1))
				;
			slots[j] = t->slots[i];
		}
		free(t->slots);
		t->slots = slots;
		t->cap = cap;
	}
	for (i = hash_u64(pc) & (t->cap - 1); t->slots[i].used; i = (i + 1) & (t->cap - 1)) {
		if (t->slots[i].pc == pc) {
			t->slots[i].loc = *loc;
			return 0;
		}
	}
	t->slots[i].used = true;
	t->slots[i].pc = pc;
	t->slots[i].loc = *loc;
	t->n++;
	return 0;
}

static void loc_table__free(struct loc_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->n = 0;
}

/* --- gcache: (build ID, ELF address) -> frames, process-wide ---------------- */

struct gcache_entry {
	uint64_t hash;
	const char *build_id; /* interned in gcache.strs */
	uint64_t addr;        /* address in the ELF file (runtime address - bias) */
	uint64_t symbol_start; /* ELF address of the symbol, when has_symbol */
	bool has_symbol;
	uint32_t nframes;
	struct symbol_frame *frames;
};

static struct {
	struct gcache_entry **slots;
	size_t cap, n;
	unsigned gen; /* bumped at each clear: string pointers of before mean nothing */
	struct arena arena;
	struct strset strs;
} gcache = { .strs = { .arena = &gcache.arena } };

static uint64_t gcache_hash(uint64_t build_id_hash, uint64_t addr)
{
	return hash_u64(build_id_hash ^ hash_u64(addr));
}

static const struct gcache_entry *gcache__find(const char *build_id, uint64_t build_id_hash,
					       uint64_t addr)
{
	uint64_t h = gcache_hash(build_id_hash, addr);
	struct gcache_entry *e;
	size_t i;

	if (!gcache.cap)
		return NULL;
	for (i = h & (gcache.cap - 1); (e = gcache.slots[i]); i = (i + 1) & (gcache.cap - 1)) {
		if (e->hash == h && e->addr == addr && !strcmp(e->build_id, build_id))
			return e;
	}
	return NULL;
}

static void gcache__clear(void)
{
	free(gcache.slots);
	gcache.slots = NULL;
	gcache.cap = gcache.n = 0;
	gcache.gen++;
	strset__free(&gcache.strs);
	arena__free(&gcache.arena);
}

/* Best effort: a cache that could not grow just misses later. */
static void gcache__insert(const char *build_id, uint64_t build_id_hash, uint64_t addr,
			   uint64_t bias, const struct symbol_location *loc)
{
	uint64_t h = gcache_hash(build_id_hash, addr);
	struct gcache_entry *e;
	size_t i;

	if (gcache.n >= GCACHE_MAX_ENTRIES)
		gcache__clear();
	if ((gcache.n + 1) * 2 > gcache.cap) {
		size_t cap = gcache.cap ? gcache.cap * 2 : 4096, j;
		struct gcache_entry **slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return;
		for (i = 0; i < gcache.cap; i++) {
			if (!gcache.slots[i])
				continue;
			for (j = gcache.slots[i]->hash & (cap - 1); slots[j]; j = (j + 1) & (cap - 1))
				;
			slots[j] = gcache.slots[i];
		}
		free(gcache.slots);
		gcache.slots = slots;
		gcache.cap = cap;
	}
	e = arena__alloc(&gcache.arena, sizeof(*e));
	if (!e || strset__intern(&gcache.strs, build_id, &e->build_id) ||
	    frames__copy(&gcache.arena, &gcache.strs, loc->frames, loc->nframes, &e->frames))
		return; /* the arena's partial allocations go at the next clear */
	e->hash = h;
	e->addr = addr;
	e->has_symbol = loc->symbol_start != 0;
	e->symbol_start = loc->symbol_start - bias;
	e->nframes = loc->nframes;
	for (i = h & (gcache.cap - 1); gcache.slots[i]; i = (i + 1) & (gcache.cap - 1))
		;
	gcache.slots[i] = e;
	gcache.n++;
}

/* --- the kernel's build ID --------------------------------------------------- */

static struct {
	char id[2 * 64 + 1]; /* of the running kernel, from /sys/kernel/notes */
	bool read;
} kernel_build;

static void hex_encode(const unsigned char *bits, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bits[i] >> 4];
		out[2 * i + 1] = digits[bits[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The running kernel's build ID: the NT_GNU_BUILD_ID note in /sys/kernel/notes. */
static const char *kernel_build_id(void)
{
	unsigned char buf[4096];
	size_t off = 0;
	ssize_t len;
	int fd;

	if (kernel_build.read)
		return kernel_build.id;
	kernel_build.read = true;
	fd = open("/sys/kernel/notes", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kernel_build.id;
	len = read(fd, buf, sizeof(buf));
	close(fd);
	while (len > 0 && off + 12 <= (size_t)len) {
		uint32_t namesz, descsz, type;
		size_t name, desc;

		memcpy(&namesz, buf + off, 4);
		memcpy(&descsz, buf + off + 4, 4);
		memcpy(&type, buf + off + 8, 4);
		name = off + 12;
		desc = name + ((namesz + 3) & ~3U);
		off = desc + ((descsz + 3) & ~3U);
		if (off > (size_t)len)
			break;
		if (type == NT_GNU_BUILD_ID && namesz == 4 && !memcmp(buf + name, "GNU", 4) &&
		    descsz && descsz <= 64) {
			hex_encode(buf + desc, descsz, kernel_build.id);
			break;
		}
	}
	return kernel_build.id;
}

/* --- the symbolizer ---------------------------------------------------------- */

struct cu_index;
struct module;
struct msym;
static void module__drop_cus(struct module *mod);

struct segment {
	uint64_t vaddr, offset, filesz;
	bool exec;
};

/* One ELF file as loaded at one place in the target: one Dwfl_Module. */
struct module {
	struct module *next; /* symbolizer.modules: every module ever seen */
	pid_t pid;
	const char *path;      /* as in /proc/PID/maps, " (deleted)" trimmed; "[vdso]" */
	const char *dwfl_name; /* path#id: unique, so libdwfl never reuses another file's module */
	dev_t dev;
	ino_t ino;
	uint64_t map_start, map_limit; /* a mapping of it: names /proc/PID/map_files/ */
	uint64_t bias;                 /* runtime address - ELF address */
	uint64_t low, high;            /* runtime range of its PT_LOAD segments */
	struct segment *segs;
	size_t nsegs;
	const char *build_id; /* lowercase hex, "" when none */
	uint64_t build_id_hash;
	bool vdso;
	void *image; /* the vdso's bytes (malloc'd), elf_memory() reads them */
	size_t image_size;
	Dwfl_Module *dwfl_mod; /* NULL unless reported in the current generation */
	unsigned gen;          /* generation it was last reported in */
	/* Function DIEs by CU (see cu_index), while dwfl_mod's DWARF is there. */
	struct cu_index **cus;
	size_t cus_cap, ncus;
	/* Its function symbols by address (see module__symbol), likewise. */
	struct msym *syms;
	size_t nsyms;
	bool syms_read;
	/* A Go binary's own table (ELF addresses), shared by copies at other biases. */
	struct gopclntab *go;
	bool go_owner;
};

/* One executable line of /proc/PID/maps. */
struct mapping {
	struct symbol_mapping pub; /* what the API hands out */
	struct mapping *next;      /* symbolizer.all_mappings */
	dev_t dev;
	ino_t ino;
	struct module *module; /* NULL when the file is not a readable ELF file */
};

struct symbolizer {
	pid_t pid;
	Dwfl *dwfl;
	struct arena arena; /* mappings, modules, frames, strings */
	struct strset strs;
	struct loc_table locs;
	struct mapping *all_mappings;
	struct module *modules;
	unsigned nmodules, gen;
	/* Current mappings, address order, the kernel one last. */
	const struct symbol_mapping **cur;
	size_t ncur;
	struct mapping kernel;
	char *maps_text; /* the last /proc/PID/maps read: unchanged means nothing to do */
	size_t maps_len;
	uint64_t last_auto_reload_ns;
	unsigned mappings_gen; /* see symbolizer__generation() */
	long page_size;
	struct ptrmap demangled; /* interned linkage name -> interned demangled name */
	struct ptrmap imported;  /* gcache string -> our interned copy ... */
	unsigned imported_gen;   /* ... for this generation of the gcache */
	struct perf_map *jit;    /* /tmp/perf-PID.map: code in no file */
	bool maps_given;         /* symbolizer__new_from_maps(): never reread */
};

static struct mapping *to_mapping(const struct symbol_mapping *pub)
{
	return (struct mapping *)((char *)pub - offsetof(struct mapping, pub));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Opens the file behind mod as the target sees it: through /proc/PID/root
 * when that is the very file mapped (same inode and device); else through
 * /proc/PID/map_files/ (a deleted or replaced file, a container's overlay);
 * else the root path if only the device differs (overlayfs, btrfs report
 * another one) ; else, when the target is gone, the same path in our own
 * namespace if it is the same file.  Paths resolve inside the root they are
 * meant for and only regular files are opened (rootfs.h): the path comes
 * from the target's maps, which it controls.  Returns an fd or a negative errno;
 * *opened (malloc'd) names what was opened.
 */
static int module__open_file(const struct module *mod, char **opened)
{
	char root[PATH_MAX + 32], path[PATH_MAX + 32];
	int fd, weak_fd = -1, err = -ENOENT;
	struct stat st;

	snprintf(root, sizeof(root), "/proc/%d/root%s", (int)mod->pid, mod->path);
	fd = rootfs__open(mod->pid, mod->path, 0, 0, &st);
	if (fd >= 0) {
		if (st.st_ino && (!mod->ino || (st.st_ino == mod->ino && st.st_dev == mod->dev))) {
			snprintf(path, sizeof(path), "%s", root);
			goto found;
		}
		if (st.st_ino && st.st_ino == mod->ino)
			weak_fd = fd;
		else
			close(fd);
	} else {
		err = fd;
	}

	snprintf(path, sizeof(path), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)mod->pid,
		 mod->map_start, mod->map_limit);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (weak_fd >= 0)
			close(weak_fd);
		goto found;
	}
	if (weak_fd >= 0) {
		fd = weak_fd;
		snprintf(path, sizeof(path), "%s", root);
		goto found;
	}

	fd = rootfs__open(getpid(), mod->path, 0, 0, &st);
	if (fd >= 0) {
		if (mod->ino && st.st_ino == mod->ino && st.st_dev == mod->dev) {
			snprintf(path, sizeof(path), "%s", mod->path);
			goto found;
		}
		close(fd);
	}
	return err;

found:
	*opened = strdup(path);
	if (!*opened) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* Opens mod's ELF: *fd is -1 for the vdso (read from memory). */
static int module__open_elf(const struct module *mod, int *fd, Elf **elf, char **opened)
{
	*fd = -1;
	*opened = NULL;
	if (mod->vdso) {
		*elf = elf_memory(mod->image, mod->image_size);
	} else {
		*fd = module__open_file(mod, opened);
		if (*fd < 0)
			return *fd;
		*elf = elf_begin(*fd, ELF_C_READ_MMAP, NULL);
	}
	if (*elf && elf_kind(*elf) == ELF_K_ELF)
		return 0;
	elf_end(*elf);
	*elf = NULL;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	free(*opened);
	*opened = NULL;
	return -ENOEXEC;
}

/*
 * A file whose debug sections are compressed is swapped for its uncompressed
 * copy (see debugcache.h): libdw maps it instead of decompressing it into
 * memory.  Returns the fd to use; *elf and *name follow.  Without a copy,
 * the file itself.
 */
static int uncompressed(int fd, Elf **elf, char **name)
{
	char *copy_name = NULL;
	int copy = debug_cache__open(fd, *elf, &copy_name);
	Elf *copy_elf;

	if (copy < 0)
		return fd;
	copy_elf = elf_begin(copy, ELF_C_READ_MMAP, NULL);
	if (!copy_elf) {
		close(copy);
		free(copy_name);
		return fd;
	}
	elf_end(*elf);
	*elf = copy_elf;
	close(fd);
	free(*name);
	*name = copy_name;
	return copy;
}

/*
 * libdwfl's find_elf: the module's file as the target sees it (see
 * module__open_file).  libdwfl owns what it gets.
 */
static int find_elf_cb(Dwfl_Module *dm, void **userdata, const char *modname, Dwarf_Addr base,
		       char **file_name, Elf **elfp)
{
	const struct module *mod = *userdata;
	int fd;

	(void)dm;
	(void)modname;
	(void)base;
	if (!mod || module__open_elf(mod, &fd, elfp, file_name))
		return -1;
	return fd >= 0 ? uncompressed(fd, elfp, file_name) : fd;
}

/* Debug files found by .gnu_debuglink are read whole for their CRC: at most this. */
#define DEBUGLINK_MAX_BYTES (1ULL << 30)

/* Debuglinks refused, process-wide (symbolizer__files()). */
static struct {
	uint64_t refused;
	char last[PATH_MAX + 128];
} debuglinks;

static void debuglink__refuse(const struct module *mod, const char *what, const char *why)
{
	debuglinks.refused++;
	snprintf(debuglinks.last, sizeof(debuglinks.last), "%s: %s: %s", mod->path, what, why);
	pr_warn("symbols: pid %d: %s: debuglink %s refused: %s", (int)mod->pid, mod->path, what,
		why);
}

/* The CRC-32 of the whole file (the one .gnu_debuglink holds), -1 when unreadable. */
static int64_t file_crc32(int fd)
{
	static unsigned char buf[64 * 1024];
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t total = 0;
	ssize_t r;

	while ((r = pread(fd, buf, sizeof(buf), total)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (total += r) > DEBUGLINK_MAX_BYTES)
			return -1;
		crc = crc32(crc, buf, r);
	}
	return (int64_t)(crc & 0xffffffffu);
}

/* Whether fd is mod's debug file: the same build ID, or (none) the CRC the link holds. */
static bool debuglink__matches(Dwfl_Module *dm, int fd, GElf_Word crc)
{
	const unsigned char *id;
	const void *bits;
	GElf_Addr vaddr;
	ssize_t nbits;
	bool same;
	Elf *elf;
	int idlen = dwfl_module_build_id(dm, &id, &vaddr);

	if (idlen <= 0)
		return file_crc32(fd) == (int64_t)crc;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return false;
	nbits = dwelf_elf_gnu_build_id(elf, &bits);
	same = nbits == idlen && !memcmp(bits, id, idlen);
	elf_end(elf);
	return same;
}

/*
 * The separate debug file .gnu_debuglink names, searched as gdb and libdwfl
 * do (next to the file, in .debug/ there, under /usr/lib/debug/<dir>/), but
 * in the target's root (rootfs.h: no symbolic link leads out of it) and
 * only for a plain file name: the link is the target's to write, "../" in
 * it is refused.  The file must match (build ID, else CRC).  An fd, or -1.
 */
static int module__find_debuglink(const struct module *mod, Dwfl_Module *dm, const char *link,
				  GElf_Word crc, char **name)
{
	static const char *const forms[] = { "%.*s/%s", "%.*s/.debug/%s",
					     DEBUGINFO_DIR "%.*s/%s" };
	char buf[PATH_MAX];
	const char *file = rootfs__target_path(mod->pid, mod->path, buf, sizeof(buf));
	const char *slash = strrchr(file, '/');
	int dirlen = slash ? (int)(slash - file) : 0;

	if (!link || !*link)
		return -1;
	if (strchr(link, '/') || !strcmp(link, ".") || !strcmp(link, "..") ||
	    strlen(link) > NAME_MAX) {
		debuglink__refuse(mod, link, "not a plain file name");
		return -1;
	}
	if (file[0] != '/')
		return -1;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		char path[PATH_MAX + NAME_MAX + 32];
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), forms[i], dirlen, file, link);
		fd = rootfs__open(mod->pid, path, 0, DEBUGLINK_MAX_BYTES, &st);
		if (fd < 0) {
			if (fd != -ENOENT && fd != -ENOTDIR)
				debuglink__refuse(mod, path, rootfs__reason(fd));
			continue;
		}
		if ((st.st_ino == mod->ino && st.st_dev == mod->dev) ||
		    !debuglink__matches(dm, fd, crc)) {
			close(fd);
			continue;
		}
		if (asprintf(name, "/proc/%d/root%s", (int)mod->pid, path) < 0) {
			*name = NULL;
			close(fd);
			return -1;
		}
		return fd;
	}
	return -1;
}

/*
 * libdwfl's find_debuginfo: by build ID (/usr/lib/debug/.build-id/), then
 * by .gnu_debuglink in the target's root (module__find_debuglink); for the
 * vdso, which has no file, the build-ID path only.
 */
static int find_debuginfo_cb(Dwfl_Module *dm, void **userdata, const char *modname,
			     Dwarf_Addr base, const char *file_name, const char *debuglink_file,
			     GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	const struct module *mod = *userdata;
	const unsigned char *id;
	GElf_Addr id_vaddr;
	int fd, idlen;

	/* By build ID first, ourselves: the uncompressed copy if it has one. */
	idlen = dwfl_module_build_id(dm, &id, &id_vaddr);
	if (idlen > 0) {
		fd = debug_cache__open_debuginfo(id, idlen, debuginfo_file_name);
		if (fd >= 0)
			return fd;
	}
	/* By build ID in our own DEBUGINFO_DIR: a path made of hex digits. */
	fd = dwfl_build_id_find_debuginfo(dm, userdata, modname, base, file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (fd < 0 && mod && !mod->vdso)
		fd = module__find_debuglink(mod, dm, debuglink_file, debuglink_crc,
					    debuginfo_file_name);
	/*
	 * Found by .gnu_debuglink: libdwfl validated it by build ID and keeps
	 * the file it opened for that, so no copy can stand in for it now.
	 * One is made for the next daemon, whose lookup above finds it.
	 */
	if (fd >= 0 && idlen > 0) {
		Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
		char *copy_name = NULL;
		int copy = debug_cache__open(fd, elf, &copy_name);

		if (copy >= 0)
			close(copy);
		free(copy_name);
		elf_end(elf);
	}
	return fd;
}

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf_cb,
	.find_debuginfo = find_debuginfo_cb,
};

/*
 * The bias of mod's file mapped at start from file offset offset: the
 * PT_LOAD holding that offset puts file offset o at ELF address
 * p_vaddr + (o - p_offset), and the mapping puts it at start.  Works alike
 * for ET_DYN (PIE, libraries: any bias) and ET_EXEC (bias 0).
 */
static int module__bias(const struct module *mod, long page_size, uint64_t start, uint64_t offset,
			uint64_t *bias)
{
	const struct segment *found = NULL;
	size_t i;

	for (i = 0; i < mod->nsegs; i++) {
		const struct segment *sg = &mod->segs[i];
		uint64_t first = sg->offset & ~((uint64_t)page_size - 1);

		if (offset < first || offset >= sg->offset + sg->filesz)
			continue;
		if (!found || (sg->exec && !found->exec))
			found = sg;
	}
	if (!found)
		return -ENOENT;
	*bias = start - (found->vaddr + offset - found->offset);
	return 0;
}

/* Reads what a module needs from its ELF file: segments, build ID. */
static int module__read_elf(struct symbolizer *s, struct module *mod)
{
	uint64_t first_vaddr = 0, end = 0;
	const void *bits = NULL;
	char hex[2 * 64 + 1] = "";
	bool have_first = false;
	size_t phnum, i;
	char *opened;
	ssize_t nbits;
	Elf *elf;
	int fd, err;

	err = module__open_elf(mod, &fd, &elf, &opened);
	if (err)
		return err;
	free(opened);
	if (elf_getphdrnum(elf, &phnum) || !phnum) {
		err = -ENOEXEC;
		goto out;
	}
	mod->segs = arena__alloc(&s->arena, phnum * sizeof(*mod->segs));
	if (!mod->segs) {
		err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < phnum; i++) {
		GElf_Phdr mem, *ph = gelf_getphdr(elf, i, &mem);

		if (!ph || ph->p_type != PT_LOAD)
			continue;
		/* libdwfl biases the module by low_addr - this (open_elf). */
		if (!have_first) {
			first_vaddr = ph->p_vaddr & -ph->p_align;
			have_first = true;
		}
		if (ph->p_vaddr + ph->p_memsz > end)
			end = ph->p_vaddr + ph->p_memsz;
		mod->segs[mod->nsegs].vaddr = ph->p_vaddr;
		mod->segs[mod->nsegs].offset = ph->p_offset;
		mod->segs[mod->nsegs].filesz = ph->p_filesz;
		mod->segs[mod->nsegs].exec = ph->p_flags & PF_X;
		mod->nsegs++;
	}
	if (!have_first) {
		err = -ENOEXEC;
		goto out;
	}
	mod->low = first_vaddr;  /* ELF addresses until the bias is known */
	mod->high = end;
	nbits = dwelf_elf_gnu_build_id(elf, &bits);
	if (nbits > 0 && nbits <= 64)
		hex_encode(bits, nbits, hex);
	/* Go: names, lines, inline frames and frame sizes even when stripped. */
	if (fd >= 0 && gopclntab__present(elf)) {
		char why[256];

		mod->go = gopclntab__open_fd(fd, 0, why, sizeof(why));
		mod->go_owner = mod->go;
		if (!mod->go)
			pr_warn("symbols: %s: Go binary, but its pclntab cannot be read: %s",
				mod->path, why);
		else
			pr_debug("symbols: %s: Go pclntab, %zu functions, %s", mod->path,
				 gopclntab__nfuncs(mod->go), gopclntab__go_version(mod->go)[0] ?
				 gopclntab__go_version(mod->go) : "version unknown");
	}
	err = strset__intern(&s->strs, hex, &mod->build_id);
	mod->build_id_hash = hash_str(hex);
out:
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return err;
}

/* The vdso has no file: its bytes are copied out of the target, at most this many. */
#define VDSO_MAX_BYTES (1u << 20)

static int module__read_vdso(struct module *mod)
{
	char path[64];
	ssize_t n;
	int fd;

	mod->image_size = mod->map_limit - mod->map_start;
	if (mod->image_size > VDSO_MAX_BYTES)
		return -EFBIG; /* the kernel's is two pages: maps text that says otherwise is wrong */
	mod->image = malloc(mod->image_size);
	if (!mod->image)
		return -ENOMEM;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)mod->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, mod->image, mod->image_size, (off_t)mod->map_start);
	close(fd);
	return n == (ssize_t)mod->image_size ? 0 : -EIO;
}

/*
 * The module for a new mapping: an existing one of the same file at the same
 * bias, a copy of one of the same file at another bias (no need to read the
 * file again), or a new one.  NULL when the file is no readable ELF file.
 */
static struct module *symbolizer__module_for(struct symbolizer *s, const struct mapping *m,
					     int *err)
{
	struct module *mod, *same_file = NULL;
	uint64_t bias;
	char *name;
	size_t len;

	*err = 0;
	for (mod = s->modules; mod; mod = mod->next) {
		if (mod->dev != m->dev || mod->ino != m->ino || strcmp(mod->path, m->pub.path))
			continue;
		if (mod->vdso) {
			/* Same path, different bytes maybe: only the very same range. */
			if (mod->map_start == m->pub.start && mod->map_limit == m->pub.limit)
				return mod;
			continue;
		}
		same_file = mod;
		if (!module__bias(mod, s->page_size, m->pub.start, m->pub.offset, &bias) &&
		    bias == mod->bias)
			return mod;
	}

	mod = arena__alloc(&s->arena, sizeof(*mod));
	if (!mod) {
		*err = -ENOMEM;
		return NULL;
	}
	memset(mod, 0, sizeof(*mod));
	mod->pid = s->pid;
	mod->path = m->pub.path;
	mod->dev = m->dev;
	mod->ino = m->ino;
	mod->map_start = m->pub.start;
	mod->map_limit = m->pub.limit;
	mod->vdso = !strcmp(m->pub.path, vdso_path);
	if (same_file) {
		mod->segs = same_file->segs;
		mod->nsegs = same_file->nsegs;
		mod->build_id = same_file->build_id;
		mod->build_id_hash = same_file->build_id_hash;
		mod->go = same_file->go;
		mod->low = same_file->low - same_file->bias;
		mod->high = same_file->high - same_file->bias;
	} else {
		*err = mod->vdso ? module__read_vdso(mod) : 0;
		if (!*err)
			*err = module__read_elf(s, mod);
		if (*err) {
			pr_debug("symbolize: pid %d: %s: %s", (int)s->pid, m->pub.path,
				 strerror(-*err));
			free(mod->image);
			mod->image = NULL;
			if (*err != -ENOMEM)
				*err = 0; /* an unreadable file: the mapping stays, unresolved */
			return NULL;
		}
	}
	if (module__bias(mod, s->page_size, m->pub.start, m->pub.offset, &bias)) {
		pr_debug("symbolize: pid %d: %s: no PT_LOAD at offset 0x%" PRIx64, (int)s->pid,
			 m->pub.path, m->pub.offset);
		free(mod->image);
		if (mod->go_owner)
			gopclntab__free(mod->go);
		return NULL;
	}
	mod->bias = bias;
	mod->low += bias;
	mod->high += bias;

	len = strlen(mod->path) + 16;
	name = arena__alloc(&s->arena, len);
	if (!name) {
		free(mod->image);
		if (mod->go_owner)
			gopclntab__free(mod->go);
		*err = -ENOMEM;
		return NULL;
	}
	snprintf(name, len, "%s#%u", mod->path, s->nmodules++);
	mod->dwfl_name = name;
	mod->next = s->modules;
	s->modules = mod;
	return mod;
}

/*
 * Tells libdwfl the current set of modules.  Modules reported before are
 * kept by libdwfl with what they loaded; the others are dropped (their
 * struct module stays: a pointer to it may be in a cached location).
 */
static void symbolizer__report(struct symbolizer *s, const struct symbol_mapping **cur, size_t n)
{
	struct module *mod;
	size_t i;

	s->gen++;
	dwfl_report_begin(s->dwfl);
	for (i = 0; i < n; i++) {
		void **userdata;
		Dwfl_Module *dm;

		mod = to_mapping(cur[i])->module;
		if (!mod || mod->gen == s->gen)
			continue;
		mod->gen = s->gen;
		dm = dwfl_report_module(s->dwfl, mod->dwfl_name, mod->low, mod->high);
		if (!dm) {
			pr_debug("symbolize: pid %d: %s: %s", (int)s->pid, mod->path,
				 dwfl_errmsg(-1));
			mod->gen = 0;
			continue;
		}
		dwfl_module_info(dm, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
		*userdata = mod;
		mod->dwfl_mod = dm;
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	for (mod = s->modules; mod; mod = mod->next) {
		if (mod->gen != s->gen) {
			mod->dwfl_mod = NULL;
			module__drop_cus(mod); /* its DIEs went with the Dwfl_Module */
		}
	}
}

/*
 * The most of a target's /proc/PID/maps read: the target controls its
 * length (65530 mappings by default, each line up to a path of PATH_MAX:
 * ~270 MB).  A big real process (a JVM, 30,000 mappings) has ~3 MB.
 */
#define MAPS_MAX_BYTES (32u << 20)

static int read_whole_file(const char *path, char **text, size_t *len)
{
	size_t cap = 64 * 1024, n = 0;
	char *buf = malloc(cap), *nbuf;
	int fd, err = 0;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(buf);
		return err;
	}
	for (;;) {
		if (n + 1 >= cap) {
			if (cap >= MAPS_MAX_BYTES) {
				err = -EFBIG;
				break;
			}
			nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				err = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (!r)
			break;
		n += r;
	}
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* The current user-space mapping equal to this maps line, if any. */
static struct mapping *symbolizer__find_same(struct symbolizer *s, uint64_t start, uint64_t limit,
					     uint64_t offset, dev_t dev, ino_t ino,
					     const char *path)
{
	size_t lo = 0, hi = s->ncur - 1; /* the last one is the kernel's */

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->cur[mid]->start < start)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->ncur - 1) {
		struct mapping *m = to_mapping(s->cur[lo]);

		if (m->pub.start == start && m->pub.limit == limit && m->pub.offset == offset &&
		    m->dev == dev && m->ino == ino && !strcmp(m->pub.path, path))
			return m;
	}
	return NULL;
}

static struct mapping *symbolizer__new_mapping(struct symbolizer *s, uint64_t start,
					       uint64_t limit, uint64_t offset, dev_t dev,
					       ino_t ino, const char *path, int *err)
{
	struct mapping *m = arena__alloc(&s->arena, sizeof(*m));

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	memset(m, 0, sizeof(*m));
	m->pub.start = start;
	m->pub.limit = limit;
	m->pub.offset = offset;
	m->dev = dev;
	m->ino = ino;
	if (strset__intern(&s->strs, path, &m->pub.path)) {
		*err = -ENOMEM;
		return NULL;
	}
	m->module = symbolizer__module_for(s, m, err);
	if (*err)
		return NULL;
	m->pub.build_id = m->module ? m->module->build_id : "";
	m->next = s->all_mappings;
	s->all_mappings = m;
	return m;
}

/* The mappings of maps text (malloc'd, NUL-terminated, kept: owned now). */
static int symbolizer__load_maps(struct symbolizer *s, char *text, size_t len)
{
	const struct symbol_mapping **cur = NULL;
	size_t ncur = 0, cap = 0, kept = 0;
	char *work, *line, *eol;
	int err;

	/* Parsed in a copy: text is kept as read, for the comparison above. */
	work = malloc(len + 1);
	if (!work) {
		free(text);
		return -ENOMEM;
	}
	memcpy(work, text, len + 1);

	for (line = work; *line; line = eol + 1) {
		uint64_t start, limit, offset, ino;
		unsigned int major, minor;
		char perms[8], *p;
		struct mapping *m;
		int pos = 0;
		size_t plen;

		eol = strchr(line, '\n');
		if (!eol)
			eol = line + strlen(line) - 1; /* the loop ends after this line */
		else
			*eol = '\0';
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
			   &start, &limit, perms, &offset, &major, &minor, &ino, &pos) < 7 ||
		    !pos)
			continue;
		p = line + pos;
		if (strlen(perms) < 3 || perms[2] != 'x' || start >= KERNEL_ADDR_MIN ||
		    limit <= start)
			continue;
		if (p[0] != '/' && strcmp(p, vdso_path))
			continue;
		plen = strlen(p);
		if (plen > 10 && !strcmp(p + plen - 10, " (deleted)"))
			p[plen - 10] = '\0';

		m = symbolizer__find_same(s, start, limit, offset, makedev(major, minor), ino, p);
		if (m) {
			kept++;
		} else {
			m = symbolizer__new_mapping(s, start, limit, offset, makedev(major, minor),
						    ino, p, &err);
			if (!m)
				goto fail;
		}
		if (ncur + 2 > cap) {
			const struct symbol_mapping **ncurp;

			cap = cap ? cap * 2 : 64;
			ncurp = realloc(cur, cap * sizeof(*cur));
			if (!ncurp) {
				err = -ENOMEM;
				goto fail;
			}
			cur = ncurp;
		}
		cur[ncur++] = &m->pub;
	}
	if (!cur) {
		cur = malloc(sizeof(*cur));
		if (!cur) {
			err = -ENOMEM;
			goto fail;
		}
	}
	cur[ncur++] = &s->kernel.pub;

	symbolizer__report(s, cur, ncur - 1);
	/*
	 * A mapping gone means a pc of it may now be something else: forget
	 * what pcs resolved to (the global cache makes it cheap to redo).  New
	 * mappings alone change nothing: unknown pcs are never cached.
	 */
	if (kept < s->ncur - 1)
		loc_table__free(&s->locs);
	if (kept < s->ncur - 1 || kept < ncur - 1)
		s->mappings_gen++;
	free(s->cur);
	s->cur = cur;
	s->ncur = ncur;
	free(s->maps_text);
	s->maps_text = text;
	s->maps_len = len;
	free(work);
	return 0;

fail:
	free(cur);
	free(work);
	free(text);
	return err;
}

int symbolizer__reload(struct symbolizer *s)
{
	char path[64], *text = NULL;
	size_t len = 0;
	int err;

	if (s->maps_given)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	err = read_whole_file(path, &text, &len);
	if (err)
		return err == -ENOENT ? -ESRCH : err;
	if (s->maps_text && len == s->maps_len && !memcmp(text, s->maps_text, len)) {
		free(text);
		return 0;
	}
	return symbolizer__load_maps(s, text, len);
}

/* Maps text to load instead of /proc/PID/maps (symbolizer__new_from_maps). */
static const char *given_maps;
static size_t given_maps_len;

struct symbolizer *symbolizer__new_from_maps(pid_t pid, const char *maps, size_t len)
{
	struct symbolizer *s;

	given_maps = maps;
	given_maps_len = len;
	s = symbolizer__new(pid);
	given_maps = NULL;
	return s;
}

void symbolizer__files(const struct symbolizer *s, struct symbolizer_files *out)
{
	perf_map__status(s->jit, &out->perf_map);
	out->debuglinks_refused = debuglinks.refused;
	out->last_debuglink_refused = debuglinks.last;
}

struct symbolizer *symbolizer__new(pid_t pid)
{
	struct symbolizer *s;
	int err;

	if (pid <= 0) {
		errno = ESRCH;
		return NULL;
	}
	elf_version(EV_CURRENT);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->pid = pid;
	s->strs.arena = &s->arena;
	s->page_size = sysconf(_SC_PAGESIZE);
	s->kernel.pub.start = KERNEL_ADDR_MIN;
	s->kernel.pub.limit = UINT64_MAX;
	s->kernel.pub.path = kernel_path;
	s->kernel.pub.kernel = true;
	err = strset__intern(&s->strs, kernel_build_id(), &s->kernel.pub.build_id);
	if (err)
		goto fail;
	s->cur = malloc(sizeof(*s->cur));
	if (!s->cur) {
		err = -ENOMEM;
		goto fail;
	}
	s->cur[0] = &s->kernel.pub;
	s->ncur = 1;
	s->dwfl = dwfl_begin(&dwfl_callbacks);
	s->jit = perf_map__new(pid);
	if (!s->dwfl || !s->jit) {
		err = -ENOMEM;
		goto fail;
	}
	if (given_maps) {
		char *text = malloc(given_maps_len + 1);

		if (!text) {
			err = -ENOMEM;
			goto fail;
		}
		memcpy(text, given_maps, given_maps_len);
		text[given_maps_len] = '\0';
		err = symbolizer__load_maps(s, text, given_maps_len);
		s->maps_given = true;
	} else {
		err = symbolizer__reload(s);
	}
	if (err)
		goto fail;
	return s;

fail:
	symbolizer__free(s);
	errno = -err;
	return NULL;
}

void symbolizer__free(struct symbolizer *s)
{
	struct module *mod;

	if (!s)
		return;
	/* libdwfl first: it may hold Elf handles over the vdso images. */
	if (s->dwfl)
		dwfl_end(s->dwfl);
	for (mod = s->modules; mod; mod = mod->next) {
		module__drop_cus(mod);
		free(mod->image);
		if (mod->go_owner)
			gopclntab__free(mod->go);
	}
	perf_map__free(s->jit);
	loc_table__free(&s->locs);
	ptrmap__free(&s->demangled);
	ptrmap__free(&s->imported);
	strset__free(&s->strs);
	free(s->cur);
	free(s->maps_text);
	arena__free(&s->arena);
	free(s);
}

size_t symbolizer__mappings(struct symbolizer *s, const struct symbol_mapping *const **out)
{
	*out = s->cur;
	return s->ncur;
}

unsigned symbolizer__generation(const struct symbolizer *s)
{
	return s->mappings_gen;
}

/* --- resolution -------------------------------------------------------------- */

static struct mapping *symbolizer__find_mapping(struct symbolizer *s, uint64_t pc)
{
	size_t lo = 0, hi = s->ncur - 1;

	/* The last user mapping starting at or below pc. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->cur[mid]->start <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo && pc < s->cur[lo - 1]->limit)
		return to_mapping(s->cur[lo - 1]);
	return NULL;
}

/*
 * Sets f's names from a linkage (mangled) name and a plain name, either may
 * be NULL: system_name is the linkage name (else the name), function its
 * demangled form (else the name).
 */
static int frame__set_names(struct symbolizer *s, struct symbol_frame *f, const char *name,
			    const char *linkage)
{
	char *demangled = NULL;
	int status, err;

	if (!linkage)
		return strset__intern(&s->strs, name, &f->function) ?:
		       strset__intern(&s->strs, name, &f->system_name);
	err = strset__intern(&s->strs, linkage, &f->system_name);
	if (err)
		return err;
	/* Demangling a long C++ name costs microseconds: once per name. */
	f->function = ptrmap__get(&s->demangled, f->system_name);
	if (f->function)
		return 0;
	if (linkage[0] == '_' && linkage[1] == 'Z' && demangler())
		demangled = demangler()(linkage, NULL, NULL, &status);
	err = strset__intern(&s->strs, demangled ? demangled : name ? name : linkage,
			     &f->function);
	free(demangled);
	return err ?: ptrmap__put(&s->demangled, f->system_name, f->function);
}

/* Forgets what points into the module's Dwfl_Module (DIEs, symbol names). */
static void module__drop_cus(struct module *mod)
{
	size_t i;

	for (i = 0; i < mod->cus_cap; i++)
		cu_index__free(mod->cus[i]);
	free(mod->cus);
	mod->cus = NULL;
	mod->cus_cap = mod->ncus = 0;
	free(mod->syms);
	mod->syms = NULL;
	mod->nsyms = 0;
	mod->syms_read = false;
}

/* The index of the CU, built on first use; NULL on allocation failure. */
static struct cu_index *module__cu_index(struct module *mod, Dwarf_Die *cudie)
{
	Dwarf_Off off = dwarf_dieoffset(cudie);
	struct cu_index *ix;
	size_t i;

	if (mod->cus_cap) {
		for (i = hash_u64(off) & (mod->cus_cap - 1); mod->cus[i];
		     i = (i + 1) & (mod->cus_cap - 1)) {
			if (mod->cus[i]->cu_off == off)
				return mod->cus[i];
		}
	}
	if ((mod->ncus + 1) * 2 > mod->cus_cap) {
		size_t cap = mod->cus_cap ? mod->cus_cap * 2 : 16, j;
		struct cu_index **cus = calloc(cap, sizeof(*cus));

		if (!cus)
			return NULL;
		for (i = 0; i < mod->cus_cap; i++) {
			if (!mod->cus[i])
				continue;
			for (j = hash_u64(mod->cus[i]->cu_off) & (cap - 1); cus[j];
			     j = (j + 1) & (cap - 1))
				;
			cus[j] = mod->cus[i];
		}
		free(mod->cus);
		mod->cus = cus;
		mod->cus_cap = cap;
	}
	ix = cu_index__new(cudie);
	if (!ix)
		return NULL;
	for (i = hash_u64(off) & (mod->cus_cap - 1); mod->cus[i]; i = (i + 1) & (mod->cus_cap - 1))
		;
	mod->cus[i] = ix;
	mod->ncus++;
	return ix;
}

/*
 * Frames from DWARF: the chain of subprogram / inlined_subroutine DIEs around
 * pc, innermost first, up to the first subprogram.  The innermost frame's
 * line is the line table's; each outer one's is the call site recorded on
 * the inlined_subroutine inside it.  Returns the number of frames (0: no
 * DWARF function here) or -errno.
 */
static int dwarf_frames(struct symbolizer *s, struct module *mod, uint64_t pc,
			const char *symname, struct symbol_frame **out)
{
	Dwfl_Module *dm = mod->dwfl_mod;
	struct symbol_frame *frames;
	Dwarf_Die *cudie, *callsite = NULL;
	int nframes = 0, k, err;
	struct cu_index *ix;
	Dwarf_Addr dwbias;
	int32_t inner, n;

	cudie = dwfl_module_addrdie(dm, pc, &dwbias);
	if (!cudie)
		return 0;
	ix = module__cu_index(mod, cudie);
	if (!ix)
		return -ENOMEM;
	inner = cu_index__innermost(ix, pc - dwbias);
	for (n = inner; n >= 0; n = ix->nodes[n].parent) {
		nframes++;
		if (dwarf_tag(&ix->nodes[n].die) != DW_TAG_inlined_subroutine)
			break;
	}
	if (!nframes)
		return 0;
	frames = arena__alloc(&s->arena, nframes * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	memset(frames, 0, nframes * sizeof(*frames));

	for (k = 0, n = inner; k < nframes; k++, n = ix->nodes[n].parent) {
		struct symbol_frame *f = &frames[k];
		Dwarf_Die *die = &ix->nodes[n].die;
		const char *name, *linkage, *file = NULL;
		int line = 0;

		name = die_string(die, DW_AT_name);
		linkage = die_string(die, DW_AT_linkage_name);
		if (!linkage)
			linkage = die_string(die, DW_AT_MIPS_linkage_name);
		/* An outermost function DWARF leaves nameless: the ELF symbol's. */
		if (!name && !linkage && dwarf_tag(die) != DW_TAG_inlined_subroutine)
			linkage = symname;
		err = frame__set_names(s, f, name, linkage);
		if (err)
			return err;
		f->start_line = die_udata(die, DW_AT_decl_line, true);
		if (!k) {
			Dwfl_Line *src = dwfl_module_getsrc(dm, pc);

			if (src)
				file = dwfl_lineinfo(src, NULL, &line, NULL, NULL, NULL);
		} else {
			file = die_call_file(callsite);
			line = die_udata(callsite, DW_AT_call_line, false);
		}
		err = strset__intern(&s->strs, file, &f->file);
		if (err)
			return err;
		f->line = line;
		callsite = die;
	}
	*out = frames;
	return nframes;
}

/*
 * The function symbols of a module (.symtab of the file or its debug file,
 * else .dynsym), sorted by address: libdwfl 0.188's dwfl_module_addrinfo()
 * scans the whole table at every call, milliseconds for libc's.
 */
struct msym {
	uint64_t addr, size; /* runtime address; size bounded by the section if none */
	const char *name;    /* in libdwfl's string table */
	int rank;            /* which name wins at one address: lower */
	bool sized;          /* st_size was set */
};

/* How far back a sizeless label looks for a function around it. */
#define MSYM_ENCLOSING_SCAN 64

static int msym_cmp(const void *a, const void *b)
{
	const struct msym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	return strcmp(x->name, y->name);
}

static int module__read_symbols(struct module *mod)
{
	int n = dwfl_module_getsymtab(mod->dwfl_mod), i;

	mod->syms_read = true;
	if (n <= 0)
		return 0;
	mod->syms = malloc(n * sizeof(*mod->syms));
	if (!mod->syms)
		return -ENOMEM;
	for (i = 1; i < n; i++) {
		GElf_Shdr shdr_mem, *shdr = NULL;
		Dwarf_Addr bias = 0;
		const char *name;
		Elf *elf = NULL;
		GElf_Word shndx;
		GElf_Addr addr;
		GElf_Sym sym;
		int type, bind;

		name = dwfl_module_getsym_info(mod->dwfl_mod, i, &sym, &addr, &shndx, &elf, &bias);
		if (!name || !*name || shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
			continue;
		if (elf && shndx < SHN_LORESERVE)
			shdr = gelf_getshdr(elf_getscn(elf, shndx), &shdr_mem);
		/*
		 * Assembly labels (_start) are NOTYPE: those in code count too,
		 * not markers at a section's end (_etext).
		 */
		if (type == STT_NOTYPE &&
		    (!shdr || !(shdr->sh_flags & SHF_EXECINSTR) ||
		     addr >= shdr->sh_addr + shdr->sh_size + bias))
			continue;
		bind = GELF_ST_BIND(sym.st_info);
		mod->syms[mod->nsyms].addr = addr;
		mod->syms[mod->nsyms].size = sym.st_size;
		mod->syms[mod->nsyms].sized = sym.st_size;
		/* A sizeless one (_init, _start) ends with its section at the latest. */
		if (!sym.st_size && shdr && shdr->sh_addr + shdr->sh_size + bias > addr)
			mod->syms[mod->nsyms].size = shdr->sh_addr + shdr->sh_size + bias - addr;
		mod->syms[mod->nsyms].name = name;
		/* The exported name of a function over its local aliases, over labels. */
		mod->syms[mod->nsyms].rank = (bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2) +
					     (type == STT_NOTYPE ? 3 : 0);
		mod->nsyms++;
	}
	qsort(mod->syms, mod->nsyms, sizeof(*mod->syms), msym_cmp);
	return 0;
}

/* The function symbol holding pc, or NULL. */
static const struct msym *module__symbol(struct module *mod, uint64_t pc, int *err)
{
	size_t lo = 0, hi, i;

	*err = 0;
	if (!mod->syms_read) {
		*err = module__read_symbols(mod);
		if (*err)
			return NULL;
	}
	hi = mod->nsyms;
	/* The first symbol above pc. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (mod->syms[mid].addr <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	/* The preferred name at the highest address at or below pc. */
	for (i = lo - 1; i > 0 && mod->syms[i - 1].addr == mod->syms[lo - 1].addr; i--)
		;
	if (!mod->syms[i].sized) {
		/* A label: unless it sits inside a function that holds pc. */
		size_t j, stop = i > MSYM_ENCLOSING_SCAN ? i - MSYM_ENCLOSING_SCAN : 0;

		for (j = i; j-- > stop;) {
			if (mod->syms[j].sized && pc < mod->syms[j].addr + mod->syms[j].size) {
				for (; j > 0 && mod->syms[j - 1].addr == mod->syms[j].addr; j--)
					;
				return &mod->syms[j];
			}
		}
	}
	/* It covers [addr, addr + size) (to its section's end if sizeless); an alias may be bigger. */
	for (; lo > i; lo--) {
		if (!mod->syms[i].size && !mod->syms[lo - 1].size)
			return &mod->syms[i]; /* not even a section known: up to the next symbol */
		if (pc < mod->syms[lo - 1].addr + mod->syms[lo - 1].size)
			return &mod->syms[i];
	}
	return NULL;
}

/* Resolves pc in a module through libdwfl into *loc (arena memory). */
static int module__resolve(struct symbolizer *s, struct module *mod, uint64_t pc,
			   struct symbol_location *loc)
{
	Dwfl_Module *dm = mod->dwfl_mod;
	struct symbol_frame *frames = NULL;
	const struct msym *sym;
	const char *symname;
	int n;

	sym = module__symbol(mod, pc, &n);
	if (n)
		return n;
	symname = sym ? sym->name : NULL;
	loc->symbol_start = sym ? sym->addr : 0;

	n = dwarf_frames(s, mod, pc, symname, &frames);
	if (n < 0)
		return n;
	if (!n && symname) {
		/* No DWARF here (a stripped library): the ELF symbol alone. */
		Dwfl_Line *src = dwfl_module_getsrc(dm, pc);
		const char *file = NULL;
		int line = 0, err;

		if (src)
			file = dwfl_lineinfo(src, NULL, &line, NULL, NULL, NULL);
		frames = arena__alloc(&s->arena, sizeof(*frames));
		if (!frames)
			return -ENOMEM;
		memset(frames, 0, sizeof(*frames));
		err = frame__set_names(s, frames, NULL, symname);
		if (!err)
			err = strset__intern(&s->strs, file, &frames->file);
		if (err)
			return err;
		frames->line = line;
		n = 1;
	}
	loc->nframes = n;
	loc->frames = frames;
	return 0;
}

/* Our interned copy of a gcache string: by pointer, no hashing of the text. */
static int symbolizer__import_str(struct symbolizer *s, const char *global, const char **local)
{
	*local = NULL;
	if (!global)
		return 0;
	*local = ptrmap__get(&s->imported, global);
	if (*local)
		return 0;
	return strset__intern(&s->strs, global, local) ?:
	       ptrmap__put(&s->imported, global, *local);
}

/* Copies frames of a gcache entry into the symbolizer's own memory. */
static int symbolizer__import(struct symbolizer *s, const struct symbol_frame *src, size_t n,
			      struct symbol_frame **out)
{
	struct symbol_frame *f;
	size_t i;

	*out = NULL;
	if (!n)
		return 0;
	if (s->imported_gen != gcache.gen) {
		ptrmap__free(&s->imported);
		s->imported_gen = gcache.gen;
	}
	f = arena__alloc(&s->arena, n * sizeof(*f));
	if (!f)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		f[i].line = src[i].line;
		f[i].start_line = src[i].start_line;
		if (symbolizer__import_str(s, src[i].function, &f[i].function) ||
		    symbolizer__import_str(s, src[i].system_name, &f[i].system_name) ||
		    symbolizer__import_str(s, src[i].file, &f[i].file))
			return -ENOMEM;
	}
	*out = f;
	return 0;
}

/* pc in a Go binary: its pclntab (innermost inlined function first). */
static int module__resolve_go(struct symbolizer *s, struct module *mod, uint64_t pc,
			      struct symbol_location *loc)
{
	struct gofunc_frame gf[32];
	struct symbol_frame sf[32], *frames;
	int n, i, err;

	n = gopclntab__lookup(mod->go, pc - mod->bias, gf, 32);
	if (n <= 0)
		return n;
	memset(sf, 0, sizeof(sf));
	for (i = 0; i < n; i++) {
		sf[i].function = sf[i].system_name = gf[i].function;
		sf[i].file = gf[i].file;
		sf[i].line = gf[i].line;
		sf[i].start_line = gf[i].start_line;
	}
	err = frames__copy(&s->arena, &s->strs, sf, n, &frames);
	if (err)
		return err;
	loc->symbol_start = gf[0].entry + mod->bias;
	loc->nframes = n;
	loc->frames = frames;
	return 0;
}

static int symbolizer__resolve_user(struct symbolizer *s, struct mapping *m, uint64_t pc,
				    struct symbol_location *loc)
{
	struct module *mod = m->module;
	const struct gcache_entry *e;
	struct symbol_frame *frames;
	Dwarf_Addr elf_bias;
	bool cacheable;
	int err;

	loc->mapping = &m->pub;
	/* Go code: the binary's own table, stripped or not; the rest (C of cgo) below. */
	if (mod && mod->go) {
		err = module__resolve_go(s, mod, pc, loc);
		if (err || loc->nframes)
			return err;
	}
	if (!mod || !mod->dwfl_mod)
		return 0;
	/* A file without build ID has no name that outlives this process. */
	cacheable = mod->build_id[0];
	if (cacheable) {
		e = gcache__find(mod->build_id, mod->build_id_hash, pc - mod->bias);
		if (e) {
			err = symbolizer__import(s, e->frames, e->nframes, &frames);
			if (err)
				return err;
			loc->symbol_start = e->has_symbol ? e->symbol_start + mod->bias : 0;
			loc->nframes = e->nframes;
			loc->frames = frames;
			return 0;
		}
	}
	err = module__resolve(s, mod, pc, loc);
	if (err)
		return err;
	/* Only what the file itself says: not "could not open it (this time)". */
	if (cacheable && dwfl_module_getelf(mod->dwfl_mod, &elf_bias))
		gcache__insert(mod->build_id, mod->build_id_hash, pc - mod->bias, mod->bias, loc);
	return 0;
}

static int symbolizer__resolve_kernel(struct symbolizer *s, uint64_t pc,
				      struct symbol_location *loc)
{
	struct symbol_frame *f;
	uint64_t start;
	const char *name;
	int err;

	loc->mapping = &s->kernel.pub;
	name = kallsyms__lookup(pc, &start);
	if (!name)
		return 0;
	f = arena__alloc(&s->arena, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	err = strset__intern(&s->strs, name, &f->function);
	if (err)
		return err;
	f->system_name = f->function;
	loc->symbol_start = start;
	loc->nframes = 1;
	loc->frames = f;
	return 0;
}

/*
 * The mapping holding pc; an address in none may be in a library dlopen'ed
 * since: maps are read again, not more often than once a second.
 */
static struct mapping *symbolizer__mapping_at(struct symbolizer *s, uint64_t pc)
{
	struct mapping *m = symbolizer__find_mapping(s, pc);
	uint64_t now;
	int err;

	if (m)
		return m;
	now = now_ns();
	if (s->last_auto_reload_ns && now - s->last_auto_reload_ns < AUTO_RELOAD_INTERVAL_NS)
		return NULL;
	s->last_auto_reload_ns = now;
	err = symbolizer__reload(s);
	if (err == -EFBIG)
		pr_warn("symbolize: pid %d: its /proc/%d/maps is over %u MiB: not read, "
			"new mappings stay unknown", (int)s->pid, (int)s->pid, MAPS_MAX_BYTES >> 20);
	else if (err)
		pr_debug("symbolize: pid %d: rereading maps: %s", (int)s->pid, strerror(-err));
	return symbolizer__find_mapping(s, pc);
}

int symbolizer__cfi(struct symbolizer *s, uint64_t pc, Dwarf_CFI **eh, Dwarf_CFI **debug,
		    uint64_t *bias)
{
	/* Code dlopen'ed since the last reload is unwound too. */
	struct mapping *m = pc < KERNEL_ADDR_MIN ? symbolizer__mapping_at(s, pc) : NULL;
	Dwarf_Addr eh_bias = 0, debug_bias = 0;
	Dwfl_Module *dm;

	*eh = NULL;
	if (debug)
		*debug = NULL;
	*bias = 0;
	if (!m || !m->module || !m->module->dwfl_mod)
		return -ENOENT;
	dm = m->module->dwfl_mod;
	*eh = dwfl_module_eh_cfi(dm, &eh_bias);
	/* Only when asked: it may look for debug info (debuginfod included). */
	if (debug) {
		*debug = dwfl_module_dwarf_cfi(dm, &debug_bias);
		/* One bias for both: they differ only in a prelinked file, keep .eh_frame. */
		if (*eh && *debug && debug_bias != eh_bias)
			*debug = NULL;
	}
	if (!*eh && !(debug && *debug))
		return -ENOENT;
	*bias = *eh ? eh_bias : debug_bias;
	return 0;
}

int symbolizer__frame_rule(struct symbolizer *s, uint64_t pc, struct symbol_frame_rule *rule)
{
	struct mapping *m = pc < KERNEL_ADDR_MIN ? symbolizer__mapping_at(s, pc) : NULL;
	struct gounwind_rule gr;

	if (!m || !m->module || !m->module->go ||
	    gopclntab__unwind_rule(m->module->go, pc - m->module->bias, &gr))
		return -ENOENT;
	memset(rule, 0, sizeof(*rule));
	rule->has_cfa = gr.has_sp_delta;
	rule->cfa_sp_off = gr.sp_delta + 8;
	rule->outermost = gr.outermost;
	rule->stack_switch = gr.stack_switch;
	rule->switch_replaced = gr.switch_replaced;
	rule->hidden = gr.hidden;
	rule->at_entry = gr.at_entry;
	return 0;
}

/* An address in no file mapping: a function of the perf map, if any. */
static int symbolizer__resolve_jit(struct symbolizer *s, uint64_t pc, struct symbol_location *loc)
{
	const char *name = perf_map__find(s->jit, pc);
	struct symbol_frame frame = { 0 }, *copy;

	if (!name)
		return 0;
	frame.function = frame.system_name = name;
	if (frames__copy(&s->arena, &s->strs, &frame, 1, &copy))
		return -ENOMEM;
	loc->frames = copy;
	loc->nframes = 1;
	return 0;
}

int symbolizer__lookup(struct symbolizer *s, uint64_t pc, struct symbol_location *loc)
{
	const struct symbol_location *hit = loc_table__find(&s->locs, pc);
	struct mapping *m;
	int err;

	if (hit) {
		*loc = *hit;
		return 0;
	}
	memset(loc, 0, sizeof(*loc));
	if (pc >= KERNEL_ADDR_MIN) {
		err = symbolizer__resolve_kernel(s, pc, loc);
	} else {
		m = symbolizer__mapping_at(s, pc);
		if (!m)
			/* JIT code may be named in the perf map.  Not cached: the
			 * next reload may know it, and JIT code moves. */
			return symbolizer__resolve_jit(s, pc, loc);
		err = symbolizer__resolve_user(s, m, pc, loc);
	}
	if (err)
		return err;
	/* A full table only costs speed: the result is valid all the same. */
	loc_table__insert(&s->locs, pc, loc);
	return 0;
}
