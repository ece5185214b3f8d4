// SPDX-License-Identifier: MIT
/*
 * golabels.c - see golabels.h.
 *
 * The parse collects the (key, value) string headers first, from the map's
 * buckets or the sorted slice, then reads every string in one call, checks
 * them and sorts by key.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <cjson/cJSON.h>

#include "cpu.h"
#include "golabels.h"
#include "goruntime.h"
#include "log.h"

/* User space on x86-64 (47 bits): a pointer above it is no pointer of the target's. */
#define USER_ADDR_END (1ULL << 47)

/* runtime.hmap (map.go): count, flags, B, noverflow, hash0, buckets, oldbuckets, nevacuate, extra.
 */
#define HMAP_SIZE 48
#define HMAP_FLAGS 8
#define HMAP_B 9
#define HMAP_BUCKETS 16
#define HMAP_OLDBUCKETS 24
#define HMAP_SAME_SIZE_GROW 8 /* flags: growing to the same size */

/* A bucket of map[string]string: 8 tophash bytes, 8 keys, 8 values, the overflow pointer. */
#define BUCKET_SLOTS 8
#define BUCKET_KEYS 8
#define BUCKET_VALUES (BUCKET_KEYS + 16 * BUCKET_SLOTS)
#define BUCKET_OVERFLOW (BUCKET_VALUES + 16 * BUCKET_SLOTS)
#define BUCKET_SIZE (BUCKET_OVERFLOW + 8)

/* tophash values: below MIN_TOP_HASH a slot is empty; 2 to 4 mark an old bucket evacuated. */
#define EMPTY_ONE 1
#define MIN_TOP_HASH 5

/* One label as found: the string headers. */
struct header {
	uint64_t key, key_len, value, value_len;
};

struct found {
	struct header h[STACK_MAX_LABELS];
	size_t n;
};

