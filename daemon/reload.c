// SPDX-License-Identifier: MIT
/* reload.c - see reload.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "reload.h"

/* A setting the running daemon takes as is: copied, and logged when it changed. */
#define APPLY(field, name)                                                                  \
	do {                                                                                \
		if (memcmp(&r->live->field, &next.field, sizeof(next.field))) {             \
			r->live->field = next.field;                                        \
			pr_info("reload: %s changed", name);                                \
		}                                                                           \
	} while (0)

/* A setting read only at start-up: logged when the file changed it. */
#define RESTART(field, name)                                                                \
	do {                                                                                \
		if (memcmp(&r->loaded.field, &next.field, sizeof(next.field)))              \
			pr_warn("reload: %s changed in %s: takes effect when pprofd restarts", \
				name, r->path ? r->path : "the environment");               \
	} while (0)

int reload__run(struct reload *r)
{
	struct settings next;
	char err[512], *token = NULL;
	int ret;

	settings__defaults(&next);
	if (r->path && (ret = settings__load_file(&next, r->path, err, sizeof(err)))) {
		pr_err("reload: %s; nothing changed", err);
		return ret;
	}
	ret = settings__load_env(&next, err, sizeof(err));
	if (ret) {
		pr_err("reload: %s; nothing changed", err);
		return ret;
	}
	/* The token: the live address must stay covered. */
	if (strcmp(next.auth_token_file, r->live->auth_token_file) || *next.auth_token_file) {
		struct settings probe = next;

		memcpy(probe.listen, r->live->listen, sizeof(probe.listen));
		ret = auth__load(&probe, &token, err, sizeof(err));
		if (ret) {
			pr_err("reload: %s; nothing changed", err);
			return ret;
		}
	}

	RESTART(listen, "listen");
	RESTART(block_rate_ns, "block.rate_ns");
	RESTART(block_always_on, "block.always_on");
	RESTART(block_kernel_stacks, "block.kernel_stacks");
	RESTART(mutex_always_on, "mutex.always_on");
	RESTART(probes_mount_tracefs, "probes.mount_tracefs");
	RESTART(heap_sample_rate, "heap.sample_rate");
	RESTART(heap_max_overhead_percent, "heap.max_overhead_percent");
	RESTART(symbols_cache_dir, "symbols.cache_dir");
	RESTART(symbols_cache_max_mb, "symbols.cache_max_mb");
	RESTART(go_set_mem_profile_rate, "go.set_mem_profile_rate");

	APPLY(environment, "environment");
	APPLY(cpu_hz, "cpu.hz");
	APPLY(profile_max_seconds, "profile.max_seconds");
	APPLY(profile_default_seconds, "profile.default_seconds");
	APPLY(profile_on_demand_seconds, "profile.on_demand_seconds");
	APPLY(health_max_threads, "health.max_threads");
	APPLY(health_max_goroutines, "health.max_goroutines");
	APPLY(health_max_heap_bytes, "health.max_heap_bytes");
	APPLY(health_pause_warn_ms, "health.pause_warn_ms");
	APPLY(health_pause_critical_ms, "health.pause_critical_ms");
	APPLY(max_header_bytes, "limits.max_header_bytes");
	APPLY(max_body_bytes, "limits.max_body_bytes");
	APPLY(request_timeout_seconds, "limits.request_timeout_seconds");
	APPLY(max_concurrent_profiles, "limits.max_concurrent_profiles");
	APPLY(max_connections, "limits.max_connections");
	APPLY(access_log, "log.access");
	if (strcmp(next.auth_token_file, r->live->auth_token_file) ||
	    (token && r->d->auth_token && strcmp(token, r->d->auth_token)) ||
	    !token != !r->d->auth_token) {
		memcpy(r->live->auth_token_file, next.auth_token_file, sizeof(next.auth_token_file));
		pr_info("reload: auth token %s", token ? "(re)loaded" : "removed");
	}
	free(r->d->auth_token);
	r->d->auth_token = token;
	http_server__apply_limits(r->http);
	r->loaded = next;
	pr_info("reload: done (%s mode)", environment__name(r->live->environment));
	return 0;
}
