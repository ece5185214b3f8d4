#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_heap_inject.sh - heap.mode inject, the default: the sampler library
# loaded into the running target (daemon/inject.c, sampler/sampler.c), read
# by `go tool pprof`.  pprofd runs without --heap-mode (the default mode)
# except where uprobe mode is the point; the kill -9 run uses the shipped
# config/pprofd.json:
#   exact      heap_mix small at rate 1: inuse_space of every function exact,
#              no frame of the sampler in the stacks; every slot put back
#              when pprofd exits (the library stays mapped, inert);
#   sampled    heap_mix large at the default rate: 128 MiB per function
#              within 30%; one 32 MiB block within 30%, in inject and in
#              uprobe mode;
#   cxx        new and new[] (libstdc++'s, calling malloc) exact;
#   late       a library dlopen'ed after the load (liblate.so) is sampled;
#   rounds     100 loads and stops (inject-tool) while heap_churn allocates
#              from 8 threads and dlopen's/dlclose's: no crash, no corrupted
#              block, no deadlock, one mapping of the library, no leak;
#              20 more at rate 1; then pprofd itself started and stopped 3
#              times on it;
#   kill -9    of pprofd mid-profile: the target finishes and runs on, and a
#              new pprofd finds the library loaded and uses it; kill -9 of
#              the injector at random moments of 10 loads and stops;
#   refusals   a static binary (allocator in the executable), a process with
#              a tracer already, one under seccomp, one whose only thread
#              sleeps in a signal handler, one with a thread blocked in a
#              dlopen (a constructor that sleeps, the loader's lock held:
#              refused while it is, loaded once it returned): refused with
#              the reason, uprobes instead;
#   ptrace     no permission to trace the target (another user's process,
#              pprofd without CAP_SYS_PTRACE): refused before any stop, the
#              reason said; kernel.yama.ptrace_scope 1 and 2 the same way,
#              and 3 (already set: it cannot be set back without a reboot)
#              when the kernel has Yama, skipped with the reason when not.

# 100 loads under 8 busy threads on a 2-CPU machine: more than lib.sh's 180 s
# when the machine is shared (tests/run.sh allows 240).
E2E_TIMEOUT=${E2E_TIMEOUT:-230}
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

KIB1600=1638400
LIB=$(readlink -f "$OUTPUT/libpprofd-sampler.so")
TOOL=$OUTPUT/tests/inject-tool

# top_value TOP NAME COLUMN: as in test_heap.sh.
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

heap_metrics()
{
	curl -s --max-time 5 "$DAEMON_URL/debug/metrics" | jq -c '.collectors[] | select(.name == "heap")'
}

# heap_run NAME WORKLOAD MODE [PPROFD ARGS...]: as in test_heap.sh, with
# --heap-mode $HEAP_MODE when set, else in the default mode (inject).
heap_run()
{
	local name=$1 wl=$2 mode=$3 log
	shift 3
	: >"$E2E_TMP/$wl.log"
	start_workload "$wl" $mode || {
		fail "$name: start $wl"
		return 1
	}
	WL_PID=$WORKLOAD_PID
	if ! start_daemon "$WL_PID" ${HEAP_MODE:+--heap-mode "$HEAP_MODE"} "$@"; then
		fail "$name: start pprofd --pid $WL_PID ${HEAP_MODE:+--heap-mode $HEAP_MODE} $*"
		return 1
	fi
	URL=$DAEMON_URL/debug/pprof
	for _ in $(seq 100); do
		heap_metrics 2>/dev/null | grep -q '"allocator"' && break
		sleep 0.1
	done
	if [ "${HEAP_MODE:-inject}" = inject ]; then
		check_eq "$name: the sampler is loaded (mode inject${HEAP_MODE:-, the default})" inject \
			"$(heap_metrics | jq -r .mode)" ||
			diag "$(heap_metrics | jq -r .inject_refused)"
		diag "$name: a thread of the target stopped $(heap_metrics | jq .load_stop_ms) ms for the load"
	else
		check_eq "$name: uprobes (mode uprobe)" uprobe "$(heap_metrics | jq -r .mode)"
	fi
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
	sleep 1
	return 0
}

get_profile()
{
	local code
	PROF=$E2E_TMP/$1.prof
	code=$(fetch "$URL/$2" "$PROF")
	if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
		fail "$1: $2 is 200 and gzip" "got $code: $(head -c 300 "$PROF" | tr -c '[:print:]\n' '.')"
		diag_daemon
		return 1
	fi
	check_eq "$1: go tool pprof loads $2 with no warnings" "" "$(pprof_warnings "$PROF")"
}

