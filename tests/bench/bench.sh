#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench.sh - what pprofd costs, side by side with perf, measured in one run.
#
# Usage: tests/bench/bench.sh          (or: make bench, which builds first)
#
# Sections (BENCH_SECTIONS, default "rest cpu dwarf switch goroutine
# goruntime http scale": every one but heap, which is `make bench-heap`;
# each is a function section_NAME):
#
#   rest  what an attached daemon costs while nobody asks, and while block
#         and mutex profiles are collected, each against no daemon in the
#         same round: the CPU time of a syscall-bound neighbour that is not
#         the target (dd bs=1, BENCH_REST_SYSCALLS system calls, default 2M;
#         the daemon on an idle sleep), of a Go server (Debian's
#         prometheus) answering BENCH_REST_REQUESTS (300) requests of its
#         /metrics, and of switcher per context switch (as switch).
#
#   heap_inject
#         how long loading the heap sampler stops a thread of a target that
#         keeps every CPU busy (heap_churn), pprofd's method against the
#         previous one in the same run: median and p90 of
#         BENCH_INJECT_LOADS (20) first loads and as many reloads; in
#         `make bench-heap` after heap.
#
#   heap  ns per malloc+free pair of tests/workloads/heap_loop: no probes,
#         pprofd's heap tracking (heap.mode uprobe and inject) at the default
#         rate and at rate 1, a memleak-style bpftrace script (the baseline)
#         and bare counting probes on malloc and free (the floor); then
#         redis-server (Debian's, jemalloc) under redis-benchmark alone, with
#         pprofd in inject mode and in uprobe mode: requests/s lost, and how
#         long the load stopped a thread of the target; `make bench-heap`.
#
#   cpu   CPU profile of tests/workloads/busy (two threads burning CPU at a
#         call depth of 7-9 frames): pprofd serving /debug/pprof/profile
#         ?seconds=N&hz=H, against `perf record -g -p PID -e cpu-clock
#         -c PERIOD`, both sampling cpu-clock at the same period, at 100 Hz and
#         at 1000 Hz.
#   goroutine
#         the time of a goroutine dump (/debug/pprof/goroutine, and its
#         ?debug=2 text) of tests/workloads/many_threads (100 threads asleep
#         4 calls deep): curl's time_total, median of 5 requests to one
#         daemon after a first one (which loads the symbols, shown apart);
#         and how long a target thread is stopped for it (none: a BPF task
#         iterator reads each thread where it is).
#   goruntime
#         a Go target read from its own runtime: tests/workloads/goserver
#         with 10,000 goroutines parked (-goroutines 10000 -retain): the time
#         of pprofd's goroutine dump (protobuf and ?debug=2) and heap read,
#         side by side with the app's own net/http/pprof answering the same
#         (the baseline; it stops the world for a goroutine profile, pprofd
#         stops nothing): curl's time_total, medians of 5 after a first
#         request each, and the ratio pprofd / app.
#   dwarf complete stacks through frame-pointer-less code: the cpu
#         section's measure on tests/workloads/busy_nofp (two threads 6-8
#         calls deep through libc's qsort and libm's sin, built
#         -fomit-frame-pointer), against `perf record --call-graph dwarf`,
#         whose cost is its record AND its `perf report --stdio` (which
#         unwinds the copied stacks; CPU from wait4's rusage); both tools'
#         share of samples whose stack reaches main (or the thread's start
#         routine worker_main): `go tool pprof -traces` / `perf script`.
#   switch
#         ns per context switch of tests/workloads/switcher (two threads on
#         one CPU ping-ponging through pipes, BENCH_SWITCH_ROUNDS round trips,
#         default 300000), alone, with a daemon attached at rest, and with
#         one collecting block and mutex profiles; the difference per round,
#         and the daemon's CPU during the loop.
#
#   http  requests/s and p99 latency of /performance/health and /performance/stats
#         under wrk (64 connections), and pprofd's RSS before and after
#         BENCH_HTTP_REQUESTS (1000000) requests (goal: growth <= 1 MiB).
#
#   scale what the operating endpoints cost as the target grows: the time
#         of /performance/health, /stats, /memory and /metrics (curl's
#         time_total; per round a fresh daemon, settled, the median of
#         BENCH_SCALE_REQUESTS (15) requests of each, interleaved) on
#         tests/workloads/many_threads with BENCH_SCALE_THREADS (100 1000
#         10000) parked threads, the smallest being the baseline, and the
#         ratio of the times for each 10x the threads (10: linear; the
#         goals: health and stats <= 20 ms, memory <= 100 ms at 10,000);
#         what the census those endpoints read costs (census.h).  Then a
#         heap profile of BENCH_SCALE_STACKS (10000 100000) unique stacks
#         (tests/workloads/many_stacks, heap.sample_rate 1): the time of
#         GET /debug/pprof/heap (first, then the median of 3: symbolize,
#         encode, gzip), pprofd's RSS before the allocations, once they are
#         tracked and at its peak, and the growth from 10k to 100k.
#
# What is measured, per configuration, BENCH_RUNS times (rounds interleave
# the configurations, alternating which tool goes first, so that the noise of
# a busy machine falls on all of them alike), and printed as medians:
#
#   cpu%       the tool's CPU time (utime + stime) from the start of the
#              window until the profile is complete, in % of one core over
#              the window.  pprofd: the /proc/PID/stat delta from just before
#              the request to the end of the response (window, then draining,
#              symbolizing, encoding); a fresh daemon per run.  perf: `perf
#              record -D -1 --control fifo:...` is told to enable its events;
#              from its ack until it exits (the window's end disables them
#              through the same FIFO, then SIGINT), file written (its
#              whole-life CPU from wait4()'s rusage, via rusage.c built into
#              $OUTPUT/bench/, minus its CPU before the ack).  `perf report`
#              is not counted.
#   win%       the part of it inside the window (/proc/PID/stat at the close)
#   after ms   CPU ms after the window closed (pprofd: draining, unwinding,
#              symbolizing, encoding, gzip; perf: finishing the file and
#              its build-ID scan)
#   setup ms   CPU ms before the window, not in cpu%: pprofd's start-up (paid
#              once per daemon), perf record's (paid once per profile)
#
# pprofd's "2nd profile" rows (BENCH_WARM=0 leaves them out): the same fresh
# daemon serves a second, identical request right after the first.  The
# first profile of a daemon loads what symbolizing needs (/proc/kallsyms,
# DWARF, debug files) and pays for it; the second shows what every later
# profile costs.  The goals are checked on the first.
#   peak MiB   peak RSS: VmHWM (pprofd, fresh daemon, read after the
#              response: start-up included) / ru_maxrss (perf, whole life)
#   idle MiB   pprofd's VmHWM before the request: what start-up alone took
#              (2nd profile: start-up and the first profile)
#   samples    samples in the profile: the sum of the samples/count values
#              (`go tool pprof -raw`) / what `perf record` reports it wrote
#   smp/cpu-s  samples per CPU-second the target got in the window (from its
#              /proc/PID/stat): about H for both when nothing is lost, however
#              busy the machine is
#   tgt%       CPU the target got in the window, % of one core (<= 200)
#   deliv ms   wall time from the window's end to the result: pprofd the
#              curl time_total minus the window; perf from the window's end
#              to its exit
#              (data file written, not yet symbolized: that is perf report)
#
# Ratios pprofd/perf are taken within each round (the two ran back to back)
# and the median of those is printed, next to the goals.
#
# Neither figure includes what sampling costs in the kernel (the BPF program,
# perf's own sample write): that runs in the target's context and is
# charged to the target.
#
# Environment: OUTPUT (build directory, default build), BENCH_RUNS (default
# 3), BENCH_SECONDS (window, default 10), BENCH_SECTIONS (see above),
# BENCH_WARM=0 (no 2nd profiles), BENCH_KEEP=1 (keep the temp directory:
# profiles, perf data, logs).
# Every process this script starts is ended by PID when it exits, however it
# exits.  pprofd listens on 127.0.0.1 only.  Needs root (BPF, perf -p).
# Progress goes to stderr, the tables to stdout.

set -u
export LC_ALL=C # decimal points in $EPOCHREALTIME and awk

