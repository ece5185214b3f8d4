#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_threads.sh - the goroutine and threadcreate profiles of idle_threads
# (six threads idle-1..idle-6 asleep in idle_wait(), the main thread asleep,
# one more thread "idle-late" created on SIGUSR1, inside a ?seconds window):
#   goroutine       counts the 7 threads, 6 of them at idle_wait (go tool
#                   pprof), thread/tid labels; ?debug=1 "goroutine profile:
#                   total 7" with "6 @"; ?debug=2 one "thread TID [S, idle-N]:"
#                   block per thread with idle_wait and file:line;
#                   /debug/pprof/threads is the same profile; the index page
#                   links the full dump; no target thread switches context
#                   during the dumps (none is stopped or woken);
#   ?seconds=N      a delta across the late thread's creation: +1 at idle_wait
#                   for idle-late, net total +1;
#   threadcreate    empty before, then spawn_late_thread (which created it);
#                   the dump then says "created by spawn_late_thread in thread
#                   PID" under idle-late's stack.
# pprof must print nothing on stderr for any of these profiles.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon


# loads FILE WHAT: go tool pprof loads it with no warnings.
loads()
{
	local warnings
	if ! warnings=$(pprof_warnings "$1"); then
		fail "$2: go tool pprof loads it" "$warnings"
		return 1
	fi
	if [ -z "$warnings" ]; then
		ok "$2: go tool pprof loads it with no warnings"
	else
		fail "$2: go tool pprof loads it with no warnings" "$warnings"
	fi
}

# cum TOP_OUTPUT NAME: the cum value of the function NAME in a -top report.
cum()
{
	awk -v name="$2" '$6 == name { print $4; found = 1; exit } END { if (!found) print 0 }' <<<"$1"
}

