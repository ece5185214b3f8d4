// SPDX-License-Identifier: MIT
/*
 * busy.c - the benchmark target (tests/bench/bench.sh): two threads that each
 * burn a whole CPU in named functions at a realistic call depth, with no
 * system calls and no allocation while they run.
 *
 * Usage: busy              runs until killed
 *
 * Threads (names as pprofd's thread label shows them):
 *	busy-parse   parse_main -> run_pipeline -> process_batch -> decode_record
 *	               -> parse_fields -> tokenize_field        (leaf, ~60 %)
 *	               -> checksum_record -> crc_block          (leaf, ~40 %)
 *	busy-math    math_main -> simulate -> step_world -> update_bodies
 *	               -> compute_forces -> pair_force          (leaf, ~70 %)
 *	               -> integrate -> advance_body             (leaf, ~30 %)
 * below the thread's start routine are libc's start_thread and clone3.  The
 * main thread only waits in pthread_join.
 *
 * So a sample's user stack is 7-9 frames deep (with libc's), like a service's
 * request path, not a 2-frame toy: unwinding and symbolizing cost what they
 * would cost on real code.  Every call is followed by work that uses its
 * result, so no call becomes a tail jump that would drop a frame.
 */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* noclone too: no "pair_force.constprop.0" names in the profile. */
#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

/* What the threads compute goes here, so the compiler cannot drop it. */
static volatile uint64_t sink_parse;
static volatile double sink_math;

/* ------------------------------------------------------------ busy-parse */

#define RECORD_SIZE 512
#define FIELDS 8

NOINLINE uint64_t tokenize_field(const uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t h = seed;

	for (int round = 0; round < 24; round++)
		for (size_t i = 0; i < len; i++) {
			h ^= p[i] + (h << 6) + (h >> 2);
			__asm__ volatile("" : "+r"(h));
		}
	return h;
}

NOINLINE uint64_t parse_fields(const uint8_t *rec, uint64_t seed)
{
	uint64_t acc = seed;
	size_t len = RECORD_SIZE / FIELDS;

	for (int f = 0; f < FIELDS; f++)
		acc += tokenize_field(rec + f * len, len, acc) * (uint64_t)(f + 1);
	return acc ^ (acc >> 17);
}

NOINLINE uint32_t crc_block(const uint8_t *p, size_t len, uint32_t crc)
{
	for (int round = 0; round < 8; round++)
		for (size_t i = 0; i < len; i++) {
			crc ^= p[i];
			for (int b = 0; b < 8; b++)
				crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
		}
	return crc;
}

NOINLINE uint32_t checksum_record(const uint8_t *rec)
{
	uint32_t crc = crc_block(rec, RECORD_SIZE / 2, 0xffffffffu);

	crc = crc_block(rec + RECORD_SIZE / 2, RECORD_SIZE / 2, crc);
	return ~crc;
}

NOINLINE uint64_t decode_record(uint8_t *rec, uint64_t seed)
{
	uint64_t fields = parse_fields(rec, seed);
	uint32_t crc = checksum_record(rec);

	rec[seed % RECORD_SIZE] ^= (uint8_t)fields; /* the next record differs */
	return fields + crc;
}

NOINLINE uint64_t process_batch(uint8_t *rec, int records, uint64_t seed)
{
	uint64_t acc = seed;

	for (int i = 0; i < records; i++)
		acc = acc * 31 + decode_record(rec, acc);
	return acc;
}

NOINLINE uint64_t run_pipeline(uint8_t *rec)
{
	uint64_t acc = 1;

	for (;;) {
		acc = process_batch(rec, 16, acc) + 1;
		sink_parse = acc;
	}
	return acc;
}

NOINLINE void *parse_main(void *arg)
{
	static uint8_t rec[RECORD_SIZE];

	(void)arg;
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (uint8_t)(i * 7 + 3);
	sink_parse = run_pipeline(rec);
	return NULL;
}

/* ------------------------------------------------------------- busy-math */

#define BODIES 48

struct body {
	double x, y, z, vx, vy, vz, fx, fy, fz, m;
};

static struct body bodies[BODIES];

NOINLINE double pair_force(struct body *a, const struct body *b)
{
	double dx = b->x - a->x, dy = b->y - a->y, dz = b->z - a->z;
	double d2 = dx * dx + dy * dy + dz * dz + 1e-3;
	double inv = 1.0 / (d2 * sqrt(d2));
	double f = a->m * b->m * inv;

	a->fx += f * dx;
	a->fy += f * dy;
	a->fz += f * dz;
	return f;
}

NOINLINE double compute_forces(struct body *a)
{
	double total = 0;

	a->fx = a->fy = a->fz = 0;
	for (int j = 0; j < BODIES; j++)
		if (&bodies[j] != a)
			total += pair_force(a, &bodies[j]);
	return total;
}

NOINLINE double update_bodies(void)
{
	double total = 0;

	for (int i = 0; i < BODIES; i++)
		total += compute_forces(&bodies[i]);
	return total;
}

NOINLINE double advance_body(struct body *b, double dt)
{
	for (int k = 0; k < 64; k++) {
		b->vx += b->fx / b->m * dt / 64;
		b->vy += b->fy / b->m * dt / 64;
		b->vz += b->fz / b->m * dt / 64;
		b->x += b->vx * dt / 64;
		b->y += b->vy * dt / 64;
		b->z += b->vz * dt / 64;
		__asm__ volatile("" : : "r"(b) : "memory");
	}
	return b->vx * b->vx + b->vy * b->vy + b->vz * b->vz;
}

NOINLINE double integrate(double dt)
{
	double energy = 0;

	for (int i = 0; i < BODIES; i++)
		energy += advance_body(&bodies[i], dt);
	return energy;
}

NOINLINE double step_world(double dt)
{
	double forces = update_bodies();
	double energy = integrate(dt);

	return forces * 1e-9 + energy;
}

NOINLINE double simulate(void)
{
	double acc = 0;

	for (unsigned long step = 0;; step++) {
		acc += step_world(1e-4);
		sink_math = acc;
		/* Keep the system bounded: restart it now and then. */
		if ((step & 1023) == 1023)
			for (int i = 0; i < BODIES; i++)
				bodies[i] = (struct body){ .x = i % 4, .y = (i / 4) % 4, .z = i / 16,
							   .m = 1 + i % 3 };
	}
	return acc;
}

NOINLINE void *math_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < BODIES; i++)
		bodies[i] = (struct body){ .x = i % 4, .y = (i / 4) % 4, .z = i / 16, .m = 1 + i % 3 };
	sink_math = simulate();
	return NULL;
}

int main(void)
{
	pthread_t parse, math;

	if (pthread_create(&parse, NULL, parse_main, NULL) ||
	    pthread_create(&math, NULL, math_main, NULL)) {
		fprintf(stderr, "busy: cannot create the threads\n");
		return 1;
	}
	pthread_setname_np(parse, "busy-parse");
	pthread_setname_np(math, "busy-math");
	pthread_join(parse, NULL);
	pthread_join(math, NULL);
	return 0;
}
