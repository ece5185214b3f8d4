// SPDX-License-Identifier: MIT
/* debugcache.c - see debugcache.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "debugcache.h"
#include "log.h"

/* Bytes read or written at a time: the only buffers a copy needs. */
#define COPY_CHUNK (64 * 1024)

/* A cached copy is named <build ID>.elf. */
#define COPY_SUFFIX ".elf"

/* A copy being written this long ago was left by a daemon that died. */
#define STALE_WRITE_SECONDS 3600

static struct {
	char dir[PATH_MAX];
	uint64_t max_bytes;
	bool warned; /* the directory is unusable: said once */
} cache;

void debug_cache__configure(const char *dir, uint64_t max_bytes)
{
	snprintf(cache.dir, sizeof(cache.dir), "%s", dir ? dir : "");
	cache.max_bytes = max_bytes;
	cache.warned = false;
}

/* --- the copy ------------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the file is shorter than its headers say */
		buf = (char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf = (const char *)buf + n;
		len -= n;
		off += n;
	}
	return 0;
}

/* len bytes at in_off of in to out_off of out. */
static int copy_range(int in, uint64_t in_off, int out, uint64_t out_off, uint64_t len, char *buf)
{
	while (len) {
		size_t n = len < COPY_CHUNK ? len : COPY_CHUNK;
		int err = read_full(in, buf, n, in_off);

		if (!err)
			err = write_full(out, buf, n, out_off);
		if (err)
			return err;
		in_off += n;
		out_off += n;
		len -= n;
	}
	return 0;
}

/* The zlib stream of len bytes at in_off of in, inflated to exactly size bytes at out_off. */
static int inflate_range(int in, uint64_t in_off, uint64_t len, int out, uint64_t out_off,
			 uint64_t size, char *ibuf, char *obuf)
{
	z_stream z = { 0 };
	uint64_t written = 0;
	int zret = Z_OK, err = 0;

	if (inflateInit(&z) != Z_OK)
		return -ENOMEM;
	while (zret != Z_STREAM_END) {
		size_t got;

		if (!z.avail_in) {
			size_t n = len < COPY_CHUNK ? len : COPY_CHUNK;

			if (!n) {
				err = -EINVAL; /* the stream ends early */
				break;
			}
			err = read_full(in, ibuf, n, in_off);
			if (err)
				break;
			in_off += n;
			len -= n;
			z.next_in = (Bytef *)ibuf;
			z.avail_in = n;
		}
		z.next_out = (Bytef *)obuf;
		z.avail_out = COPY_CHUNK;
		zret = inflate(&z, Z_NO_FLUSH);
		if (zret != Z_OK && zret != Z_STREAM_END && !(zret == Z_BUF_ERROR && !z.avail_in)) {
			err = -EINVAL;
			break;
		}
		got = COPY_CHUNK - z.avail_out;
		if (written + got > size) {
			err = -EINVAL;
			break;
		}
		err = write_full(out, obuf, got, out_off + written);
		if (err)
			break;
		written += got;
	}
	inflateEnd(&z);
	if (!err && written != size)
		err = -EINVAL;
	return err;
}

/*
 * A copy is at most this, and at most symbols.cache_max_mb (but that cap
 * is never under COPY_MIN_LIMIT): the sizes in the file are its own
 * claims, and a zlib bomb must not fill the disk.  Sections aligned beyond
 * MAX_ALIGN are not ones we copy.
 */
#define COPY_MAX_BYTES (4ULL << 30)
#define COPY_MIN_LIMIT (64ULL << 20)
#define MAX_ALIGN (1ULL << 21)

static uint64_t align_up(uint64_t pos, uint64_t align)
{
	return align > 1 ? (pos + align - 1) / align * align : pos;
}

static const Elf64_Shdr *sort_shdrs; /* qsort's context */

static int by_offset(const void *a, const void *b)
{
	uint64_t x = sort_shdrs[*(const uint32_t *)a].sh_offset;
	uint64_t y = sort_shdrs[*(const uint32_t *)b].sh_offset;

	return x < y ? -1 : x > y;
}

/*
 * The layout: the file up to the first compressed section (headers, every
 * placed section) as it is; then the sections from there on, in file
 * order, each at its alignment (compressed ones inflated); then the section
 * header table.  Padding is left as holes.
 */
