#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_block.sh - the block profile (/debug/pprof/block) on the contention
# workload:
#   waiter       waits 5 s at a time on a condition variable: ~5 s of delay
#                per wait (+-15%) on wait_for_signal, thread label "waiter";
#   holder-1/2   sleep 5 ms holding a mutex and wait for it in turn: delay in
#                pthread_mutex_lock and nanosleep, not preemption.
# Also: ?debug=1 text, ?seconds delta, Go's errors, /debug/metrics counters;
# whole user stacks under the learned stack copy; kernel frames only with
# block.kernel_stacks.

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
# The user stacks are whole although each record copies only what the
# target's stacks need (the copy budget), and no kernel frames by default.
traces=$(pprof "$PROF" -traces)
nstacks=$(grep -c '^-----------' <<<"$traces")
ntrunc=$(awk '/^-----------/ { if (t) n++; t = 0 } /\[truncated\]/ { t = 1 } END { if (t) n++; print n + 0 }' <<<"$traces")
if [ "$ntrunc" = 0 ]; then
	ok "block: no stack of $nstacks ends in [truncated]"
else
	fail "block: no stack of $nstacks ends in [truncated] ($ntrunc do)" \
		"$(awk '/^-----------/ { if (t) print b; b = ""; t = 0 } { b = b "\n" $0 } /\[truncated\]/ { t = 1 } END { if (t) print b }' <<<"$traces")" \
		"$(jq -c '.collectors[] | select(.name == "block")' <<<"$m")"
fi
copy=$(jq '.collectors[] | select(.name == "block") | .stack_copy_bytes' <<<"$m")
if [ -n "$copy" ] && [ "$copy" -gt 0 ] && [ "$copy" -le 16384 ]; then
	ok "block: records copy $copy bytes of stack (of 16384)"
else
	fail "block: records copy a learned part of the stack" "$m"
fi
if ! grep -qwE '(__)?schedule|do_syscall_64|entry_SYSCALL_64(_after_hwframe)?' <<<"$traces"; then
	ok "block: no kernel frames by default (block.kernel_stacks off)"
else
	fail "block: no kernel frames by default (block.kernel_stacks off)" "$(head -30 <<<"$traces")"
fi
check_daemon_alive "the block profiles"
stop "$DAEMON_PID"

# block.kernel_stacks: the kernel stack each wait of a system call waited in.
printf '{ "block": { "kernel_stacks": true } }\n' >"$E2E_TMP/kstacks.json"
if start_daemon "$pid" --config "$E2E_TMP/kstacks.json"; then
	code=$(FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/block?seconds=3" "$E2E_TMP/kblock.prof")
	check_eq "kernel_stacks: block?seconds=3 is 200" 200 "$code"
	ktraces=$(pprof "$E2E_TMP/kblock.prof" -traces)
	if grep -qw do_syscall_64 <<<"$ktraces" && grep -qw hold_lock <<<"$ktraces"; then
		ok "kernel_stacks: waits carry their kernel frames (do_syscall_64) above the user stack"
	else
		fail "kernel_stacks: waits carry their kernel frames (do_syscall_64)" "$(head -40 <<<"$ktraces")"
	fi
	check_eq "kernel_stacks: said in /debug/metrics" true \
		"$(curl -s "$DAEMON_URL/debug/metrics" | jq '.collectors[] | select(.name == "block") | .kernel_stacks')"
else
	fail "start pprofd with block.kernel_stacks"
fi
done_testing
