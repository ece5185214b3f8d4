// SPDX-License-Identifier: MIT
/*
 * demo.c - the demo target `make run` attaches pprofd to: a small "service".
 *
 * Usage: demo [REQUESTS_PER_SECOND]   (default 2000)
 *
 * Threads (names as pprofd's thread label shows them):
 *	acceptor   makes synthetic requests at a steady rate and queues them
 *	worker-1   take a request off the queue and handle it:
 *	worker-2     handle_request -> parse_request -> checksum_payload -> compress_block
 *	flusher    every 100 ms folds the workers' counters into totals (flush_stats)
 *
 * Expected profiles:
 *	CPU      almost all in the workers; compress_block the largest hot path,
 *	         then checksum_payload, then parse_request; acceptor and flusher small.
 *	allocs   make_request (request buffers) and compress_block (output blocks).
 *	block / mutex   the queue: workers waiting in queue_pop, the acceptor in
 *	         queue_push when the queue is full, everyone on queue.lock.
 *
 * At the default rate the service uses roughly half a CPU.  Runs until killed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* noclone too: no "compress_block.constprop.0" names in the profile. */
#ifdef __clang__
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE __attribute__((noinline, noclone))
#endif

#define PAYLOAD_SIZE 4096
#define QUEUE_DEPTH 64
#define NR_WORKERS 2

struct request {
	char header[256];
	size_t header_len;
	uint8_t payload[PAYLOAD_SIZE];
};

struct stats {
	uint64_t requests;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint32_t last_checksum;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t not_empty;
	pthread_cond_t not_full;
	struct request *slot[QUEUE_DEPTH];
	unsigned head, tail, count;
} queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.not_empty = PTHREAD_COND_INITIALIZER,
	.not_full = PTHREAD_COND_INITIALIZER,
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats worker_stats[NR_WORKERS];
static struct stats totals;

static uint64_t rng_next(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

NOINLINE static struct request *make_request(uint64_t *rng)
{
	static const char *const paths[] = { "/items", "/users", "/orders", "/search" };
	struct request *req = malloc(sizeof(*req));

	if (!req)
		abort();
	req->header_len = (size_t)snprintf(req->header, sizeof(req->header),
					   "GET %s/%u HTTP/1.1\r\nHost: demo.local\r\n"
					   "User-Agent: pprofd-demo\r\nAccept: */*\r\n\r\n",
					   paths[rng_next(rng) % 4], (unsigned)(rng_next(rng) % 100000));
	/* Text-like payload: runs of repeated bytes give compress_block work to do. */
	for (size_t i = 0; i < PAYLOAD_SIZE;) {
		uint8_t c = 'a' + rng_next(rng) % 16;
		size_t run = 1 + rng_next(rng) % 8;

		while (run-- && i < PAYLOAD_SIZE)
			req->payload[i++] = c;
	}
	return req;
}

NOINLINE static void queue_push(struct request *req)
{
	pthread_mutex_lock(&queue.lock);
	while (queue.count == QUEUE_DEPTH)
		pthread_cond_wait(&queue.not_full, &queue.lock);
	queue.slot[queue.tail] = req;
	queue.tail = (queue.tail + 1) % QUEUE_DEPTH;
	queue.count++;
	pthread_cond_signal(&queue.not_empty);
	pthread_mutex_unlock(&queue.lock);
}

NOINLINE static struct request *queue_pop(void)
{
	struct request *req;

	pthread_mutex_lock(&queue.lock);
	while (queue.count == 0)
		pthread_cond_wait(&queue.not_empty, &queue.lock);
	req = queue.slot[queue.head];
	queue.head = (queue.head + 1) % QUEUE_DEPTH;
	queue.count--;
	pthread_cond_signal(&queue.not_full);
	pthread_mutex_unlock(&queue.lock);
	return req;
}

/*
 * Splits the header into lines and "Name: value" fields, then the body into
 * '&'-separated tokens, hashing every token; returns the combined hash.
 */
NOINLINE static uint32_t parse_request(const struct request *req)
{
	uint32_t hash = 2166136261u, token = 2166136261u;
	unsigned fields = 0;
	const char *p = req->header, *end = req->header + req->header_len;

	while (p < end) {
		const char *eol = memchr(p, '\r', (size_t)(end - p));

		if (!eol)
			break;
		if (memchr(p, ':', (size_t)(eol - p)))
			fields++;
		for (; p < eol; p++)
			hash = (hash ^ (uint8_t)(*p | 0x20)) * 16777619u;
		p = eol + 2;
	}
	/* The body as a form: a token ends where the byte value drops. */
	for (size_t i = 1; i < PAYLOAD_SIZE; i++) {
		if (req->payload[i] < req->payload[i - 1]) {
			hash ^= token;
			token = 2166136261u;
			fields++;
		} else {
			token = (token ^ req->payload[i]) * 16777619u;
		}
	}
	return hash ^ fields;
}

/* CRC-32 (IEEE), bit by bit: slow on purpose, so it shows in the profile. */
NOINLINE static uint32_t checksum_payload(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xedb88320u & -(crc & 1));
	}
	return ~crc;
}

