#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_trace.sh - /debug/pprof/trace: the Trace Event Format timeline of the
# contention workload parses with jq and holds, for every thread active in
# the window (holder-1, holder-2), complete ("X") running and off-CPU
# intervals, thread names as metadata, wakeup flows between the holders, and
# CPU samples with stacks; bad parameters are 400s.

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

TRACE=$E2E_TMP/trace.json
code=$(FETCH_TIMEOUT=30 fetch "$URL/trace?seconds=2&hz=1000" "$TRACE")
check_eq "trace?seconds=2: 200" 200 "$code"
if jq -e '.traceEvents | length > 0' "$TRACE" >/dev/null 2>&1; then
	ok "trace: JSON with traceEvents (jq parses it)"
else
	fail "trace: JSON with traceEvents (jq parses it)" "$(head -c 300 "$TRACE")"
	done_testing
fi
diag "otherData: $(jq -c .otherData "$TRACE")"

for name in holder-1 holder-2; do
	tid=
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$name" ] && tid=${t##*/}
	done
	check_eq "$name: thread name metadata" "$name" \
		"$(jq -r --argjson t "${tid:-0}" '.traceEvents[] | select(.ph == "M" and .tid == $t) | .args.name' "$TRACE")"
	running=$(jq --argjson t "${tid:-0}" '[.traceEvents[] | select(.ph == "X" and .tid == $t and .name == "running")] | length' "$TRACE")
	off=$(jq --argjson t "${tid:-0}" '[.traceEvents[] | select(.ph == "X" and .tid == $t and .cat == "off-cpu")] | length' "$TRACE")
	if [ "${running:-0}" -gt 10 ] && [ "${off:-0}" -gt 10 ]; then
		ok "$name: $running running and $off off-CPU complete events"
	else
		fail "$name: complete events (running $running, off-CPU $off; want > 10 each)"
	fi
	# Off the CPU most of the time: sleeping with the lock, or waiting for it.
	sleep_ms=$(jq --argjson t "${tid:-0}" '[.traceEvents[] | select(.ph == "X" and .tid == $t and .name == "sleeping") | .dur] | add / 1000' "$TRACE")
	if awk -v s="${sleep_ms:-0}" 'BEGIN { exit !(s > 1000) }'; then
		ok "$name: ${sleep_ms} ms sleeping of the 2 s"
	else
		fail "$name: ${sleep_ms} ms sleeping of the 2 s (want > 1000)"
	fi
done
if jq -e '[.traceEvents[] | select(.ph == "X")] | all(.dur >= 0 and .ts >= 0)' "$TRACE" >/dev/null; then
	ok "trace: every complete event has ts >= 0 and dur >= 0"
else
	fail "trace: every complete event has ts >= 0 and dur >= 0"
fi
flows=$(jq '[.traceEvents[] | select(.ph == "s")] | length' "$TRACE")
if [ "${flows:-0}" -gt 10 ]; then
	ok "trace: $flows wakeup flows between the holders"
else
	fail "trace: wakeup flows between the holders ($flows)"
fi
if jq -e '[.traceEvents[] | select(.cat == "cpu-sample") | .args.stack | index("hold_lock")] | any' "$TRACE" >/dev/null 2>&1 ||
	jq -e '[.traceEvents[] | select(.cat == "cpu-sample") | .args.stack[] | select(. == "holder")] | length > 0' "$TRACE" >/dev/null 2>&1; then
	ok "trace: CPU samples with symbolized stacks"
else
	fail "trace: CPU samples with symbolized stacks" "$(jq -c '[.traceEvents[] | select(.cat == "cpu-sample")][0:2]' "$TRACE")"
fi
check_eq "trace: not truncated" false "$(jq .otherData.truncated "$TRACE")"

check_eq "trace?seconds=abc: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/trace?seconds=abc")"
check_eq "trace?seconds=-1: 400" 400 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/trace?seconds=-1")"
if curl -s "$URL/" | grep -q "href='trace?debug=1'"; then
	ok "index lists trace"
else
	fail "index lists trace"
fi
check_daemon_alive "the trace"
done_testing