BENCH_REPO=$(cd "$(dirname "$0")/../.." && pwd)
OUTPUT=${OUTPUT:-build}
case $OUTPUT in
/*) ;;
*) OUTPUT=$BENCH_REPO/$OUTPUT ;;
esac
PPROFD=$OUTPUT/pprofd
WORKLOADS=$OUTPUT/workloads
RUSAGE=$OUTPUT/bench/rusage
RUNS=${BENCH_RUNS:-3}
WINDOW=${BENCH_SECONDS:-10}
SECTIONS=${BENCH_SECTIONS:-rest cpu dwarf switch goroutine goruntime http scale}
case ${BENCH_WARM:-1} in
0 | no | false) WARM= ;;
*) WARM=1 ;;
esac
CLK_TCK=$(getconf CLK_TCK)
BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pprofd-bench.XXXXXX")
RESULTS=$BENCH_TMP/results.tsv
RUN=0 # the round being measured
: >"$RESULTS"

# go tool pprof wants a HOME and a GOCACHE; do not touch the user's if set.
export HOME=${HOME:-$BENCH_TMP}
export GOCACHE=${GOCACHE:-$BENCH_TMP/gocache}

# ---------------------------------------------------------------- processes

# Every process started here, as "PID:STARTTIME" (field 22 of its stat), so
# that the cleanup never signals a PID that has since been reused.
BENCH_PIDS=()

log()
{
	printf 'bench: %s\n' "$*" >&2
}

die()
{
	log "$*"
	exit 1
}

# stat_fields PID: sets STAT to the fields of /proc/PID/stat after the
# command name (STAT[0] is the state, STAT[11] utime, STAT[12] stime,
# STAT[19] the start time); false when the process is gone.  No process is
# started: on a loaded machine each one costs tens of milliseconds.
stat_fields()
{
	local line
	STAT=()
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	read -r -a STAT <<<"${line##*) }"
}

start_time()
{
	stat_fields "$1" && echo "${STAT[19]}"
}

# track PID: end it when the script ends.
track()
{
	BENCH_PIDS+=("$1:$(start_time "$1")")
}

# alive PID: the process exists and is not a zombie.
alive()
{
	stat_fields "$1" && [ "${STAT[0]}" != Z ]
}

# wait_gone PID SECONDS: waits until PID has exited (reaping it if it is
# our child); false if it is still there after SECONDS.
wait_gone()
{
	local tenths
	tenths=$(awk -v s="$2" 'BEGIN { printf "%d", s * 10 }')
	while alive "$1"; do
		[ "$tenths" -gt 0 ] || return 1
		sleep 0.1
		tenths=$((tenths - 1))
	done
	wait "$1" 2>/dev/null
	return 0
}

# untrack PID: it has exited; never signal that PID again.
untrack()
{
	local entry keep=()
	for entry in "${BENCH_PIDS[@]}"; do
		[ "${entry%%:*}" = "$1" ] && continue
		keep+=("$entry")
	done
	BENCH_PIDS=("${keep[@]}")
}

# stop PID [SIGNAL]: SIGNAL (default TERM), SIGKILL after 5 s; forgets it.
stop()
{
	local pid=$1 sig=${2:-TERM}
	untrack "$pid"
	alive "$pid" || {
		wait "$pid" 2>/dev/null
		return 0
	}
	kill -"$sig" "$pid" 2>/dev/null
	wait_gone "$pid" 5 && return 0
	kill -KILL "$pid" 2>/dev/null
	wait_gone "$pid" 2
}

cleanup()
{
	local entry pid
	trap - EXIT INT TERM
	# Newest first: a perf before its rusage wrapper, a daemon before its target.
	for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
		entry=${BENCH_PIDS[i]}
		pid=${entry%%:*}
		[ "$(start_time "$pid")" = "${entry#*:}" ] && stop "$pid"
	done
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept $BENCH_TMP"
	else
		rm -rf "$BENCH_TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- /proc, time

# ticks PID: utime + stime of the whole process, in clock ticks.
ticks()
{
	stat_fields "$1" && echo $((STAT[11] + STAT[12]))
}

# hwm_kb PID: peak RSS so far (VmHWM), in KiB.
hwm_kb()
{
	local key value _
	while read -r key value _; do
		[ "$key" = VmHWM: ] && echo "$value" && return 0
	done 2>/dev/null <"/proc/$1/status"
	return 1
}

# sleep_until EPOCH_SECONDS (decimals allowed).
sleep_until()
{
	local d
	d=$(awk -v t="$1" -v n="$EPOCHREALTIME" 'BEGIN { d = t - n; printf "%.3f", (d > 0 ? d : 0) }')
	sleep "$d"
}

# wait_http URL: until URL answers (up to 15 s); false if it never does.
wait_http()
{
	for _ in $(seq 150); do
		curl -s -o /dev/null --max-time 1 "$1" && return 0
		sleep 0.1
	done
	return 1
}

# calc EXPRESSION: awk arithmetic, printed with up to 3 decimals.
calc()
{
	awk "BEGIN { v = $1; printf \"%.3f\n\", v }"
}

# ---------------------------------------------------------------- results

# put CONFIG METRIC VALUE: one measurement of run $RUN.
put()
{
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$RUN" "$3" >>"$RESULTS"
}

# values CONFIG METRIC: every run's value, one a line.
values()
{
	awk -F'\t' -v c="$1" -v m="$2" '$1 == c && $2 == m { print $4 }' "$RESULTS"
}

# median: of the numbers on stdin ("-" when there are none).
median()
{
	sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "-"; exit }
		      printf "%.6g\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) + 0 }'
}

# med CONFIG METRIC [DECIMALS]: the median of the runs, rounded.
med()
{
	local m
	m=$(values "$1" "$2" | median)
	[ "$m" = - ] && {
		echo -
		return
	}
	printf "%.${3:-1}f\n" "$m"
}

# runs CONFIG METRIC: every run's value on one line, for the details.
runs()
{
	values "$1" "$2" | awk '{ printf "%s%.4g", (NR > 1 ? " " : ""), $1 + 0 } END { print "" }'
}

# goal LABEL VALUE OP LIMIT UNIT: one line of the goals block; OP is <= or >=.
goal()
{
	local verdict
	if [ "$2" = - ]; then
		verdict="NO DATA"
	elif awk -v v="$2" -v l="$4" -v op="$3" 'BEGIN { exit !(op == "<=" ? v <= l : v >= l) }'; then
		verdict=met
	else
		verdict=MISSED
	fi
	printf '  %-36s %7s %-4s (goal %s %s%s)  %s\n' "$1" "$2" "$5" "$3" "$4" "${5:+ $5}" "$verdict"
}

TABLE_FMT='%-15s %6s %5s %8s %8s %8s %8s %7s %9s %4s %8s\n'

table_header()
{
	# shellcheck disable=SC2059 # the format is ours
	printf "$TABLE_FMT" config cpu% win% "after ms" "setup ms" "peak MiB" "idle MiB" samples \
		smp/cpu-s tgt% "deliv ms"
}

# table_row CONFIG LABEL: the medians of one configuration.
table_row()
{
	# shellcheck disable=SC2059
	printf "$TABLE_FMT" "$2" "$(med "$1" cpu_pct 2)" "$(med "$1" win_pct 2)" \
		"$(med "$1" after_ms 0)" "$(med "$1" setup_ms 0)" "$(med "$1" rss_mib 1)" \
		"$(med "$1" idle_mib 1)" \
		"$(med "$1" samples 0)" \
		"$(med "$1" per_cpu_s 0)" "$(med "$1" target_pct 0)" "$(med "$1" delivery_ms 0)"
}

# ---------------------------------------------------------------- targets

# start_target NAME [THREADS]: starts $WORKLOADS/NAME and waits until it
# runs THREADS threads (default 1); sets TARGET_PID.
start_target()
{
	local bin=$WORKLOADS/$1 want=${2:-1}
	[ -x "$bin" ] || die "missing $bin (make workloads)"
	"$bin" >"$BENCH_TMP/$1.log" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		[ "$(find "/proc/$TARGET_PID/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" -ge "$want" ] &&
			[ "$(readlink "/proc/$TARGET_PID/exe")" = "$(readlink -f "$bin")" ] && return 0
		sleep 0.05
	done
	die "$bin did not start $want threads"
}

# ---------------------------------------------------------------- pprofd

# start_pprofd TARGET_PID [ARGS...]: a fresh daemon on a free loopback port,
# answering HTTP; sets DAEMON_PID, DAEMON_URL.  ARGS go to pprofd.
start_pprofd()
{
	local port code logf
	for _ in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		DAEMON_URL=http://127.0.0.1:$port
		logf=$BENCH_TMP/pprofd.$port.log
		APP_ENVIRONMENT=development "$PPROFD" --pid "$1" --listen "127.0.0.1:$port" "${@:2}" \
			>"$logf" 2>&1 &
		DAEMON_PID=$!
		track "$DAEMON_PID"
		for _ in $(seq 150); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
				"$DAEMON_URL/debug/pprof/" 2>/dev/null)
			[ -n "$code" ] && [ "$code" != 000 ] && return 0
			alive "$DAEMON_PID" || break
			sleep 0.1
		done
		stop "$DAEMON_PID"
		# Exit status 6: the port was taken; try another.
		wait "$DAEMON_PID" 2>/dev/null
		grep -qi 'listen\|address' "$logf" && continue
		log "pprofd --pid $1 did not start:"
		tail -5 "$logf" >&2
		return 1
	done
	return 1
}

# pprof_samples FILE: the sum of the samples/count values in a profile.
pprof_samples()
{
	go tool pprof -raw -symbolize=none "$1" 2>"$1.pprof-err" | awk '
		/^Samples:/ { in_samples = 1; getline; next }
		/^Locations/ { in_samples = 0 }
		in_samples && /^ *-?[0-9]+ +-?[0-9]+:/ { n += $1 }
		END { print n + 0 }'
}

# put_costs CONFIG SETUP_S WINDOW_TICKS TOTAL_S TARGET_TICKS SAMPLES RSS_KB
# DELIVERY_S: the metrics every tool has.  SETUP_S is the tool's CPU before
# the window, TOTAL_S all of it until the result (setup included),
# WINDOW_TICKS its CPU ticks inside the window.  Each is a number or an awk
# expression of numbers ("hz" is CLK_TCK).
put_costs()
{
	# One awk for all of them: on a loaded machine every process started
	# costs tens of milliseconds.
	awk -v config="$1" -v run="$RUN" -v window="$WINDOW" -v hz="$CLK_TCK" 'BEGIN {
		setup_s = '"$2"'; win_ticks = '"$3"'; total_s = '"$4"'; target_ticks = '"$5"'
		samples = '"$6"'; rss_kb = '"$7"'; deliv = '"$8"'
		v["setup_ms"] = 1000 * setup_s
		v["cpu_pct"] = 100 * (total_s - setup_s) / window
		v["win_pct"] = 100 * win_ticks / hz / window
		v["after_ms"] = 1000 * (total_s - setup_s - win_ticks / hz)
		v["rss_mib"] = rss_kb / 1024
		v["samples"] = samples
		v["target_pct"] = 100 * target_ticks / hz / window
		v["per_cpu_s"] = target_ticks ? samples * hz / target_ticks : 0
		v["delivery_ms"] = 1000 * deliv
		for (k in v)
			printf "%s\t%s\t%s\t%.3f\n", config, k, run, v[k] >> "'"$RESULTS"'"
		printf "bench: %s run %d: cpu %.2f%%, after %d ms, peak %.1f MiB, %d samples, " \
			"delivered %d ms after the window\n", config, run, v["cpu_pct"], v["after_ms"],
			v["rss_mib"], samples, v["delivery_ms"] > "/dev/stderr"
	}'
}

# pprofd_request CONFIG TARGET_PID PATH?QUERY: the running daemon
# ($DAEMON_PID) serves one windowed profile (the query's seconds= must be
# $WINDOW); its cost from the request to the end of the response.
pprofd_request()
{
	local config=$1 target=$2 query=$3 prof c0 cw c1 tc0 tcw t0 code total rss samples cpid
	prof=$BENCH_TMP/$config.$RUN.prof
	put "$config" idle_mib "$(($(hwm_kb "$DAEMON_PID") * 1000 / 1024))e-3"
	t0=$EPOCHREALTIME
	c0=$(ticks "$DAEMON_PID")
	tc0=$(ticks "$target")
	curl -sS --max-time $((WINDOW + 60)) -o "$prof" -w '%{http_code} %{time_total}\n' \
		"$DAEMON_URL$query" >"$prof.curl" 2>"$prof.curl-err" &
	cpid=$!
	track "$cpid"
	sleep_until "$(calc "$t0 + $WINDOW")"
	cw=$(ticks "$DAEMON_PID")
	tcw=$(ticks "$target")
	wait "$cpid"
	untrack "$cpid"
	c1=$(ticks "$DAEMON_PID")
	rss=$(hwm_kb "$DAEMON_PID")

	read -r code total <"$prof.curl"
	if [ "${code:-000}" != 200 ]; then
		log "$config: $query answered ${code:-nothing}:" \
			"$(head -c 200 "$prof" | tr -c '[:print:]' ' ') $(cat "$prof.curl-err")"
		return 1
	fi
	samples=$(pprof_samples "$prof")
	[ -s "$prof.pprof-err" ] && log "$config: go tool pprof: $(head -3 "$prof.pprof-err")"
	put_costs "$config" "$c0 / hz" $((cw - c0)) "$c1 / hz" $((tcw - tc0)) "${samples:-0}" "${rss:-0}" \
		"$total - window"
}

# measure_pprofd CONFIG TARGET_PID PATH?QUERY [WARM_CONFIG]: a fresh daemon
# on the target serves the profile (pprofd_request); with WARM_CONFIG, the
# same daemon then serves a second one, measured as WARM_CONFIG: what a
# daemon that has already loaded its symbols (kallsyms, DWARF) pays.
measure_pprofd()
{
	local ret=0
	start_pprofd "$2" || return 1
	sleep 0.2 # start-up done: what follows is the request alone
	pprofd_request "$1" "$2" "$3" || ret=1
	if [ "$ret" = 0 ] && [ -n "${4:-}" ]; then
		pprofd_request "$4" "$2" "$3" || ret=1
	fi
	stop "$DAEMON_PID"
	return $ret
}

# ---------------------------------------------------------------- perf

# build_rusage: the wait4() wrapper that measures a tool which exits.
build_rusage()
{
	local src=$BENCH_REPO/tests/bench/rusage.c
	[ -x "$RUSAGE" ] && [ "$RUSAGE" -nt "$src" ] && return 0
	mkdir -p "$(dirname "$RUSAGE")"
	cc -O2 -Wall -Wextra -Werror -o "$RUSAGE" "$src" || die "cannot build $RUSAGE"
}

# measure_perf CONFIG TARGET_PID PERF_RECORD_ARGS...: `perf record -p
# TARGET_PID -o FILE ARGS...`, started with its events disabled; once it says
# they are enabled (its control FIFO), the window runs; then the events are
# disabled the same way and perf gets SIGINT to finish its file.  Its cost:
# whole life (rusage) minus what it spent before the window.
measure_perf()
{
	local config=$1 target=$2 data ru helper ppid t0 c0 tc0 tcw cw tstop tend samples
	local ut st rss status ctl ack ctl_fd ack_fd line
	shift 2
	data=$BENCH_TMP/$config.$RUN.perf.data
	ru=$data.rusage
	ctl=$data.ctl
	ack=$data.ack
	: >"$ru"
	rm -f "$ctl" "$ack"
	mkfifo "$ctl" "$ack" || return 1
	# Read-write opens: neither end blocks waiting for the other.
	exec {ctl_fd}<>"$ctl" {ack_fd}<>"$ack"

	"$RUSAGE" "$ru" perf record -p "$target" -o "$data" -D -1 --control "fifo:$ctl,$ack" \
		"$@" >"$data.log" 2>&1 &
	helper=$!
	track "$helper"
	ppid=
	for _ in $(seq 100); do
		ppid=$(head -1 "$ru")
		[ -n "$ppid" ] && break
		sleep 0.05
	done
	[ -n "$ppid" ] && track "$ppid"
	echo enable >&"$ctl_fd"
	line=
	read -r -t 60 -u "$ack_fd" line
	if [ -z "$ppid" ] || [ "$line" != ack ]; then
		exec {ctl_fd}>&- {ack_fd}>&-
		log "$config: perf did not start recording: $(tail -3 "$data.log")"
		[ -z "$ppid" ] || stop "$ppid" INT
		stop "$helper"
		return 1
	fi
	t0=$EPOCHREALTIME
	c0=$(ticks "$ppid")
	tc0=$(ticks "$target")
	sleep_until "$(calc "$t0 + $WINDOW")"
	# The window ends when perf says its events are off: the target's CPU
	# time is read over the same span as perf sampled.
	tstop=$EPOCHREALTIME
	echo disable >&"$ctl_fd"
	read -r -t 60 -u "$ack_fd" line
	tcw=$(ticks "$target")
	cw=$(ticks "$ppid")
	exec {ctl_fd}>&- {ack_fd}>&-
	kill -INT "$ppid"
	wait "$helper"
	tend=$EPOCHREALTIME
	untrack "$ppid"
	untrack "$helper"

	read -r ut st rss status < <(sed -n 2p "$ru")
	case ${status:-} in
	0 | 130) ;; # perf record re-raises the SIGINT it stopped on
	*)
		log "$config: perf record failed (status ${status:-?}): $(tail -5 "$data.log")"
		return 1
		;;
	esac
	samples=$(grep -o '([0-9]* samples)' "$data.log" | tr -dc 0-9)
	if [ -z "$samples" ]; then
		samples=$(perf report -i "$data" --stats 2>/dev/null |
			awk '/SAMPLE events:/ { print $3; exit }')
	fi
	grep -qi lost "$data.log" && log "$config: perf: $(grep -i lost "$data.log" | head -2)"
	put_costs "$config" "$c0 / hz" $((cw - c0)) "($ut + $st) / 1e6" $((tcw - tc0)) \
		"${samples:-0}" "${rss:-0}" "$tend - $tstop"
}

# ratio_round NAME CONFIG_A CONFIG_B METRIC: A/B of this round's values.
ratio_round()
{
	local a b
	a=$(awk -F'\t' -v c="$2" -v m="$4" -v r="$RUN" '$1 == c && $2 == m && $3 == r { print $4 }' "$RESULTS")
	b=$(awk -F'\t' -v c="$3" -v m="$4" -v r="$RUN" '$1 == c && $2 == m && $3 == r { print $4 }' "$RESULTS")
	[ -n "$a" ] && [ -n "$b" ] && put ratio "$1" "$(calc "$b > 0 ? $a / $b : 0")"
}

# ---------------------------------------------------------------- sections

# cpu: pprofd's CPU profile against perf record -g (frame pointers) on busy.
section_cpu()
{
	local hz period order first
	start_target busy 3
	log "cpu: target busy, PID $TARGET_PID; $RUNS rounds of $((WARM ? 6 : 4)) profiles of $WINDOW s"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for hz in 100 1000; do
			period=$((1000000000 / hz))
			# Alternate who goes first, round by round.
			if ((RUN % 2)); then order="pprofd perf"; else order="perf pprofd"; fi
			for first in $order; do
				log "cpu: round $RUN/$RUNS: $first at $hz Hz"
				if [ "$first" = pprofd ]; then
					measure_pprofd "cpu.pprofd.$hz" "$TARGET_PID" \
						"/debug/pprof/profile?seconds=$WINDOW&hz=$hz" \
						"${WARM:+cpu.pprofd.$hz.warm}" ||
						log "cpu: pprofd at $hz Hz: no result this round"
				else
					measure_perf "cpu.perf.$hz" "$TARGET_PID" -e cpu-clock \
						-c "$period" -g ||
						log "cpu: perf at $hz Hz: no result this round"
				fi
			done
			ratio_round "cpu.$hz" "cpu.pprofd.$hz" "cpu.perf.$hz" cpu_pct
			ratio_round "cpu.$hz.warm" "cpu.pprofd.$hz.warm" "cpu.perf.$hz" cpu_pct
			ratio_round "rss.$hz" "cpu.pprofd.$hz" "cpu.perf.$hz" rss_mib
			ratio_round "samples.$hz" "cpu.pprofd.$hz" "cpu.perf.$hz" per_cpu_s
		done
	done
	stop "$TARGET_PID"

	echo
	echo "CPU profile of busy (2 threads, ~7-9 frames): $WINDOW s window, medians of $RUNS runs"
	echo "  pprofd: GET /debug/pprof/profile?seconds=$WINDOW&hz=H from a fresh daemon" \
		"(2nd profile: a second GET to it)"
	echo "  perf:   perf record -g -p PID -e cpu-clock -c 1e9/H (enabled through --control)"
	echo
	table_header
	for hz in 100 1000; do
		table_row "cpu.pprofd.$hz" "pprofd $hz Hz"
		[ -z "$WARM" ] || table_row "cpu.pprofd.$hz.warm" "  2nd profile"
		table_row "cpu.perf.$hz" "perf   $hz Hz"
	done
	echo
	echo "goals (pprofd; ratios are medians of the per-round ratios pprofd/perf):"
	goal "cpu at 100 Hz, % of a core" "$(med cpu.pprofd.100 cpu_pct 2)" "<=" 1 %
	for hz in 100 1000; do
		goal "ratio pprofd/perf cpu $hz Hz" "$(med ratio "cpu.$hz" 2)" "<=" 1.0 ""
	done
	for hz in 100 1000; do
		goal "peak RSS at $hz Hz" "$(med "cpu.pprofd.$hz" rss_mib 1)" "<=" 32 MiB
	done
	for hz in 100 1000; do
		goal "delivery after the window, $hz Hz" "$(med "cpu.pprofd.$hz" delivery_ms 0)" "<=" 100 ms
	done
	echo
	echo "same amount sampled? ratio pprofd/perf of samples per target CPU-second:" \
		"100 Hz $(med ratio samples.100 2), 1000 Hz $(med ratio samples.1000 2)"
	echo "ratio pprofd/perf peak RSS: 100 Hz $(med ratio rss.100 2), 1000 Hz $(med ratio rss.1000 2)"
	[ -z "$WARM" ] || echo "ratio pprofd/perf cpu, pprofd's 2nd profile (symbols loaded):" \
		"100 Hz $(med ratio cpu.100.warm 2), 1000 Hz $(med ratio cpu.1000.warm 2)"
	echo
	echo "every run (cpu% | after ms | deliv ms):"
	for hz in 100 1000; do
		for config in "pprofd.$hz" ${WARM:+"pprofd.$hz.warm"} "perf.$hz"; do
			printf '  %-20s %-22s | %-20s | %s\n' "${config//./ }" \
				"$(runs "cpu.$config" cpu_pct)" "$(runs "cpu.$config" after_ms)" \
				"$(runs "cpu.$config" delivery_ms)"
		done
	done
}

# goroutine: the time of a goroutine dump of a 100-thread target.
section_goroutine()
{
	local runs=5 kind url code total first_pb first_txt sw0 sw1
	start_target many_threads 100
	log "goroutine: target many_threads, PID $TARGET_PID; $runs dumps of each kind"
	start_pprofd "$TARGET_PID" || {
		stop "$TARGET_PID"
		log "goroutine: pprofd did not start: no result"
		return 1
	}
	sleep 0.2
	# dump URL: one request; prints "CODE TIME_TOTAL".
	dump()
	{
		curl -sS --max-time 60 -o "$BENCH_TMP/goroutine.out" -w '%{http_code} %{time_total}\n' \
			"$DAEMON_URL$1" 2>/dev/null
	}
	# Context switches of the target's threads: a thread stopped or woken
	# for a dump would switch.
	switches()
	{
		cat /proc/"$TARGET_PID"/task/*/status 2>/dev/null |
			awk '/ctxt_switches/ { s += $2 } END { print s }'
	}
	sw0=$(switches)
	read -r code first_pb < <(dump /debug/pprof/goroutine)
	[ "$code" = 200 ] || log "goroutine: first dump answered ${code:-nothing}"
	read -r code first_txt < <(dump "/debug/pprof/goroutine?debug=2")
	for ((RUN = 1; RUN <= runs; RUN++)); do
		for kind in pb debug2; do
			url=/debug/pprof/goroutine
			[ "$kind" = pb ] || url="$url?debug=2"
			read -r code total < <(dump "$url")
			if [ "$code" != 200 ]; then
				log "goroutine: $url answered ${code:-nothing}"
				continue
			fi
			put "goroutine.$kind" ms "$(calc "1000 * $total")"
		done
		# The iterator and the unwinding alone, as the daemon timed them.
		put goroutine.iter ms "$(curl -s "$DAEMON_URL/debug/metrics" |
			jq '.collectors[] | select(.name == "goroutine") | .last_dump_ms')"
	done
	sw1=$(switches)
	put goroutine.threads n "$(curl -s "$DAEMON_URL/debug/metrics" |
		jq '.collectors[] | select(.name == "goroutine") | .threads')"
	stop "$DAEMON_PID"
	stop "$TARGET_PID"

	echo
	echo "goroutine dump of many_threads ($(med goroutine.threads n 0) threads asleep 4 calls" \
		"deep): medians of $runs requests to one daemon"
	printf '  %-40s %8s ms   (first request of the daemon: %.1f ms)\n' \
		"GET /debug/pprof/goroutine" "$(med goroutine.pb ms 1)" \
		"$(calc "1000 * ${first_pb:-0}")"
	printf '  %-40s %8s ms   (first request of the daemon: %.1f ms)\n' \
		"GET /debug/pprof/goroutine?debug=2" "$(med goroutine.debug2 ms 1)" \
		"$(calc "1000 * ${first_txt:-0}")"
	printf '  %-40s %8s ms\n' "of which task iterator + unwinding" "$(med goroutine.iter ms 2)"
	echo "  every run (ms): protobuf $(runs goroutine.pb ms); debug=2 $(runs goroutine.debug2 ms)"
	echo "context switches of the target's threads during the $((2 * runs + 2)) dumps:" \
		"$((sw1 - sw0))"
	echo "longest stop of a target thread: 0 (BPF task iterator, no stop)"
}

