#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_heap.sh - /debug/pprof/heap and /allocs, read by `go tool pprof`, on
# workloads with known heaps (they allocate after SIGUSR1, once pprofd is
# attached).  The default heap.mode is inject (the sampler in the target:
# test_heap_inject.sh has its loads, stops and refusals); the runs that are
# about the uprobe path say --heap-mode uprobe:
#   heap_mix small, every allocation recorded (--heap-sample-rate 1), in the
#                default mode (inject) and, --heap-mode uprobe, with uprobe
#                sessions and with entry + return probes: inuse_space
#                of heap_malloc, heap_calloc, heap_memalign (posix_memalign),
#                heap_realloc (realloc-grown blocks) and heap_thread (4
#                threads) 1600 KiB each within 3%; heap_transient (freed at
#                once) not live but in alloc_space; sample types, period,
#                default sample type, the comment about allocations before
#                attach, ?debug=1 text, ?seconds delta;
#   heap_cxx     new and new[] (through libstdc++) exact, new+delete not live
#                (default mode);
#   preload      heap_mix with an allocator preloaded (prealloc.so, not one
#                the sampler knows): in the default mode inject is refused,
#                the reason said (metrics, profile comment), and that library
#                is the one probed with uprobes, values exact;
#   dlopen       --heap-mode uprobe: a library with an allocator of its own
#                loaded after attach is probed too (its malloc called through
#                dlsym; the sampler does not see such an allocator);
#   heap_mix large at the default rate: 128 MiB per function within 30%,
#                the five within 13% (5 sigma each), in the default mode and
#                with --heap-mode uprobe;
#   governor     a malloc-heavy loop over a 1% budget is paused, and says
#                why (metrics, endpoint error, log) with advice for its
#                mode: --heap-mode uprobe (use inject), the default mode at
#                rate 1 (raise heap.sample_rate), inject refused (preloaded
#                allocator: what stood in its way);
#   heap_static  a static binary without symbols: "no allocator found".
#
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

KIB1600=1638400

# top_value TOP NAME COLUMN: the value (bytes) of NAME in `pprof -top -unit=B`
# output, column 1 (flat) or 4 (cum); 0 when absent.
top_value()
{
	awk -v name="$2" -v col="$3" '
		$2 ~ /%$/ && NF >= 6 {
			n = $6
			for (i = 7; i <= NF; i++) n = n " " $i
			if (n == name) { v = $col; sub(/B$/, "", v); print v + 0; found = 1; exit }
		}
		END { if (!found) print 0 }' <<<"$1"
}

# heap_run NAME WORKLOAD MODE [PPROFD ARGS...]: starts the workload and pprofd,
# signals the workload once the heap profile is available, waits for its
# "ready"; sets URL.  Returns 1 (after reporting) when something did not start.
heap_run()
{
	local name=$1 wl=$2 mode=$3 log
	shift 3
	: >"$E2E_TMP/$wl.log" # start_workload appends: the "ready" of this run only
	start_workload "$wl" $mode || {
		fail "$name: start $wl"
		return 1
	}
	WL_PID=$WORKLOAD_PID
	if ! start_daemon "$WL_PID" "$@"; then
		fail "$name: start pprofd --pid $WL_PID $*"
		return 1
	fi
	URL=$DAEMON_URL/debug/pprof
	for _ in $(seq 100); do
		curl -s --max-time 2 "$DAEMON_URL/debug/metrics" |
			jq -c '.collectors[] | select(.name == "heap")' 2>/dev/null |
			grep -q '"allocator"' && break
		sleep 0.1
	done
	kill -USR1 "$WL_PID"
	log=$E2E_TMP/$wl.log
	for _ in $(seq 1200); do
		grep -q ready "$log" 2>/dev/null && break
		sleep 0.1
	done
	if ! grep -q ready "$log"; then
		fail "$name: $wl allocated within 120 s" "$(tail -3 "$log")"
		return 1
	fi
	sleep 1 # the last events drained
	return 0
}

