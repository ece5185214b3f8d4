#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_block.sh - the block profile (/debug/pprof/block) on the contention
# workload:
#   waiter       waits 5 s at a time on a condition variable: ~5 s of delay
#                per wait (+-15%) on wait_for_signal, thread label "waiter";
#   holder-1/2   sleep 5 ms holding a mutex and wait for it in turn: delay in
#                pthread_mutex_lock and nanosleep, not preemption.
# Also: ?debug=1 text, ?seconds delta, Go's errors, /debug/metrics counters.

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

# Any wait that began before the window ends within 5 s: after that, every
# wait in the window is timed whole.
PROF=$E2E_TMP/block.prof
code=$(FETCH_TIMEOUT=30 fetch "$URL/block?seconds=11" "$PROF")
if [ "$code" = 200 ] && is_gzip "$PROF"; then
	ok "block?seconds=11: 200, gzip"
else
	fail "block?seconds=11: 200, gzip" "got $code"
	diag_daemon
	done_testing
fi
curl -s -D "$E2E_TMP/block.headers" -o /dev/null "$URL/block?seconds=1"
check_eq "block delta: Content-Disposition" 'attachment; filename="block-delta"' \
	"$(header "$E2E_TMP/block.headers" Content-Disposition)"
warnings=$(pprof_warnings "$PROF")
check_eq "block: go tool pprof loads it with no warnings" "" "$warnings"

raw=$(pprof "$PROF" -raw)
check_eq "block: sample types contentions/count delay/nanoseconds" \
	"contentions/count delay/nanoseconds" \
	"$(awk '/^Samples:/ { getline; print; exit }' <<<"$raw" | sed 's/\[dflt\]//g')"

# The waiter: delay per wait on wait_for_signal.
top=$(pprof_top "$PROF" -tagfocus=thread=waiter -sample_index=delay -unit=ms)
delay_ms=$(awk '$NF == "wait_for_signal" || $(NF) ~ /^wait_for_signal$/ { v = $4; sub(/ms$/, "", v); print v; exit }' <<<"$top")
count=$(pprof_top "$PROF" -tagfocus=thread=waiter -sample_index=contentions |
	awk '$NF == "wait_for_signal" { print $4; exit }')
diag "waiter: wait_for_signal cum delay ${delay_ms:-?} ms over ${count:-?} waits"
per_wait=$(awk -v d="${delay_ms:-0}" -v c="${count:-0}" 'BEGIN { printf "%.0f", c ? d / c : 0 }')
if within "$per_wait" 5000 750; then
	ok "waiter: ${per_wait} ms per wait on wait_for_signal (want 5000 +-15%)"
else
	fail "waiter: ${per_wait} ms per wait on wait_for_signal (want 5000 +-15%)" "$top"
fi

# The holders wait for the mutex and sleep while holding it.
all=$(pprof_top "$PROF" -sample_index=delay)
for fn in hold_lock ___pthread_mutex_lock __nanosleep; do
	c=$(cum_pct "$all" "$fn")
	if awk -v c="$c" 'BEGIN { exit !(c > 10) }'; then
		ok "holders: $fn has $c% of the delay"
	else
		fail "holders: $fn has $c% of the delay (want > 10)" "$all"
	fi
done
c=$(cum_pct "$all" "hold_lock")
if awk -v c="$c" 'BEGIN { exit !(c < 100) }' && [ "$(cum_pct "$all" little_work)" = 0.00 ]; then
	ok "running code (little_work) has no blocking delay"
else
	fail "running code (little_work) has no blocking delay" "$all"
fi

# Text and errors.
text=$(curl -s "$URL/block?debug=1")
if grep -q '^--- contention:' <<<"$text" && grep -q '^cycles/second=' <<<"$text" &&
	grep -qE '^#.*wait_for_signal' <<<"$text"; then
	ok "block?debug=1: Go's contention text with frames"
else
	fail "block?debug=1: Go's contention text with frames" "$(head -20 <<<"$text")"
fi
check_eq "block?seconds=0: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/block?seconds=0")"
check_eq "block?seconds=1&debug=1: 400" 400 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$URL/block?seconds=1&debug=1")"
check_eq "block?seconds=1&debug=1: Go's message" "seconds and debug params are incompatible" \
	"$(curl -s "$URL/block?seconds=1&debug=1")"

# On demand (tests/e2e/test_ondemand.sh): collected during the windows only.
m=$(curl -s "$DAEMON_URL/debug/metrics")
if jq -e '.collectors[] | select(.name == "block") | (.running | not) and .waits_recorded > 0' \
	<<<"$m" >/dev/null; then
	ok "/debug/metrics: block collector idle between requests, waits recorded"
else
	fail "/debug/metrics: block collector idle between requests, waits recorded" "$m"
fi
check_daemon_alive "the block profiles"
done_testing