# goruntime: a goroutine dump and a heap read of a Go target with 10,000
# goroutines, pprofd against the app's own net/http/pprof.
section_goruntime()
{
	local runs=5 n=10000 port url code total who kind app_url
	local bin=$WORKLOADS/goserver
	[ -x "$bin" ] || die "missing $bin (make workloads)"
	port=$((20000 + RANDOM % 30000))
	"$bin" -listen "127.0.0.1:$port" -goroutines "$n" -retain >"$BENCH_TMP/goserver.log" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	app_url=http://127.0.0.1:$port
	for _ in $(seq 100); do
		curl -s -o /dev/null --max-time 1 "$app_url/" && break
		sleep 0.05
	done
	log "goruntime: target goserver -goroutines $n, PID $TARGET_PID; $runs requests of each kind"
	start_pprofd "$TARGET_PID" || {
		stop "$TARGET_PID"
		log "goruntime: pprofd did not start: no result"
		return 1
	}
	# get BASE PATH: one request; prints "CODE TIME_TOTAL".
	get()
	{
		curl -sS --max-time 60 -o "$BENCH_TMP/goruntime.out" -w '%{http_code} %{time_total}\n' \
			"$1$2" 2>/dev/null
	}
	for who in pprofd app; do
		local base=$DAEMON_URL
		[ "$who" = app ] && base=$app_url
		for url in /debug/pprof/goroutine "/debug/pprof/goroutine?debug=2" /debug/pprof/heap; do
			get "$base" "$url" >/dev/null # the first (symbols loaded)
		done
	done
	for ((RUN = 1; RUN <= runs; RUN++)); do
		for kind in goroutine debug2 heap; do
			case $kind in
			goroutine) url=/debug/pprof/goroutine ;;
			debug2) url="/debug/pprof/goroutine?debug=2" ;;
			heap) url=/debug/pprof/heap ;;
			esac
			# Alternate who goes first.
			for who in $([ $((RUN % 2)) = 1 ] && echo pprofd app || echo app pprofd); do
				local base=$DAEMON_URL
				[ "$who" = app ] && base=$app_url
				read -r code total < <(get "$base" "$url")
				if [ "$code" != 200 ]; then
					log "goruntime: $who $url answered ${code:-nothing}"
					continue
				fi
				put "goruntime.$who.$kind" ms "$(calc "1000 * $total")"
			done
			ratio_round "goruntime.$kind" "goruntime.pprofd.$kind" "goruntime.app.$kind" ms
		done
		put goruntime.walk ms "$(curl -s "$DAEMON_URL/debug/metrics" |
			jq '.collectors[] | select(.name == "goroutine") | .last_dump_ms')"
		put goruntime.heapread ms "$(curl -s "$DAEMON_URL/debug/metrics" |
			jq '.collectors[] | select(.name == "heap") | .last_read_ms')"
	done
	put goruntime.count n "$(curl -s "$DAEMON_URL/debug/metrics" |
		jq '.collectors[] | select(.name == "goroutine") | .goroutines')"
	stop "$DAEMON_PID"
	stop "$TARGET_PID"

	echo
	echo "Go runtime read from outside: goserver with $(med goruntime.count n 0) goroutines" \
		"(medians of $runs requests, the first of each left out)"
	printf '  %-36s %10s %10s %8s\n' "" "pprofd ms" "app ms" "ratio"
	for kind in goroutine debug2 heap; do
		case $kind in
		goroutine) url="GET /debug/pprof/goroutine" ;;
		debug2) url="GET /debug/pprof/goroutine?debug=2" ;;
		heap) url="GET /debug/pprof/heap" ;;
		esac
		printf '  %-36s %10s %10s %8s\n' "$url" "$(med "goruntime.pprofd.$kind" ms 1)" \
			"$(med "goruntime.app.$kind" ms 1)" "$(med ratio "goruntime.$kind" 2)"
	done
	printf '  %-36s %10s ms\n' "of which walking allgs + stacks" "$(med goruntime.walk ms 1)"
	printf '  %-36s %10s ms\n' "of which reading mbuckets" "$(med goruntime.heapread ms 1)"
	echo "  every run (ms): pprofd goroutine $(runs goruntime.pprofd.goroutine ms);" \
		"app goroutine $(runs goruntime.app.goroutine ms)"
	echo "  the app's own goroutine profile stops the world; pprofd stops nothing"
}

# heap: CPU ns per malloc+free pair of tests/workloads/heap_loop (malloc(64) and
# free in a loop) with nothing attached, under pprofd's heap tracking at the
# default rate and at rate 1, under a memleak-style bpftrace script (entry +
# return probe on malloc, probe on free, a stack per live block: the
# baseline), and under bare counting probes on malloc and free (the floor
# of any uprobe-based tracker: two traps per pair).
HEAP_PAIRS=${BENCH_HEAP_PAIRS:-100000}

# heap_loop_run CONFIG PAIRS ATTACH: starts heap_loop, runs "ATTACH PID"
# (which attaches a tool and returns once it is attached; TOOL_PID set, or
# empty for none), signals the loop and records its ns per pair.
heap_loop_run()
{
	local config=$1 pairs=$2 attach=$3 log ns metrics
	log=$BENCH_TMP/heap_loop.$config.$RUN.log
	"$WORKLOADS/heap_loop" "$pairs" >"$log" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		grep -q waiting "$log" 2>/dev/null && break
		sleep 0.02
	done
	TOOL_PID=
	if ! $attach "$TARGET_PID"; then
		log "heap: $config: could not attach"
		stop "$TARGET_PID"
		return 1
	fi
	kill -USR1 "$TARGET_PID"
	wait_gone "$TARGET_PID" 600 || log "heap: $config: heap_loop still running after 600 s"
	untrack "$TARGET_PID"
	ns=$(awk '/^ns_per_pair/ { print $2 }' "$log")
	[ -n "$ns" ] && put "heap.$config" ns "$ns"
	if [ -n "$TOOL_PID" ]; then
		case $config in
		pprofd*)
			put "heap.$config" rss_mib "$(calc "$(hwm_kb "$TOOL_PID") / 1024")"
			metrics=$(curl -s --max-time 5 "$DAEMON_URL/debug/metrics" |
				jq -c '.collectors[] | select(.name == "heap")')
			put "heap.$config" lost "$(jq .events_lost <<<"$metrics")"
			put "heap.$config" traps "$(jq "(.entry_hits + .return_hits + .free_hits) / $pairs" <<<"$metrics")"
			put "heap.$config" hit_ns "$(jq .entry_cost_ns <<<"$metrics")"
			case $config in
			pprofd_inject*)
				[ "$(jq -r .mode <<<"$metrics")" = inject ] ||
					log "heap: $config: not injected: $(jq -r .inject_refused <<<"$metrics")"
				put "heap.$config" stop_ms "$(jq .load_stop_ms <<<"$metrics")"
				;;
			esac
			;;
		esac
		stop "$TOOL_PID" "${TOOL_SIGNAL:-TERM}"
	fi
	[ -n "$ns" ]
}

