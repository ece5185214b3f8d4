// SPDX-License-Identifier: MIT
/*
 * fuzz_http_query.c - what HTTP clients send that pprofd parses itself
 * (http.c): query parameters (http__query_int, as the handlers call it),
 * /debug/pprof/symbol addresses, and HOST:PORT addresses.
 */
#include <limits.h>

#include "fuzz.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), host[256], port[16];
	unsigned long long addrs[64];
	long v;

	if (!text)
		return 0;
	if (!http__query_int(text, "seconds", 1, LONG_MAX, &v) && v < 1)
		abort();
	if (!http__query_int(text, "hz", 1, 10000, &v) && (v < 1 || v > 10000))
		abort();
	http__query_int(text, "debug", LONG_MIN, LONG_MAX, &v);
	http__query_int(text, "", 0, 0, &v);
	if (http__symbol_addresses(text, addrs, 64) > 64)
		abort();
	if (!http__split_address(text, host, sizeof(host), port, sizeof(port)) &&
	    (!host[0] || !port[0] || atol(port) > 65535))
		abort();
	free(text);
	return 0;
}