stop_run()
{
	stop "$DAEMON_PID"
	stop "$WL_PID"
}

# --- exact at rate 1
if heap_run exact heap_mix small --heap-sample-rate 1 --heap-max-overhead 0; then
	if get_profile exact-heap heap; then
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		for fn in heap_malloc heap_calloc heap_memalign heap_realloc heap_thread; do
			check_eq "exact: inuse_space of $fn is 1600 KiB" "$KIB1600" "$(top_value "$top" "$fn" 1)"
		done
		check_eq "exact: blocks freed at once are not live" 0 "$(top_value "$top" heap_transient 1)"
		check "exact: no frame of the sampler in the stacks" \
			bash -c '! grep -qE "pprofd_sampled|hook_|report_alloc|countdown_expired" <<<"$1"' _ \
			"$(pprof "$PROF" -traces)"
		top=$(pprof "$PROF" -top -unit=B -sample_index=alloc_space -nodecount=200)
		check_eq "exact: alloc_space of heap_transient is 1600 KiB" "$KIB1600" \
			"$(top_value "$top" heap_transient 1)"
		check_eq "exact: alloc_space of heap_realloc counts every step" 9011200 \
			"$(top_value "$top" heap_realloc 1)"
		check_eq "exact: no events lost" 0 "$(heap_metrics | jq .events_lost)"
		check_eq "exact: no sampled block untracked" 0 "$(heap_metrics | jq .sampler_untracked)"
		check "exact: the comment names the mode" grep -q "sampler in the target" \
			<<<"$(pprof "$PROF" -raw)"
	fi
	stop "$DAEMON_PID"
	counters=$("$TOOL" "$WL_PID" "$LIB" counters)
	check "exact: every slot put back when pprofd exits ($counters)" \
		grep -q "slots 0 objects 0" <<<"$counters"
	check "exact: the library stays mapped, inert" grep -q "$LIB" "/proc/$WL_PID/maps"
	check "exact: the target runs on" proc_alive "$WL_PID"
fi
stop_run

# --- default rate
if heap_run sampled heap_mix large --heap-max-overhead 0; then
	if get_profile sampled-heap heap; then
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		for fn in heap_malloc heap_calloc heap_memalign heap_realloc heap_thread; do
			v=$(top_value "$top" "$fn" 1)
			if within "$v" $((128 << 20)) $(((128 << 20) * 3 / 10)); then
				ok "sampled: inuse_space of $fn is 128 MiB within 30% ($v)"
			else
				fail "sampled: inuse_space of $fn is 128 MiB within 30%" "got $v" "$top"
			fi
		done
		check_eq "sampled: period is the default rate" "Period: 524288" \
			"$(pprof "$PROF" -raw | grep -m1 '^Period:')"
	fi
fi
stop_run

# --- one 32 MiB block at the default rate, both modes
for mode in inject uprobe; do
	if HEAP_MODE=$mode heap_run "block32-$mode" heap_mix block32 --heap-max-overhead 0; then
		if get_profile "block32-$mode-heap" heap; then
			top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
			v=$(top_value "$top" heap_block32 1)
			if within "$v" $((32 << 20)) $(((32 << 20) * 3 / 10)); then
				ok "block32-$mode: inuse_space of heap_block32 is 32 MiB within 30% ($v)"
			else
				fail "block32-$mode: inuse_space of heap_block32 is 32 MiB within 30%" "got $v" "$top"
			fi
		fi
	fi
	stop_run
done

# --- C++
if heap_run cxx heap_cxx "" --heap-sample-rate 1 --heap-max-overhead 0; then
	if get_profile cxx-heap heap; then
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		for fn in heap_new heap_new_array; do
			check_eq "cxx: inuse_space under $fn is 1600 KiB" "$KIB1600" "$(top_value "$top" "$fn" 4)"
		done
		check_eq "cxx: new + delete at once is not live" 0 "$(top_value "$top" heap_new_deleted 4)"
	fi
fi
stop_run

# --- a library dlopen'ed after the load
if heap_run late heap_mix late --heap-sample-rate 1 --heap-max-overhead 0; then
	if get_profile late-heap heap; then
		top=$(pprof "$PROF" -top -unit=B -sample_index=inuse_space -nodecount=200)
		check_eq "late: inuse_space of late_alloc_hold (liblate.so, loaded later) is 1600 KiB" \
			"$KIB1600" "$(top_value "$top" late_alloc_hold 1)"
		check_eq "late: ... called from heap_late" "$KIB1600" "$(top_value "$top" heap_late 4)"
	fi
