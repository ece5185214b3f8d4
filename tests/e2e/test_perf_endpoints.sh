#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_perf_endpoints.sh - /performance/* and /metrics against /proc:
#   stats      fields equal to what /proc says of a live workload;
#   health     200 -> 202 -> 503 as the workload (grow) crosses thresholds set
#              in a config file; 503 "target not running" once it exits;
#   metrics    promtool check metrics passes;
#   modes      production 404s /performance/memory and /performance/gc and
#              serves the rest; gc answers 501 with a reason;
#   stalls     a 400 ms runnable wait (SCHED_FIFO hog, workload stall) is a
#              scheduling_stall warning naming the thread;
#   config     a bad health.* key stops start-up naming the key.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# wait_threads PID N: until /proc says the process has N threads (5 s).
wait_threads()
{
	for _ in $(seq 50); do
		[ "$(awk '/^Threads:/ { print $2 }' "/proc/$1/status")" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

# health_is WHAT CODE STATUS: GET /performance/health answers CODE with
# .status STATUS.
health_is()
{
	local code status
	code=$(fetch "$DAEMON_URL/performance/health" "$E2E_TMP/health")
	status=$(jq -r .status "$E2E_TMP/health" 2>/dev/null)
	if [ "$code" = "$2" ] && [ "$status" = "$3" ]; then
		ok "$1: health $2 $3"
	else
		fail "$1: health $2 $3" "got $code $status" "$(head -c 1500 "$E2E_TMP/health")"
	fi
}

start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID

# Thresholds from a config file: 4 threads at most (warning above 3.2),
# 64 MiB of heap at most.
cat >"$E2E_TMP/health.json" <<EOF
{
	"health": {
		"max_threads": 4,
		"max_heap_bytes": 67108864,
		"pause_warn_ms": 100,
		"pause_critical_ms": 500
	}
}
EOF
if ! start_daemon "$target" --config "$E2E_TMP/health.json"; then
	fail "start pprofd --pid $target --config health.json"
	done_testing
fi

# ---- stats against /proc

code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/stats")
uptime_then=$(cut -d' ' -f1 /proc/uptime)
check_eq "stats: 200" 200 "$code"
check_eq "stats: application/json" application/json \
	"$(header "$E2E_TMP/stats.headers" Content-Type)"
j() { jq -r "$1" "$E2E_TMP/stats"; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 * 1024 }' "/proc/$target/status"; }
stat_field() { sed 's/.*) //' "/proc/$target/stat" | cut -d' ' -f$(($1 - 2)); }
check_eq "stats: .target.pid" "$target" "$(j .target.pid)"
check_eq "stats: .target.name is comm" "$(cat "/proc/$target/comm")" "$(j .target.name)"
check_eq "stats: .target.cmdline" "$(tr '\0' ' ' <"/proc/$target/cmdline" | sed 's/ $//')" \
	"$(j '.target.cmdline | join(" ")')"
check_eq "stats: .target.threads" "$(awk '/^Threads:/ { print $2 }' "/proc/$target/status")" \
	"$(j .target.threads)"
check_eq "stats: .target.state" "$(stat_field 3)" "$(j .target.state)"
check_eq "stats: .memory.rss_bytes is VmRSS" "$(status_kb VmRSS)" "$(j .memory.rss_bytes)"
check_eq "stats: .memory.anon_bytes is RssAnon" "$(status_kb RssAnon)" "$(j .memory.anon_bytes)"
check_eq "stats: .memory.file_bytes is RssFile" "$(status_kb RssFile)" "$(j .memory.file_bytes)"
check_eq "stats: .memory.swap_bytes is VmSwap" "$(status_kb VmSwap)" "$(j .memory.swap_bytes)"
check_eq "stats: .cpu.user_seconds is utime" \
	"$(awk -v t="$(stat_field 14)" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz }')" \
	"$(j .cpu.user_seconds)"
check_eq "stats: .page_faults.minor is minflt" "$(stat_field 10)" "$(j .page_faults.minor)"
check_eq "stats: .context_switches.voluntary" \
	"$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "/proc/$target/status")" \
	"$(j .context_switches.voluntary)"
check_eq "stats: .fds.open" "$(find "/proc/$target/fd" -mindepth 1 -maxdepth 1 | wc -l)" \
	"$(j .fds.open)"
check_eq "stats: .fds.limit is the soft limit" \
	"$(awk '/^Max open files/ { print $4 }' "/proc/$target/limits")" "$(j .fds.limit)"
check_eq "stats: .io.rchar" "$(awk '/^rchar:/ { print $2 }' "/proc/$target/io")" "$(j .io.rchar)"
check_eq "stats: .gc is null (a native process has no GC)" null "$(j .gc)"
check_eq "stats: .system.cores" "$(nproc)" "$(j .system.cores)"
check_eq "stats: .pprofd.pid" "$DAEMON_PID" "$(j .pprofd.pid)"
if within "$(j .target.uptime_seconds)" \
	"$(awk -v u="$uptime_then" -v s="$(stat_field 22)" -v hz="$(getconf CLK_TCK)" 'BEGIN { print u - s / hz }')" 0.5; then
	ok "stats: .target.uptime_seconds within 0.5 s of /proc"
else
	fail "stats: .target.uptime_seconds within 0.5 s of /proc" "got $(j .target.uptime_seconds)"
fi
sleep 1.2
fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/stats" >/dev/null
pct=$(j '.cpu.percent."1s"')
if [ "$pct" != null ] && within "$pct" 0 5; then
	ok "stats: an idle target's 1 s CPU% is about 0 ($pct)"
else
	fail "stats: an idle target's 1 s CPU% is about 0" "got $pct"
fi

# ---- heap grows with what the workload allocates

before=$(j .memory.heap_bytes)
kill -USR2 "$target"
sleep 0.5
fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/stats" >/dev/null
after=$(j .memory.heap_bytes)
if [ "$((after - before))" -ge $((8 * 1024 * 1024)) ] &&
	[ "$((after - before))" -le $((9 * 1024 * 1024)) ]; then
	ok "stats: .memory.heap_bytes grows by the 8 MiB the target touched"
else
	fail "stats: .memory.heap_bytes grows by the 8 MiB the target touched" \
		"before $before after $after"
fi

live=$(j .memory.live_heap_bytes)
if [ "$live" = null ]; then
	skip "stats: .memory.live_heap_bytes from allocation tracking" "$(j .memory.live_heap_reason)"
elif [ "$live" -ge $((8 * 1024 * 1024)) ] && [ "$live" -le $((9 * 1024 * 1024)) ]; then
	ok "stats: .memory.live_heap_bytes from allocation tracking is the 8 MiB ($live)"
else
	fail "stats: .memory.live_heap_bytes from allocation tracking is the 8 MiB" "got $live"
fi

# ---- health: 200 -> 202 -> 503 as the thread count crosses the thresholds

health_is "1 thread of max 4" 200 ok
check_eq "health: threads check has value, threshold, status" "1 4 ok" \
	"$(jq -r '.checks[] | select(.name == "threads") | "\(.value) \(.threshold) \(.status)"' \
		"$E2E_TMP/health")"
check_eq "health: lists target_running, threads, heap, scheduling_stall, fds" \
	"target_running threads heap scheduling_stall fds" \
	"$(jq -r '[.checks[].name] | join(" ")' "$E2E_TMP/health")"
# One signal at a time: pending signals of one kind coalesce.
for n in 2 3 4; do
	kill -USR1 "$target"
	wait_threads "$target" "$n" || diag "grow did not reach $n threads"
done
health_is "4 threads of max 4 (above 80%)" 202 warning
kill -USR1 "$target"
wait_threads "$target" 5 || diag "grow did not reach 5 threads"
health_is "5 threads of max 4" 503 critical
check_eq "health: the failing check is threads" threads \
	"$(jq -r '[.checks[] | select(.status == "critical") | .name] | join(" ")' "$E2E_TMP/health")"

# ---- metrics

code=$(fetch "$DAEMON_URL/metrics" "$E2E_TMP/metrics")
check_eq "metrics: 200" 200 "$code"
if need promtool; then
	check "metrics: promtool check metrics passes" promtool check metrics <"$E2E_TMP/metrics"
else
	fail "metrics: promtool installed (Debian's prometheus package)"
fi
check_eq "metrics: process_threads is 5" 5 \
	"$(awk '$1 == "process_threads" { print $2 }' "$E2E_TMP/metrics")"
check_eq "metrics: process_resident_memory_bytes is VmRSS" "$(status_kb VmRSS)" \
	"$(awk '$1 == "process_resident_memory_bytes" { printf "%d", $2 }' "$E2E_TMP/metrics")"
for m in process_cpu_seconds_total process_open_fds process_max_fds pprofd_cpu_seconds_total \
	pprofd_resident_memory_bytes; do
	grep -q "^# TYPE $m " "$E2E_TMP/metrics" || fail "metrics: $m with HELP/TYPE"
done

# ---- info, memory, gc in development mode

code=$(fetch "$DAEMON_URL/performance/info" "$E2E_TMP/info")
check_eq "info: 200" 200 "$code"
check_eq "info: executable" "$(readlink "/proc/$target/exe")" "$(jq -r .target.executable "$E2E_TMP/info")"
check_eq "info: language c, glibc malloc" "c glibc malloc" \
	"$(jq -r '"\(.target.language) \(.target.allocator)"' "$E2E_TMP/info")"
bid=$(jq -r .target.build_id "$E2E_TMP/info")
if file -L "/proc/$target/exe" 2>/dev/null | grep -q "BuildID\[sha1\]=$bid" ||
	{ ! need file && [ ${#bid} -eq 40 ]; }; then
	ok "info: build ID of the executable"
else
	fail "info: build ID of the executable" "got $bid"
fi
check_eq "info: library versions" "true" \
	"$(jq -r '.pprofd.libraries | (.libbpf != null and .libevent != null and .elfutils != null)' "$E2E_TMP/info")"
code=$(fetch "$DAEMON_URL/performance/memory" "$E2E_TMP/memory")
check_eq "memory: 200 in development" 200 "$code"
check_eq "memory: smaps_rollup Rss is VmRSS (±64 KiB)" true \
	"$(jq --argjson r "$(status_kb VmRSS)" '(.smaps_rollup.rss_bytes - $r) | fabs < 65536' "$E2E_TMP/memory")"
check_eq "memory: largest mapping is the 8 MiB heap allocation" true \
	"$(jq '.largest_mappings[0].rss_bytes >= 8388608' "$E2E_TMP/memory")"
if [ "$(jq -r '.live_heap_stacks | type' "$E2E_TMP/memory")" = array ]; then
	check_eq "memory: the top live-heap stack is grow's main" "true" \
		"$(jq '.live_heap_stacks[0].functions[0] == "main" and .live_heap_stacks[0].inuse_bytes >= 8388608' \
			"$E2E_TMP/memory")"
else
	skip "memory: the top live-heap stack" "$(jq -r .live_heap_reason "$E2E_TMP/memory")"
fi
code=$(fetch "$DAEMON_URL/performance/gc" "$E2E_TMP/gc" -X POST)
check_eq "gc: POST is 501" 501 "$code"
check_eq "gc: says why" true "$(jq '.reason | test("no garbage collector")' "$E2E_TMP/gc")"
code=$(fetch "$DAEMON_URL/performance/gc" "$E2E_TMP/gc")
check_eq "gc: GET is 405" 405 "$code"

# ---- the target exits

kill -KILL "$target"
wait_exit "$target" 3
health_is "target killed" 503 critical
check_eq "health: reason target not running" "target not running" \
	"$(jq -r .reason "$E2E_TMP/health")"
code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/stats")
check_eq "stats: 503 once the target exited" 503 "$code"
check_daemon_alive "the target exited"
stop "$DAEMON_PID"

# ---- scheduling stalls: a SCHED_FIFO thread keeps the spinning main thread
# off CPU 0 for 400 ms.  Thresholds: warning above 300 ms, critical above 60 s
# (a busy machine adds its own waits on top: the stall is at least 400 ms).

printf '{"health": {"pause_warn_ms": 300, "pause_critical_ms": 60000}}\n' >"$E2E_TMP/stall.json"
if start_workload stall 400 && start_daemon "$WORKLOAD_PID" --config "$E2E_TMP/stall.json"; then
	stall=$WORKLOAD_PID
	sleep 1.5
	kill -USR1 "$stall"
	# Until the workload says the stall is over (not a guess of how long it takes).
	for _ in $(seq 200); do
		grep -q 'stalled\|no SCHED_FIFO' "$E2E_TMP/stall.log" 2>/dev/null && break
		sleep 0.05
	done
	# Then until health has it (the drain tick brings it in), at most 5 s.
	for _ in $(seq 100); do
		fetch "$DAEMON_URL/performance/health" "$E2E_TMP/health" >/dev/null
		check=$(jq -c '.checks[] | select(.name == "scheduling_stall")' "$E2E_TMP/health")
		jq -e '.value >= 350' <<<"$check" >/dev/null 2>&1 && break
		sleep 0.05
	done
	if grep -q 'no SCHED_FIFO' "$E2E_TMP/stall.log"; then
		skip "health: a 400 ms stall is a scheduling_stall warning naming the thread" \
			"SCHED_FIFO refused"
	elif jq -e --argjson tid "$stall" \
		'.value >= 350 and .status == "warning" and .tid == $tid' \
		<<<"$check" >/dev/null; then
		ok "health: a 400 ms stall is a scheduling_stall warning naming the thread"
	else
		fail "health: a 400 ms stall is a scheduling_stall warning naming the thread" "$check"
	fi
	check_eq "health: 202 with a stall warning" 202 \
		"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/health")"
	stop "$DAEMON_PID"
	stop "$stall"
else
	fail "start stall and pprofd on it"
fi

# ---- production mode

start_workload grow || fail "start grow again"
if DAEMON_ENV='' start_daemon "$WORKLOAD_PID"; then
	for path in /performance/memory /performance/gc; do
		code=$(fetch "$DAEMON_URL$path" "$E2E_TMP/prod")
		check_eq "production: $path is 404" 404 "$code"
	done
	for path in /performance/health /performance/stats /performance/info /metrics \
		/debug/metrics; do
		code=$(fetch "$DAEMON_URL$path" "$E2E_TMP/prod")
		check_eq "production: $path is 200" 200 "$code"
	done
	stop "$DAEMON_PID"
else
	fail "production: start pprofd"
fi

# ---- a bad health key stops start-up naming it

printf '{\n\t"health": {\n\t\t"max_threads": "many"\n\t}\n}\n' >"$E2E_TMP/bad.json"
"$PPROFD" --pid "$WORKLOAD_PID" --config "$E2E_TMP/bad.json" --listen 127.0.0.1:1 \
	>"$E2E_TMP/bad.log" 2>&1
status=$?
check_eq "bad config: exit 3" 3 "$status"
if grep -q 'bad.json:3: key "health.max_threads": expected an integer' "$E2E_TMP/bad.log"; then
	ok "bad config: the message names file, line and key"
else
	fail "bad config: the message names file, line and key" "$(cat "$E2E_TMP/bad.log")"
fi

done_testing
