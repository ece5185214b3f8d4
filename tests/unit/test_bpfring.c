// SPDX-License-Identifier: MIT
/*
 * test_bpfring.c - the ring buffer consumer on a ring laid out in memory as
 * the kernel lays out a BPF ring: records in order, the ones still being
 * written wait, discarded ones are skipped, a record that wraps around the
 * end of the data area arrives contiguous, a callback's error stops.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <linux/bpf.h>

#include "bpfring.h"

#define RING_SIZE 4096
#define MAX_SEEN 16

struct fake_ring {
	unsigned long consumer_pos;
	unsigned long producer_pos;
	uint8_t data[RING_SIZE] __attribute__((aligned(8)));
};

/* What the callback was given. */
struct seen {
	size_t n;
	size_t len[MAX_SEEN];
	uint8_t first[MAX_SEEN]; /* the record's first byte: which one it is */
	bool in_place[MAX_SEEN]; /* data pointed into the ring */
	bool intact[MAX_SEEN];   /* every byte as written */
	int fail_at;             /* return -EIO for this record (1-based); 0: never */
	const struct fake_ring *ring;
};

/* Byte i of the record whose first byte is tag. */
static uint8_t pattern(uint8_t tag, size_t i)
{
	return i ? (uint8_t)(tag + 7 * i + 1) : tag;
}

/*
 * Writes a record of len bytes whose first byte is tag, as the kernel's
 * reserve and commit do: the header at the producer position, the data
 * after it wrapping around the end, the position advanced to 8 bytes.
 * flags: BPF_RINGBUF_BUSY_BIT (not committed) or BPF_RINGBUF_DISCARD_BIT.
 * Returns where the header is.
 */
static size_t produce(struct fake_ring *r, uint8_t tag, uint32_t len, uint32_t flags)
{
	size_t off = r->producer_pos & (RING_SIZE - 1), start = off + BPF_RINGBUF_HDR_SZ;
	uint32_t hdr[2] = { len | flags, 0 };

	assert_true(r->producer_pos + len + BPF_RINGBUF_HDR_SZ - r->consumer_pos <= RING_SIZE);
	memcpy(r->data + off, hdr, sizeof(hdr));
	for (size_t i = 0; i < len; i++)
		r->data[(start + i) & (RING_SIZE - 1)] = pattern(tag, i);
	r->producer_pos += (len + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
	return off;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	const uint8_t *p = data;
	size_t k = s->n++;

	assert_true(k < MAX_SEEN);
	s->len[k] = size;
	s->first[k] = size ? p[0] : 0;
	s->in_place[k] = p >= s->ring->data && p < s->ring->data + RING_SIZE;
	s->intact[k] = true;
	for (size_t i = 0; i < size; i++)
		if (p[i] != pattern(p[0], i))
			s->intact[k] = false;
	return s->fail_at && (int)s->n == s->fail_at ? -EIO : 0;
}

/* A ring whose positions start at pos (a multiple of 8): empty. */
static void setup(struct fake_ring *r, struct seen *s, struct ring_watch *w, unsigned long pos)
{
	memset(r, 0xee, sizeof(*r));
	r->consumer_pos = r->producer_pos = pos;
	memset(s, 0, sizeof(*s));
	s->ring = r;
	ring_watch__init(w, &r->consumer_pos, &r->producer_pos, r->data, RING_SIZE, on_record, s);
}

static void test_records_in_order(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	setup(&r, &s, &w, 0);
	produce(&r, 1, 48, 0);
	produce(&r, 2, 13, 0); /* not a multiple of 8: the next one is aligned */
	produce(&r, 3, 1000, 0);
	assert_int_equal(ring_watch__consume(&w), 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.len[0], 48);
	assert_int_equal(s.len[1], 13);
	assert_int_equal(s.len[2], 1000);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(s.first[i], i + 1);
		assert_true(s.intact[i]);
		assert_true(s.in_place[i]);
	}
	assert_int_equal(r.consumer_pos, r.producer_pos);
	assert_int_equal(r.consumer_pos, 56 + 24 + 1008);
	assert_int_equal(ring_watch__consume(&w), 0);
	ring_watch__close(&w);
}

static void test_wrapped_record_is_contiguous(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	/* Many laps around already; 40 bytes left before the end. */
	setup(&r, &s, &w, 5UL * RING_SIZE - 40);
	assert_int_equal(produce(&r, 9, 100, 0), RING_SIZE - 40);
	assert_int_equal(ring_watch__consume(&w), 1);
	assert_int_equal(s.len[0], 100);
	assert_true(s.intact[0]);
	assert_false(s.in_place[0]);
	assert_int_equal(r.consumer_pos, 5UL * RING_SIZE + 72);

	/* A larger one wraps too: the copy grows. */
	r.consumer_pos = r.producer_pos = 7UL * RING_SIZE - 1000;
	produce(&r, 10, 3000, 0);
	produce(&r, 11, 16, 0); /* then one in place, after it */
	assert_int_equal(ring_watch__consume(&w), 2);
	assert_int_equal(s.len[1], 3000);
	assert_true(s.intact[1]);
	assert_false(s.in_place[1]);
	assert_true(s.intact[2]);
	assert_true(s.in_place[2]);
	assert_true(w.bounce_size >= 3000);
	ring_watch__close(&w);
}

