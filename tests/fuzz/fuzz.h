/* SPDX-License-Identifier: MIT */
/*
 * fuzz.h - what the libFuzzer harnesses (tests/fuzz/fuzz_*.c) share.
 *
 * Each harness feeds one parser of outside input (files the target
 * controls, /proc text, HTTP queries, the config file) with the fuzzer's
 * bytes, under AddressSanitizer and UndefinedBehaviorSanitizer: any read
 * past the input, leak or undefined behaviour is a crash.  make fuzz runs
 * each for FUZZ_SECONDS (tests/fuzz/run.sh).
 */
#ifndef PPROFD_FUZZ_H
#define PPROFD_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The input as a malloc'd C string (the parsers of text want one); NULL when out of memory. */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/* A 64-bit value from the input at i (wrapping), for addresses to look up. */
static inline uint64_t fuzz_u64(const uint8_t *data, size_t size, size_t i)
{
	uint64_t v = 0;

	for (size_t k = 0; size && k < 8; k++)
		v = v << 8 | data[(i + k) % size];
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif /* PPROFD_FUZZ_H */
