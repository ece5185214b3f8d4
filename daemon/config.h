/* SPDX-License-Identifier: MIT */
/*
 * config.h - every setting of pprofd in one struct.
 *
 * Filled once at start-up in this order: built-in defaults, the JSON config
 * file, the environment, the command line; validated once, read-only after.
 */
#ifndef PPROFD_CONFIG_H
#define PPROFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define DEFAULT_CONFIG_PATH "/etc/pprofd/pprofd.json"
#define DEFAULT_LISTEN "127.0.0.1:6060"
#define DEFAULT_SYMBOLS_CACHE_DIR "/var/cache/pprofd"

/* Exit codes of the daemon (documented in the README and --help). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,   /* failure after start-up */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_CONFIG = 3,    /* unreadable or invalid config file or environment */
	EXIT_TARGET = 4,    /* the target process does not exist */
	EXIT_PRIVILEGE = 5, /* missing CAP_BPF/CAP_PERFMON (or root) */
	EXIT_LISTEN = 6,    /* listen address unusable (in use, bad address) */
	EXIT_BPF = 7,       /* BPF programs could not be loaded or attached */
};

/* "heap.mode": how heap profiles are collected. */
enum heap_mode {
	HEAP_MODE_UPROBE, /* uprobes on the allocator: every call traps */
	HEAP_MODE_INJECT, /* the sampler library loaded into the target: sampled calls trap */
	HEAP_MODE_OFF,    /* no heap or allocs profile */
};

/* Parses "uprobe", "inject", "off"; 0 or -EINVAL. */
int heap_mode__parse(const char *name, enum heap_mode *out);
const char *heap_mode__name(enum heap_mode mode);

enum environment {
	ENV_PRODUCTION,  /* the profiling endpoints hidden */
	ENV_DEVELOPMENT, /* everything served */
	ENV_DEBUG,       /* as development */
};

struct settings {
	/* What to profile. */
	pid_t pid;

	/* Where to listen: "host:port"; loopback by default. */
	char listen[256];

	/* The config file read, or "" when none. */
	char config_path[4096];

	/* "environment": development and debug serve the profiling endpoints. */
	enum environment environment;

	/* -v: debug logging. */
	bool verbose;

	/* "cpu.hz": default sampling rate of /debug/pprof/profile (Go: 100). */
	int cpu_hz;

	/* "profile.max_seconds": the longest ?seconds= a request may ask for. */
	int profile_max_seconds;

	/* "profile.default_seconds": ?seconds= when absent (Go: 30). */
	int profile_default_seconds;

	/*
	 * "profile.on_demand_seconds": the window of a /debug/pprof/block or
	 * /mutex request without ?seconds= while that profile is collected
	 * only on request (5).
	 */
	int profile_on_demand_seconds;

	/*
	 * "block.rate_ns": waits at least this long are each recorded in the
	 * block profile; shorter ones are sampled in proportion (Go's
	 * SetBlockProfileRate; 1 records every wait).
	 */
	int block_rate_ns;

	/*
	 * "block.always_on", "mutex.always_on": collect from attach, so that a
	 * request without ?seconds= gets the cumulative profile, as Go's once
	 * SetBlockProfileRate / SetMutexProfileFraction is called (false: their
	 * probes, which run for every process of the machine, are attached only
	 * while a request collects).
	 */
	bool block_always_on;
	bool mutex_always_on;

	/*
	 * "block.kernel_stacks": each recorded wait of a system call also gets
	 * the kernel stack it waited in (false: the user stack only, as Go's
	 * block profile; a wait outside a system call, a page fault, keeps its
	 * kernel stack either way).  The walk of a sleeping task's kernel stack
	 * costs the target ~3.6 us a recorded wait on these machines.
	 */
	bool block_kernel_stacks;