static bool user_ptr(uint64_t p, uint64_t align)
{
	return p && p < USER_ADDR_END && !(p % align);
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static int add_header(struct found *f, const uint8_t *key, const uint8_t *value)
{
	struct header h = {u64_at(key, 0), u64_at(key, 8), u64_at(value, 0), u64_at(value, 8)};

	if (f->n == STACK_MAX_LABELS)
		return -E2BIG;
	if (h.key_len > GO_LABELS_MAX_KEY || h.value_len > GO_LABELS_MAX_VALUE)
		return -E2BIG;
	if ((h.key_len && (!user_ptr(h.key, 1) || h.key + h.key_len > USER_ADDR_END)) ||
	    (h.value_len && (!user_ptr(h.value, 1) || h.value + h.value_len > USER_ADDR_END)))
		return -EINVAL;
	f->h[f->n++] = h;
	return 0;
}

/*
 * The entries of the bucket chain at b (old: an old bucket, skipped when
 * evacuated).  *budget counts the buckets read.
 */
static int read_chain(uint64_t b, bool old, go_read_fn read, void *ctx, struct found *f,
		      unsigned *budget)
{
	uint8_t bucket[BUCKET_SIZE];

	while (b) {
		struct go_mem_range r = {b, bucket, sizeof(bucket)};
		int ret;

		if (!user_ptr(b, 8) || !*budget)
			return !*budget ? -E2BIG : -EINVAL;
		(*budget)--;
		ret = read(ctx, &r, 1);
		if (ret)
			return -EFAULT;
		/* evacuated(): every entry of an evacuated old bucket is in the new array. */
		if (old && bucket[0] > EMPTY_ONE && bucket[0] < MIN_TOP_HASH)
			return 0;
		for (int i = 0; i < BUCKET_SLOTS; i++) {
			if (bucket[i] < MIN_TOP_HASH)
				continue;
			ret = add_header(f, bucket + BUCKET_KEYS + 16 * i,
					 bucket + BUCKET_VALUES + 16 * i);
			if (ret)
				return ret;
		}
		b = u64_at(bucket, BUCKET_OVERFLOW);
	}
	return 0;
}

/*
 * map[string]string: the entries of the new bucket array and of the old
 * buckets not yet evacuated (an entry is in exactly one of the two); their
 * number must be hmap.count.
 */
static int parse_map(uint64_t addr, go_read_fn read, void *ctx, struct found *f)
{
	uint8_t h[HMAP_SIZE];
	uint64_t hmap, count, buckets, old;
	unsigned shift, budget = GO_LABELS_MAX_BUCKETS;
	struct go_mem_range r = {addr, &hmap, sizeof(hmap)};
	int ret;

	if (read(ctx, &r, 1))
		return -EFAULT;
	if (!hmap)
		return 0; /* a nil map: no labels */
	if (!user_ptr(hmap, 8))
		return -EINVAL;
	r = (struct go_mem_range){hmap, h, sizeof(h)};
	if (read(ctx, &r, 1))
		return -EFAULT;
	count = u64_at(h, 0);
	shift = h[HMAP_B];
	buckets = u64_at(h, HMAP_BUCKETS);
	old = u64_at(h, HMAP_OLDBUCKETS);
	if (count > STACK_MAX_LABELS || shift > GO_LABELS_MAX_SHIFT)
		return -E2BIG;
	if (!count)
		return 0;
	if (!user_ptr(buckets, 8) || (old && !user_ptr(old, 8)))
		return -EINVAL;
	for (uint64_t i = 0; i < (1ULL << shift); i++) {
		ret = read_chain(buckets + i * BUCKET_SIZE, false, read, ctx, f, &budget);
		if (ret)
			return ret;
	}
	if (old) {
		uint64_t nold = (h[HMAP_FLAGS] & HMAP_SAME_SIZE_GROW) || !shift
				    ? 1ULL << shift
				    : 1ULL << (shift - 1);

		for (uint64_t i = 0; i < nold; i++) {
			ret = read_chain(old + i * BUCKET_SIZE, true, read, ctx, f, &budget);
			if (ret)
				return ret;
		}
	}
	return f->n == count ? 0 : -EINVAL;
}

/* struct { LabelSet{ list []label } }: the slice header, then its elements. */
static int parse_slice(uint64_t addr, go_read_fn read, void *ctx, struct found *f)
{
	uint64_t hdr[3];
	uint8_t list[STACK_MAX_LABELS * 32];
	struct go_mem_range r = {addr, hdr, sizeof(hdr)};

	if (read(ctx, &r, 1))
		return -EFAULT;
	if (hdr[1] > hdr[2])
		return -EINVAL;
	if (hdr[1] > STACK_MAX_LABELS)
		return -E2BIG;
	if (!hdr[1])
		return 0;
	if (!user_ptr(hdr[0], 8))
		return -EINVAL;
	r = (struct go_mem_range){hdr[0], list, hdr[1] * 32};
	if (read(ctx, &r, 1))
		return -EFAULT;
	for (uint64_t i = 0; i < hdr[1]; i++) {
		int ret = add_header(f, list + 32 * i, list + 32 * i + 16);

		if (ret)
			return ret;
	}
	return 0;
}

int go_labels__parse(enum go_label_format format, uint64_t addr, go_read_fn read, void *ctx,
		     struct go_label_buf *out)
{
	struct go_mem_range r[2 * STACK_MAX_LABELS];
	struct found f = {.n = 0};
	size_t text = 0, nr = 0;
	int ret;

	out->labels.n = 0;
	if (!addr)
		return 0;
	if (!user_ptr(addr, 8))
		return -EINVAL;
	ret = format == GO_LABELS_SLICE ? parse_slice(addr, read, ctx, &f)
					: parse_map(addr, read, ctx, &f);
	if (ret)
		return ret;
	/* Every string, NUL-terminated, into text; read in one call. */
	for (size_t i = 0; i < f.n; i++)
		text += f.h[i].key_len + f.h[i].value_len + 2;
	if (text > sizeof(out->text))
		return -E2BIG;
	text = 0;
	for (size_t i = 0; i < f.n; i++) {
		char *k = out->text + text, *v = k + f.h[i].key_len + 1;

		if (f.h[i].key_len)
			r[nr++] = (struct go_mem_range){f.h[i].key, k, f.h[i].key_len};
		if (f.h[i].value_len)
			r[nr++] = (struct go_mem_range){f.h[i].value, v, f.h[i].value_len};
		k[f.h[i].key_len] = '\0';
		v[f.h[i].value_len] = '\0';
		out->labels.l[i] = (struct stack_label){k, v};
		text += f.h[i].key_len + f.h[i].value_len + 2;
	}
	if (nr && read(ctx, r, nr))
		return -EFAULT;
	for (size_t i = 0; i < f.n; i++)
		if (strlen(out->labels.l[i].key) != f.h[i].key_len ||
		    strlen(out->labels.l[i].value) != f.h[i].value_len)
			return -EINVAL; /* a NUL inside: no Go label a profile can carry */
	out->labels.n = (uint32_t)f.n;
	stack_labels__sort(&out->labels);
	return 0;
}

int go_labels__format_of(const char *version, enum go_label_format *format)
{
	int major, minor;

	if (!version || sscanf(version, "go%d.%d", &major, &minor) != 2 || major != 1 || minor < 9)
		return -ENOTSUP;
	*format = minor >= 24 ? GO_LABELS_SLICE : GO_LABELS_MAP;
	return 0;
}

/* --- the CPU collector's labeler ----------------------------------------- */

struct go_labeler {
	struct go_runtime *rt;
	pid_t pid;
	enum go_label_format format;
	struct go_label_buf buf;
	uint64_t errors[3]; /* -EFAULT, -EINVAL, -E2BIG */
};

/* go_read_fn of a process: ctx points to its pid. */
static int remote_ranges(void *ctx, const struct go_mem_range *r, size_t n)
{
	const pid_t *pid = ctx;
	struct iovec local[2 * STACK_MAX_LABELS], remote[2 * STACK_MAX_LABELS];
	size_t want = 0;

	if (n > sizeof(local) / sizeof(local[0]))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		local[i] = (struct iovec){r[i].buf, r[i].len};
		remote[i] = (struct iovec){(void *)(uintptr_t)r[i].addr, r[i].len};
		want += r[i].len;
	}
	return process_vm_readv(*pid, local, n, remote, n, 0) == (ssize_t)want ? 0 : -EFAULT;
}