int debug_cache__decompress(int in, int out)
{
	const unsigned char native = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB
									     : ELFDATA2MSB;
	uint64_t cut = UINT64_MAX, pos, shnum, limit = COPY_MAX_BYTES;
	Elf64_Shdr *sh = NULL;
	uint32_t *order = NULL;
	char *buf = NULL;
	Elf64_Ehdr eh;
	size_t n = 0;
	int err;

	err = read_full(in, &eh, sizeof(eh), 0);
	if (err)
		return err;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != native || eh.e_shentsize != sizeof(Elf64_Shdr) || !eh.e_shoff)
		return -ENOTSUP;
	shnum = eh.e_shnum;
	if (!shnum) { /* SHN_LORESERVE sections or more: the count is in section 0 */
		Elf64_Shdr first;

		err = read_full(in, &first, sizeof(first), eh.e_shoff);
		if (err)
			return err;
		shnum = first.sh_size;
	}
	if (!shnum || shnum > (1U << 20))
		return -ENOTSUP;
	sh = calloc(shnum, sizeof(*sh));
	order = calloc(shnum, sizeof(*order));
	buf = malloc(2 * COPY_CHUNK);
	if (!sh || !order || !buf) {
		err = -ENOMEM;
		goto out;
	}
	err = read_full(in, sh, shnum * sizeof(*sh), eh.e_shoff);
	if (err)
		goto out;
	for (uint64_t i = 1; i < shnum; i++) {
		if (!(sh[i].sh_flags & SHF_COMPRESSED))
			continue;
		/* Nothing to inflate in a NOBITS section: the file is not one we copy. */
		if (sh[i].sh_type == SHT_NOBITS) {
			err = -ENOTSUP;
			goto out;
		}
		if (sh[i].sh_offset < cut)
			cut = sh[i].sh_offset;
	}
	if (cut == UINT64_MAX) {
		err = -ENOENT;
		goto out;
	}
	/* What moves must be what nothing places: no loaded section, no headers. */
	err = -ENOTSUP;
	if (eh.e_phoff + (uint64_t)eh.e_phnum * eh.e_phentsize > cut)
		goto out;
	for (uint64_t i = 1; i < shnum; i++) {
		if (sh[i].sh_type == SHT_NOBITS || sh[i].sh_offset < cut)
			continue;
		if (sh[i].sh_flags & SHF_ALLOC)
			goto out;
		order[n++] = i;
	}
	sort_shdrs = sh;
	qsort(order, n, sizeof(*order), by_offset);

	/* No bigger than the whole cache may be (pruning keeps the copy just made). */
	if (cache.max_bytes && cache.max_bytes < limit)
		limit = cache.max_bytes > COPY_MIN_LIMIT ? cache.max_bytes : COPY_MIN_LIMIT;
	if (cut > limit) {
		err = -EFBIG;
		goto out;
	}
	err = copy_range(in, 0, out, 0, cut, buf);
	pos = cut;
	for (size_t k = 0; !err && k < n; k++) {
		Elf64_Shdr *s = &sh[order[k]];
		Elf64_Chdr ch;

		if (!(s->sh_flags & SHF_COMPRESSED)) {
			if (s->sh_addralign > MAX_ALIGN) {
				err = -ENOTSUP;
				break;
			}
			pos = align_up(pos, s->sh_addralign);
			if (pos > limit || s->sh_size > limit - pos) {
				err = -EFBIG;
				break;
			}
			err = copy_range(in, s->sh_offset, out, pos, s->sh_size, buf);
		} else if (s->sh_size < sizeof(ch)) {
			err = -EINVAL;
		} else if (!(err = read_full(in, &ch, sizeof(ch), s->sh_offset))) {
			if (ch.ch_type != ELFCOMPRESS_ZLIB) {
				err = -ENOTSUP;
				break;
			}
			/* The size is the file's claim: a zlib bomb must not fill the disk. */
			if (ch.ch_addralign > MAX_ALIGN) {
				err = -ENOTSUP;
				break;
			}
			pos = align_up(pos, ch.ch_addralign);
			if (pos > limit || ch.ch_size > limit - pos) {
				err = -EFBIG;
				break;
			}
			err = inflate_range(in, s->sh_offset + sizeof(ch), s->sh_size - sizeof(ch), out,
					    pos, ch.ch_size, buf, buf + COPY_CHUNK);
			s->sh_flags &= ~(uint64_t)SHF_COMPRESSED;
			s->sh_size = ch.ch_size;
			s->sh_addralign = ch.ch_addralign;
		}
		s->sh_offset = pos;
		pos += s->sh_size;
	}
	if (err)
		goto out;
	for (uint64_t i = 1; i < shnum; i++)
		if (sh[i].sh_type == SHT_NOBITS && sh[i].sh_offset > pos)
			sh[i].sh_offset = pos;
	pos = align_up(pos, 8);
	eh.e_shoff = pos;
	err = write_full(out, sh, shnum * sizeof(*sh), pos);
	if (!err)
		err = write_full(out, &eh, sizeof(eh), 0);