attach_none()
{
	return 0
}

# attach_pprofd_rate RATE PID: heap.mode $HEAP_MODE, uprobe when unset (not
# pprofd's default, inject: the uprobe rows name their mode explicitly)
attach_pprofd_rate()
{
	local port logf
	port=$((20000 + RANDOM % 30000))
	DAEMON_URL=http://127.0.0.1:$port
	logf=$BENCH_TMP/pprofd.heap.$port.log
	APP_ENVIRONMENT=development "$PPROFD" --pid "$2" --listen "127.0.0.1:$port" \
		--heap-sample-rate "$1" --heap-max-overhead 0 --heap-mode "${HEAP_MODE:-uprobe}" \
		>"$logf" 2>&1 &
	TOOL_PID=$!
	track "$TOOL_PID"
	TOOL_SIGNAL=TERM
	for _ in $(seq 150); do
		# (jq -e is true on empty input: look for the heap collector's own field)
		curl -s --max-time 1 "$DAEMON_URL/debug/metrics" 2>/dev/null |
			jq -c '.collectors[] | select(.name == "heap")' 2>/dev/null |
			grep -q '"allocator"' && return 0
		alive "$TOOL_PID" || break
		sleep 0.1
	done
	tail -3 "$logf" >&2
	return 1
}

attach_pprofd_default()
{
	attach_pprofd_rate 524288 "$1"
}

attach_pprofd_all()
{
	attach_pprofd_rate 1 "$1"
}

attach_pprofd_inject_default()
{
	HEAP_MODE=inject attach_pprofd_rate 524288 "$1"
}

attach_pprofd_inject_all()
{
	HEAP_MODE=inject attach_pprofd_rate 1 "$1"
}

# pprofd with heap.mode off: no heap collector to wait for, its index answers.
attach_pprofd_heap_off()
{
	local port logf
	port=$((20000 + RANDOM % 30000))
	DAEMON_URL=http://127.0.0.1:$port
	logf=$BENCH_TMP/pprofd.heapoff.$port.log
	APP_ENVIRONMENT=development "$PPROFD" --pid "$1" --listen "127.0.0.1:$port" \
		--heap-mode off >"$logf" 2>&1 &
	TOOL_PID=$!
	track "$TOOL_PID"
	for _ in $(seq 150); do
		curl -s --max-time 1 -o /dev/null "$DAEMON_URL/debug/pprof/" 2>/dev/null && {
			sleep 0.5
			return 0
		}
		alive "$TOOL_PID" || break
		sleep 0.1
	done
	tail -3 "$logf" >&2
	return 1
}

# attach_bpftrace SCRIPT PID
attach_bpftrace()
{
	local out=$BENCH_TMP/bpftrace.$RUN.$RANDOM.log
	bpftrace -p "$2" "$1" >"$out" 2>&1 &
	TOOL_PID=$!
	track "$TOOL_PID"
	TOOL_SIGNAL=INT
	for _ in $(seq 300); do
		grep -q '^Attaching' "$out" 2>/dev/null && { sleep 1; return 0; }
		alive "$TOOL_PID" || break
		sleep 0.1
	done
	tail -3 "$out" >&2
	return 1
}

attach_memleak()
{
	attach_bpftrace "$BENCH_TMP/memleak.bt" "$1"
}

attach_floor()
{
	attach_bpftrace "$BENCH_TMP/floor.bt" "$1"
}

# The server half of the heap section: redis-server (Debian's, linked with
# libjemalloc) under redis-benchmark, SET / LPUSH / GET from 20 clients,
# alone, with pprofd attached and heap.mode off (its other collectors cost
# something per context switch: the baseline of heap tracking), in inject
# mode at the default rate and in uprobe mode (--heap-max-overhead 0: what
# the probes cost before any governor pauses them).  requests/s of each
# test, the server's CPU per request; the loss per round against the same
# round's run with heap.mode off.
HEAP_SERVER_REQUESTS=${BENCH_HEAP_SERVER_REQUESTS:-150000}

# heap_server_run CONFIG ATTACH REQUESTS
heap_server_run()
{
	local config=$1 attach=$2 n=$3 port out metrics t rps c0 c1
	port=$((20000 + RANDOM % 30000))
	out=$BENCH_TMP/redis.$config.$RUN
	redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--daemonize no >"$out.server.log" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break
		sleep 0.05
	done
	TOOL_PID=
	if ! $attach "$TARGET_PID"; then
		log "heap: redis $config: could not attach"
		stop "$TARGET_PID"
		return 1
	fi
	c0=$(ticks "$TARGET_PID")
	redis-benchmark -p "$port" -t set,lpush,get -n "$n" -c 20 -r 100000 -d 64 --csv \
		>"$out.csv" 2>"$out.err"
	c1=$(ticks "$TARGET_PID")
	# The server's CPU per request: what a shared machine's load does not change.
	put "heapsrv.$config" cpu_us "$(calc "($c1 - $c0) * 1e6 / $CLK_TCK / (3 * $n)")"
	for t in SET LPUSH GET; do
		rps=$(awk -F'"' -v t="$t" '$2 == t { print $4 }' "$out.csv")
		[ -n "$rps" ] && put "heapsrv.$config" "rps_$t" "$rps"
	done
	if [ -n "$TOOL_PID" ] && [ "$config" != off ]; then
		metrics=$(curl -s --max-time 5 "$DAEMON_URL/debug/metrics" |
			jq -c '.collectors[] | select(.name == "heap")')
		put "heapsrv.$config" sampled "$(jq .sampled <<<"$metrics")"
		put "heapsrv.$config" overhead "$(jq .overhead_percent <<<"$metrics")"
		[ "$config" = inject ] && {
			[ "$(jq -r .mode <<<"$metrics")" = inject ] ||
				log "heap: redis: not injected: $(jq -r .inject_refused <<<"$metrics")"
			put "heapsrv.$config" stop_ms "$(jq .load_stop_ms <<<"$metrics")"
		}
	fi
	[ -n "$TOOL_PID" ] && stop "$TOOL_PID" TERM
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1
	wait_gone "$TARGET_PID" 10 || stop "$TARGET_PID"
	untrack "$TARGET_PID"
	[ -s "$out.csv" ]
}

section_heap_server()
{
	local config t order
	if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
		echo
		echo "heap on a server: skipped (no redis-server/redis-benchmark: apt-get install redis-server redis-tools)"
		return 0
	fi
	log "heap: redis-server under redis-benchmark, $HEAP_SERVER_REQUESTS requests per test; $RUNS rounds"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		order="none off inject uprobe"
		((RUN % 2)) || order="inject off none uprobe"
		for config in $order; do
			log "heap: redis round $RUN/$RUNS: $config"
			case $config in
			none) heap_server_run none attach_none "$HEAP_SERVER_REQUESTS" ;;
			off) heap_server_run off attach_pprofd_heap_off "$HEAP_SERVER_REQUESTS" ;;
			inject) heap_server_run inject attach_pprofd_inject_default "$HEAP_SERVER_REQUESTS" ;;
			uprobe) heap_server_run uprobe attach_pprofd_default $((HEAP_SERVER_REQUESTS / 10)) ;;
			esac || log "heap: redis $config: no result this round"
		done
		for t in SET LPUSH GET; do
			ratio_round "heapsrv.inject_$t" heapsrv.inject heapsrv.off "rps_$t"
			ratio_round "heapsrv.uprobe_$t" heapsrv.uprobe heapsrv.off "rps_$t"
		done
		ratio_round heapsrv.inject_cpu heapsrv.off heapsrv.inject cpu_us
		ratio_round heapsrv.uprobe_cpu heapsrv.off heapsrv.uprobe cpu_us
		ratio_round heapsrv.off_cpu heapsrv.none heapsrv.off cpu_us
	done
	echo
	echo "heap tracking of redis-server $(redis-server --version | awk '{ print $3 }') (jemalloc) under redis-benchmark -c 20 -d 64, medians of $RUNS runs"
	echo "  requests/s per test (wall: a shared machine's load moves them), and the server's"
	echo "  CPU time per request (user + system, /proc: what the load does not move);"
	echo "  uprobe mode runs a tenth of the requests, without its governor"
	echo
	printf '  %-28s %10s %10s %10s %10s %12s %10s\n' config SET LPUSH GET "CPU us/req" sampled \
		"stop ms"
	for config in none off inject uprobe; do
		printf '  %-28s %10s %10s %10s %10s %12s %10s\n' \
			"$(case $config in none) echo "redis alone" ;; off) echo "pprofd, heap.mode off" ;;
			inject) echo "pprofd inject, 512 KiB" ;;
			uprobe) echo "pprofd uprobe, 512 KiB" ;; esac)" \
			"$(med heapsrv.$config rps_SET 0)" "$(med heapsrv.$config rps_LPUSH 0)" \
			"$(med heapsrv.$config rps_GET 0)" "$(med heapsrv.$config cpu_us 2)" \
			"$(med heapsrv.$config sampled 0)" "$(med heapsrv.$config stop_ms 2)"
	done
	echo
	echo "goals (medians of the per-round ratios to pprofd with heap.mode off: what heap"
	echo "tracking adds; throughput lost by CPU is 1 - CPU off / CPU with heap tracking, for"
	echo "a server bound by its CPU):"
	goal "inject: throughput lost (CPU/request)" \
		"$(values ratio heapsrv.inject_cpu | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", 100 * (1 - $1) }')" \
		"<=" 3 %
	printf '  %-36s %7s %%\n' "uprobe: throughput lost (CPU/request)" \
		"$(values ratio heapsrv.uprobe_cpu | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", 100 * (1 - $1) }')"
	printf '  %-36s %7s %%\n' "(pprofd's other collectors: lost, off vs alone)" \
		"$(values ratio heapsrv.off_cpu | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", 100 * (1 - $1) }')"
	for t in SET LPUSH GET; do
		goal "inject: $t requests/s lost (wall)" \
			"$(values ratio "heapsrv.inject_$t" | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", 100 * (1 - $1) }')" \
			"<=" 3 %
	done
	for t in SET LPUSH GET; do
		printf '  %-36s %7s %%\n' "uprobe: $t requests/s lost (wall)" \
			"$(values ratio "heapsrv.uprobe_$t" | median | awk '{ if ($1 == "-") print "-"; else printf "%.1f\n", 100 * (1 - $1) }')"
	done
	goal "thread stopped while loading" "$(med heapsrv.inject stop_ms 2)" "<=" 20 ms
}

# heap_inject: how long loading the heap sampler stops a thread of a target
# whose own threads keep every CPU busy (tests/workloads/heap_churn, 4
# allocating threads per CPU and one dlopen'ing), measured by daemon/inject.c
# itself (clock_gettime from the seize to the detach; inject-tool), pprofd's
# method side by side with the previous one (inject-tool --previous: every
# system call of the calls stepped, pprofd's own scheduling untouched), in
# the same run, alternating which goes first: BENCH_INJECT_LOADS (20) first
# loads (dlopen and start), each on a fresh target, then as many loads and
# stops of the library loaded already, on one target each.
INJECT_LOADS=${BENCH_INJECT_LOADS:-20}

# p90: of the numbers on stdin ("-" when there are none).
p90()
{
	sort -g | awk '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
		i = int(NR * 0.9 + 0.999); if (i > NR) i = NR; printf "%.6g\n", v[i] }'
}

# inject_churn METHOD ROUNDS: heap_churn started, loaded and stopped ROUNDS
# times by inject-tool METHOD ("" or --previous), its summary line on stdout.
inject_churn()
{
	local method=$1 rounds=$2 pid out
	"$WORKLOADS/heap_churn" $((4 * $(nproc))) >"$BENCH_TMP/heap_churn.log" 2>&1 &
	pid=$!
	track "$pid"
	sleep 0.5
	# shellcheck disable=SC2086 # method: one flag or none
	out=$("$OUTPUT/tests/inject-tool" $method "$pid" "$(readlink -f "$OUTPUT/libpprofd-sampler.so")" \
		524288 "$rounds" 2>/dev/null)
	grep -q CORRUPT "$BENCH_TMP/heap_churn.log" && log "heap_inject: heap_churn saw a corrupted block"
	stop "$pid"
	echo "$out"
}

# field NAME: its value in an inject-tool summary line on stdin.
field()
{
	awk -v n="$1" '{ for (i = 1; i < NF; i++) if ($i == n) print $(i + 1) }'
}

