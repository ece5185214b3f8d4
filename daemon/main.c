// SPDX-License-Identifier: MIT
/*
 * main.c - start-up, privileges, signals, event loop, ordered shutdown.
 *
 * Start-up failures are one line on stderr and an exit code from enum
 * exit_code (config.h), so that scripts and systemd can tell them apart.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <event2/event.h>

#include "collector.h"
#include "config.h"
#include "attach.h"
#include "debugcache.h"
#include "auth.h"
#include "collectors.h"
#include "daemon.h"
#include "http.h"
#include "log.h"
#include "notify.h"
#include "reload.h"
#include "symbolize.h"
#include "target.h"
#include "unwind.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static const char usage[] =
	"Usage: pprofd --pid PID|--pidfile FILE|--unit NAME.service [--listen ADDR:PORT]\n"
	"              [--config FILE] [-v]\n"
	"\n"
	"Profiles a running process from the outside with eBPF and serves Go\n"
	"net/http/pprof-compatible endpoints (go tool pprof http://ADDR:PORT/).\n"
	"\n"
	"  -p, --pid PID         the process to profile (or one of the two below)\n"
	"      --pidfile FILE    the process whose PID FILE holds; followed when it\n"
	"                        exits and comes back\n"
	"      --unit NAME       the main process of a systemd unit (its cgroup);\n"
	"                        followed when it exits and comes back\n"
	"  -l, --listen ADDR     where to serve HTTP (default " DEFAULT_LISTEN ")\n"
	"  -c, --config FILE     JSON config file (default " DEFAULT_CONFIG_PATH
	", if present)\n"
	"  -v, --verbose         debug logging\n"
	"  -h, --help            this text\n"
	"  -V, --version         the version\n"
	"      --heap-sample-rate BYTES  mean bytes between sampled allocations\n"
	"                        (heap.sample_rate, 524288; 1: every allocation)\n"
	"      --heap-max-overhead PCT   pause heap tracking over this share of the\n"
	"                        target's CPU (heap.max_overhead_percent, 10; 0: off)\n"
	"      --heap-mode MODE  inject (a sampler loaded into the target), uprobe\n"
	"                        (probes on the allocator) or off (heap.mode, inject)\n"
	"\n"
	"Environment: APP_ENVIRONMENT=development (or debug) serves /debug/pprof/*;\n"
	"any other mode (production, the default) answers 404 there.\n"
	"\n"
	"Exit codes: 0 clean shutdown, 1 runtime failure, 2 bad command line,\n"
	"3 bad config, 4 no such process, 5 missing privilege (CAP_BPF and\n"
	"CAP_PERFMON, or root), 6 listen address unusable, 7 BPF load/attach failure.\n";

/* A start-up error: one line, then the exit code. */
static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int code, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pr_err("%s", line);
	return code;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Verifier logs come as one long message: print it line by line. */
	static char text[1 << 16];
	char *line, *save = NULL;

	/* libbpf warns about what the daemon reports itself: keep it to -v. */
	(void)level;
	if (log_get_level() < LOG_DEBUG)
		return 0;
	vsnprintf(text, sizeof(text), fmt, ap);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(LOG_DEBUG, "%s", line);
	return 0;
}

static bool has_capability(const struct __user_cap_data_struct *data, int cap)
{
	return data[cap / 32].effective & (1u << (cap % 32));
}

/* Whether this process may load BPF programs and open perf events. */
static bool privileged(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = { 0 };

	if (syscall(SYS_capget, &hdr, data))
		return geteuid() == 0;
	if (has_capability(data, CAP_SYS_ADMIN))
		return true;
	return has_capability(data, CAP_BPF) && has_capability(data, CAP_PERFMON);
}

struct shutdown {
	struct daemon *d;
	struct http_server *http;
};

static void on_drained(void *arg)
{
	struct daemon *d = arg;

	event_base_loopexit(d->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct shutdown *sd = arg;
	struct timeval grace = { .tv_sec = 5 };

	(void)what;
	if (sd->d->shutting_down) {
		pr_warn("second %s: exiting now", strsignal(sig));
		event_base_loopbreak(sd->d->base);
		return;
	}
	pr_info("%s: finishing in-flight responses, then exiting", strsignal(sig));
	sd->d->shutting_down = true;
	/* Responses that cannot be flushed within the grace time are dropped. */
	event_base_loopexit(sd->d->base, &grace);
	http_server__drain(sd->http, on_drained, sd->d);
}

static void on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	pr_info("SIGHUP: reloading the configuration");
	reload__run(arg);
}

/* Long options without a short letter. */
enum { OPT_HEAP_SAMPLE_RATE = 1000, OPT_HEAP_MAX_OVERHEAD, OPT_HEAP_MODE };
enum { OPT_PIDFILE = 1100, OPT_UNIT };

