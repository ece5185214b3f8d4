// SPDX-License-Identifier: MIT
/*
 * config.c - defaults, JSON config file and environment into struct settings.
 *
 * The keys of the config file are one table (config_keys below): adding a
 * setting is adding a field to struct settings and a row here, and a line to
 * config/pprofd.json.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "config.h"

enum key_type {
	KEY_OBJECT,
	KEY_INT,
	KEY_INT64,
	KEY_BOOL,
	KEY_STRING,
	KEY_PATH,
	KEY_ENVIRONMENT,
	KEY_HEAP_MODE,
};

struct config_key {
	const char *path;   /* dotted: "cpu.hz" */
	enum key_type type;
	size_t offset;      /* into struct settings */
	size_t size;        /* KEY_STRING, KEY_PATH: buffer size */
	long long min, max; /* KEY_INT, KEY_INT64 */
};

#define FIELD(f) offsetof(struct settings, f)

static const struct config_key config_keys[] = {
	{ "environment", KEY_ENVIRONMENT, FIELD(environment), 0, 0, 0 },
	{ "listen", KEY_STRING, FIELD(listen), sizeof(((struct settings *)0)->listen), 0, 0 },
	{ "cpu", KEY_OBJECT, 0, 0, 0, 0 },
	{ "cpu.hz", KEY_INT, FIELD(cpu_hz), 0, CPU_HZ_MIN, CPU_HZ_MAX },
	{ "profile", KEY_OBJECT, 0, 0, 0, 0 },
	{ "profile.max_seconds", KEY_INT, FIELD(profile_max_seconds), 0, 1, 86400 },
	{ "profile.default_seconds", KEY_INT, FIELD(profile_default_seconds), 0, 1, 86400 },
	{ "profile.on_demand_seconds", KEY_INT, FIELD(profile_on_demand_seconds), 0, 1, 86400 },
	{ "block", KEY_OBJECT, 0, 0, 0, 0 },
	{ "block.rate_ns", KEY_INT, FIELD(block_rate_ns), 0, 1, 1000000000 },
	{ "block.always_on", KEY_BOOL, FIELD(block_always_on), 0, 0, 0 },
	{ "block.kernel_stacks", KEY_BOOL, FIELD(block_kernel_stacks), 0, 0, 0 },
	{ "mutex", KEY_OBJECT, 0, 0, 0, 0 },
	{ "mutex.always_on", KEY_BOOL, FIELD(mutex_always_on), 0, 0, 0 },
	{ "probes", KEY_OBJECT, 0, 0, 0, 0 },
	{ "probes.mount_tracefs", KEY_BOOL, FIELD(probes_mount_tracefs), 0, 0, 0 },
	{ "health", KEY_OBJECT, 0, 0, 0, 0 },
	{ "health.max_threads", KEY_INT, FIELD(health_max_threads), 0, 1, 4194304 },
	{ "health.max_goroutines", KEY_INT, FIELD(health_max_goroutines), 0, 1, 1 << 30 },
	{ "health.max_heap_bytes", KEY_INT64, FIELD(health_max_heap_bytes), 0, 1,
	  1LL << 50 },
	{ "health.pause_warn_ms", KEY_INT, FIELD(health_pause_warn_ms), 0, 1, 3600000 },
	{ "health.pause_critical_ms", KEY_INT, FIELD(health_pause_critical_ms), 0, 1, 3600000 },
	{ "heap", KEY_OBJECT, 0, 0, 0, 0 },
	{ "heap.sample_rate", KEY_INT, FIELD(heap_sample_rate), 0, 1, HEAP_SAMPLE_RATE_MAX },
	{ "heap.max_overhead_percent", KEY_INT, FIELD(heap_max_overhead_percent), 0, 0, 100 },
	{ "heap.mode", KEY_HEAP_MODE, FIELD(heap_mode), 0, 0, 0 },
	{ "go", KEY_OBJECT, 0, 0, 0, 0 },
	{ "go.set_mem_profile_rate", KEY_INT, FIELD(go_set_mem_profile_rate), 0, 0,
	  HEAP_SAMPLE_RATE_MAX },
	{ "auth", KEY_OBJECT, 0, 0, 0, 0 },
	{ "auth.token_file", KEY_STRING, FIELD(auth_token_file),
	  sizeof(((struct settings *)0)->auth_token_file), 0, 0 },
	{ "limits", KEY_OBJECT, 0, 0, 0, 0 },
	{ "limits.max_header_bytes", KEY_INT, FIELD(max_header_bytes), 0, 256, 1 << 20 },
	{ "limits.max_body_bytes", KEY_INT, FIELD(max_body_bytes), 0, 0, 64 << 20 },
	{ "limits.request_timeout_seconds", KEY_INT, FIELD(request_timeout_seconds), 0, 1, 3600 },
	{ "limits.max_concurrent_profiles", KEY_INT, FIELD(max_concurrent_profiles), 0, 1, 1024 },
	{ "limits.max_connections", KEY_INT, FIELD(max_connections), 0, 1, 65536 },
	{ "log", KEY_OBJECT, 0, 0, 0, 0 },
	{ "log.access", KEY_BOOL, FIELD(access_log), 0, 0, 0 },
	{ "symbols", KEY_OBJECT, 0, 0, 0, 0 },
	{ "symbols.cache_dir", KEY_PATH, FIELD(symbols_cache_dir),
	  sizeof(((struct settings *)0)->symbols_cache_dir), 0, 0 },
	{ "symbols.cache_max_mb", KEY_INT, FIELD(symbols_cache_max_mb), 0, 1, 1 << 20 },
};