section_heap_inject()
{
	local i m order out name
	[ -x "$OUTPUT/tests/inject-tool" ] || die "missing $OUTPUT/tests/inject-tool (make workloads)"
	log "heap_inject: $INJECT_LOADS first loads and $INJECT_LOADS reloads per method, heap_churn $((4 * $(nproc))) threads"
	RUN=1
	for ((i = 1; i <= INJECT_LOADS; i++)); do
		order="new previous"
		((i % 2)) || order="previous new"
		for m in $order; do
			out=$(inject_churn "$([ "$m" = previous ] && echo --previous)" 1)
			[ -n "$out" ] || { log "heap_inject: $m: load $i failed"; continue; }
			put "inject.$m" first_ms "$(field first_load_ms <<<"$out")"
			put "inject.$m" first_stops "$(field load_ptrace_stops_median <<<"$out")"
			put "inject.$m" unload_ms "$(field unload_stop_ms_median <<<"$out")"
		done
	done
	for m in new previous; do
		out=$(inject_churn "$([ "$m" = previous ] && echo --previous)" "$INJECT_LOADS")
		for name in load_stop_ms_median load_stop_ms_p90 unload_stop_ms_median unload_stop_ms_p90 \
			load_ptrace_stops_median; do
			put "inject.$m" "$name" "$(field "$name" <<<"$out")"
		done
	done
	echo
	echo "thread of the target stopped while loading the heap sampler (ms, from the seize"
	echo "to the detach), heap_churn: $((4 * $(nproc))) threads allocating on $(nproc) CPUs, one dlopen'ing;"
	echo "new: the call runs to a marker signal, pprofd at SCHED_FIFO while the thread is"
	echo "stopped; previous: every system call of the call stepped, pprofd's scheduling as is"
	echo
	printf '  %-34s %10s %10s %10s %10s\n' "" "new" "" "previous" ""
	printf '  %-34s %10s %10s %10s %10s\n' "" median p90 median p90
	printf '  %-34s %10s %10s %10s %10s\n' "first load ($INJECT_LOADS fresh targets)" \
		"$(values inject.new first_ms | median)" "$(values inject.new first_ms | p90)" \
		"$(values inject.previous first_ms | median)" "$(values inject.previous first_ms | p90)"
	printf '  %-34s %10s %10s %10s %10s\n' "  ptrace stops in it" \
		"$(values inject.new first_stops | median)" "" "$(values inject.previous first_stops | median)" ""
	printf '  %-34s %10s %10s %10s %10s\n' "its stop (rate 0 call)" \
		"$(values inject.new unload_ms | median)" "$(values inject.new unload_ms | p90)" \
		"$(values inject.previous unload_ms | median)" "$(values inject.previous unload_ms | p90)"
	printf '  %-34s %10s %10s %10s %10s\n' "reload, library loaded ($INJECT_LOADS)" \
		"$(med inject.new load_stop_ms_median 2)" "$(med inject.new load_stop_ms_p90 2)" \
		"$(med inject.previous load_stop_ms_median 2)" "$(med inject.previous load_stop_ms_p90 2)"
	printf '  %-34s %10s %10s %10s %10s\n' "stop, library loaded ($INJECT_LOADS)" \
		"$(med inject.new unload_stop_ms_median 2)" "$(med inject.new unload_stop_ms_p90 2)" \
		"$(med inject.previous unload_stop_ms_median 2)" "$(med inject.previous unload_stop_ms_p90 2)"
	echo
	goal "first load, median (new)" "$(values inject.new first_ms | median)" "<=" 20 ms
}

section_heap()
{
	local libc config
	command -v bpftrace >/dev/null 2>&1 || die "missing bpftrace (make deps)"
	command -v jq >/dev/null 2>&1 || die "missing jq (make deps)"
	libc=$(ldd "$WORKLOADS/heap_loop" | awk '/libc\.so/ { print $3 }')
	[ -n "$libc" ] || die "heap: cannot find heap_loop's libc"
	cat >"$BENCH_TMP/memleak.bt" <<-BT
		uprobe:$libc:malloc { @size[tid] = arg0; }
		uretprobe:$libc:malloc /@size[tid]/ {
			@stack[retval] = ustack; @bytes[retval] = @size[tid]; delete(@size[tid]);
		}
		uprobe:$libc:free { delete(@stack[arg0]); delete(@bytes[arg0]); }
		END { clear(@size); clear(@stack); clear(@bytes); }
	BT
	cat >"$BENCH_TMP/floor.bt" <<-BT
		uprobe:$libc:malloc { @malloc = count(); }
		uprobe:$libc:free { @free = count(); }
	BT
	log "heap: heap_loop, $HEAP_PAIRS malloc+free pairs per probed run; $RUNS rounds"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for config in none pprofd_inject_default pprofd_inject_all pprofd_default pprofd_all \
			memleak floor; do
			log "heap: round $RUN/$RUNS: $config"
			if [ "$config" = none ] || [ "$config" = pprofd_inject_default ]; then
				heap_loop_run "$config" $((HEAP_PAIRS * 100)) "attach_$config"
			elif [ "$config" = pprofd_inject_all ]; then
				heap_loop_run "$config" "$HEAP_PAIRS" "attach_$config"
			else
				heap_loop_run "$config" "$HEAP_PAIRS" "attach_$config"
			fi || log "heap: $config: no result this round"
		done
		ratio_round heap.vs_memleak heap.pprofd_default heap.memleak ns
		ratio_round heap.vs_floor heap.pprofd_default heap.floor ns
		ratio_round heap.inject_vs_uprobe heap.pprofd_inject_default heap.pprofd_default ns
	done

	echo
	echo "heap tracking cost on heap_loop (malloc(64) + free in a loop), medians of $RUNS runs"
	echo "  ns/pair: the loop thread's CPU time per pair (traps and BPF included: they run in"
	echo "  its context), not wall time, which a busy machine inflates; wall ns/pair in the log"
	echo "  pprofd: --heap-sample-rate R --heap-max-overhead 0 (a fresh daemon per run)"
	echo "  memleak-style: bpftrace, uprobe + uretprobe on malloc (stack per live block), uprobe on free"
	echo "  floor: bpftrace, one bare counting uprobe on malloc and one on free"
	echo
	printf '  %-30s %12s %10s %12s %8s\n' config "ns/pair" "peak MiB" "traps/pair" lost
	printf '  %-30s %12s %10s %12s %8s\n' "no probes" "$(med heap.none ns 1)" - 0 -
	for config in inject_default inject_all default all; do
		printf '  %-30s %12s %10s %12s %8s\n' \
			"$(case $config in
			inject_default) echo "inject, default rate (512 KiB)" ;;
			inject_all) echo "inject, rate 1 (every block)" ;;
			default) echo "uprobe, default rate (512 KiB)" ;;
			all) echo "uprobe, rate 1 (every block)" ;;
			esac)" \
			"$(med heap.pprofd_$config ns 1)" "$(med heap.pprofd_$config rss_mib 1)" \
			"$(med heap.pprofd_$config traps 4)" "$(med heap.pprofd_$config lost 0)"
	done
	printf '  %-30s %12s %10s %12s %8s\n' "memleak-style bpftrace" "$(med heap.memleak ns 0)" - 3 -
	printf '  %-30s %12s %10s %12s %8s\n' "floor: 2 counting probes" "$(med heap.floor ns 0)" - 2 -
	echo "  (a uprobe hit measured by pprofd at start: $(med heap.pprofd_default hit_ns 0) ns)"
	echo
	echo "goals (ratios are medians of the per-round ratios):"
	goal "pprofd default / memleak-style" "$(med ratio heap.vs_memleak 2)" "<=" 0.9 ""
	goal "pprofd default / bare two-probe floor" "$(med ratio heap.vs_floor 2)" "<=" 1.1 ""
	goal "inject, default rate: ns per pair" "$(med heap.pprofd_inject_default ns 1)" "<=" 60 ns
	goal "thread stopped while loading" "$(med heap.pprofd_inject_default stop_ms 2)" "<=" 20 ms
	echo "  (inject / uprobe at the default rate, per round: $(med ratio heap.inject_vs_uprobe 4))"
	echo
	echo "every run (ns/pair):"
	for config in none pprofd_inject_default pprofd_inject_all pprofd_default pprofd_all memleak floor; do
		printf '  %-22s %s\n' "$config" "$(runs "heap.$config" ns)"
	done
	[ "${BENCH_HEAP_SERVER:-1}" = 1 ] && section_heap_server
}

# ---------------------------------------------------------------- dwarf

# Functions at the root of busy_nofp's threads: a stack that reaches one of
# them is complete (main for nofp-trig, worker_main for nofp-sort).
DWARF_ROOTS="main worker_main"

# pprof_reach FILE: the % of the samples (counts) of a CPU profile whose
# stack reaches one of $DWARF_ROOTS (`go tool pprof -traces`).
pprof_reach()
{
	go tool pprof -traces -sample_index=samples "$1" 2>/dev/null | awk -v roots="$DWARF_ROOTS" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
		function flush() { if (have) { total += v; if (hit) reach += v }; have = hit = 0 }
		/^-----------\+/ { flush(); in_trace = 1; next }
		!in_trace { next }
		!have && $1 ~ /^[0-9]+$/ && NF >= 2 { have = 1; v = $1; if ($2 in root) hit = 1; next }
		have && ($1 in root) { hit = 1 }
		END { flush(); if (total) printf "%.2f\n", 100 * reach / total; else print "-" }'
}

# perf_reach DATA: the same for a perf.data file (`perf script`, which
# unwinds the DWARF stacks; not timed).
perf_reach()
{
	perf script -i "$1" -F comm,ip,sym 2>/dev/null | awk -v roots="$DWARF_ROOTS" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1; RS = "" }
		{
			total++
			m = split($0, line, "\n")
			for (i = 2; i <= m; i++) {
				split(line[i], f, " ")
				if (f[2] in root) { reach++; break }
			}
		}
		END { if (total) printf "%.2f\n", 100 * reach / total; else print "-" }'
}

# perf_report_cost CONFIG DATA: `perf report --stdio` on DATA, its CPU
# (wait4 rusage) and peak RSS: what turning the recording into stacks costs.
perf_report_cost()
{
	local ru=$2.report.rusage ut st rss status
	: >"$ru"
	"$RUSAGE" "$ru" perf report -i "$2" --stdio >"$2.report" 2>&1
	read -r ut st rss status < <(sed -n 2p "$ru")
	if [ "${status:-}" != 0 ]; then
		log "$1: perf report failed (status ${status:-?}): $(tail -3 "$2.report")"
		return 1
	fi
	put "$1" report_ms "$(calc "($ut + $st) / 1e3")"
	put "$1" report_mib "$(calc "$rss / 1024")"
	put "$1" total_pct "$(calc "$(values "$1" cpu_pct | tail -1) + 100 * ($ut + $st) / 1e6 / $WINDOW")"
	put "$1" data_mib "$(calc "$(stat -c %s "$2") / 1048576")"
}

DWARF_FMT='%-15s %6s %9s %7s %8s %8s %8s %8s %7s %9s %4s %6s %8s\n'

# dwarf_row CONFIG LABEL
dwarf_row()
{
	local rep=-
	[ "$(values "$1" report_ms | wc -l)" = 0 ] || rep=$(med "$1" report_ms 0)
	# shellcheck disable=SC2059 # the format is ours
	printf "$DWARF_FMT" "$2" "$(med "$1" cpu_pct 2)" "$rep" "$(med "$1" total_pct 2)" \
		"$(med "$1" after_ms 0)" "$(med "$1" setup_ms 0)" "$(med "$1" rss_mib 1)" \
		"$(med "$1" idle_mib 1)" "$(med "$1" samples 0)" "$(med "$1" per_cpu_s 0)" \
		"$(med "$1" target_pct 0)" "$(med "$1" reach_pct 1)" "$(med "$1" delivery_ms 0)"
}

# dwarf: complete stacks through frame-pointer-less code: pprofd (DWARF
# unwinding of a stack copy) against perf record --call-graph dwarf (stack
# copied into the file, unwound by perf report) on busy_nofp.
section_dwarf()
{
	local hz period order first config data
	start_target busy_nofp 2
	log "dwarf: target busy_nofp, PID $TARGET_PID; $RUNS rounds of $((WARM ? 6 : 4)) profiles of $WINDOW s"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for hz in 100 1000; do
			period=$((1000000000 / hz))
			if ((RUN % 2)); then order="pprofd perf"; else order="perf pprofd"; fi
			for first in $order; do
				log "dwarf: round $RUN/$RUNS: $first at $hz Hz"
				if [ "$first" = pprofd ]; then
					if measure_pprofd "dwarf.pprofd.$hz" "$TARGET_PID" \
						"/debug/pprof/profile?seconds=$WINDOW&hz=$hz" \
						"${WARM:+dwarf.pprofd.$hz.warm}"; then
						for config in "dwarf.pprofd.$hz" ${WARM:+"dwarf.pprofd.$hz.warm"}; do
							put "$config" total_pct "$(values "$config" cpu_pct | tail -1)"
							put "$config" reach_pct \
								"$(pprof_reach "$BENCH_TMP/$config.$RUN.prof")"
						done
					else
						log "dwarf: pprofd at $hz Hz: no result this round"
					fi
				else
					config=dwarf.perf.$hz
					data=$BENCH_TMP/$config.$RUN.perf.data
					if measure_perf "$config" "$TARGET_PID" -e cpu-clock -c "$period" \
						--call-graph dwarf && perf_report_cost "$config" "$data"; then
						put "$config" reach_pct "$(perf_reach "$data")"
					else
						log "dwarf: perf at $hz Hz: no result this round"
					fi
					# DWARF recordings are large (8 KiB of stack a sample).
					[ "${BENCH_KEEP:-0}" = 1 ] || rm -f "$data"
				fi
			done
			ratio_round "dwarf.$hz" "dwarf.pprofd.$hz" "dwarf.perf.$hz" total_pct
			ratio_round "dwarf.$hz.rec" "dwarf.pprofd.$hz" "dwarf.perf.$hz" cpu_pct
			ratio_round "dwarf.$hz.warm" "dwarf.pprofd.$hz.warm" "dwarf.perf.$hz" total_pct
			ratio_round "dwarf.samples.$hz" "dwarf.pprofd.$hz" "dwarf.perf.$hz" per_cpu_s
		done
	done
	stop "$TARGET_PID"

	echo
	echo "CPU profile of busy_nofp (2 threads, 6-8 frames + libc qsort / libm sin, no frame" \
		"pointers): $WINDOW s window, medians of $RUNS runs"
	echo "  pprofd: GET /debug/pprof/profile?seconds=$WINDOW&hz=H from a fresh daemon" \
		"(DWARF unwinding; 2nd profile: a second GET to it)"
	echo "  perf:   perf record --call-graph dwarf -p PID -e cpu-clock -c 1e9/H (enabled" \
		"through --control), then perf report --stdio on its file"
	echo "  cpu%: pprofd's CPU for the profile / perf record's, % of a core over the window;"
	echo "  report ms: perf report's CPU; total%: cpu% + report, % of a core over the window;"
	echo "  main%: samples whose stack reaches main (nofp-trig) or worker_main (nofp-sort);"
	echo "  setup ms: CPU before the window, not in cpu% (pprofd: its start-up, paid once a daemon)"
	echo
	# shellcheck disable=SC2059
	printf "$DWARF_FMT" config cpu% "report ms" total% "after ms" "setup ms" "peak MiB" "idle MiB" samples \
		smp/cpu-s tgt% main% "deliv ms"
	for hz in 100 1000; do
		dwarf_row "dwarf.pprofd.$hz" "pprofd $hz Hz"
		[ -z "$WARM" ] || dwarf_row "dwarf.pprofd.$hz.warm" "  2nd profile"
		dwarf_row "dwarf.perf.$hz" "perf   $hz Hz"
	done
	echo
	echo "goals (pprofd; ratios are medians of the per-round ratios pprofd/perf):"
	goal "cpu at 100 Hz, % of a core" "$(med dwarf.pprofd.100 cpu_pct 2)" "<=" 2 %
	for hz in 100 1000; do
		goal "complete stacks at $hz Hz" "$(med "dwarf.pprofd.$hz" reach_pct 1)" ">=" 99 %
	done
	for hz in 100 1000; do
		goal "pprofd/perf record+report, $hz Hz" "$(med ratio "dwarf.$hz" 2)" "<=" 1.0 ""
	done
	echo
	echo "ratio pprofd/perf record alone (report not counted): 100 Hz $(med ratio dwarf.100.rec 2)," \
		"1000 Hz $(med ratio dwarf.1000.rec 2)"
	echo "same amount sampled? ratio pprofd/perf of samples per target CPU-second:" \
		"100 Hz $(med ratio dwarf.samples.100 2), 1000 Hz $(med ratio dwarf.samples.1000 2)"
	[ -z "$WARM" ] || echo "ratio pprofd/perf record+report, pprofd's 2nd profile:" \
		"100 Hz $(med ratio dwarf.100.warm 2), 1000 Hz $(med ratio dwarf.1000.warm 2)"
	for hz in 100 1000; do
		echo "perf at $hz Hz: data file $(med "dwarf.perf.$hz" data_mib 1) MiB," \
			"perf report peak RSS $(med "dwarf.perf.$hz" report_mib 1) MiB"
	done
	echo
	echo "every run (cpu% | total% | main%):"
	for hz in 100 1000; do
		for config in "pprofd.$hz" ${WARM:+"pprofd.$hz.warm"} "perf.$hz"; do
			printf '  %-20s %-22s | %-22s | %s\n' "${config//./ }" \
				"$(runs "dwarf.$config" cpu_pct)" "$(runs "dwarf.$config" total_pct)" \
				"$(runs "dwarf.$config" reach_pct)"
		done
	done
}