static int parse_int(const char *s, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v <= 0 || v > 4194304)
		return -EINVAL;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "pidfile", required_argument, NULL, OPT_PIDFILE },
		{ "unit", required_argument, NULL, OPT_UNIT },
		{ "listen", required_argument, NULL, 'l' },
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "heap-sample-rate", required_argument, NULL, OPT_HEAP_SAMPLE_RATE },
		{ "heap-max-overhead", required_argument, NULL, OPT_HEAP_MAX_OVERHEAD },
		{ "heap-mode", required_argument, NULL, OPT_HEAP_MODE },
		{ 0 },
	};
	const char *config_path = NULL, *listen = NULL, *pid_arg = NULL;
	struct target_source source = { 0 };
	struct attach *attach = NULL;
	struct notify *notify = NULL;
	const char *heap_rate_arg = NULL, *heap_overhead_arg = NULL, *heap_mode_arg = NULL;
	struct settings settings;
	struct daemon d = { .settings = &settings };
	struct collector_env env;
	const char *failed = "";
	struct http_server *http = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *sighup = NULL;
	struct reload reload = { 0 };
	struct shutdown sd;
	char err[512];
	int opt, ret, error = 0, code = EXIT_OK;
	bool verbose = false;

	opterr = 0; /* one line of our own instead of getopt's */
	while ((opt = getopt_long(argc, argv, ":p:l:c:vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'p': pid_arg = optarg; break;
		case OPT_PIDFILE: source.pidfile = optarg; break;
		case OPT_UNIT: source.unit = optarg; break;
		case 'l': listen = optarg; break;
		case 'c': config_path = optarg; break;
		case 'v': verbose = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		case 'V': printf("pprofd %s\n", PPROFD_VERSION); return EXIT_OK;
		case OPT_HEAP_SAMPLE_RATE: heap_rate_arg = optarg; break;
		case OPT_HEAP_MAX_OVERHEAD: heap_overhead_arg = optarg; break;
		case OPT_HEAP_MODE: heap_mode_arg = optarg; break;
		case ':':
			return fail(EXIT_USAGE, "%s needs a value (see pprofd --help)",
				    argv[optind - 1]);
		default:
			return fail(EXIT_USAGE, "unknown option \"%s\" (see pprofd --help)",
				    argv[optind - 1]);
		}
	}
	if (optind < argc)
		return fail(EXIT_USAGE, "unexpected argument \"%s\" (see pprofd --help)",
			    argv[optind]);
	if (verbose)
		log_set_level(LOG_DEBUG);

	/* Settings: defaults < config file < environment < flags. */
	settings__defaults(&settings);
	if (config_path || access(DEFAULT_CONFIG_PATH, F_OK) == 0) {
		if (settings__load_file(&settings, config_path ? config_path : DEFAULT_CONFIG_PATH,
					err, sizeof(err)))
			return fail(EXIT_CONFIG, "%s", err);
	}
	if (settings__load_env(&settings, err, sizeof(err)))
		return fail(EXIT_CONFIG, "%s", err);
	/* What SIGHUP compares the file with (flags come after). */
	reload.loaded = settings;
	reload.path = config_path ? config_path
				  : access(DEFAULT_CONFIG_PATH, F_OK) == 0 ? DEFAULT_CONFIG_PATH : NULL;
	if (listen) {
		if (strlen(listen) >= sizeof(settings.listen))
			return fail(EXIT_USAGE, "--listen: address too long");
		strcpy(settings.listen, listen);
	}
	if (heap_rate_arg && parse_int(heap_rate_arg, 1, HEAP_SAMPLE_RATE_MAX, &settings.heap_sample_rate))
		return fail(EXIT_USAGE, "--heap-sample-rate %s: expected bytes from 1 to %d",
			    heap_rate_arg, HEAP_SAMPLE_RATE_MAX);
	if (heap_mode_arg && heap_mode__parse(heap_mode_arg, &settings.heap_mode))
		return fail(EXIT_USAGE, "--heap-mode %s: expected inject, uprobe or off", heap_mode_arg);
	if (heap_overhead_arg &&
	    parse_int(heap_overhead_arg, 0, 100, &settings.heap_max_overhead_percent))
		return fail(EXIT_USAGE, "--heap-max-overhead %s: expected a percentage from 0 to 100",
			    heap_overhead_arg);
	settings.verbose = verbose;
	if (!!pid_arg + !!source.pidfile + !!source.unit != 1)
		return fail(EXIT_USAGE, "one of --pid, --pidfile or --unit is required: the process "
					"to profile (see pprofd --help)");
	if (pid_arg && parse_pid(pid_arg, &settings.pid))
		return fail(EXIT_USAGE, "--pid %s: expected a process id (a positive integer)",
			    pid_arg);
	if (!pid_arg && target__resolve(&source, &settings.pid, err, sizeof(err)))
		return fail(EXIT_TARGET, "%s", err);
	d.pid = settings.pid;
	ret = auth__load(&settings, &d.auth_token, err, sizeof(err));
	if (ret)
		return fail(ret == -EPERM ? EXIT_LISTEN : EXIT_CONFIG, "%s", err);

	if (!target__exists(d.pid))
		return fail(EXIT_TARGET, "no process with PID %d: is it running? (check with ps -p %d)",
			    (int)d.pid, (int)d.pid);
	if (!privileged())
		return fail(EXIT_PRIVILEGE,
			    "missing privilege: pprofd needs CAP_BPF and CAP_PERFMON (or root) to "
			    "load BPF programs and open perf events: run it as root, or grant them "
			    "with setcap cap_bpf,cap_perfmon,cap_sys_ptrace+ep");

	libbpf_set_print(libbpf_log);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &d.started);

	d.base = event_base_new();
	if (!d.base) {
		code = fail(EXIT_RUNTIME, "cannot create the event loop");
		goto cleanup;
	}
	debug_cache__configure(settings.symbols_cache_dir,
			       (uint64_t)settings.symbols_cache_max_mb << 20);
	d.sym = symbolizer__new(d.pid);
	if (!d.sym) {
		code = errno == ESRCH ? fail(EXIT_TARGET, "process %d exited during start-up", (int)d.pid)
				      : fail(EXIT_RUNTIME, "cannot read the mappings of process %d: %s",
					     (int)d.pid, strerror(errno));
		goto cleanup;
	}
	d.uw = unwinder__new(d.pid, d.sym);
	if (!d.uw) {
		code = fail(EXIT_RUNTIME, "out of memory");
		goto cleanup;
	}
	/* The address first: a port in use stops start-up before any probe. */
	http = http_server__new(&d, settings.listen, &error, err, sizeof(err));
	if (!http) {
		code = fail(EXIT_LISTEN, "%s", err);
		goto cleanup;
	}
	env = (struct collector_env){ .pid = d.pid, .base = d.base, .sym = d.sym, .uw = d.uw,
				      .settings = &settings };
	error = collectors__open(&env, &d.collectors, &d.ncollectors, &failed, err, sizeof(err));
	if (error) {
		code = error == -EPERM ? fail(EXIT_PRIVILEGE, "%s: run pprofd as root, or with "
							     "CAP_BPF and CAP_PERFMON", err)
				       : fail(EXIT_BPF, "%s profile: %s", failed, err);
		goto cleanup;
	}
	if (daemon__start_draining(&d)) {
		code = fail(EXIT_RUNTIME, "out of memory");
		goto cleanup;
	}

	sd.d = &d;
	sd.http = http;
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &sd);
	sigint = evsignal_new(d.base, SIGINT, on_signal, &sd);
	reload.live = &settings;
	reload.d = &d;
	reload.http = http;
	sighup = evsignal_new(d.base, SIGHUP, on_sighup, &reload);
	if (!sigterm || !sigint || !sighup || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || evsignal_add(sighup, NULL)) {
		code = fail(EXIT_RUNTIME, "cannot install signal handlers");
		goto cleanup;
	}
	pr_info("profiling process %d; serving on http://%s/ (%s mode%s)", (int)d.pid,
		settings.listen, environment__name(settings.environment),
		settings__profiling_enabled(&settings) ? ", /debug/pprof/ enabled"
						       : ": /debug/pprof/ disabled");

	/* --pidfile, --unit: follow the target when it exits and comes back. */
	if (!pid_arg) {
		attach = attach__new(&d, http, &source);
		if (!attach) {
			code = fail(EXIT_RUNTIME, "out of memory");
			goto cleanup;
		}
	}
	snprintf(err, sizeof(err), "profiling process %d on http://%s/", (int)d.pid,
		 settings.listen);
	notify = notify__ready(d.base, err);

	ret = event_base_dispatch(d.base);
	if (ret < 0)
		code = fail(EXIT_RUNTIME, "event loop failed");
	else
		pr_info("stopped");

cleanup:
	/* Reverse order of start-up; every probe goes with its collector. */
	if (sighup)
		event_free(sighup);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	notify__free(notify);
	attach__free(attach);
	http_server__free(http);
	daemon__stop_draining(&d);
	collectors__free(d.collectors, d.ncollectors);
	unwinder__free(d.uw);
	symbolizer__free(d.sym);
	if (d.base)
		event_base_free(d.base);
	free(d.auth_token);
	return code;
}
