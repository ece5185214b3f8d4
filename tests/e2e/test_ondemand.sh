#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_ondemand.sh - nothing per system call while nobody asks.  The block
# collector takes a sampled wait's user stack only while a request collects:
# at rseq_update (the return to user mode after a switch) for threads with
# rseq, and, once a thread without rseq waited, at the exits of the blocking
# system calls, on the syscalls:* tracepoints where tracefs is mounted, on
# the raw sys_exit where it is not.  The mutex collector, which reads futex
# waits and wakes from the scheduler, attaches sched_switch/sched_waking
# only while a request collects.  block.always_on / mutex.always_on keep
# them on from attach (Go's cumulative profiles).  On the contention
# workload (waiter: 5 s waits on a condition variable; holder-1/2: a mutex
# held 5 ms in turn).
#
# Which programs the daemon has attached is read independently of its own
# /debug/metrics: the BPF links among its open files (/proc/PID/fdinfo) and
# the names of their programs (bpftool).

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
need bpftool jq unshare || { fail "tools for this test"; done_testing; }

# attached_programs PID: the names of the BPF programs that PID's links
# attach, sorted, one a line.
attached_programs()
{
	local f id
	for f in /proc/"$1"/fdinfo/*; do
		grep -q '^link_type:' "$f" 2>/dev/null || continue
		id=$(awk '$1 == "prog_id:" { print $2 }' "$f")
		[ -n "$id" ] && bpftool prog show id "$id" -j 2>/dev/null | jq -r '.name // empty'
	done | sort
}

# count_of NAME LIST: how many lines of LIST are NAME.
count_of()
{
	grep -cx "$1" <<<"$2"
}

metric()
{
	curl -s "$DAEMON_URL/debug/metrics" | jq -r ".collectors[] | select(.name == \"$1\") | .$2"
}

# wait_running NAME...: until each collector runs (a request reached it), up to 10 s.
wait_running()
{
	local c
	for _ in $(seq 100); do
		for c in "$@"; do
			[ "$(metric "$c" running)" = true ] || continue 2
		done
		return 0
	done
	return 1
}

# collect_both SECONDS NAME: block and mutex profiles of SECONDS in the
# background (into NAME-block.prof, NAME-mutex.prof; the status codes in
# .code files), until both collectors run; COLLECTING holds the curl PIDs.
collect_both()
{
	local p
	COLLECTING=
	for p in block mutex; do
		FETCH_TIMEOUT=30 fetch "$URL/$p?seconds=$1" "$E2E_TMP/$2-$p.prof" \
			>"$E2E_TMP/$2-$p.code" &
		COLLECTING="$COLLECTING $!"
	done
	wait_running block mutex || diag "block and mutex did not start running within 10 s"
}

start_workload contention || fail "start contention"
pid=$WORKLOAD_PID

# ---------------------------------------------------------------- syscall tracepoints
if ! start_daemon "$pid"; then
	fail "start pprofd --pid $pid"
	done_testing
fi
URL=$DAEMON_URL/debug/pprof
sleep 1 # start-up steps done

progs=$(attached_programs "$DAEMON_PID")
diag "at rest: $(tr '\n' ' ' <<<"$progs")"
check_eq "at rest: sched_switch attached" 1 "$(count_of on_switch "$progs")"
check_eq "at rest: no system call program attached" 0 \
	"$(grep -cE '^on_(sys_|syscall_|futex_)' <<<"$progs")"
check_eq "at rest: no wakeup program (only while tracing)" 0 "$(count_of on_wakeup "$progs")"
check_eq "at rest: no waking program (only while mutex collects)" 0 "$(count_of on_waking "$progs")"
check_eq "at rest: block not running" false "$(metric block running)"
check_eq "at rest: mutex not running" false "$(metric mutex running)"
check_eq "at rest: block reason" "runs only while a profile is requested" "$(metric block reason)"
how=$(metric block syscall_probes)
if [[ $how == "syscall tracepoints"* ]]; then
	ok "block probes: $how"
else
	fail "block probes: syscall tracepoints (pprofd mounts tracefs)" "$how"
fi

# Both collecting: glibc registers rseq for every thread, so no system call
# program at all, even after the waits.
collect_both 8 tp
sleep 1
progs=$(attached_programs "$DAEMON_PID")
diag "collecting: $(tr '\n' ' ' <<<"$progs")"
check_eq "collecting: block on rseq_update" "1 true" \
	"$(count_of on_rseq_update "$progs") $(metric block rseq_probe_attached)"
check_eq "collecting: no syscall exit probe for threads with rseq" "0 0" \
	"$(count_of on_syscall_exit "$progs") $(metric block syscall_probes_attached)"
check_eq "collecting: mutex on sched_waking" 1 "$(count_of on_waking "$progs")"
check_eq "collecting: mutex's sched_switch beside block's" 2 "$(count_of on_switch "$progs")"
check_eq "collecting: no raw sys_enter/sys_exit, no sys_enter_*" 0 \
	"$(grep -cE '^on_sys_(enter|exit)$|^on_futex' <<<"$progs")"
check_eq "collecting: block running" true "$(metric block running)"
# shellcheck disable=SC2086 # PIDs
wait $COLLECTING
check_eq "block?seconds=8: 200" 200 "$(cat "$E2E_TMP/tp-block.code")"
check_eq "mutex?seconds=8: 200" 200 "$(cat "$E2E_TMP/tp-mutex.code")"
sleep 0.5
progs=$(attached_programs "$DAEMON_PID")
check_eq "after the windows: no system call program attached" 0 \
	"$(grep -cE '^on_(sys_|syscall_|futex_)' <<<"$progs")"
check_eq "after the windows: sched_switch alone again, no waking, no rseq_update" "1 0 0" \
	"$(count_of on_switch "$progs") $(count_of on_waking "$progs") $(count_of on_rseq_update "$progs")"
# Sent at the next switch-out instead: only a wait whose thread left the CPU
# again before it returned to user mode.
nostack=$(metric block waits_without_syscall_exit)
recorded=$(metric block waits_recorded)
if [ "${recorded:-0}" -gt 0 ] && [ $((nostack * 100)) -le "$recorded" ]; then
	ok "with rseq: $nostack of $recorded waits without their user stack (<= 1%)"
else
	fail "with rseq: at most 1% of the waits without their user stack" "$nostack of $recorded"
fi
check_eq "after the windows: block not running" false "$(metric block running)"

# The holders' mutex hand-offs are seen in the window (~100 a second).
n=$(pprof_top "$E2E_TMP/tp-mutex.prof" -sample_index=contentions | awk '$NF == "hold_lock" { print $4; exit }')
if [ "${n:-0}" -ge 50 ]; then
	ok "mutex window: $n contentions charged to hold_lock"
else
	fail "mutex window: >= 50 contentions charged to hold_lock" "$(pprof_top "$E2E_TMP/tp-mutex.prof")"
fi

# No ?seconds=: a window of profile.on_demand_seconds (5), said in the comment.
t0=$EPOCHREALTIME
code=$(FETCH_TIMEOUT=30 fetch "$URL/block" "$E2E_TMP/block-default.prof")
t1=$EPOCHREALTIME
check_eq "block (no seconds): 200" 200 "$code"
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
if awk -v s="$secs" 'BEGIN { exit !(s >= 4.9 && s < 15) }'; then
	ok "block (no seconds): answered after the ${secs} s window"
else
	fail "block (no seconds): answered after a 5 s window" "took $secs s"
fi
raw=$(pprof_top "$E2E_TMP/block-default.prof")
if grep -q "Collected during the request's window only (block.always_on is off)" <<<"$raw"; then
	ok "block (no seconds): the comment says it is a window"
else
	fail "block (no seconds): the comment says it is a window" "$(head -5 <<<"$raw")"
fi
# A wait that ends in the window counts whole, as in Go, even begun before
# it: the waiter's waits are 5 s each.
top=$(pprof_top "$E2E_TMP/block-default.prof" -tagfocus=thread=waiter -sample_index=delay -unit=ms)
ms=$(awk '$NF == "wait_for_signal" { v = $4; sub(/ms$/, "", v); print v; exit }' <<<"$top")
n=$(pprof_top "$E2E_TMP/block-default.prof" -tagfocus=thread=waiter -sample_index=contentions |
	awk '$NF == "wait_for_signal" { print $4; exit }')
per=$(awk -v d="${ms:-0}" -v c="${n:-0}" 'BEGIN { printf "%.0f", c ? d / c : 0 }')
if within "$per" 5000 750; then
	ok "block (no seconds): the waiter's wait counts whole: $per ms a wait ($n in the window)"
else
	fail "block (no seconds): the waiter's wait counts whole (5000 ms +-15% a wait)" \
		"${ms:-none} ms over ${n:-none} waits" "$top"
fi
text=$(curl -s --max-time 30 "$URL/mutex?debug=1")
if grep -q '^--- mutex:' <<<"$text" && grep -qE '^#.*hold_lock' <<<"$text"; then
	ok "mutex?debug=1 (no seconds): Go's text of a window"
else
	fail "mutex?debug=1 (no seconds): Go's text of a window" "$(head -10 <<<"$text")"
fi
check_daemon_alive "on-demand profiles"
stop "$DAEMON_PID"

# ---------------------------------------------------------------- always on
conf=$E2E_TMP/always.json
printf '{ "block": { "always_on": true }, "mutex": { "always_on": true } }\n' >"$conf"
if start_daemon "$pid" --config "$conf"; then
	URL=$DAEMON_URL/debug/pprof
	sleep 1
	progs=$(attached_programs "$DAEMON_PID")
	check_eq "always_on: block running from attach" true "$(metric block running)"
	check_eq "always_on: mutex running from attach" true "$(metric mutex running)"
	if [ "$(count_of on_rseq_update "$progs")" = 1 ] && [ "$(count_of on_waking "$progs")" = 1 ]; then
		ok "always_on: block's rseq_update and mutex's sched_waking attached from attach"
	else
		fail "always_on: system call tracepoints attached from attach" "$(tr '\n' ' ' <<<"$progs")"
	fi
	sleep 5.5 # waits begun before the attach have ended
	t0=$EPOCHREALTIME
	code=$(FETCH_TIMEOUT=30 fetch "$URL/block" "$E2E_TMP/block-cum.prof")
	t1=$EPOCHREALTIME
	check_eq "always_on: block (no seconds): 200" 200 "$code"
	if awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 3) }'; then
		ok "always_on: block (no seconds) is the cumulative profile, answered at once"
	else
		fail "always_on: block (no seconds) answered at once" "from $t0 to $t1"
	fi
	if ! pprof_top "$E2E_TMP/block-cum.prof" | grep -q "Collected during the request's window"; then
		ok "always_on: no window comment"
	else
		fail "always_on: no window comment"
	fi
	stop "$DAEMON_PID"
else
	fail "start pprofd --config $conf"
fi

# ---------------------------------------------------------------- no rseq
# Threads without rseq (Go's; here glibc told not to register it): the
# exits of the blocking system calls, attached after the first such wait.
GLIBC_TUNABLES=glibc.pthread.rseq=0 start_workload contention || fail "start contention without rseq"
pid=$WORKLOAD_PID
if start_daemon "$pid"; then
	URL=$DAEMON_URL/debug/pprof
	sleep 1
	collect_both 8 norseq
	for _ in $(seq 50); do
		[ "$(metric block syscall_probes_attached)" -gt 0 ] 2>/dev/null && break
		sleep 0.1
	done
	progs=$(attached_programs "$DAEMON_PID")
	exits=$(count_of on_syscall_exit "$progs")
	diag "no rseq, collecting: $exits syscall exit tracepoints, $(tr '\n' ' ' <<<"$progs" | sed 's/on_syscall_exit //g')"
	if [ "$exits" -ge 10 ] && [ "$exits" = "$(metric block syscall_probes_attached)" ]; then
		ok "no rseq: block on $exits syscalls:sys_exit_* tracepoints (as /debug/metrics says)"
	else
		fail "no rseq: block on >= 10 syscalls:sys_exit_* tracepoints" \
			"$exits attached; metrics say $(metric block syscall_probes_attached)"
	fi
	# shellcheck disable=SC2086 # PIDs
	wait $COLLECTING
	check_eq "no rseq: block?seconds=8: 200" 200 "$(cat "$E2E_TMP/norseq-block.code")"
	all=$(pprof_top "$E2E_TMP/norseq-block.prof" -sample_index=delay)
	for fn in ___pthread_mutex_lock __nanosleep; do
		c=$(cum_pct "$all" "$fn")
		if awk -v c="$c" 'BEGIN { exit !(c > 10) }'; then
			ok "no rseq: $fn has $c% of the delay (user stacks from the syscall exits)"
		else
			fail "no rseq: $fn has $c% of the delay (want > 10)" "$all"
		fi
	done
	sleep 0.5
	check_eq "no rseq, after the window: no system call program attached" 0 \
		"$(grep -cE '^on_(sys_|syscall_|futex_)' <<<"$(attached_programs "$DAEMON_PID")")"
	stop "$DAEMON_PID"
else
	fail "start pprofd --pid $pid (no rseq)"
fi

# ---------------------------------------------------------------- no tracefs
# A host without tracefs, where pprofd may not mount it: a mount namespace
# of its own with tracefs (and debugfs) unmounted, probes.mount_tracefs off;
# the target without rseq, so that its waits need the raw sys_exit.
conf=$E2E_TMP/nomount.json
printf '{ "probes": { "mount_tracefs": false } }\n' >"$conf"
wrapper=$E2E_TMP/pprofd-no-tracefs
cat >"$wrapper" <<EOF
#!/bin/sh
umount /sys/kernel/tracing 2>/dev/null
umount /sys/kernel/debug/tracing 2>/dev/null
umount /sys/kernel/debug 2>/dev/null
[ -e /sys/kernel/tracing/events/syscalls ] && { echo "tracefs still there" >&2; exit 99; }
exec "$PPROFD" "\$@"
EOF
chmod +x "$wrapper"
real_pprofd=$PPROFD
# start_daemon runs "$PPROFD" as one word: a script that does all.
cat >"$E2E_TMP/pprofd-ns" <<EOF
#!/bin/sh
exec unshare -m --propagation private "$wrapper" "\$@"
EOF
chmod +x "$E2E_TMP/pprofd-ns"
PPROFD=$E2E_TMP/pprofd-ns
if start_daemon "$pid" --config "$conf"; then
	PPROFD=$real_pprofd
	URL=$DAEMON_URL/debug/pprof
	sleep 1
	how=$(metric block syscall_probes)
	if [[ $how == "raw sys_exit"* ]] && [[ $how == *"mount_tracefs is off"* ]]; then
		ok "no tracefs: falls back, and /debug/metrics says why: $how"
	else
		fail "no tracefs: /debug/metrics says raw sys_exit and why" "$how"
	fi
	if grep -q "system call probes: raw sys_exit" "$DAEMON_LOG"; then
		ok "no tracefs: the log says so"
	else
		fail "no tracefs: the log says so" "$(tail -5 "$DAEMON_LOG")"
	fi
	progs=$(attached_programs "$DAEMON_PID")
	check_eq "no tracefs, at rest: no system call program attached" 0 \
		"$(grep -cE '^on_(sys_|syscall_|futex_)' <<<"$progs")"
	collect_both 6 raw
	for _ in $(seq 50); do
		[ "$(metric block syscall_probes_attached)" -gt 0 ] 2>/dev/null && break
		sleep 0.1
	done
	progs=$(attached_programs "$DAEMON_PID")
	diag "no tracefs, collecting: $(tr '\n' ' ' <<<"$progs")"
	check_eq "no tracefs, collecting: raw sys_exit (block)" 1 "$(count_of on_sys_exit "$progs")"
	check_eq "no tracefs, collecting: no raw sys_enter" 0 "$(count_of on_sys_enter "$progs")"
	# shellcheck disable=SC2086 # PIDs
	wait $COLLECTING
	check_eq "no tracefs: block?seconds=6: 200" 200 "$(cat "$E2E_TMP/raw-block.code")"
	check_eq "no tracefs: mutex?seconds=6: 200" 200 "$(cat "$E2E_TMP/raw-mutex.code")"
	# 1 or 2 of the waiter's 5 s waits end in 6 s, each whole (the first
	# one since the attach counts from it): at most 5.75 s a wait.
	ms=$(pprof_top "$E2E_TMP/raw-block.prof" -tagfocus=thread=waiter -sample_index=delay -unit=ms |
		awk '$NF == "wait_for_signal" { v = $4; sub(/ms$/, "", v); print v; exit }')
	n=$(pprof_top "$E2E_TMP/raw-block.prof" -tagfocus=thread=waiter -sample_index=contentions |
		awk '$NF == "wait_for_signal" { print $4; exit }')
	if awk -v v="${ms:-0}" -v n="${n:-0}" 'BEGIN { exit !(n >= 1 && v >= 1000 && v <= n * 5750) }'; then
		ok "no tracefs: the waiter's waits in the block profile (${ms} ms over $n)"
	else
		fail "no tracefs: the waiter's waits in the block profile (>= 1000 ms, <= 5750 ms each)" \
			"${ms:-none} ms over ${n:-none}"
	fi
	n=$(pprof_top "$E2E_TMP/raw-mutex.prof" -sample_index=contentions | awk '$NF == "hold_lock" { print $4; exit }')
	if [ "${n:-0}" -ge 50 ]; then
		ok "no tracefs: $n contentions charged to hold_lock"
	else
		fail "no tracefs: >= 50 contentions charged to hold_lock" "$(pprof_top "$E2E_TMP/raw-mutex.prof")"
	fi
	check_daemon_alive "the raw path"
	stop "$DAEMON_PID"
else
	PPROFD=$real_pprofd
	fail "start pprofd in a mount namespace without tracefs"
fi
done_testing