# raw_count_stats RAW_OUTPUT: from `go tool pprof -raw` of a one-value
# profile, prints "SAMPLES VALUE_SUM WITHOUT_THREAD WITHOUT_TID PERIOD".
raw_count_stats()
{
	awk '
		/^Period: / { period = $2 }
		/^Samples:/ { in_samples = 1; getline; next }
		/^Locations/ { in_samples = 0 }
		!in_samples { next }
		/^ *-?[0-9]+: / {
			finish(); n++; v = $1; sub(/:$/, "", v); sum += v
			has_thread = has_tid = 0; next
		}
		/thread:\[/ { has_thread = 1 }
		/tid:\[/ { has_tid = 1 }
		function finish() { if (n) { no_thread += !has_thread; no_tid += !has_tid } }
		END { finish(); printf "%d %d %d %d %d\n", n, sum, no_thread, no_tid, period }' <<<"$1"
}

threads_of()
{
	find "/proc/$1/task" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# idle-late comes when we say (SIGUSR1), not after a time the daemon's start
# may or may not have taken.
start_workload idle_threads usr1 || fail "start idle_threads"
pid=$WORKLOAD_PID
for _ in $(seq 100); do
	grep -q ready "$E2E_TMP/idle_threads.log" 2>/dev/null && break
	sleep 0.05
done
if ! start_daemon "$pid"; then
	fail "start pprofd --pid $pid"
	done_testing
fi
URL=$DAEMON_URL/debug/pprof

# switches PID: context switches of all its threads so far.
switches()
{
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s }'
}

# Everything of the snapshot first (fast), while there are 7 threads.
switches0=$(switches "$pid")
code_d1=$(fetch "$URL/goroutine?debug=1" "$E2E_TMP/g1.txt")
code_d2=$(fetch "$URL/goroutine?debug=2" "$E2E_TMP/g2.txt")
code_pb=$(fetch "$URL/goroutine" "$E2E_TMP/g.prof")
code_th=$(fetch "$URL/threads" "$E2E_TMP/t.prof")
code_tc0=$(fetch "$URL/threadcreate?debug=1" "$E2E_TMP/tc0.txt")
code_index=$(fetch "$URL/" "$E2E_TMP/index.html")
switches1=$(switches "$pid")
nthreads=$(threads_of "$pid")
check_eq "the snapshot has the 7 threads (idle-late comes on SIGUSR1)" 7 "$nthreads"

# A thread stopped (signal, ptrace) or woken for a dump would switch context.
check_eq "4 goroutine dumps stop or wake no thread of the target (context switches)" \
	"$switches0" "$switches1"

# The delta: a window opened now, with the late thread created inside it:
# SIGUSR1 once the daemon holds the window's first snapshot (the request is
# counted in /debug/metrics only after it took it).
window=3
DELTA=$E2E_TMP/delta.prof
curl -sS --max-time $((window + 30)) -o "$DELTA" -w '%{http_code}' \
	"$URL/goroutine?seconds=$window" >"$DELTA.code" 2>"$DELTA.curl-err" &
delta_curl=$!
track "$delta_curl"
opened=
for _ in $(seq 100); do
	if [ "$(curl -s --max-time 2 "$DAEMON_URL/debug/metrics" |
		jq '.collectors[] | select(.name == "goroutine") | .requests')" -ge 1 ] 2>/dev/null; then
		opened=$EPOCHREALTIME
		break
	fi
	sleep 0.02
done
[ -n "$opened" ] || fail "goroutine?seconds=$window: /debug/metrics counts the request"
opened=${opened:-$EPOCHREALTIME}
kill -USR1 "$pid"
diag "goroutine?seconds=$window: idle-late asked for $(awk -v a="$opened" -v b="$EPOCHREALTIME" \
	'BEGIN { printf "%.0f", (b - a) * 1000 }') ms after the window was open"

# ------------------------------------------------------------ ?debug=1
check_eq "goroutine?debug=1 is 200" 200 "$code_d1"
check_eq "goroutine?debug=1: total" "goroutine profile: total 7" "$(head -1 "$E2E_TMP/g1.txt")"
# The record of the six idle threads: "6 @ ..." followed by its frames.
if awk '/^6 @/ { rec = 1; next } /^$/ { rec = 0 } rec && /idle_wait/ { found = 1 }
	END { exit !found }' "$E2E_TMP/g1.txt"; then
	ok "goroutine?debug=1: one record of 6 threads at idle_wait"
else
	fail "goroutine?debug=1: one record of 6 threads at idle_wait" "$(head -40 "$E2E_TMP/g1.txt")"
fi

# ------------------------------------------------------------ ?debug=2
check_eq "goroutine?debug=2 is 200" 200 "$code_d2"
blocks=$(grep -c '^thread [0-9]* \[' "$E2E_TMP/g2.txt")
check_eq "goroutine?debug=2: one block per thread" 7 "$blocks"
for n in 1 2 3 4 5 6; do
	tid=
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "idle-$n" ] && tid=${t##*/}
	done
	# The block of this thread: its header to the blank line.
	block=$(awk -v h="thread $tid [S, idle-$n]:" '$0 == h { on = 1 } on && /^$/ { exit } on' \
		"$E2E_TMP/g2.txt")
	if [ -n "$tid" ] && grep -q '^idle_wait(' <<<"$block" &&
		grep -Eq '^	.*idle_threads\.c:[0-9]+ \+0x[0-9a-f]+$' <<<"$block"; then
		ok "goroutine?debug=2: thread $tid [S, idle-$n] at idle_wait with file:line"
	else
		fail "goroutine?debug=2: thread ${tid:-?} [S, idle-$n] at idle_wait with file:line" \
			"${block:-no block \"thread $tid [S, idle-$n]:\"}" "$(head -30 "$E2E_TMP/g2.txt")"
	fi
done
main_block=$(awk -v h="thread $pid [S, idle_threads]:" '$0 == h { on = 1 } on && /^$/ { exit } on' \
	"$E2E_TMP/g2.txt")
if grep -q '^main(' <<<"$main_block"; then
	ok "goroutine?debug=2: the main thread $pid [S, idle_threads] reaches main"
else
	fail "goroutine?debug=2: the main thread $pid [S, idle_threads] reaches main" \
		"${main_block:-no block for $pid}"
fi

# ------------------------------------------------------------ protobuf
check_eq "goroutine is 200" 200 "$code_pb"
if loads "$E2E_TMP/g.prof" goroutine; then
	top=$(pprof_top "$E2E_TMP/g.prof")
	check_eq "goroutine: 6 threads at idle_wait (cum)" 6 "$(cum "$top" idle_wait)"
	check_eq "goroutine: 1 thread at main (cum)" 1 "$(cum "$top" main)"
	raw=$(pprof "$E2E_TMP/g.prof" -raw)
	read -r n count no_thread no_tid period <<<"$(raw_count_stats "$raw")"
	check_eq "goroutine: 7 samples of count 1" "7 7" "$n $count"
	check_eq "goroutine: thread and tid labels on every sample" "0 0" "$no_thread $no_tid"
	check_eq "goroutine: period 1" 1 "$period"
	check "goroutine: sample type goroutine/count" grep -q '^goroutine/count' <<<"$raw"
	check "goroutine: period type goroutine count" grep -q '^PeriodType: goroutine count' <<<"$raw"
fi
check_eq "threads is 200" 200 "$code_th"
if loads "$E2E_TMP/t.prof" threads; then
	traces() { pprof "$1" -traces -symbolize=none | grep -v '^Time:'; }
	if diff <(traces "$E2E_TMP/g.prof") <(traces "$E2E_TMP/t.prof") >"$E2E_TMP/threads.diff"; then
		ok "/debug/pprof/threads is the goroutine profile"
	else
		fail "/debug/pprof/threads is the goroutine profile" "$(head -20 "$E2E_TMP/threads.diff")"
	fi
fi
check "index page links goroutine?debug=2" \
	grep -q "href='goroutine?debug=2'>full goroutine stack dump" "$E2E_TMP/index.html"
check_eq "index page is 200" 200 "$code_index"

# ------------------------------------------------------------ threadcreate
check_eq "threadcreate?debug=1 is 200" 200 "$code_tc0"
check_eq "threadcreate before the late thread: total 0" "threadcreate profile: total 0" \
	"$(head -1 "$E2E_TMP/tc0.txt")"

# ------------------------------------------------------------ ?seconds=N
if true; then
	wait "$delta_curl"
	code=$(cat "$DELTA.code")
	check_eq "goroutine?seconds=$window is 200" 200 "$code"
	if [ "$code" = 200 ] && loads "$DELTA" "goroutine?seconds=$window"; then
		raw=$(pprof "$DELTA" -raw)
		read -r _ count _ _ _ <<<"$(raw_count_stats "$raw")"
		check_eq "delta: net one thread more" 1 "$count"
		top=$(pprof_top "$DELTA")
		check_eq "delta: +1 at idle_wait" 1 "$(cum "$top" idle_wait)"
		check "delta: the new thread is idle-late" grep -q 'thread:\[idle-late\]' <<<"$raw"
	fi
fi

# After the late thread: threadcreate has its creator, goroutine counts 8.
for _ in $(seq 50); do
	[ "$(threads_of "$pid")" -ge 8 ] && break
	sleep 0.1
done
code=$(fetch "$URL/threadcreate?debug=1" "$E2E_TMP/tc1.txt")
check_eq "threadcreate?debug=1 is 200" 200 "$code"
check_eq "threadcreate after the late thread: total 1" "threadcreate profile: total 1" \
	"$(head -1 "$E2E_TMP/tc1.txt")"
check "threadcreate?debug=1: created by spawn_late_thread (file:line)" \
	grep -Eq 'spawn_late_thread\+0x[0-9a-f]+	.*idle_threads\.c:[0-9]+' "$E2E_TMP/tc1.txt"
code=$(fetch "$URL/threadcreate" "$E2E_TMP/tc.prof")
check_eq "threadcreate is 200" 200 "$code"
if loads "$E2E_TMP/tc.prof" threadcreate; then
	traces=$(pprof "$E2E_TMP/tc.prof" -traces)
	if grep -q 'spawn_late_thread' <<<"$traces" && grep -q 'pthread_create' <<<"$traces" &&
		grep -Eq '^ +main$' <<<"$traces"; then
		ok "threadcreate: main -> spawn_late_thread -> pthread_create"
	else
		fail "threadcreate: main -> spawn_late_thread -> pthread_create" "$traces"
	fi
	check "threadcreate: sample type threadcreate/count" \
		grep -q '^threadcreate/count' <<<"$(pprof "$E2E_TMP/tc.prof" -raw)"
fi
code=$(fetch "$URL/goroutine?debug=1" "$E2E_TMP/g8.txt")
check_eq "goroutine after the late thread: total 8" "goroutine profile: total 8" \
	"$(head -1 "$E2E_TMP/g8.txt")"
code=$(fetch "$URL/goroutine?debug=2" "$E2E_TMP/g8-2.txt")
late_block=$(awk '/^thread [0-9]+ \[S, idle-late\]:$/ { on = 1 } on && /^$/ { exit } on' \
	"$E2E_TMP/g8-2.txt")
if grep -q "^created by spawn_late_thread in thread $pid\$" <<<"$late_block" &&
	grep -Eq '^	.*idle_threads\.c:[0-9]+ \+0x[0-9a-f]+$' <<<"$(grep -A1 '^created by' <<<"$late_block")"; then
	ok "goroutine?debug=2: idle-late created by spawn_late_thread in thread $pid (file:line)"
else
	fail "goroutine?debug=2: idle-late created by spawn_late_thread in thread $pid (file:line)" \
		"${late_block:-no idle-late block}"
fi

check_daemon_alive "the thread profiles"
proc_alive "$pid" && ok "idle_threads still running" || fail "idle_threads still running"
done_testing
