// SPDX-License-Identifier: MIT
/*
 * fuzz_config.c - the config file parser (config.c): any text gives either
 * settings or one error line that names the file.
 */
#include <stdio.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size), err[512] = "";
	struct settings s;

	if (!text)
		return 0;
	settings__defaults(&s);
	if (settings__load_json(&s, "fuzz.json", text, err, sizeof(err))) {
		if (strncmp(err, "fuzz.json", 9))
			abort(); /* an error must name the file */
	} else if (s.cpu_hz < CPU_HZ_MIN || s.cpu_hz > CPU_HZ_MAX) {
		abort(); /* accepted settings are in range */
	}
	free(text);
	return 0;
}