# get_profile NAME PATH: fetches $URL/PATH into $E2E_TMP/NAME.prof, checks it
# loads without warnings; sets PROF.
get_profile()
{
	local code warnings
	PROF=$E2E_TMP/$1.prof
	code=$(fetch "$URL/$2" "$PROF")
	if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
		fail "$1: $2 is 200 and gzip" "got $code: $(head -c 300 "$PROF" | tr -c '[:print:]\n' '.')"
		diag_daemon
		return 1
	fi
	warnings=$(pprof_warnings "$PROF")
	check_eq "$1: go tool pprof loads $2 with no warnings" "" "$warnings"
}

stop_run()
{
	stop "$DAEMON_PID"
	stop "$WL_PID"
}

# exact_checks NAME: heap_mix small at rate 1.
exact_checks()
{
	local name=$1 top raw fn v metrics
	get_profile "$name-heap" heap || return
	top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
	for fn in heap_malloc heap_calloc heap_memalign heap_realloc heap_thread; do
		v=$(top_value "$top" "$fn" 1)
		if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
			ok "$name: inuse_space of $fn is 1600 KiB within 3% ($v)"
		else
			fail "$name: inuse_space of $fn is 1600 KiB within 3%" "got $v" "$top"
		fi
	done
	v=$(top_value "$top" heap_transient 1)
	check_eq "$name: blocks freed at once are not live (heap_transient inuse)" 0 "$v"
	top=$(pprof "$PROF" -top -unit=B -sample_index=alloc_space -nodecount=200)
	v=$(top_value "$top" heap_transient 1)
	if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
		ok "$name: alloc_space of heap_transient is 1600 KiB within 3% ($v)"
	else
		fail "$name: alloc_space of heap_transient is 1600 KiB within 3%" "got $v"
	fi
	v=$(top_value "$top" heap_realloc 1)
	# 40 blocks grown 4 KiB at a time to 40 KiB: 40 * 4 KiB * (1 + ... + 10).
	check_eq "$name: alloc_space of heap_realloc counts every step" 9011200 "$v"

	raw=$(pprof "$PROF" -raw)
	check_eq "$name: sample types" \
		"alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes" \
		"$(grep -A1 '^Samples:' <<<"$raw" | tail -1 | sed 's/ *$//')"
	check_eq "$name: period type and period" "PeriodType: space bytes Period: 1" \
		"$(grep -m1 '^PeriodType' <<<"$raw") $(grep -m1 '^Period:' <<<"$raw")"
	check "$name: the comment says allocations before attach are unknown" \
		grep -q "allocations made before attach are unknown" <<<"$raw"

	get_profile "$name-allocs" allocs || return
	raw=$(pprof "$PROF" -raw)
	check "$name: allocs defaults to alloc_space" grep -q "alloc_space/bytes\[dflt\]" <<<"$raw"

	v=$(curl -s --max-time 10 "$URL/heap?debug=1")
	check "$name: ?debug=1 header is Go's heap text" \
		grep -qE '^heap profile: [0-9]+: [0-9]+ \[[0-9]+: [0-9]+\] @ heap/2$' <<<"$v"
	check "$name: ?debug=1 records name their functions" grep -q "heap_memalign+0x" <<<"$v"

	get_profile "$name-heap-delta" "heap?seconds=2" || return
	check_eq "$name: delta Content-Disposition" 'attachment; filename="heap-delta"' \
		"$(header "$PROF.headers" Content-Disposition)"

	metrics=$(curl -s --max-time 5 "$DAEMON_URL/debug/metrics" |
		jq -c '.collectors[] | select(.name == "heap")')
	check_eq "$name: no events lost" 0 "$(jq .events_lost <<<"$metrics")"
	check_eq "$name: allocator is libc" libc \
		"$(jq -r .allocator <<<"$metrics" | grep -o 'libc' | head -1)"
}