void settings__defaults(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->listen, sizeof(s->listen), "%s", DEFAULT_LISTEN);
	s->environment = ENV_PRODUCTION;
	s->cpu_hz = 100;
	s->profile_max_seconds = 300;
	s->profile_default_seconds = 30;
	s->profile_on_demand_seconds = 5;
	s->block_rate_ns = 100000;
	s->probes_mount_tracefs = true;
	s->max_header_bytes = 8192;
	s->max_body_bytes = 1 << 20;
	s->request_timeout_seconds = 30;
	s->max_concurrent_profiles = 16;
	s->max_connections = 256;
	s->access_log = true;
	s->health_max_threads = 1000;
	s->health_max_goroutines = 1000;
	s->health_max_heap_bytes = 512LL << 20;
	s->health_pause_warn_ms = 100;
	s->health_pause_critical_ms = 500;
	s->heap_sample_rate = 524288;
	s->heap_max_overhead_percent = 10;
	/* Only sampled calls trap (README, Heap profiles); refused: uprobes. */
	s->heap_mode = HEAP_MODE_INJECT;
	snprintf(s->symbols_cache_dir, sizeof(s->symbols_cache_dir), "%s", DEFAULT_SYMBOLS_CACHE_DIR);
	s->symbols_cache_max_mb = 1024;
}

static const char *const environment_names[] = {
	[ENV_PRODUCTION] = "production",
	[ENV_DEVELOPMENT] = "development",
	[ENV_DEBUG] = "debug",
};

static const char *const heap_mode_names[] = {
	[HEAP_MODE_UPROBE] = "uprobe",
	[HEAP_MODE_INJECT] = "inject",
	[HEAP_MODE_OFF] = "off",
};