	/*
	 * "probes.mount_tracefs": mount tracefs at /sys/kernel/tracing when it
	 * is not, for the syscalls:* tracepoints (true).  Without them the
	 * block probes of threads without rseq fall back to the raw sys_exit.
	 */
	bool probes_mount_tracefs;

	/* /performance/health thresholds: over a max is critical, above 80%
	 * of it a warning. */
	int health_max_threads;          /* "health.max_threads" (1000) */
	int health_max_goroutines;       /* "health.max_goroutines" (1000): Go targets */
	long long health_max_heap_bytes; /* "health.max_heap_bytes" (512 MiB) */
	int health_pause_warn_ms;        /* "health.pause_warn_ms" (100) */
	int health_pause_critical_ms;    /* "health.pause_critical_ms" (500) */

	/* "heap.sample_rate": mean bytes between sampled allocations, as Go's
	 * MemProfileRate (524288); 1 records every allocation. */
	int heap_sample_rate;
	/* "heap.max_overhead_percent": the probes' share of the target's CPU
	 * time over which heap tracking pauses (10); 0: no limit. */
	int heap_max_overhead_percent;
	/* "heap.mode": inject, uprobe or off (see enum heap_mode; inject). */
	enum heap_mode heap_mode;

	/*
	 * "go.set_mem_profile_rate": for a Go target, the runtime.MemProfileRate
	 * pprofd writes into it at start when the binary has it at 0 (the
	 * linker sets 0 when nothing references runtime.MemProfile); 0 (the
	 * default): pprofd never writes to the target.
	 */
	int go_set_mem_profile_rate;

	/*
	 * "auth.token_file": a file holding the bearer token every endpoint
	 * but /performance/health then requires; "" for none.  Without one,
	 * pprofd refuses to listen on anything but loopback.
	 */
	char auth_token_file[4096];

	/* HTTP limits ("limits.*"). */
	int max_header_bytes;        /* "limits.max_header_bytes" (8192) */
	int max_body_bytes;          /* "limits.max_body_bytes" (1 MiB) */
	int request_timeout_seconds; /* "limits.request_timeout_seconds" (30): reading
				      * a request, writing a reply */
	int max_concurrent_profiles; /* "limits.max_concurrent_profiles" (16) */
	int max_connections;         /* "limits.max_connections" (256): more are answered 503 */

	/* "log.access": one line per request on stderr (true). */
	bool access_log;

	/*
	 * "symbols.cache_dir": where uncompressed copies of compressed debug
	 * info are kept (see debugcache.h; /var/cache/pprofd); "" for none.
	 * "symbols.cache_max_mb": the most it holds (1024).
	 */
	char symbols_cache_dir[4096];
	int symbols_cache_max_mb;
};

/* Bounds on the sampling rate, for the config and for ?hz=. */
#define CPU_HZ_MIN 1
#define CPU_HZ_MAX 10000

/* Bound on heap.sample_rate (1 GiB). */
#define HEAP_SAMPLE_RATE_MAX (1 << 30)

void settings__defaults(struct settings *s);

/*
 * Reads the JSON config file at path into s.  Unknown keys, wrong types and
 * out-of-range values are errors.  On error returns a negative errno and
 * writes one line naming the file, the line and the key into err.
 */
int settings__load_file(struct settings *s, const char *path, char *err, size_t errlen);

/* Same, from a string already in memory (path is only used in messages). */
int settings__load_json(struct settings *s, const char *path, const char *text, char *err,
			size_t errlen);

/*
 * Applies the environment (APP_ENVIRONMENT).  Returns 0 or -EINVAL with a
 * message in err.
 */
int settings__load_env(struct settings *s, char *err, size_t errlen);

/* Parses an environment name: production, development, debug. */
int environment__parse(const char *name, enum environment *out);
const char *environment__name(enum environment env);

/* Whether the profiling endpoints are served. */
static inline bool settings__profiling_enabled(const struct settings *s)
{
	return s->environment != ENV_PRODUCTION;
}

#endif /* PPROFD_CONFIG_H */