fi
stop_run

# --- 100 loads and stops while 8 threads allocate
: >"$E2E_TMP/heap_churn.log"
if start_workload heap_churn 8; then
	WL_PID=$WORKLOAD_PID
	sleep 0.5
	threads0=$(awk '/^Threads:/ { print $2 }' "/proc/$WL_PID/status")
	if out=$(timeout 120 "$TOOL" "$WL_PID" "$LIB" 4096 100 2>&1); then
		ok "rounds: 100 loads and stops at rate 4096 while 8 threads allocate"
	else
		fail "rounds: 100 loads and stops at rate 4096 while 8 threads allocate" "$out"
	fi
	diag "rounds: $(grep rounds <<<"$out")"
	rss1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$WL_PID/status")
	out=$(timeout 60 "$TOOL" "$WL_PID" "$LIB" 1 20 2>&1) &&
		ok "rounds: 20 more at rate 1" || fail "rounds: 20 more at rate 1" "$out"
	p0=$(tail -1 "$E2E_TMP/heap_churn.log" | awk '{ print $2 }')
	sleep 0.5
	p1=$(tail -1 "$E2E_TMP/heap_churn.log" | awk '{ print $2 }')
	check "rounds: the threads still allocate (no deadlock: $p0 -> $p1)" test "${p1:-0}" -gt "${p0:-0}"
	check "rounds: no block corrupted" bash -c '! grep -q CORRUPT "$1"' _ "$E2E_TMP/heap_churn.log"
	check "rounds: the target runs on" proc_alive "$WL_PID"
	check_eq "rounds: the library mapped once (one r-xp mapping)" 1 \
		"$(grep "$LIB" "/proc/$WL_PID/maps" | grep -c r-xp)"
	check_eq "rounds: no thread left behind" "$threads0" \
		"$(awk '/^Threads:/ { print $2 }' "/proc/$WL_PID/status")"
	rss2=$(awk '/^VmRSS:/ { print $2 }' "/proc/$WL_PID/status")
	check "rounds: no leak (RSS $rss1 -> $rss2 KiB over 20 rounds at rate 1)" \
		test $((rss2 - rss1)) -lt 8192
	for round in 1 2 3; do
		if start_daemon "$WL_PID" --heap-max-overhead 0; then
			for _ in $(seq 100); do
				heap_metrics 2>/dev/null | grep -q '"allocator"' && break
				sleep 0.1
			done
			check_eq "rounds: pprofd $round loads the sampler" inject "$(heap_metrics | jq -r .mode)"
			stop "$DAEMON_PID"
			check "rounds: pprofd $round puts every slot back on exit" \
				grep -q "slots 0 " <<<"$("$TOOL" "$WL_PID" "$LIB" counters)"
		fi
	done
	# kill -9 of the injector at random moments of its loads and stops
	for i in $(seq 10); do
		"$TOOL" "$WL_PID" "$LIB" 4096 1000 >/dev/null 2>&1 &
		tp=$!
		sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
		kill -KILL "$tp" 2>/dev/null
		wait "$tp" 2>/dev/null
	done
	sleep 0.5
	p0=$(tail -1 "$E2E_TMP/heap_churn.log" | awk '{ print $2 }')
	sleep 0.5
	p1=$(tail -1 "$E2E_TMP/heap_churn.log" | awk '{ print $2 }')
	check "kill -9: the target runs on after 10 injectors killed mid-call ($p0 -> $p1)" \
		test "${p1:-0}" -gt "${p0:-0}"
	check "kill -9: no block corrupted" bash -c '! grep -q CORRUPT "$1"' _ "$E2E_TMP/heap_churn.log"
	check_eq "kill -9: no tracer left on it" 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$WL_PID/status")"
	stop "$WL_PID"
else
	fail "rounds: start heap_churn"
fi