/*
 * A toy LZ77: for each position, the longest match in the previous 32 bytes.
 * Writes (offset, length) pairs or literals to out; returns the output size.
 */
NOINLINE static size_t compress_block(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t best_len = 0, best_off = 0;
		size_t start = i > 32 ? i - 32 : 0;

		for (size_t j = start; j < i; j++) {
			size_t l = 0;

			while (i + l < len && in[j + l] == in[i + l] && l < 255)
				l++;
			if (l > best_len) {
				best_len = l;
				best_off = i - j;
			}
		}
		if (best_len >= 3) {
			out[o++] = 0xff;
			out[o++] = (uint8_t)best_off;
			out[o++] = (uint8_t)best_len;
			i += best_len;
		} else {
			out[o++] = in[i++];
		}
	}
	return o;
}

NOINLINE static void handle_request(struct request *req, struct stats *st)
{
	uint8_t *out = malloc(PAYLOAD_SIZE * 3 / 2);
	uint32_t tag;
	size_t n;

	if (!out)
		abort();
	tag = parse_request(req);
	st->last_checksum = checksum_payload(req->payload, PAYLOAD_SIZE) ^ tag;
	n = compress_block(req->payload, PAYLOAD_SIZE, out);

	pthread_mutex_lock(&stats_lock);
	st->requests++;
	st->bytes_in += PAYLOAD_SIZE;
	st->bytes_out += n;
	pthread_mutex_unlock(&stats_lock);
	free(out);
}

static void *worker_main(void *arg)
{
	struct stats *st = arg;
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", (int)(st - worker_stats) + 1);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		struct request *req = queue_pop();

		handle_request(req, st);
		free(req);
	}
	return NULL;
}

static void sleep_until(struct timespec *next, long step_ns)
{
	next->tv_nsec += step_ns;
	while (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL);
}

static void *acceptor_main(void *arg)
{
	long rate = *(long *)arg;
	uint64_t rng = 42;
	struct timespec next;

	pthread_setname_np(pthread_self(), "acceptor");
	clock_gettime(CLOCK_MONOTONIC, &next);
	/* Requests in batches of 10 so the sleeps stay well above timer slack. */
	for (;;) {
		for (int i = 0; i < 10; i++)
			queue_push(make_request(&rng));
		sleep_until(&next, 10 * 1000000000L / rate);
	}
	return NULL;
}

NOINLINE static void flush_stats(void)
{
	pthread_mutex_lock(&stats_lock);
	memset(&totals, 0, sizeof(totals));
	for (int i = 0; i < NR_WORKERS; i++) {
		totals.requests += worker_stats[i].requests;
		totals.bytes_in += worker_stats[i].bytes_in;
		totals.bytes_out += worker_stats[i].bytes_out;
	}
	pthread_mutex_unlock(&stats_lock);
}

static void *flusher_main(void *arg)
{
	struct timespec next;

	(void)arg;
	pthread_setname_np(pthread_self(), "flusher");
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		sleep_until(&next, 100 * 1000000L);
		flush_stats();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static long rate = 2000;
	pthread_t threads[NR_WORKERS + 2];
	int n = 0;

	if (argc > 1)
		rate = atol(argv[1]);
	if (rate < 10 || rate > 1000000) {
		fprintf(stderr, "usage: demo [REQUESTS_PER_SECOND]  (10..1000000, default 2000)\n");
		return 2;
	}

	for (int i = 0; i < NR_WORKERS; i++)
		if (pthread_create(&threads[n++], NULL, worker_main, &worker_stats[i]))
			goto fail;
	if (pthread_create(&threads[n++], NULL, flusher_main, NULL) ||
	    pthread_create(&threads[n++], NULL, acceptor_main, &rate))
		goto fail;
	printf("demo: pid %d, %ld requests/s, threads acceptor, worker-1..%d, flusher\n",
	       (int)getpid(), rate, NR_WORKERS);
	fflush(stdout);

	pthread_join(threads[0], NULL);
	return 0;
fail:
	fprintf(stderr, "demo: cannot start threads\n");
	return 1;
}