int go_labels__read(pid_t pid, enum go_label_format format, uint64_t addr,
		    struct go_label_buf *out)
{
	return go_labels__parse(format, addr, remote_ranges, &pid, out);
}

static int labeler_labels(void *ctx, uint32_t tid, uint64_t word, struct stack_labels *out)
{
	struct go_labeler *gl = ctx;
	int ret;

	(void)tid;
	ret = go_labels__read(gl->pid, gl->format, word, &gl->buf);
	if (ret) {
		gl->errors[ret == -EFAULT ? 0 : ret == -EINVAL ? 1 : 2]++;
		out->n = 0;
		return ret;
	}
	*out = gl->buf.labels;
	return 0;
}

static void labeler_stats(void *ctx, cJSON *out)
{
	const struct go_labeler *gl = ctx;
	cJSON *o = cJSON_AddObjectToObject(out, "go_labels");

	if (!o)
		return;
	cJSON_AddStringToObject(
	    o, "format", gl->format == GO_LABELS_SLICE ? "sorted slice" : "map[string]string");
	cJSON_AddNumberToObject(o, "unreadable", gl->errors[0]);
	cJSON_AddNumberToObject(o, "invalid", gl->errors[1]);
	cJSON_AddNumberToObject(o, "too_large", gl->errors[2]);
}

static void labeler_free(void *ctx)
{
	struct go_labeler *gl = ctx;

	if (!gl)
		return;
	go_runtime__put(gl->rt);
	free(gl);
}

int go_labels__labeler(pid_t pid, struct cpu_labeler *out, char *why, size_t whylen)
{
	const struct go_layout *l;
	struct go_labeler *gl;
	struct go_runtime *rt;
	int64_t tls;

	why[0] = '\0';
	rt = go_runtime__get(pid, why, whylen);
	if (!rt)
		return errno == ENOENT ? -ENOENT : -(errno ? errno : EIO);
	l = go_runtime__layout(rt);
	tls = go_runtime__tls_g_offset(rt);
	if (l->g_m < 0 || l->m_curg < 0 || l->g_labels < 0 || !tls) {
		snprintf(why, whylen, "Go %s: %s unknown", go_runtime__version(rt),
			 !tls ? "where threads keep their g (TLS)" : "g.m, m.curg or g.labels");
		go_runtime__put(rt);
		return -ENOTSUP;
	}
	gl = calloc(1, sizeof(*gl));
	if (!gl) {
		go_runtime__put(rt);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	gl->rt = rt;
	gl->pid = pid;
	if (go_labels__format_of(go_runtime__version(rt), &gl->format)) {
		snprintf(why, whylen, "Go %s: no pprof labels known for this version",
			 go_runtime__version(rt));
		labeler_free(gl);
		return -ENOTSUP;
	}
	*out = (struct cpu_labeler){
	    .nloads = 4,
	    .offsets = {tls, l->g_m, l->m_curg, l->g_labels},
	    .labels = labeler_labels,
	    .stats = labeler_stats,
	    .free = labeler_free,
	    .ctx = gl,
	};
	return 0;
}