# ---------------------------------------------------------------- switch

# switch: what the block and mutex collectors (attached from the daemon's
# start) add to each context switch of the target: tests/workloads/switcher
# (two threads on one CPU ping-ponging through pipes) with and without a
# daemon on it.
SWITCH_ROUNDS=${BENCH_SWITCH_ROUNDS:-300000}
SWITCH_KEY=switch # where switch_run puts its figures: the switch or the rest section's
REST_SYSCALLS=${BENCH_REST_SYSCALLS:-2000000}
REST_REQUESTS=${BENCH_REST_REQUESTS:-300}
SYSCALL_PROBES="(none collected)"

# block_metric FIELD: the block collector's FIELD in /debug/metrics ("-").
# collector_metric NAME FIELD: a field of collector NAME in /debug/metrics.
collector_metric()
{
	local v
	v=$(curl -s --max-time 5 "$DAEMON_URL/debug/metrics" 2>/dev/null |
		jq -r ".collectors[] | select(.name == \"$1\") | .$2" 2>/dev/null)
	echo "${v:--}"
}

block_metric()
{
	collector_metric block "$1"
}

# collect_start: asks the daemon of $DAEMON_URL for a block and a mutex
# profile of a long window and waits until both collectors run (their system
# call probes attached); collect_stop hangs up, which ends the window.
collect_start()
{
	curl -s -o /dev/null --max-time 600 "$DAEMON_URL/debug/pprof/block?seconds=300" &
	COLLECT_PIDS=$!
	track "$COLLECT_PIDS"
	curl -s -o /dev/null --max-time 600 "$DAEMON_URL/debug/pprof/mutex?seconds=300" &
	COLLECT_PIDS="$COLLECT_PIDS $!"
	track "$!"
	for _ in $(seq 100); do
		[ "$(collector_metric block running)" = true ] &&
			[ "$(collector_metric mutex running)" = true ] && return 0
		sleep 0.1
	done
	log "block and mutex did not start collecting: $(block_metric reason)"
	return 1
}

collect_stop()
{
	local p
	for p in $COLLECT_PIDS; do
		stop "$p"
	done
	COLLECT_PIDS=
}

# pprofd_on CONFIG TARGET_PID: for CONFIG rest or collecting, a daemon on
# the target (collecting: with block and mutex profiles being taken);
# nothing for none.  pprofd_off ends it.
pprofd_on()
{
	[ "$1" = none ] && return 0
	start_pprofd "$2" || return 1
	sleep 0.5 # start-up work done
	if [ "$1" = collecting ] && ! collect_start; then
		pprofd_off "$1"
		return 1
	fi
	[ "$1" = collecting ] && SYSCALL_PROBES="$(block_metric syscall_probes)"
	return 0
}

pprofd_off()
{
	[ "$1" = none ] && return 0
	[ "$1" = collecting ] && collect_stop
	stop "$DAEMON_PID"
}

# switch_run CONFIG (none|rest|collecting): one run of switcher; its ns per
# switch.
switch_run()
{
	local config=$1 logf ns cpu_ns switches c0 c1 t0 t1 w0 r0 w1 r1
	logf=$BENCH_TMP/switcher.$config.$RUN.log
	"$WORKLOADS/switcher" "$SWITCH_ROUNDS" >"$logf" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 100); do
		grep -q waiting "$logf" 2>/dev/null && break
		sleep 0.02
	done
	if ! pprofd_on "$config" "$TARGET_PID"; then
		stop "$TARGET_PID"
		return 1
	fi
	if [ "$config" != none ]; then
		w0=$(block_metric waits_timed)
		r0=$(block_metric waits_recorded)
		c0=$(ticks "$DAEMON_PID")
	fi
	t0=$EPOCHREALTIME
	kill -USR1 "$TARGET_PID"
	# The loop's end is its exit (polled without starting processes but
	# sleep): the daemon's CPU is read then.
	while alive "$TARGET_PID"; do
		sleep 0.05
	done
	t1=$EPOCHREALTIME
	if [ "$config" != none ]; then
		c1=$(ticks "$DAEMON_PID")
		w1=$(block_metric waits_timed)
		r1=$(block_metric waits_recorded)
	fi
	wait_gone "$TARGET_PID" 600 || log "switch: switcher still running after 600 s"
	untrack "$TARGET_PID"
	ns=$(awk '/^ns_per_switch/ { print $2 }' "$logf")
	cpu_ns=$(awk '/^cpu_ns_per_switch/ { print $2 }' "$logf")
	switches=$(awk '/^switches/ { print $2 }' "$logf")
	if [ -z "$ns" ] || [ -z "$switches" ]; then
		log "switch: $config: no result: $(tail -2 "$logf")"
		pprofd_off "$config"
		return 1
	fi
	put "$SWITCH_KEY.$config" ns "$ns"
	put "$SWITCH_KEY.$config" cpu_ns "$cpu_ns"
	put "$SWITCH_KEY.$config" switches "$switches"
	put "$SWITCH_KEY.$config" secs "$(calc "$t1 - $t0")"
	if [ "$config" != none ]; then
		put "$SWITCH_KEY.$config" daemon_pct "$(calc "100 * ($c1 - $c0) / $CLK_TCK / ($t1 - $t0)")"
		put "$SWITCH_KEY.$config" daemon_ns "$(calc "1e9 * ($c1 - $c0) / $CLK_TCK / $switches")"
		[ "$w0" = - ] || [ "$w1" = - ] || put "$SWITCH_KEY.$config" waits "$((w1 - w0))"
		[ "$r0" = - ] || [ "$r1" = - ] || put "$SWITCH_KEY.$config" recorded "$((r1 - r0))"
		pprofd_off "$config"
	fi
	log "switch: $config run $RUN: $ns ns per switch ($cpu_ns CPU ns), $switches switches"
}

# added_per_round SECTION METRIC CONFIG: puts SECTION.CONFIG-added METRIC,
# CONFIG's value minus none's within round $RUN, and SECTION.CONFIG-ratio.
added_per_round()
{
	local a b
	a=$(awk -F'\t' -v c="$1.$3" -v m="$2" -v r="$RUN" '$1 == c && $2 == m && $3 == r { print $4 }' "$RESULTS")
	b=$(awk -F'\t' -v c="$1.none" -v m="$2" -v r="$RUN" '$1 == c && $2 == m && $3 == r { print $4 }' "$RESULTS")
	[ -n "$a" ] && [ -n "$b" ] || return 0
	put "$1.$3-added" "$2" "$(calc "$a - $b")"
	awk -v b="$b" 'BEGIN { exit !(b > 0) }' && put "$1.$3-ratio" "$2" "$(calc "100 * ($a - $b) / $b")"
}

section_switch()
{
	local order config m
	command -v jq >/dev/null 2>&1 || die "missing jq (make deps)"
	[ -x "$WORKLOADS/switcher" ] || die "missing $WORKLOADS/switcher (make workloads)"
	log "switch: switcher, $SWITCH_ROUNDS round trips a run; $RUNS rounds"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		if ((RUN % 2)); then order="none rest collecting"; else order="collecting rest none"; fi
		for config in $order; do
			log "switch: round $RUN/$RUNS: $config"
			switch_run "$config" || log "switch: $config: no result this round"
		done
		for m in ns cpu_ns; do
			added_per_round switch "$m" rest
			added_per_round switch "$m" collecting
		done
	done

	echo
	echo "context switches of switcher (2 threads on one CPU, ping-pong through pipes," \
		"$SWITCH_ROUNDS round trips): medians of $RUNS runs"
	echo "  rest: a fresh daemon on it, nothing requested; collecting: block and mutex" \
		"profiles being taken; the loop starts once the daemon answers"
	echo "  ns/switch: wall time of the loop / the threads' context switches;" \
		"CPU ns: the target's CPU time / the same"
	echo
	printf '  %-34s %10s %10s %10s %9s\n' config ns/switch "CPU ns" switches "run s"
	for config in none rest collecting; do
		printf '  %-34s %10s %10s %10s %9s\n' \
			"$(case $config in none) echo "no daemon" ;; rest) echo "pprofd at rest" ;;
				*) echo "pprofd collecting block+mutex" ;; esac)" \
			"$(med "switch.$config" ns 0)" "$(med "switch.$config" cpu_ns 0)" \
			"$(med "switch.$config" switches 0)" "$(med "switch.$config" secs 2)"
	done
	for config in rest collecting; do
		printf '  %-34s %10s %10s\n' "added, $config (per-round diff.)" \
			"$(med "switch.$config-added" ns 0)" "$(med "switch.$config-added" cpu_ns 0)"
	done
	echo
	for config in rest collecting; do
		echo "  daemon, $config: $(med "switch.$config" daemon_pct 2) % of a core," \
			"$(med "switch.$config" daemon_ns 0) ns of daemon CPU per target switch;" \
			"block waits timed $(med "switch.$config" waits 0)," \
			"recorded (sampled) $(med "switch.$config" recorded 0)"
	done
	echo
	echo "goals (medians of the per-round differences pprofd - none):"
	goal "added per context switch, at rest" "$(med switch.rest-added ns 0)" "<=" 300 ns
	goal "added CPU per switch, at rest" "$(med switch.rest-added cpu_ns 0)" "<=" 300 ns
	goal "added per switch, collecting" "$(med switch.collecting-added ns 0)" "<=" 1000 ns
	echo
	echo "every run (ns/switch | CPU ns/switch):"
	for config in none rest collecting rest-added collecting-added; do
		printf '  %-16s %-30s | %s\n' "$config" "$(runs "switch.$config" ns)" \
			"$(runs "switch.$config" cpu_ns)"
	done
}

# schedstat_ns PID: CPU time of every thread of PID, in ns (the first field
# of /proc/PID/task/*/schedstat: finer than /proc/PID/stat's ticks).
schedstat_ns()
{
	cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ n += $1 } END { printf "%.0f\n", n }'
}

