#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mutex.sh - the mutex profile (/debug/pprof/mutex) on the contention
# workload: holder-1 and holder-2 take one mutex in turn and keep it ~5 ms.
# Each waiter's delay is charged, as in Go, to the stack that RELEASED the
# lock: hold_lock -> pthread_mutex_unlock, labelled with the holder thread.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

start_workload contention || fail "start contention"
pid=$WORKLOAD_PID
if ! start_daemon "$pid"; then
	fail "start pprofd --pid $pid"
	done_testing
fi
URL=$DAEMON_URL/debug/pprof

PROF=$E2E_TMP/mutex.prof
code=$(FETCH_TIMEOUT=30 fetch "$URL/mutex?seconds=5" "$PROF")
if [ "$code" = 200 ] && is_gzip "$PROF"; then
	ok "mutex?seconds=5: 200, gzip"
else
	fail "mutex?seconds=5: 200, gzip" "got $code"
	diag_daemon
	done_testing
fi
check_eq "mutex: go tool pprof loads it with no warnings" "" "$(pprof_warnings "$PROF")"

traces=$(pprof "$PROF" -traces)
delay=$(pprof_top "$PROF" -sample_index=delay -unit=ms)
count=$(pprof_top "$PROF" -sample_index=contentions)
unlock=$(cum_pct "$delay" '.*pthread_mutex_unlock.*')
hold=$(cum_pct "$delay" hold_lock)
diag "delay: pthread_mutex_unlock* cum $unlock%, hold_lock cum $hold%"
if within "$hold" 100 5 && awk -v u="$unlock" 'BEGIN { exit !(u >= 95) }'; then
	ok "delay is charged to the releaser: hold_lock -> pthread_mutex_unlock ($hold%)"
else
	fail "delay is charged to the releaser: hold_lock -> pthread_mutex_unlock" "$delay"
fi
if [ "$(cum_pct "$delay" '.*pthread_mutex_lock.*')" = 0.00 ]; then
	ok "no delay on the waiters' pthread_mutex_lock stacks"
else
	fail "no delay on the waiters' pthread_mutex_lock stacks" "$delay"
fi
# glibc's mutex is not fair: on a busy machine one holder may re-take the
# lock every time, and then all the delay is its own.  Labels name holders.
if grep -qE 'thread:  holder-[12]' <<<"$traces" && ! grep -qE 'thread:  (waiter|contention)$' <<<"$traces"; then
	ok "delay labelled with the holder threads"
else
	fail "delay labelled with the holder threads" "$traces"
fi

# ~5 ms per contention: one holder sleeps 5 ms while the other waits
# (longer when the machine is busy: the sleep overshoots).
total_ms=$(awk '/^Showing nodes/ { for (i = 1; i <= NF; i++) if ($i == "of") { v = $(i + 1); sub(/ms$/, "", v); print v; exit } }' <<<"$delay")
n=$(awk '/^Showing nodes/ { for (i = 1; i <= NF; i++) if ($i == "of") { print $(i + 1); exit } }' <<<"$count")
per=$(awk -v t="${total_ms:-0}" -v n="${n:-0}" 'BEGIN { printf "%.1f", n ? t / n : 0 }')
diag "$n contentions, $total_ms ms of delay: $per ms each"
if awk -v p="$per" -v n="${n:-0}" 'BEGIN { exit !(n >= 100 && p >= 3 && p <= 25) }'; then
	ok "$n contentions of ~5 ms ($per ms each)"
else
	fail "$n contentions of ~5 ms ($per ms each; want >= 100 of 3..25 ms)"
fi

text=$(curl -s "$URL/mutex?debug=1")
if grep -q '^--- mutex:' <<<"$text" && grep -qE '^#.*hold_lock' <<<"$text"; then
	ok "mutex?debug=1: Go's text with frames"
else
	fail "mutex?debug=1: Go's text with frames" "$(head -20 <<<"$text")"
fi
check_daemon_alive "the mutex profiles"
done_testing