# --- kill -9 of pprofd mid-profile, in the shipped configuration (its
# heap.mode: the default)
: >"$E2E_TMP/heap_mix.log"
if start_workload heap_mix large &&
	start_daemon "$WORKLOAD_PID" --config "$E2E_REPO/config/pprofd.json" --heap-max-overhead 0; then
	WL_PID=$WORKLOAD_PID
	for _ in $(seq 100); do
		heap_metrics 2>/dev/null | grep -q '"allocator"' && break
		sleep 0.1
	done
	kill -USR1 "$WL_PID"
	sleep 0.3
	kill -KILL "$DAEMON_PID"
	for _ in $(seq 600); do
		grep -q ready "$E2E_TMP/heap_mix.log" 2>/dev/null && break
		sleep 0.1
	done
	check "kill -9: the target finished its allocations without pprofd" grep -q ready "$E2E_TMP/heap_mix.log"
	check "kill -9: the target runs on" proc_alive "$WL_PID"
	check_eq "kill -9: no tracer left on it by pprofd" 0 \
		"$(awk '/^TracerPid:/ { print $2 }' "/proc/$WL_PID/status")"
	if start_daemon "$WL_PID" --heap-max-overhead 0; then
		for _ in $(seq 100); do
			heap_metrics 2>/dev/null | grep -q '"allocator"' && break
			sleep 0.1
		done
		check_eq "kill -9: a new pprofd uses the library already loaded" inject \
			"$(heap_metrics | jq -r .mode)"
		URL=$DAEMON_URL/debug/pprof
		check_eq "kill -9: its heap profile answers" 200 "$(fetch "$URL/heap" "$E2E_TMP/after.prof")"
	fi
else
	fail "kill -9: start heap_mix and pprofd"
fi
stop_run

# --- refusals: uprobes instead, and the reason said
# refused START_WORKLOAD_ARGS... -- REASON_PATTERN
refused()
{
	local name=$1 pattern=$2 reason
	shift 2
	if start_daemon "$WL_PID"; then
		for _ in $(seq 100); do
			heap_metrics 2>/dev/null | grep -q '"allocator"' && break
			sleep 0.1
		done
		reason=$(heap_metrics | jq -r .inject_refused)
		check "$name: refused, and why ($reason)" grep -q "$pattern" <<<"$reason"
		check_eq "$name: uprobes instead" uprobe "$(heap_metrics | jq -r .mode)"
		check "$name: the log says so" grep -q "sampler cannot be loaded" "$DAEMON_LOG"
		check_eq "$name: nothing loaded into it" 0 "$(grep -c "$LIB" "/proc/$WL_PID/maps")"
		check "$name: the target runs on" proc_alive "$WL_PID"
	else
		fail "$name: start pprofd"
	fi
	stop "$DAEMON_PID"
}

if start_workload heap_static_syms; then
	WL_PID=$WORKLOAD_PID
	refused static "linked into the executable"
	stop "$WL_PID"
fi

if start_workload heap_seccomp; then
	WL_PID=$WORKLOAD_PID
	refused seccomp "seccomp"
	stop "$WL_PID"
fi

if start_workload heap_insig; then
	WL_PID=$WORKLOAD_PID
	sleep 0.2
	refused "signal handler" "signal handler"
	stop "$WL_PID"
fi

# A thread blocked inside dlopen, in a constructor that sleeps (the loader's
# lock held): a dlopen on the main thread would wait for it.  Refused, and the
# main thread never stopped for it; with a constructor of 1 s, loaded once it
# returned (the retries).
progress_of()
{
	tail -1 "$E2E_TMP/heap_ctor_block.log" | awk '/^progress/ { print $2 }'
}

: >"$E2E_TMP/heap_ctor_block.log"
if start_workload heap_ctor_block; then
	WL_PID=$WORKLOAD_PID
	for _ in $(seq 50); do
		grep -q "in ctor" "$E2E_TMP/heap_ctor_block.log" && break
		sleep 0.1
	done
	sleep 0.2
	refused "loader's lock" "frame of dlopen (libc, the loader's lock)"
	p0=$(progress_of)
	sleep 0.5
	p1=$(progress_of)
	check "loader's lock: the main thread runs on ($p0 -> $p1)" test "${p1:-0}" -gt "${p0:-0}"
	stop "$WL_PID"
fi
: >"$E2E_TMP/heap_ctor_block.log"
if CTOR_BLOCK_SECONDS=1 start_workload heap_ctor_block; then
	WL_PID=$WORKLOAD_PID
	sleep 0.2
	if out=$(timeout 30 "$TOOL" "$WL_PID" "$LIB" 4096 1 2>&1); then
		ok "loader's lock held 1 s: loaded once it was released"
	else
		fail "loader's lock held 1 s: loaded once it was released" "$out"
	fi
	check "loader's lock held 1 s: the constructor's dlopen returned" \
		grep -q '^loaded' "$E2E_TMP/heap_ctor_block.log"
	stop "$WL_PID"