# bpf_ns PID: the run time, in ns, of every BPF program PID has attached
# (its links in /proc/PID/fdinfo), as kernel.bpf_stats_enabled counts it:
# the programs themselves, not the dispatch to them.
bpf_ns()
{
	local f id total=0 t
	# One program may be attached by many links (a tracepoint each).
	for id in $(for f in /proc/"$1"/fdinfo/*; do
		awk '$1 == "link_type:" { l = 1 } $1 == "prog_id:" { p = $2 } END { if (l) print p }' "$f" 2>/dev/null
	done | sort -u); do
		t=$(bpftool prog show id "$id" -j 2>/dev/null | jq -r '.run_time_ns // 0')
		total=$((total + ${t:-0}))
	done
	echo "$total"
}

# bpf_stats_on / bpf_stats_off: kernel.bpf_stats_enabled (which bpf_ns
# reads) only around what is measured with it: it adds a clock read to every
# run of every program.
bpf_stats_on()
{
	BPF_STATS_WAS=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -qw kernel.bpf_stats_enabled=1
}

bpf_stats_off()
{
	sysctl -qw kernel.bpf_stats_enabled="${BPF_STATS_WAS:-0}"
}

# foreign_syscall_probes: raw sys_enter/sys_exit links on the machine that
# are not ours (another profiler, another pprofd): they slow every system
# call of every process, so a round with them measures them too.
foreign_syscall_probes()
{
	local n
	n=$(bpftool link show -j 2>/dev/null |
		jq '[.[] | select(.type == "raw_tracepoint" and (.tp_name == "sys_enter" or .tp_name == "sys_exit"))] | length')
	echo "${n:-0}"
}

# neighbour_run CONFIG: dd's CPU time for BENCH_REST_SYSCALLS system calls
# (bs=1: a read and a write per byte), a process pprofd does not profile,
# while a daemon is attached to an idle process (sleep) at rest or
# collecting.
neighbour_run()
{
	local config=$1 idle out n b0 b1
	sleep 3600 &
	idle=$!
	track "$idle"
	if ! pprofd_on "$config" "$idle"; then
		stop "$idle"
		return 1
	fi
	out=$BENCH_TMP/dd.$config.$RUN
	n=$(foreign_syscall_probes)
	[ "$n" = 0 ] || put rest.disturbed rounds "$n"
	[ "$n" = 0 ] || log "rest: $n raw system call probes of another process are attached: this round measures them too"
	bpf_stats_on
	[ "$config" = none ] || b0=$(bpf_ns "$DAEMON_PID")
	"$RUSAGE" "$out" dd if=/dev/zero of=/dev/null bs=1 count=$((REST_SYSCALLS / 2)) 2>/dev/null
	[ "$config" = none ] || b1=$(bpf_ns "$DAEMON_PID")
	bpf_stats_off
	pprofd_off "$config"
	stop "$idle"
	# UTIME_US STIME_US MAXRSS STATUS on the second line.
	put "rest.dd.$config" cpu_ms "$(awk 'NR == 2 { printf "%.1f", ($1 + $2) / 1000 }' "$out")"
	# pprofd's programs ran for anything while dd ran, against dd's CPU.
	[ "$config" = none ] || put "rest.dd.$config" bpf_pct "$(awk -v b0="$b0" -v b1="$b1" \
		'NR == 2 { printf "%.3f", 100 * (b1 - b0) / 1000 / ($1 + $2) }' "$out")"
	log "rest: dd, $config, run $RUN: $(awk 'NR == 2 { printf "%.1f", ($1 + $2) / 1000 }' "$out") ms of CPU"
}

# start_goserver: a fresh Go server (Debian's prometheus, stripped, its own
# net/http/pprof, a config that scrapes nothing) on a free loopback port,
# warmed up with 50 requests; sets GO_PID, GO_URL.  One for every round,
# which all three configurations share: fresh servers differ from each
# other by 10-15 % in CPU per request (measured), more than what is
# measured here; a long-lived one takes a little more CPU per request as it
# runs, which the order of the configurations, reversed every other round,
# evens out.
start_goserver()
{
	local port
	for _ in 1 2 3 4 5 6 7 8; do
		port=$((20000 + RANDOM % 30000))
		[ -z "$(ss -Hltn "sport = :$port" 2>/dev/null)" ] && break
	done
	rm -rf "$BENCH_TMP/tsdb"
	printf 'global:\n  scrape_interval: 1h\n' >"$BENCH_TMP/prometheus.yml"
	prometheus --config.file="$BENCH_TMP/prometheus.yml" --storage.tsdb.path="$BENCH_TMP/tsdb" \
		--web.listen-address="127.0.0.1:$port" >"$BENCH_TMP/prometheus.log" 2>&1 &
	GO_PID=$!
	track "$GO_PID"
	GO_URL=http://127.0.0.1:$port
	if ! wait_http "$GO_URL/-/ready"; then
		log "prometheus did not start: $(tail -2 "$BENCH_TMP/prometheus.log")"
		stop "$GO_PID"
		return 1
	fi
	curl -s "$GO_URL/metrics?[1-50]" >/dev/null
}

# goserver_run CONFIG: the CPU time the round's Go server (start_goserver)
# takes to answer BENCH_REST_REQUESTS requests of its own /metrics, one
# connection, one after the other, with pprofd at CONFIG on it.
goserver_run()
{
	local config=$1 c0 c1 b0 b1
	[ -n "${GO_PID:-}" ] && alive "$GO_PID" || return 1
	pprofd_on "$config" "$GO_PID" || return 1
	bpf_stats_on
	[ "$config" = none ] || b0=$(bpf_ns "$DAEMON_PID")
	c0=$(schedstat_ns "$GO_PID")
	curl -s "$GO_URL/metrics?[1-$REST_REQUESTS]" >/dev/null
	c1=$(schedstat_ns "$GO_PID")
	[ "$config" = none ] || b1=$(bpf_ns "$DAEMON_PID")
	bpf_stats_off
	pprofd_off "$config"
	put "rest.go.$config" cpu_ms "$(calc "($c1 - $c0) / 1e6")"
	[ "$config" = none ] || put "rest.go.$config" bpf_pct "$(calc "100 * ($b1 - $b0) / ($c1 - $c0)")"
	log "rest: Go server, $config, run $RUN: $(calc "($c1 - $c0) / 1e6") ms of CPU"
}

# rest: what an attached pprofd costs when nobody asks (and while block and
# mutex profiles are taken): (1) a syscall-bound neighbour (dd bs=1, not the
# target), (2) a Go server (Debian's prometheus, stripped) answering a fixed
# batch of requests, (3) a C target (switcher: CPU per context switch).
# Each against no daemon, in the same round, order alternating.
section_rest()
{
	local order config
	command -v prometheus >/dev/null 2>&1 || die "missing prometheus (make deps)"
	command -v bpftool >/dev/null 2>&1 || die "missing bpftool (make deps)"
	log "rest: $RUNS rounds; dd $REST_SYSCALLS system calls, $REST_REQUESTS requests"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		if ((RUN % 2)); then order="none rest collecting"; else order="collecting rest none"; fi
		start_goserver || GO_PID=
		for config in $order; do
			neighbour_run "$config" || log "rest: dd: $config: no result this round"
			goserver_run "$config" ||
				log "rest: Go server: $config: no result this round"
			SWITCH_KEY=rest.switch switch_run "$config" ||
				log "rest: switcher: $config: no result this round"
		done
		[ -n "$GO_PID" ] && stop "$GO_PID"
		for config in rest collecting; do
			added_per_round rest.dd cpu_ms "$config"
			added_per_round rest.go cpu_ms "$config"
			added_per_round rest.switch cpu_ns "$config"
		done
	done

	echo
	echo "== rest: what an attached pprofd costs, at rest and while block + mutex are" \
		"collected; medians of $RUNS rounds, each against no daemon in the same round"
	echo "  probes: $SYSCALL_PROBES"
	printf '  %-44s %10s %10s %10s\n' "" "no daemon" "at rest" "collecting"
	printf '  %-44s %10s %10s %10s\n' "dd bs=1, $REST_SYSCALLS syscalls, not the target (CPU ms)" \
		"$(med rest.dd.none cpu_ms 1)" "$(med rest.dd.rest cpu_ms 1)" "$(med rest.dd.collecting cpu_ms 1)"
	printf '  %-44s %10s %10s %10s\n' "  added (median of per-round %)" "" \
		"$(med rest.dd.rest-ratio cpu_ms 1)%" "$(med rest.dd.collecting-ratio cpu_ms 1)%"
	printf '  %-44s %10s %10s %10s\n' "  pprofd's BPF programs meanwhile, % of it" "" \
		"$(med rest.dd.rest bpf_pct 3)%" "$(med rest.dd.collecting bpf_pct 3)%"
	printf '  %-44s %10s %10s %10s\n' "Go server (prometheus), $REST_REQUESTS reqs (CPU ms)" \
		"$(med rest.go.none cpu_ms 1)" "$(med rest.go.rest cpu_ms 1)" "$(med rest.go.collecting cpu_ms 1)"
	printf '  %-44s %10s %10s %10s\n' "  added (median of per-round %)" "" \
		"$(med rest.go.rest-ratio cpu_ms 1)%" "$(med rest.go.collecting-ratio cpu_ms 1)%"
	printf '  %-44s %10s %10s %10s\n' "  pprofd's BPF programs, % of its CPU" "" \
		"$(med rest.go.rest bpf_pct 2)%" "$(med rest.go.collecting bpf_pct 2)%"
	printf '  %-44s %10s %10s %10s\n' "switcher, CPU ns per context switch" \
		"$(med rest.switch.none cpu_ns 0)" "$(med rest.switch.rest cpu_ns 0)" "$(med rest.switch.collecting cpu_ns 0)"
	printf '  %-44s %10s %10s %10s\n' "  added (median of per-round %)" "" \
		"$(med rest.switch.rest-ratio cpu_ns 1)%" "$(med rest.switch.collecting-ratio cpu_ns 1)%"
	echo
	[ -z "$(values rest.disturbed rounds)" ] ||
		echo "  WARNING: $(values rest.disturbed rounds | wc -l) dd runs had another process's raw system call probes attached"
	echo
	echo "goals:"
	goal "neighbour, pprofd at rest" "$(med rest.dd.rest-ratio cpu_ms 1)" "<=" 2 %
	goal "neighbour, collecting block+mutex" "$(med rest.dd.collecting-ratio cpu_ms 1)" "<=" 5 %
	goal "Go server CPU, pprofd at rest" "$(med rest.go.rest-ratio cpu_ms 1)" "<=" 1 %
	goal "Go server CPU, collecting" "$(med rest.go.collecting-ratio cpu_ms 1)" "<=" 5 %
	goal "switcher CPU, collecting" "$(med rest.switch.collecting-ratio cpu_ns 1)" "<=" 5 %
	goal "added CPU per switch, at rest" "$(med rest.switch.rest-added cpu_ns 0)" "<=" 300 ns
	echo "every run:"
	for config in none rest collecting rest-ratio collecting-ratio; do
		printf '  %-18s dd %-26s | go %-26s | switch %s\n' "$config" \
			"$(runs "rest.dd.$config" cpu_ms)" "$(runs "rest.go.$config" cpu_ms)" \
			"$(runs "rest.switch.$config" cpu_ns)"
	done
}

# http: /performance/health and /performance/stats of tests/workloads/grow
# under wrk (64 connections, 2 threads, BENCH_SECONDS each, BENCH_RUNS
# rounds): requests/s and p99 latency, medians; then pprofd's RSS before and
# after BENCH_HTTP_REQUESTS (default 1000000) more requests, the two
# alternating, and the growth (goal: no more than 1 MiB).  The access log is
# on (the default), written to /dev/null.
section_http()
{
	local port url ep out n total=0 goal_n=${BENCH_HTTP_REQUESTS:-1000000} rss0 rss1 errors
	command -v wrk >/dev/null 2>&1 || die "missing wrk (make deps)"
	start_target grow 1
	port=$((20000 + RANDOM % 30000))
	url=http://127.0.0.1:$port
	"$PPROFD" --pid "$TARGET_PID" --listen "127.0.0.1:$port" >/dev/null 2>&1 &
	DAEMON_PID=$!
	track "$DAEMON_PID"
	wait_http "$url/performance/health" || die "pprofd did not start on $url"
	log "http: target grow, PID $TARGET_PID; pprofd $DAEMON_PID on $url; $RUNS rounds of ${WINDOW} s per endpoint"
	# Warm-up: first requests load symbols, grow buffers.
	wrk -t2 -c64 -d2s "$url/performance/health" >/dev/null 2>&1
	wrk -t2 -c64 -d2s "$url/performance/stats" >/dev/null 2>&1
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for ep in health stats; do
			out=$(wrk -t2 -c64 -d"${WINDOW}s" --latency "$url/performance/$ep" 2>&1)
			put "http.$ep" rps "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")"
			# "99%  12.34ms" (or us, or s) -> ms
			put "http.$ep" p99_ms "$(awk '$1 == "99%" {
				v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u)
				print (u == "us" ? v / 1000 : u == "s" ? v * 1000 : v) }' <<<"$out")"
			errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
			[ -z "$errors" ] || log "http: $ep round $RUN: $errors"
			log "http: round $RUN/$RUNS: $ep $(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") req/s"
		done
	done
	rss0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
	log "http: RSS ${rss0} kB; now $goal_n more requests"
	while [ "$total" -lt "$goal_n" ]; do
		for ep in health stats; do
			n=$(wrk -t2 -c64 -d10s "$url/performance/$ep" 2>&1 |
				awk '/requests in/ { print $1 }')
			total=$((total + ${n:-0}))
		done
		log "http: $total requests"
		alive "$DAEMON_PID" || die "pprofd died during the requests"
	done
	rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
	stop "$DAEMON_PID"
	stop "$TARGET_PID"

	echo
	echo "== http: /performance/health and /performance/stats under wrk -t2 -c64, ${WINDOW} s, median of $RUNS"
	printf '%-22s %10s %10s\n' endpoint "req/s" "p99 ms"
	for ep in health stats; do
		printf '%-22s %10s %10s\n' "/performance/$ep" "$(med "http.$ep" rps 0)" \
			"$(med "http.$ep" p99_ms 1)"
	done
	echo "pprofd RSS: $rss0 kB before, $rss1 kB after $total more requests" \
		"(+$((rss1 - rss0)) kB)"
	echo "goals:"
	goal "RSS growth over $total requests" "$((rss1 - rss0))" "<=" 1024 kB
	echo "every run (req/s | p99 ms):"
	for ep in health stats; do
		printf '  %-8s %-30s | %s\n' "$ep" "$(runs "http.$ep" rps)" "$(runs "http.$ep" p99_ms)"
	done
}

# ---------------------------------------------------------------- scale

# scale: what the operating endpoints cost as the target grows, and a
# profile of 100k unique stacks.
SCALE_THREADS=${BENCH_SCALE_THREADS:-100 1000 10000}
SCALE_REQUESTS=${BENCH_SCALE_REQUESTS:-15}
SCALE_STACKS=${BENCH_SCALE_STACKS:-10000 100000}
SCALE_ENDPOINTS="/performance/health /performance/stats /performance/memory /metrics"

# start_parked NAME ARGS...: starts $WORKLOADS/NAME ARGS and waits (60 s)
# until it prints "ready"; sets TARGET_PID.
start_parked()
{
	local bin=$WORKLOADS/$1 logf=$BENCH_TMP/$1.$2.log
	[ -x "$bin" ] || die "missing $bin (make workloads)"
	shift
	"$bin" "$@" >"$logf" 2>&1 &
	TARGET_PID=$!
	track "$TARGET_PID"
	for _ in $(seq 600); do
		grep -q ready "$logf" 2>/dev/null && return 0
		alive "$TARGET_PID" || break
		sleep 0.1
	done
	die "$bin $* did not get ready: $(tail -2 "$logf")"
}

# request_ms URL: one GET, curl's time_total in ms; "-" unless answered 200
# (or, as health does, 202 or 503).
request_ms()
{
	local code total
	read -r code total < <(curl -s -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' \
		"$1" 2>/dev/null)
	if [ "$code" = 200 ] || [ "$code" = 202 ] || [ "$code" = 503 ]; then
		calc "1000 * $total"
	else
		echo -
	fi
}

# scale_threads N TARGET_PID: a fresh daemon on a many_threads target of N
# threads, settled; each endpoint SCALE_REQUESTS times (interleaved); the
# median of each into the results; the census it reads.
scale_threads()
{
	local n=$1 ep i ms vals
	start_pprofd "$2" || return 1
	# Start-up loads symbols a step at a time: let it finish.
	sleep 3
	for ep in $SCALE_ENDPOINTS; do
		request_ms "$DAEMON_URL$ep" >/dev/null
	done
	for ep in $SCALE_ENDPOINTS; do
		: >"$BENCH_TMP/scale.$n.${ep//\//_}"
	done
	for ((i = 0; i < SCALE_REQUESTS; i++)); do
		for ep in $SCALE_ENDPOINTS; do
			ms=$(request_ms "$DAEMON_URL$ep")
			[ "$ms" = - ] && log "scale: $n threads: $ep did not answer 200" && continue
			echo "$ms" >>"$BENCH_TMP/scale.$n.${ep//\//_}"
		done
	done
	for ep in $SCALE_ENDPOINTS; do
		vals=$(median <"$BENCH_TMP/scale.$n.${ep//\//_}")
		[ "$vals" = - ] || put "scale.$n" "$ep" "$vals"
	done
	curl -s "$DAEMON_URL/performance/stats" >"$BENCH_TMP/scale.$n.stats"
	put "scale.$n" census_cpu_ms "$(jq '.pprofd.memory_census.last_cpu_ms' "$BENCH_TMP/scale.$n.stats")"
	put "scale.$n" census_wall_ms "$(jq '.pprofd.memory_census.last_wall_ms' "$BENCH_TMP/scale.$n.stats")"
	put "scale.$n" census_period_s "$(jq '.pprofd.memory_census.period_seconds' "$BENCH_TMP/scale.$n.stats")"
	put "scale.$n" census_steps "$(jq '.pprofd.memory_census.last_steps' "$BENCH_TMP/scale.$n.stats")"
	put "scale.$n" mappings "$(jq '.pprofd.memory_census.mappings' "$BENCH_TMP/scale.$n.stats")"
	put "scale.$n" rss_mib "$(calc "$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status") / 1024")"
	stop "$DAEMON_PID"
	log "scale: round $RUN/$RUNS: $n threads: health $(med "scale.$n" /performance/health 2) ms," \
		"stats $(med "scale.$n" /performance/stats 2), memory $(med "scale.$n" /performance/memory 2)," \
		"metrics $(med "scale.$n" /metrics 2)"
}

# heap_stacks FILE: the number of samples (one per unique stack here).
heap_samples()
{
	go tool pprof -raw -symbolize=none "$1" 2>"$1.pprof-err" | awk '
		/^Samples:/ { s = 1; getline; next }
		/^Locations/ { s = 0 }
		s && /:/ { n++ }
		END { print n + 0 }'
}

# heap_metric FIELD: the heap collector's FIELD in /debug/metrics ("-").
heap_metric()
{
	local v
	v=$(curl -s --max-time 5 "$DAEMON_URL/debug/metrics" 2>/dev/null |
		jq -r ".collectors[] | select(.name == \"heap\") | .$1" 2>/dev/null)
	echo "${v:--}"
}

# scale_stacks N: a heap profile of N live blocks, each from its own stack.
scale_stacks()
{
	local n=$1 config=scale.stacks.$1 prev cur first ms samples i
	printf '{"heap": {"sample_rate": 1, "max_overhead_percent": 0}}\n' >"$BENCH_TMP/heap1.json"
	start_parked many_stacks "$n" 500
	if ! start_pprofd "$TARGET_PID" --config "$BENCH_TMP/heap1.json"; then
		stop "$TARGET_PID"
		return 1
	fi
	if [ "$(heap_metric running)" != true ]; then
		log "scale: the heap collector is not running: $(heap_metric reason)"
		stop "$DAEMON_PID"
		stop "$TARGET_PID"
		return 1
	fi
	sleep 2 # start-up done
	put "$config" rss0_mib "$(calc "$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status") / 1024")"
	kill -USR1 "$TARGET_PID"
	for _ in $(seq 1200); do
		grep -q '^done' "$BENCH_TMP/many_stacks.$n.log" && break
		sleep 0.1
	done
	# Until every event is in the table.
	prev=-1
	for _ in $(seq 100); do
		cur=$(heap_metric stacks)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		sleep 0.5
	done
	put "$config" tracked "$cur"
	put "$config" lost "$(heap_metric events_lost)"
	put "$config" rss1_mib "$(calc "$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status") / 1024")"
	first=$(request_ms "$DAEMON_URL/debug/pprof/heap")
	put "$config" first_ms "$first"
	for i in 1 2 3; do
		ms=$(curl -s -o "$BENCH_TMP/$config.$RUN.pb" --max-time 60 -w '%{time_total}' \
			"$DAEMON_URL/debug/pprof/heap")
		put "$config" encode_ms "$(calc "1000 * $ms")"
	done
	put "$config" bytes "$(stat -c %s "$BENCH_TMP/$config.$RUN.pb")"
	put "$config" hwm_mib "$(calc "$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status") / 1024")"
	put "$config" rss2_mib "$(calc "$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status") / 1024")"
	samples=$(heap_samples "$BENCH_TMP/$config.$RUN.pb")
	[ -s "$BENCH_TMP/$config.$RUN.pb.pprof-err" ] &&
		log "scale: go tool pprof: $(head -3 "$BENCH_TMP/$config.$RUN.pb.pprof-err")"
	put "$config" samples "$samples"
	stop "$DAEMON_PID"
	stop "$TARGET_PID"
	log "scale: round $RUN/$RUNS: $n stacks: $samples in the profile, first $first ms," \
		"then $(med "$config" encode_ms 1) ms; RSS $(med "$config" rss1_mib 1) MiB," \
		"peak $(med "$config" hwm_mib 1) MiB"
}

# ratio_of A B: A / B, 2 decimals ("-" when either is missing).
ratio_of()
{
	if [ "$1" = - ] || [ "$2" = - ]; then
		echo -
	else
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", (b > 0 ? a / b : 0) }'
	fi
}

section_scale()
{
	local n pids=() i ep row prev a b big small
	command -v jq >/dev/null 2>&1 || die "missing jq (make deps)"
	for n in $SCALE_THREADS; do
		start_parked many_threads "$n"
		pids+=("$TARGET_PID")
		log "scale: many_threads $n ready, PID $TARGET_PID"
	done
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		i=0
		for n in $SCALE_THREADS; do
			scale_threads "$n" "${pids[i]}" || log "scale: $n threads: no result this round"
			i=$((i + 1))
		done
		for n in $SCALE_STACKS; do
			scale_stacks "$n" || log "scale: $n stacks: no result this round"
		done
	done
	for pid in "${pids[@]}"; do
		stop "$pid"
	done

	echo
	echo "== scale: the operating endpoints by target size (tests/workloads/many_threads," \
		"parked threads): curl time_total, ms,"
	echo "   medians of $RUNS rounds (a fresh daemon each) of the median of $SCALE_REQUESTS" \
		"requests; x10: the ratio of the times for 10x the threads (10: linear, 100: quadratic)"
	printf '%-22s' endpoint
	for n in $SCALE_THREADS; do printf ' %10s' "$n thr"; done
	prev=
	for n in $SCALE_THREADS; do
		[ -n "$prev" ] && printf ' %12s' "x: $prev->$n"
		prev=$n
	done
	echo
	for ep in $SCALE_ENDPOINTS; do
		printf '%-22s' "$ep"
		for n in $SCALE_THREADS; do printf ' %10s' "$(med "scale.$n" "$ep" 2)"; done
		prev=
		for n in $SCALE_THREADS; do
			[ -n "$prev" ] && printf ' %12s' "$(ratio_of "$(med "scale.$n" "$ep" 3)" "$(med "scale.$prev" "$ep" 3)")"
			prev=$n
		done
		echo
	done
	printf '%-22s' "census CPU ms"
	for n in $SCALE_THREADS; do printf ' %10s' "$(med "scale.$n" census_cpu_ms 1)"; done
	echo "   (off the request path, in steps of <= 2 ms)"
	printf '%-22s' "census every s"
	for n in $SCALE_THREADS; do printf ' %10s' "$(med "scale.$n" census_period_s 2)"; done
	echo
	printf '%-22s' "mappings"
	for n in $SCALE_THREADS; do printf ' %10s' "$(med "scale.$n" mappings 0)"; done
	echo
	printf '%-22s' "pprofd RSS MiB"
	for n in $SCALE_THREADS; do printf ' %10s' "$(med "scale.$n" rss_mib 1)"; done
	echo
	echo
	echo "== scale: a heap profile of N unique stacks (tests/workloads/many_stacks: N live" \
		"blocks, each from its own 17-call path; heap.sample_rate 1), medians of $RUNS"
	printf '%-34s' ""
	for n in $SCALE_STACKS; do printf ' %12s' "$n stacks"; done
	echo
	for row in "samples in the profile:samples:0" "tracked (lost events):tracked:0" \
		"first GET /debug/pprof/heap ms:first_ms:1" "GET /debug/pprof/heap ms:encode_ms:1" \
		"profile bytes (gzip):bytes:0" "pprofd RSS before, MiB:rss0_mib:1" \
		"pprofd RSS tracked, MiB:rss1_mib:1" "pprofd peak RSS, MiB:hwm_mib:1" \
		"pprofd RSS after, MiB:rss2_mib:1"; do
		printf '%-34s' "${row%%:*}"
		for n in $SCALE_STACKS; do
			a=$(med "scale.stacks.$n" "$(cut -d: -f2 <<<"$row")" "${row##*:}")
			[ "$(cut -d: -f2 <<<"$row")" = tracked ] && a="$a ($(med "scale.stacks.$n" lost 0))"
			printf ' %12s' "$a"
		done
		echo
	done
	small=${SCALE_STACKS%% *}
	big=${SCALE_STACKS##* }
	echo "growth $small -> $big stacks: GET heap x$(ratio_of "$(med "scale.stacks.$big" encode_ms 3)" \
		"$(med "scale.stacks.$small" encode_ms 3)"), RSS tracked above start" \
		"x$(ratio_of "$(calc "$(med "scale.stacks.$big" rss1_mib 3) - $(med "scale.stacks.$big" rss0_mib 3)")" \
			"$(calc "$(med "scale.stacks.$small" rss1_mib 3) - $(med "scale.stacks.$small" rss0_mib 3)")")"
	echo
	big=${SCALE_THREADS##* }
	small=${SCALE_THREADS%% *}
	echo "goals:"
	goal "health at $big threads" "$(med "scale.$big" /performance/health 2)" "<=" 20 ms
	goal "stats at $big threads" "$(med "scale.$big" /performance/stats 2)" "<=" 20 ms
	goal "memory at $big threads" "$(med "scale.$big" /performance/memory 2)" "<=" 100 ms
	for ep in $SCALE_ENDPOINTS; do
		goal "${ep##*/}: $small -> $big threads, x" \
			"$(ratio_of "$(med "scale.$big" "$ep" 3)" "$(med "scale.$small" "$ep" 3)")" "<=" \
			"$(awk -v a="$big" -v b="$small" 'BEGIN { print a / b }')" ""
	done
	echo "every run (ms, per threads: health stats memory metrics):"
	for n in $SCALE_THREADS; do
		printf '  %-6s' "$n"
		for ep in $SCALE_ENDPOINTS; do printf ' | %s' "$(runs "scale.$n" "$ep")"; done
		echo
	done
}

# ---------------------------------------------------------------- main

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer, not '$RUNS'"
[[ $WINDOW =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive integer, not '$WINDOW'"
[ "$(id -u)" = 0 ] || die "needs root (BPF for pprofd, perf record -p)"
[ -x "$PPROFD" ] || die "missing $PPROFD (make all workloads)"
for c in curl go perf cc jq; do
	command -v "$c" >/dev/null 2>&1 || die "missing $c (make deps)"
done
for s in $SECTIONS; do
	declare -F "section_$s" >/dev/null ||
		die "no section '$s' (have: $(declare -F | awk '/ section_/ { sub(/section_/, "", $3); printf "%s%s", (n++ ? " " : ""), $3 }'))"
done
build_rusage

echo "pprofd bench: $("$PPROFD" --version 2>&1), $(perf --version), kernel $(uname -r)," \
	"$(nproc) CPUs, CLK_TCK $CLK_TCK"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $SECTIONS; do
	"section_$s"
done
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