out:
	free(buf);
	free(order);
	free(sh);
	return err;
}

/* --- the cache directory -------------------------------------------------- */

static bool has_compressed_sections(Elf *elf)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;

		if (gelf_getshdr(scn, &shdr) && (shdr.sh_flags & SHF_COMPRESSED))
			return true;
	}
	return false;
}

/* A copy made earlier: the same build ID, nothing compressed. */
static bool copy_is_good(int fd, const void *id, ssize_t idlen)
{
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	const void *cid;
	bool good = false;

	if (elf && elf_kind(elf) == ELF_K_ELF && dwelf_elf_gnu_build_id(elf, &cid) == idlen &&
	    !memcmp(cid, id, idlen))
		good = !has_compressed_sections(elf);
	elf_end(elf);
	return good;
}

struct cached_copy {
	char name[NAME_MAX + 1];
	uint64_t size;
	time_t mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct cached_copy *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Removes the least recently used copies (but keep) while over the limit. */
static void prune(const char *keep)
{
	struct cached_copy *all = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *dir;

	dir = opendir(cache.dir);
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		size_t len = strlen(de->d_name);
		struct stat st;

		/* A copy being written (".NAME.PID"), left by a daemon that died. */
		if (de->d_name[0] == '.' && strstr(de->d_name, COPY_SUFFIX ".") &&
		    !fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode) && st.st_mtime < time(NULL) - STALE_WRITE_SECONDS) {
			unlinkat(dirfd(dir), de->d_name, 0);
			continue;
		}
		if (len <= strlen(COPY_SUFFIX) || de->d_name[0] == '.' ||
		    strcmp(de->d_name + len - strlen(COPY_SUFFIX), COPY_SUFFIX) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			struct cached_copy *more = realloc(all, (cap = cap ? 2 * cap : 64) * sizeof(*all));

			if (!more)
				break;
			all = more;
		}
		snprintf(all[n].name, sizeof(all[n].name), "%s", de->d_name);
		all[n].size = (uint64_t)st.st_blocks * 512;
		all[n].mtime = st.st_mtime;
		total += all[n++].size;
	}
	qsort(all, n, sizeof(*all), by_mtime);
	for (size_t i = 0; i < n && total > cache.max_bytes; i++) {
		if (!strcmp(all[i].name, keep) || unlinkat(dirfd(dir), all[i].name, 0))
			continue;
		pr_debug("symbols: cache over %llu MiB: removed %s/%s",
			 (unsigned long long)(cache.max_bytes >> 20), cache.dir, all[i].name);
		total -= all[i].size;
	}
	closedir(dir);
	free(all);
}

static int cache_unusable(int err, const char *what)
{
	if (!cache.warned)
		pr_warn("symbols: cache directory %s: %s: %s (compressed debug info is then "
			"decompressed in memory; set symbols.cache_dir)",
			cache.dir, what, strerror(-err));
	cache.warned = true;
	return err;
}

/* The cache's name for a copy of the file with build ID id: 0 or -ENAMETOOLONG. */
static int copy_path(const unsigned char *id, size_t idlen, char *name, size_t namelen,
		     char *path, size_t pathlen)
{
	if (idlen > 64 || namelen < 2 * idlen + sizeof(COPY_SUFFIX))
		return -ENAMETOOLONG;
	for (size_t i = 0; i < idlen; i++)
		snprintf(name + 2 * i, 3, "%02x", id[i]);
	strcpy(name + 2 * idlen, COPY_SUFFIX);
	if (snprintf(path, pathlen, "%s/%s", cache.dir, name) >= (int)pathlen)
		return -ENAMETOOLONG;
	return 0;
}

/* An fd of the copy at path if it is there and good (then marked used), else -ENOENT. */
static int copy_open(const char *path, const unsigned char *id, size_t idlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -ENOENT;
	if (!copy_is_good(fd, id, idlen)) {
		close(fd);
		unlink(path);
		return -ENOENT;
	}
	utimensat(AT_FDCWD, path, NULL, 0); /* recently used: pruned last */
	return fd;
}