static void test_no_copy_when_not_wrapped(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	/* The header last in the area: the data starts at its beginning. */
	setup(&r, &s, &w, 2UL * RING_SIZE - BPF_RINGBUF_HDR_SZ);
	produce(&r, 4, 200, 0);
	assert_int_equal(ring_watch__consume(&w), 1);
	/* The data ends exactly at the end of the area. */
	r.consumer_pos = r.producer_pos = 3UL * RING_SIZE - 208;
	produce(&r, 5, 200, 0);
	assert_int_equal(ring_watch__consume(&w), 1);
	assert_true(s.intact[0] && s.intact[1]);
	assert_true(s.in_place[0] && s.in_place[1]);
	assert_ptr_equal(w.bounce, NULL);
	ring_watch__close(&w);
}

static void test_whole_ring_record(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	setup(&r, &s, &w, 3UL * RING_SIZE + 1024);
	produce(&r, 6, RING_SIZE - BPF_RINGBUF_HDR_SZ, 0);
	assert_int_equal(ring_watch__consume(&w), 1);
	assert_int_equal(s.len[0], RING_SIZE - BPF_RINGBUF_HDR_SZ);
	assert_true(s.intact[0]);
	assert_int_equal(r.consumer_pos, 4UL * RING_SIZE + 1024);
	ring_watch__close(&w);
}

static void test_busy_record_stops(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;
	size_t busy;
	uint32_t len = 64;

	(void)state;
	setup(&r, &s, &w, 0);
	produce(&r, 1, 32, 0);
	busy = produce(&r, 2, len, BPF_RINGBUF_BUSY_BIT);
	produce(&r, 3, 32, 0); /* committed, but behind the busy one */
	assert_int_equal(ring_watch__consume(&w), 1);
	assert_int_equal(r.consumer_pos, 40);
	assert_int_equal(ring_watch__consume(&w), 0);
	/* Committed now. */
	memcpy(r.data + busy, &len, sizeof(len));
	assert_int_equal(ring_watch__consume(&w), 2);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.first[1], 2);
	assert_int_equal(s.first[2], 3);
	assert_int_equal(r.consumer_pos, r.producer_pos);
	ring_watch__close(&w);
}

static void test_discarded_record_skipped(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	setup(&r, &s, &w, RING_SIZE - 32);
	produce(&r, 1, 8, 0);
	produce(&r, 2, 500, BPF_RINGBUF_DISCARD_BIT); /* would wrap */
	produce(&r, 3, 8, 0);
	assert_int_equal(ring_watch__consume(&w), 2);
	assert_int_equal(s.first[0], 1);
	assert_int_equal(s.first[1], 3);
	assert_int_equal(r.consumer_pos, r.producer_pos);
	assert_ptr_equal(w.bounce, NULL);
	ring_watch__close(&w);
}

static void test_callback_error_stops(void **state)
{
	struct fake_ring r;
	struct ring_watch w;
	struct seen s;

	(void)state;
	setup(&r, &s, &w, 0);
	s.fail_at = 2;
	produce(&r, 1, 8, 0);
	produce(&r, 2, 8, 0);
	produce(&r, 3, 8, 0);
	assert_int_equal(ring_watch__consume(&w), -EIO);
	assert_int_equal(s.n, 2);
	/* The record that failed is consumed, the next one waits. */
	assert_int_equal(r.consumer_pos, 32);
	assert_int_equal(ring_watch__consume(&w), 1);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.first[2], 3);
	ring_watch__close(&w);
}

static void test_closed_watch(void **state)
{
	struct ring_watch w;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_false(ring_watch__is_open(&w));
	assert_int_equal(ring_watch__consume(&w), 0);
	ring_watch__close(&w);
	ring_watch__close(&w);
	assert_false(ring_watch__is_open(&w));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_in_order),
		cmocka_unit_test(test_wrapped_record_is_contiguous),
		cmocka_unit_test(test_no_copy_when_not_wrapped),
		cmocka_unit_test(test_whole_ring_record),
		cmocka_unit_test(test_busy_record_stops),
		cmocka_unit_test(test_discarded_record_skipped),
		cmocka_unit_test(test_callback_error_stops),
		cmocka_unit_test(test_closed_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