heap_metrics()
{
	curl -s --max-time 5 "$DAEMON_URL/debug/metrics" | jq -c '.collectors[] | select(.name == "heap")'
}

# --- every allocation recorded: the default mode, then both ways of probing
if heap_run exact-default heap_mix small --heap-sample-rate 1 --heap-max-overhead 0; then
	check_eq "exact-default: the default heap.mode loads the sampler (inject)" \
		'"sampler in the target (inject)"' "$(heap_metrics | jq -c .probe_mode)" ||
		diag "inject_refused: $(heap_metrics | jq -r .inject_refused)"
	exact_checks exact-default
fi
stop_run

# The uprobe path, asked for explicitly.
if heap_run exact heap_mix small --heap-mode uprobe --heap-sample-rate 1 --heap-max-overhead 0; then
	check_eq "exact: --heap-mode uprobe probes with a uprobe session" '"uprobe session"' \
		"$(curl -s "$DAEMON_URL/debug/metrics" | jq -c '.collectors[] | select(.name == "heap") | .probe_mode')"
	exact_checks exact
fi
stop_run

if PPROFD_HEAP_NO_SESSION=1 heap_run exact-2probes heap_mix small --heap-mode uprobe \
	--heap-sample-rate 1 --heap-max-overhead 0; then
	check_eq "exact-2probes: probed with entry + return uprobes" '"entry + return uprobes"' \
		"$(curl -s "$DAEMON_URL/debug/metrics" | jq -c '.collectors[] | select(.name == "heap") | .probe_mode')"
	exact_checks exact-2probes
fi
stop_run

# --- a preloaded allocator (prealloc.so defines malloc & co.): it is the one
# probed.  Not one the sampler knows: in the default mode inject is refused,
# the reason said, and uprobes take over.
if heap_run preload heap_mix preload --heap-sample-rate 1 --heap-max-overhead 0; then
	check_eq "preload: the allocator probed is the preloaded library" prealloc.so \
		"$(curl -s "$DAEMON_URL/debug/metrics" |
			jq -r '.collectors[] | select(.name == "heap") | .allocator' | xargs basename)"
	check_eq "preload: default mode, inject refused: uprobes instead" uprobe \
		"$(heap_metrics | jq -r .mode)"
	check "preload: the refusal names the allocator ($(heap_metrics | jq -r .inject_refused))" \
		grep -q "prealloc.so is not one the sampler knows" <<<"$(heap_metrics | jq -r .inject_refused)"
	check "preload: the log says uprobes instead" grep -q "sampler cannot be loaded.*uprobes instead" \
		"$DAEMON_LOG"
	if get_profile preload-heap heap; then
		check "preload: the profile's comment says inject was refused and why" \
			grep -q "heap.mode inject refused: the allocator in .*prealloc.so" \
			<<<"$(pprof "$PROF" -raw | head -20)"
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		for fn in heap_malloc heap_calloc heap_memalign heap_realloc heap_thread; do
			v=$(top_value "$top" "$fn" 4)
			if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
				ok "preload: inuse_space under $fn is 1600 KiB within 3% ($v)"
			else
				fail "preload: inuse_space under $fn is 1600 KiB within 3%" "got $v" "$top"
			fi
		done
	fi
fi
stop_run

# --- an object with an allocator of its own, loaded after attach: probed too.
# The uprobe path's (also_probed): the sampler rewrites only the slots bound
# to the allocator everyone uses, and this one is called through dlsym.
if heap_run dlopen heap_mix dlopen --heap-mode uprobe --heap-sample-rate 1 --heap-max-overhead 0; then
	if get_profile dlopen-heap heap; then
		also=$(curl -s "$DAEMON_URL/debug/metrics" |
			jq -r '.collectors[] | select(.name == "heap") | .also_probed')
		check_eq "dlopen: the library loaded later is probed too" prealloc.so \
			"$(basename "$also")"
		[ "$also" ] || diag_file "$DAEMON_LOG"
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		# Flat: returned by the library's malloc (probed), not by libc's inside it.
		v=$(top_value "$top" heap_dlopen 1)
		if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
			ok "dlopen: inuse_space of heap_dlopen is 1600 KiB within 3% ($v)"
		else
			fail "dlopen: inuse_space of heap_dlopen is 1600 KiB within 3%" "got $v" "$top"
		fi
	fi