int debug_cache__open(int fd, Elf *elf, char **path)
{
	char name[2 * 64 + sizeof(COPY_SUFFIX)], final[PATH_MAX], tmp[PATH_MAX];
	const unsigned char *id;
	struct timespec t0, t1;
	ssize_t idlen;
	int out, err;

	if (!elf || !has_compressed_sections(elf))
		return -ENOENT;
	if (!cache.dir[0])
		return -ENOTSUP;
	idlen = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	if (idlen <= 0)
		return -ENODATA;
	err = copy_path(id, idlen, name, sizeof(name), final, sizeof(final));
	if (err)
		return err;
	out = copy_open(final, id, idlen);
	if (out >= 0)
		goto found;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.%d", cache.dir, name, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (mkdir(cache.dir, 0755) && errno != EEXIST)
		return cache_unusable(-errno, "cannot create it");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	out = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return cache_unusable(-errno, "cannot write to it");
	err = debug_cache__decompress(fd, out);
	/* On disk before it has its name: a crash leaves no cut-short copy. */
	if (!err && fdatasync(out))
		err = -errno;
	close(out);
	if (!err && rename(tmp, final))
		err = cache_unusable(-errno, "cannot write to it");
	if (err) {
		unlink(tmp);
		return err;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	prune(name);
	out = open(final, O_RDONLY | O_CLOEXEC);
	if (out < 0)
		return -errno;
	pr_debug("symbols: decompressed debug sections to %s in %ld ms", final,
		 (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
found:
	*path = strdup(final);
	if (!*path) {
		close(out);
		return -ENOMEM;
	}
	return out;
}

int debug_cache__open_debuginfo(const unsigned char *id, size_t idlen, char **path)
{
	char name[2 * 64 + sizeof(COPY_SUFFIX)], where[PATH_MAX];
	const void *found_id;
	int fd, copy;
	Elf *elf;

	if (!idlen || idlen > 64)
		return -ENOENT;
	if (cache.dir[0] && !copy_path(id, idlen, name, sizeof(name), where, sizeof(where))) {
		fd = copy_open(where, id, idlen);
		if (fd >= 0) {
			*path = strdup(where);
			if (*path)
				return fd;
			close(fd);
			return -ENOMEM;
		}
	}
	/* /usr/lib/debug/.build-id/ab/cdef....debug, as libdwfl looks. */
	int n = snprintf(where, sizeof(where), "%s/.build-id/%02x/", DEBUGINFO_DIR, id[0]);

	for (size_t i = 1; i < idlen; i++)
		n += snprintf(where + n, sizeof(where) - n, "%02x", id[i]);
	snprintf(where + n, sizeof(where) - n, ".debug");
	fd = open(where, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF ||
	    dwelf_elf_gnu_build_id(elf, &found_id) != (ssize_t)idlen ||
	    memcmp(found_id, id, idlen)) {
		elf_end(elf);
		close(fd);
		return -ENOENT;
	}
	copy = debug_cache__open(fd, elf, path);
	elf_end(elf);
	if (copy >= 0) {
		close(fd);
		return copy;
	}
	*path = strdup(where);
	if (!*path) {
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* --- pages of mapped copies ----------------------------------------------- */

/* Whether path names a copy of the cache: DIR/<build ID>.elf. */
static bool is_copy(const char *path)
{
	size_t dlen = strlen(cache.dir), len = strlen(path);

	return dlen && len > dlen + 1 + strlen(COPY_SUFFIX) && !strncmp(path, cache.dir, dlen) &&
	       path[dlen] == '/' && !strchr(path + dlen + 1, '/') &&
	       !strcmp(path + len - strlen(COPY_SUFFIX), COPY_SUFFIX);
}

uint64_t debug_cache__release_pages(void)
{
	unsigned long start = 0, end = 0, rss_kb = 0, written_kb = 0;
	size_t linecap = 0;
	uint64_t released = 0;
	char *line = NULL;
	bool copy = false;
	FILE *f;

	if (!cache.dir[0])
		return 0;
	f = fopen("/proc/self/smaps", "re");
	if (!f)
		return 0;
	/* A mapping's header line, then its fields; the last one is VmFlags. */
	while (getline(&line, &linecap, f) > 0) {
		char path[PATH_MAX] = "";
		unsigned long a, b, kb;
		int n;

		/* "start-end perms offset dev inode [path]" opens each mapping. */
		n = sscanf(line, "%lx-%lx %*s %*s %*s %*s %4095s", &a, &b, path);
		if (n >= 2) {
			copy = n == 3 && is_copy(path);
			start = a;
			end = b;
			rss_kb = written_kb = 0;
		} else if (copy && sscanf(line, "Rss: %lu kB", &kb) == 1) {
			rss_kb = kb;
		} else if (copy && sscanf(line, "Anonymous: %lu kB", &kb) == 1) {
			written_kb = kb;
		} else if (copy && !strncmp(line, "VmFlags:", 8)) {
			/* A page written to (copied on write: anonymous) would be lost. */
			if (rss_kb && !written_kb && !madvise((void *)start, end - start, MADV_DONTNEED))
				released += (uint64_t)rss_kb << 10;
			copy = false;
		}
	}
	free(line);
	fclose(f);
	return released;
}
