#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_trace.sh - /debug/pprof/trace: the Trace Event Format timeline of the
# contention workload parses with jq and holds, for every thread active in
# the window (holder-1, holder-2), complete ("X") running and off-CPU
# intervals, thread names as metadata, wakeup flows between the holders, and
# CPU samples with stacks; bad parameters are 400s.
#
# Wakeup flows are counted against what the workload guarantees, not what a
# scheduler usually does.  A holder sleeps only in its 5 ms nanosleep and in
# the futex wait that only the other holder's unlock ends: its voluntary
# context switches minus its holds (contention_holds, read from its memory)
# are at most the times the other holder woke it (a wait preempted before
# it slept is woken without a voluntary switch).  A hold lasts 5 ms or more
# and an unlock wakes one waiter: at most 200 wakes a second (and one more
# in any interval).  So a trace whose wakeups span D seconds, taken by a
# request of T seconds, holds between W - 200 (T - D) - 6 (W: those wakes
# over the request, of which those outside the span are missed; 4 for the
# holds and waits under way when the counts were read) and 200 D + 2 flows
# between the holders.  Twice: both holders pinned
# to one CPU, then to two (there, when the wakee's CPU is idle, the kernel
# queues the wakeup to it and sched_wakeup runs on it, not in the waker).

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

tid_of()
{
	local t
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$1" ] && echo "${t##*/}"
	done
}
h1=$(tid_of holder-1)
h2=$(tid_of holder-2)
# contention_holds[] in the workload's memory (a PIE: load base + symbol value).
exe=$(readlink "/proc/$pid/exe")
base=$(awk -v exe="$exe" '$6 == exe { split($1, a, "-"); print a[1]; exit }' "/proc/$pid/maps")
sym=$(nm "$exe" | awk '$3 == "contention_holds" { print $1 }')
holds_at=$((16#$base + 16#$sym))

# "VCSW1 HOLDS1 VCSW2 HOLDS2" of the two holders now.
counts()
{
	local holds
	read -r _ h[1] h[2] <<<"$(dd if="/proc/$pid/mem" bs=8 skip=$((holds_at / 8)) count=3 \
		2>/dev/null | od -An -tu8 -w24)"
	holds=("${h[@]}")
	echo "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/task/$h1/status")" \
		"${holds[0]}" \
		"$(awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$pid/task/$h2/status")" \
		"${holds[1]}"
}

# trace_flows NAME CPU1 CPU2 QUERY: a 2 s trace with holder-N on CPU-N; checks its
# flows between the holders against the workload's counts (see the top).  TRACE.
trace_flows()
{
	local name=$1 query=$4 c0 c1 t0 t1 dur wakes flows low high
	taskset -p -c "$2" "$h1" >/dev/null && taskset -p -c "$3" "$h2" >/dev/null ||
		fail "$name: pin the holders to CPUs $2 and $3"
	sleep 0.2
	TRACE=$E2E_TMP/trace-$name.json
	c0=$(counts)
	t0=$(date +%s%N)
	code=$(FETCH_TIMEOUT=30 fetch "$URL/trace?$query" "$TRACE")
	t1=$(date +%s%N)
	c1=$(counts)
	# The span of the wakeups recorded, in ms: the wakes outside it are the ones missed.
	dur=$(jq '[.traceEvents[] | select(.ph == "i") | .ts] | if length > 1 then (max - min) / 1000 else 0 end' \
		"$TRACE" 2>/dev/null)
	read -r wakes low high <<<"$(awk -v c0="$c0" -v c1="$c1" -v t=$(((t1 - t0) / 1000000)) \
		-v d="${dur:-0}" 'BEGIN {
		split(c0, a); split(c1, b)
		w = (b[1] - a[1]) - (b[2] - a[2]) + (b[3] - a[3]) - (b[4] - a[4])
		printf "%d %d %d\n", w, w - 200 * (t - d) / 1000 - 6, 200 * d / 1000 + 2 }')"
	flows=$(jq --argjson a "${h1:-0}" --argjson b "${h2:-0}" '
		[.traceEvents[] | select(.ph == "s" or .ph == "f")] | group_by(.id)
		| map(select(length == 2 and (map(.tid) | sort) == ([$a, $b] | sort))) | length' \
		"$TRACE" 2>/dev/null)
	diag "$name: otherData $(jq -c .otherData "$TRACE" 2>/dev/null)"
	diag "$name: request $(((t1 - t0) / 1000000)) ms; holder wakes by the other holder" \
		"over it $wakes (counts $c0 -> $c1); flows between the holders ${flows:-none}"
	if [ "${flows:-0}" -ge 1 ] && [ "${flows:-0}" -le "$high" ] && [ "${flows:-0}" -ge "$low" ]; then
		ok "$name: $flows wakeup flows between the holders (the workload allows $low to $high)"
	else
		fail "$name: wakeup flows between the holders: ${flows:-none} (the workload allows $low to $high)"
	fi
}

if [ -z "$h1" ] || [ -z "$h2" ] || [ -z "$sym" ] || [ -z "$base" ]; then
	fail "contention: holder threads and contention_holds found" "h1=$h1 h2=$h2 base=$base sym=$sym"
	done_testing
fi
trace_flows "one CPU" 0 0 "seconds=2&hz=1000"
TRACE_ONE=$TRACE
if [ "$(nproc)" -ge 2 ]; then
	trace_flows "two CPUs" 0 1 "seconds=2"
else
	skip "two CPUs: wakeup flows with the holders on two CPUs" "one CPU"
fi
taskset -p -c "0-$(($(nproc) - 1))" "$h1" >/dev/null
taskset -p -c "0-$(($(nproc) - 1))" "$h2" >/dev/null
TRACE=$TRACE_ONE
code=200
[ -s "$TRACE" ] || code=000
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