fi
stop_run

# --- C++
if heap_run cxx heap_cxx "" --heap-sample-rate 1 --heap-max-overhead 0; then
	if get_profile cxx-heap heap; then
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		for fn in heap_new heap_new_array; do
			v=$(top_value "$top" "$fn" 4)
			if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
				ok "cxx: inuse_space under $fn is 1600 KiB within 3% ($v)"
			else
				fail "cxx: inuse_space under $fn is 1600 KiB within 3%" "got $v" "$top"
			fi
		done
		check_eq "cxx: new + delete at once is not live" 0 "$(top_value "$top" heap_new_deleted 4)"
		top=$(pprof "$PROF" -top -unit=B -sample_index=alloc_space -nodecount=200)
		v=$(top_value "$top" heap_new_deleted 4)
		if within "$v" "$KIB1600" $((KIB1600 * 3 / 100)); then
			ok "cxx: alloc_space under heap_new_deleted is 1600 KiB within 3% ($v)"
		else
			fail "cxx: alloc_space under heap_new_deleted is 1600 KiB within 3%" "got $v" "$top"
		fi
	fi
fi
stop_run

# --- default rate: 128 MiB per function, 200-240 samples each.  Sampling
# noise (measured over 40 runs: 5.7 % a function, 2.6 % for the five
# together): each function within 30 % (5 sigma), the sum within 13 %
# (5 sigma), so that the check fails for a sampler that is off, not by chance.
# In the default mode (the sampler's countdown) and in uprobe mode (BPF's).
for mode in default uprobe; do
	name=sampled
	args=()
	[ "$mode" = uprobe ] && name=sampled-uprobe args=(--heap-mode uprobe)
	if heap_run "$name" heap_mix large "${args[@]}" --heap-max-overhead 0; then
		check_eq "$name: mode" "$([ "$mode" = uprobe ] && echo uprobe || echo inject)" \
			"$(heap_metrics | jq -r .mode)"
		if get_profile "$name-heap" heap; then
			top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
			metrics=$(curl -s "$DAEMON_URL/debug/metrics" | jq -c '.collectors[] | select(.name == "heap")')
			sum=0
			for fn in heap_malloc heap_calloc heap_memalign heap_realloc heap_thread; do
				v=$(top_value "$top" "$fn" 1)
				sum=$((sum + v))
				if within "$v" $((128 << 20)) $(((128 << 20) * 3 / 10)); then
					ok "$name: inuse_space of $fn is 128 MiB within 30% ($v)"
				else
					fail "$name: inuse_space of $fn is 128 MiB within 30%" "got $v" "$metrics" "$top"
				fi
			done
			if within "$sum" $((640 << 20)) $(((640 << 20) * 13 / 100)); then
				ok "$name: the five together are 640 MiB within 13% ($sum)"
			else
				fail "$name: the five together are 640 MiB within 13%" "got $sum" "$metrics" "$top"
			fi
			check_eq "$name: period is the default rate" "Period: 524288" \
				"$(pprof "$PROF" -raw | grep -m1 '^Period:')"
			check_eq "$name: no events lost" 0 "$(jq '.events_lost' <<<"$metrics")"
		fi
	fi
	stop_run
done