fi

# --- ptrace permission: inject-tool (daemon/inject.c alone) without
# CAP_SYS_PTRACE; refused before any stop, the reason said, the target
# untouched.
# no_ptrace NAME PATTERN [SETPRIV ARGS...]: one refused load
no_ptrace()
{
	local name=$1 pattern=$2 out
	shift 2
	if out=$(timeout 30 setpriv "$@" "$TOOL" "$WL_PID" "$LIB" 4096 1 2>&1); then
		fail "$name: refused" "loaded: $out"
	else
		check "$name: refused, and why ($out)" grep -q "$pattern" <<<"$out"
	fi
	check_eq "$name: no tracer left on it" 0 "$(awk '/^TracerPid:/ { print $2 }' "/proc/$WL_PID/status")"
	check_eq "$name: nothing loaded into it" 0 "$(grep -c "$LIB" "/proc/$WL_PID/maps")"
}

NOCAP=(--inh-caps=-sys_ptrace --bounding-set=-sys_ptrace)
if ! command -v setpriv >/dev/null 2>&1; then
	skip "ptrace: refusals" "no setpriv (util-linux) to drop CAP_SYS_PTRACE"
else
	if [ -x "$WORKLOADS/heap_loop" ]; then
		# heap_loop as another user (nobody): it waits for SIGUSR1.
		setpriv --reuid=65534 --regid=65534 --clear-groups "$WORKLOADS/heap_loop" 1000 \
			>"$E2E_TMP/heap_loop.nobody.log" 2>&1 &
		WL_PID=$!
		track "$WL_PID"
		sleep 0.3
		no_ptrace "another user's process, no CAP_SYS_PTRACE" \
			"no CAP_SYS_PTRACE and the process belongs to another user" "${NOCAP[@]}"
		check "ptrace: the target runs on" proc_alive "$WL_PID"
		stop "$WL_PID"
	fi
	scope_file=/proc/sys/kernel/yama/ptrace_scope
	if [ ! -e "$scope_file" ]; then
		skip "ptrace_scope 1, 2 and 3: refused, the scope named" \
			"no Yama LSM in this kernel ($scope_file absent: lsm=$(cat /sys/kernel/security/lsm 2>/dev/null || echo '?'))"
	else
		scope0=$(cat "$scope_file")
		: >"$E2E_TMP/heap_loop.log"
		if start_workload heap_loop 1000; then
			WL_PID=$WORKLOAD_PID
			if [ "$scope0" = 3 ]; then
				no_ptrace "ptrace_scope 3 (set already)" "ptrace_scope is 3"
				skip "ptrace_scope 1 and 2" "ptrace_scope is 3 already: it cannot be lowered without a reboot"
			else
				# Scope 1 and 2 can be set back; pprofd's own target is not its child.
				for scope in 1 2; do
					if echo "$scope" >"$scope_file" 2>/dev/null; then
						no_ptrace "ptrace_scope $scope, no CAP_SYS_PTRACE" \
							"ptrace_scope is $scope" "${NOCAP[@]}"
					else
						skip "ptrace_scope $scope" "cannot write $scope_file"
					fi
				done
				echo "$scope0" >"$scope_file"
				check_eq "ptrace_scope set back to $scope0" "$scope0" "$(cat "$scope_file")"
				skip "ptrace_scope 3" "it cannot be set back without a reboot (scope is $scope0 here)"
			fi
			stop "$WL_PID"
		fi
	fi
fi

if ! command -v python3 >/dev/null 2>&1; then
	skip "tracer: refused" "no python3 to hold a tracer on it"
elif start_workload heap_mix small; then
	WL_PID=$WORKLOAD_PID
	# A tracer already there: a process that seizes it and waits.
	python3 -c '
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0x4206, int(sys.argv[1]), None, None):
    sys.exit("PTRACE_SEIZE: errno %d" % ctypes.get_errno())
print("seized", flush=True)
time.sleep(60)' "$WL_PID" >"$E2E_TMP/tracer.log" 2>&1 &
	TRACER_PID=$!
	track "$TRACER_PID"
	for _ in $(seq 50); do
		grep -q seized "$E2E_TMP/tracer.log" && break
		sleep 0.1
	done
	refused tracer "traced by process"
	stop "$TRACER_PID"
	stop "$WL_PID"
fi

done_testing