int heap_mode__parse(const char *name, enum heap_mode *out)
{
	for (size_t i = 0; i < sizeof(heap_mode_names) / sizeof(heap_mode_names[0]); i++) {
		if (!strcmp(name, heap_mode_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *heap_mode__name(enum heap_mode mode)
{
	return heap_mode_names[mode];
}

int environment__parse(const char *name, enum environment *out)
{
	for (size_t i = 0; i < sizeof(environment_names) / sizeof(environment_names[0]); i++) {
		if (!strcmp(name, environment_names[i])) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *environment__name(enum environment env)
{
	return environment_names[env];
}

/* The 1-based line of byte offset pos in text. */
static int line_of(const char *text, size_t pos)
{
	int line = 1;

	for (size_t i = 0; i < pos && text[i]; i++)
		line += text[i] == '\n';
	return line;
}

/*
 * The line where key path (dotted) is written: the first "name" of each
 * component, searched after the previous one.  0 when not found.
 */
static int line_of_key(const char *text, const char *path)
{
	const char *at = text;
	char name[128];

	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		const char *hit;

		snprintf(name, sizeof(name), "\"%.*s\"", (int)n, path);
		hit = strstr(at, name);
		if (!hit)
			return 0;
		at = hit;
		path += n + (dot ? 1 : 0);
	}
	return line_of(text, at - text);
}

static int key_error(char *err, size_t errlen, const char *file, const char *text,
		     const char *path, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int key_error(char *err, size_t errlen, const char *file, const char *text,
		     const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	int line = line_of_key(text, path);

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%d: key \"%s\": %s", file, line, path, what);
	else
		snprintf(err, errlen, "%s: key \"%s\": %s", file, path, what);
	return -EINVAL;
}

static const struct config_key *find_key(const char *path)
{
	for (size_t i = 0; i < sizeof(config_keys) / sizeof(config_keys[0]); i++)
		if (!strcmp(config_keys[i].path, path))
			return &config_keys[i];
	return NULL;
}

static int apply_object(struct settings *s, const cJSON *obj, const char *prefix,
			const char *file, const char *text, char *err, size_t errlen)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, obj)
	{
		char path[256];
		const struct config_key *key;
		char *field;
		int ret;

		if (*prefix)
			snprintf(path, sizeof(path), "%s.%s", prefix, item->string);
		else
			snprintf(path, sizeof(path), "%s", item->string);
		key = find_key(path);
		if (!key)
			return key_error(err, errlen, file, text, path, "unknown key");
		field = (char *)s + key->offset;

		switch (key->type) {
		case KEY_OBJECT:
			if (!cJSON_IsObject(item))
				return key_error(err, errlen, file, text, path,
						 "expected an object");
			ret = apply_object(s, item, path, file, text, err, errlen);
			if (ret)
				return ret;
			break;
		case KEY_INT:
		case KEY_INT64: {
			double v = item->valuedouble;

			/* floor(), not a cast: a double out of long long's range is undefined there. */
			if (!cJSON_IsNumber(item) || v != floor(v))
				return key_error(err, errlen, file, text, path,
						 "expected an integer from %lld to %lld", key->min,
						 key->max);
			if (v < key->min || v > key->max)
				return key_error(err, errlen, file, text, path,
						 "%.0f is out of range: expected %lld to %lld", v,
						 key->min, key->max);
			if (key->type == KEY_INT)
				*(int *)field = (int)v;
			else
				*(long long *)field = (long long)v;
			break;
		}
		case KEY_BOOL:
			if (!cJSON_IsBool(item))
				return key_error(err, errlen, file, text, path,
						 "expected true or false");
			*(bool *)field = cJSON_IsTrue(item);
			break;
		case KEY_STRING:
		case KEY_PATH:
			if (!cJSON_IsString(item))
				return key_error(err, errlen, file, text, path, "expected a string");
			/* A daemon's working directory is no place to resolve paths from. */
			if (key->type == KEY_PATH && item->valuestring[0] &&
			    item->valuestring[0] != '/')
				return key_error(err, errlen, file, text, path,
						 "expected an absolute path, or \"\" for none");
			if (strlen(item->valuestring) >= key->size)
				return key_error(err, errlen, file, text, path,
						 "longer than %zu characters", key->size - 1);
			memcpy(field, item->valuestring, strlen(item->valuestring) + 1);
			break;
		case KEY_ENVIRONMENT:
			if (!cJSON_IsString(item) ||
			    environment__parse(item->valuestring, (enum environment *)field))
				return key_error(err, errlen, file, text, path,
						 "expected \"production\", \"development\" or "
						 "\"debug\"");
			break;
		case KEY_HEAP_MODE:
			if (!cJSON_IsString(item) ||
			    heap_mode__parse(item->valuestring, (enum heap_mode *)field))
				return key_error(err, errlen, file, text, path,
						 "expected \"inject\", \"uprobe\" or \"off\"");
			break;
		}
	}
	return 0;
}

int settings__load_json(struct settings *s, const char *path, const char *text, char *err,
			size_t errlen)
{
	const char *end = NULL;
	struct settings next = *s;
	cJSON *root;
	int ret;

	root = cJSON_ParseWithOpts(text, &end, true);
	if (!root) {
		size_t pos = end ? (size_t)(end - text) : 0;

		/* The excerpt stays on its line: the message is one line. */
		snprintf(err, errlen, "%s:%d: malformed JSON near \"%.*s\"", path,
			 line_of(text, pos), (int)strcspn(text + pos, "\r\n") < 20
						     ? (int)strcspn(text + pos, "\r\n")
						     : 20,
			 text + pos);
		return -EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "%s:1: expected a JSON object at the top", path);
		cJSON_Delete(root);
		return -EINVAL;
	}
	ret = apply_object(&next, root, "", path, text, err, errlen);
	cJSON_Delete(root);
	if (ret)
		return ret;
	/* Whole file or nothing: a bad key leaves s as it was. */
	*s = next;
	snprintf(s->config_path, sizeof(s->config_path), "%s", path);
	return 0;
}

int settings__load_file(struct settings *s, const char *path, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = fopen(path, "r");
	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "%s: cannot read config file: %s", path, strerror(errno));
		return ret;
	}
	{
		char buf[4096];
		size_t n;

		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			char *more = realloc(text, len + n + 1);

			if (!more) {
				free(text);
				fclose(f);
				snprintf(err, errlen, "%s: out of memory", path);
				return -ENOMEM;
			}
			text = more;
			memcpy(text + len, buf, n);
			len += n;
		}
	}
	if (ferror(f)) {
		ret = -EIO;
		snprintf(err, errlen, "%s: cannot read config file: I/O error", path);
		fclose(f);
		free(text);
		return ret;
	}
	fclose(f);
	if (!text) {
		snprintf(err, errlen, "%s:1: empty config file: expected a JSON object", path);
		return -EINVAL;
	}
	text[len] = '\0';
	ret = settings__load_json(s, path, text, err, errlen);
	free(text);
	return ret;
}

int settings__load_env(struct settings *s, char *err, size_t errlen)
{
	const char *env = getenv("APP_ENVIRONMENT");

	if (env && *env) {
		if (environment__parse(env, &s->environment)) {
			snprintf(err, errlen,
				 "APP_ENVIRONMENT=%s: expected production, development or debug",
				 env);
			return -EINVAL;
		}
	}
	return 0;
}