# --- the governor: a malloc-heavy loop over a 1% budget, in each mode, with
# advice that works there.
# governor NAME ADVICE_PATTERN WORKLOAD_ARGS -- PPROFD ARGS...  (PRELOAD: a
# library the workload starts with; KICK=MODE: check the mode, then send the
# workload SIGUSR1)
governor()
{
	local name=$1 advice=$2 paused reason wl=()
	shift 2
	while [ "$1" != -- ]; do
		wl+=("$1")
		shift
	done
	shift
	if [ -n "${PRELOAD:-}" ]; then
		LD_PRELOAD=$PRELOAD start_workload "${wl[@]}" || fail "$name: start ${wl[*]}"
	else
		start_workload "${wl[@]}" || fail "$name: start ${wl[*]}"
	fi
	WL_PID=$WORKLOAD_PID
	if start_daemon "$WL_PID" --heap-max-overhead 1 "$@"; then
		URL=$DAEMON_URL/debug/pprof
		if [ -n "${KICK:-}" ]; then
			# The workload waits for SIGUSR1: loaded while it waits.
			for _ in $(seq 100); do
				heap_metrics 2>/dev/null | grep -q '"allocator"' && break
				sleep 0.1
			done
			check_eq "$name: mode" "$KICK" "$(heap_metrics | jq -r .mode)" ||
				diag "inject_refused: $(heap_metrics | jq -r .inject_refused)"
			kill -USR1 "$WL_PID"
		fi
		paused=
		for _ in $(seq 150); do
			paused=$(heap_metrics 2>/dev/null | jq -r .paused)
			[ "$paused" = true ] && break
			sleep 0.1
		done
		check_eq "$name: heap tracking paused within 15 s" true "$paused" ||
			diag "$(heap_metrics)"
		reason=$(heap_metrics | jq -r .paused_reason)
		check "$name: metrics say why" grep -q "heap.max_overhead_percent" <<<"$reason"
		check "$name: the advice fits the mode ($reason)" grep -q "$advice" <<<"$reason"
		code=$(fetch "$URL/heap" "$E2E_TMP/$name.paused.txt")
		check_eq "$name: heap answers 503" 503 "$code"
		check "$name: the error says it is paused and why" \
			grep -q "paused.*max_overhead_percent" "$E2E_TMP/$name.paused.txt"
		check "$name: the log says so" grep -q "tracking paused" "$DAEMON_LOG"
		check "$name: the target runs on" proc_alive "$WL_PID"
	else
		fail "$name: start pprofd"
	fi
	stop_run
}

# uprobe mode: every call traps whatever the rate; the advice is inject.
governor governor-uprobe 'heap.mode "inject"' heap_loop 2000000000 now -- --heap-mode uprobe
# The default mode at rate 1: every call sampled, so every call traps; a
# higher rate helps.  Loaded while heap_loop waits for its signal (a loop
# that never enters a system call gives the load no thread to stop: refused,
# as below).
KICK=inject governor governor-inject "raise heap.sample_rate" heap_loop 2000000000 -- \
	--heap-sample-rate 1
# The default mode, inject refused (an allocator the sampler does not know):
# the advice says what stood in the way, not "use inject".
PRELOAD=$WORKLOADS/prealloc.so governor governor-refused \
	"the sampler could not be loaded (the allocator in .*prealloc.so" heap_loop 2000000000 now --

# --- no allocator: a static binary without symbols
start_workload heap_static || fail "no allocator: start heap_static"
WL_PID=$WORKLOAD_PID
if start_daemon "$WL_PID"; then
	URL=$DAEMON_URL/debug/pprof
	code=$(fetch "$URL/heap" "$E2E_TMP/noalloc.txt")
	check_eq "no allocator: heap answers 503" 503 "$code"
	check "no allocator: the error says no allocator was found" \
		grep -q "no allocator found" "$E2E_TMP/noalloc.txt"
	code=$(fetch "$URL/allocs" "$E2E_TMP/noalloc2.txt")
	check_eq "no allocator: allocs answers 503" 503 "$code"
	check_daemon_alive "the heap requests"
else
	fail "no allocator: start pprofd"
fi
stop_run

done_testing
