#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_signals.sh - shutdown: SIGTERM while a 5 s CPU profile is in flight.
# The request still gets a complete 200 with a valid profile, the daemon exits
# 0 within a few seconds, and the target runs on unharmed; SIGKILL of the
# daemon leaves the target running too.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

start_workload cpu_split || fail "start cpu_split"
target=$WORKLOAD_PID
if ! start_daemon "$target"; then
	fail "start pprofd --pid $target"
	done_testing
fi

FETCH_TIMEOUT=20 fetch "$DAEMON_URL/debug/pprof/profile?seconds=5" "$E2E_TMP/p.prof" \
	>"$E2E_TMP/p.code" &
curl_pid=$!
track "$curl_pid"
sleep 1.5
start=$(date +%s.%N)
kill -TERM "$DAEMON_PID"

if wait_exit "$DAEMON_PID" 8; then
	took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	check_eq "SIGTERM during a profile: exit status 0" 0 "$EXIT_STATUS"
	ok "SIGTERM during a profile: exited ${took}s after the signal"
else
	fail "SIGTERM during a profile: exits within 8 s"
	kill -KILL "$DAEMON_PID"
fi
[ "$EXIT_STATUS" = 0 ] || diag_daemon

wait "$curl_pid"
code=$(cat "$E2E_TMP/p.code")
if [ "$code" = 200 ] && is_gzip "$E2E_TMP/p.prof" && gzip -t "$E2E_TMP/p.prof" 2>/dev/null; then
	ok "in-flight request: complete 200 response"
else
	fail "in-flight request: complete 200 response" "got $code" \
		"$(cat "$E2E_TMP/p.prof.curl-err")" "$(head -c 200 "$E2E_TMP/p.prof" 2>/dev/null | tr -c '[:print:]\n' '.')"
fi
if raw=$(pprof "$E2E_TMP/p.prof" -raw) && [ "$(raw_sample_stats "$raw" | cut -d' ' -f1)" -gt 0 ]; then
	ok "in-flight request: the profile loads and has samples"
else
	fail "in-flight request: the profile loads and has samples" \
		"$(cat "$E2E_TMP/p.prof.pprof-err")"
fi
check "target still running after the daemon exited" proc_alive "$target"

# SIGKILL: probes go with the daemon, the target is unharmed.
if start_daemon "$target"; then
	FETCH_TIMEOUT=10 fetch "$DAEMON_URL/debug/pprof/profile?seconds=3" "$E2E_TMP/k.prof" \
		>/dev/null &
	curl_pid=$!
	track "$curl_pid"
	sleep 1
	kill -KILL "$DAEMON_PID"
	wait_exit "$DAEMON_PID" 3
	wait "$curl_pid"
	sleep 0.5
	check "SIGKILL of the daemon mid-profile: target still running" proc_alive "$target"
	# Still scheduled and using CPU (the machine may be busy: any progress counts).
	ticks() { sed 's/.*) //' "/proc/$target/stat" | awk '{ print $12 + $13 }'; }
	state=$(sed 's/.*) //' "/proc/$target/stat" | cut -d' ' -f1)
	t0=$(ticks)
	sleep 1
	t1=$(ticks)
	if [ "$state" = R ] || [ "$state" = S ] && [ $((t1 - t0)) -gt 0 ]; then
		ok "SIGKILL of the daemon mid-profile: target still spinning ($((t1 - t0)) ticks in 1 s)"
	else
		fail "SIGKILL of the daemon mid-profile: target still spinning" \
			"state $state, $((t1 - t0)) ticks in 1 s"
	fi
else
	fail "restart pprofd --pid $target"
fi

done_testing
