#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_goruntime.sh - a Go target as Go sees it, read from its runtime:
# pprofd's goroutine and heap profiles against the app's own net/http/pprof.
#
# goserver runs with 500 goroutines parked in main.parked and 8 MiB held by
# main.retainLarge, 4 MiB by main.retainSmall (-retain).  Checked:
#   - /debug/pprof/goroutine?debug=1 counts what the app's own goroutine
#     profile counts, less the goroutines serving the app's HTTP request;
#   - ?debug=2 is Go's dump: "goroutine N [chan receive]:" headers,
#     "created by main.main", a "running ... stack unavailable" block;
#   - the protobuf goroutine profile loads in go tool pprof without warnings;
#   - /debug/pprof/heap inuse_space of main.retainLarge / retainSmall within
#     10% of the app's own, from zero probes;
#   - /performance/stats gc: num_gc and the last pause as the app's own
#     runtime.ReadMemStats; goroutines as its NumGoroutine; health checks
#     goroutines and gc_pause; /metrics the Go client's go_* series;
#   - gonoprof (MemProfileRate 0): heap answers 503 naming the opt-in;
#     go.set_mem_profile_rate turns the runtime's sampling on;
#   - a Go version of a table row read from a binary, not DWARF (esbuild
#     from npm, Go 1.26, stripped): goroutines, GC and heap through the row;
#     one with no row nor readable type descriptors (esbuild of Go 1.16):
#     "unsupported Go version" in /debug/metrics, the native view kept;
#   - /debug/pprof/threads is the OS-thread view, /debug/metrics names the Go
#     version and where the layouts came from.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

PARKED=500

# The goroutines of a debug=2 dump, less those serving HTTP requests (the
# app's own handler, its connection's reader).
user_goroutines()
{
	awk '
		/^goroutine [0-9]+ \[/ { if (n && !serving) c++; n = 1; serving = 0; next }
		/net\/http\.\(\*conn\)\.serve|[bB]ackgroundRead/ { serving = 1 }
		END { if (n && !serving) c++; print c + 0 }' "$1"
}

# Bytes of inuse_space (flat) of functions matching a regex, from go tool pprof -top.
flat_bytes()
{
	pprof "$1" -top -nodecount=100000 -nodefraction=0 -sample_index=inuse_space -unit=B \
		-symbolize=none 2>/dev/null |
		awk -v re="^($2)\$" '
			$2 ~ /%$/ && NF >= 6 {
				v = $1; sub(/B$/, "", v)
				if ($6 ~ re) sum += v
			}
			END { printf "%d\n", sum }'
}

run_against()
{
	local bin=$1 app_port go_pid app_n pd_n
	start_go_target "$bin" -goroutines "$PARKED" -retain || return
	app_port=$APP_PORT
	go_pid=$WORKLOAD_PID

	# Goroutine counts: the app's own dump and pprofd's, taken one after the other.
	local tries=0
	while :; do
		fetch "http://127.0.0.1:$app_port/debug/pprof/goroutine?debug=2" "$E2E_TMP/app.g2" \
			>/dev/null
		fetch "$DAEMON_URL/debug/pprof/goroutine?debug=2" "$E2E_TMP/pd.g2" >"$E2E_TMP/code"
		app_n=$(user_goroutines "$E2E_TMP/app.g2")
		pd_n=$(user_goroutines "$E2E_TMP/pd.g2")
		[ "$app_n" = "$pd_n" ] || [ $((tries += 1)) -ge 3 ] && break
		sleep 0.5
	done
	check_eq "$bin: goroutines in pprofd's dump = the app's own ($app_n, less its HTTP)" \
		"$app_n" "$pd_n"
	fetch "$DAEMON_URL/debug/pprof/goroutine?debug=1" "$E2E_TMP/pd.g1" >/dev/null
	local total
	total=$(sed -n 's/^goroutine profile: total \([0-9]*\)$/\1/p' "$E2E_TMP/pd.g1")
	if [ -n "$total" ] && [ "$total" -ge "$PARKED" ] && [ "$total" -le $((PARKED + 10)) ]; then
		ok "$bin: debug=1 'goroutine profile: total $total'"
	else
		fail "$bin: debug=1 'goroutine profile: total N', N = $PARKED + a few" \
			"$(head -3 "$E2E_TMP/pd.g1")"
	fi
	local parked
	parked=$(grep -c '^goroutine [0-9]* \[chan receive\]:$' "$E2E_TMP/pd.g2")
	if [ "$parked" -ge "$PARKED" ] &&
		grep -q '^main\.parked(' "$E2E_TMP/pd.g2" &&
		grep -q '^created by main\.main$' "$E2E_TMP/pd.g2"; then
		ok "$bin: debug=2 in Go's format ($parked in [chan receive], main.parked, created by)"
	else
		fail "$bin: debug=2 in Go's format" "$(head -20 "$E2E_TMP/pd.g2")"
	fi
	if grep -q '^goroutine [0-9]* \[running, locked to thread\]:$' "$E2E_TMP/pd.g2" &&
		grep -q $'^\tgoroutine running on other thread; stack unavailable$' "$E2E_TMP/pd.g2"; then
		ok "$bin: debug=2 running goroutine as Go prints one"
	else
		# hashLoop or sortLoop is running at any time, except between turns.
		diag "$bin: no running goroutine in this dump"
	fi

	local code
	code=$(fetch "$DAEMON_URL/debug/pprof/goroutine" "$E2E_TMP/pd.gprof")
	if [ "$code" = 200 ] && pprof "$E2E_TMP/pd.gprof" -raw >/dev/null &&
		[ -z "$(pprof_warnings "$E2E_TMP/pd.gprof")" ]; then
		ok "$bin: goroutine profile loads in go tool pprof without warnings"
	else
		fail "$bin: goroutine profile loads in go tool pprof without warnings" "code $code" \
			"$(pprof_warnings "$E2E_TMP/pd.gprof")"
	fi

	# Heap: the same buckets, the same scaling.
	fetch "http://127.0.0.1:$app_port/debug/pprof/heap" "$E2E_TMP/app.heap" >/dev/null
	code=$(fetch "$DAEMON_URL/debug/pprof/heap" "$E2E_TMP/pd.heap")
	local fn app_b pd_b
	for fn in retainLarge retainSmall; do
		app_b=$(flat_bytes "$E2E_TMP/app.heap" "(main\.)?$fn")
		pd_b=$(flat_bytes "$E2E_TMP/pd.heap" "(main\.)?$fn")
		if [ "$code" = 200 ] && [ "$app_b" -gt 0 ] && within "$pd_b" "$app_b" $((app_b / 10)); then
			ok "$bin: heap inuse_space of $fn within 10% of the app's ($pd_b vs $app_b B)"
		else
			fail "$bin: heap inuse_space of $fn within 10% of the app's" \
				"code $code: pprofd $pd_b B, app $app_b B"
		fi
	done
	if grep -q 'no probes' <(pprof "$E2E_TMP/pd.heap" -raw 2>/dev/null); then
		ok "$bin: heap profile says it comes from the runtime, no probes"
	else
		fail "$bin: heap profile says it comes from the runtime, no probes"
	fi

	# GC: the app's own runtime.ReadMemStats against pprofd's /performance/stats.
	fetch "http://127.0.0.1:$app_port/memstats" "$E2E_TMP/app.ms" >/dev/null
	fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/pd.stats" >/dev/null
	local a_gc a_pause p_gc p_pause a_n p_n
	a_gc=$(jq -r .NumGC "$E2E_TMP/app.ms")
	a_pause=$(jq -r .LastPauseNs "$E2E_TMP/app.ms")
	p_gc=$(jq -r .gc.num_gc "$E2E_TMP/pd.stats")
	p_pause=$(jq -r .gc.last_pause_ns "$E2E_TMP/pd.stats")
	if [ -n "$a_gc" ] && [ "$a_gc" = "$p_gc" ] && [ "$a_pause" = "$p_pause" ] &&
		[ "$a_gc" -ge 2 ]; then
		ok "$bin: gc num_gc $p_gc and last pause $p_pause ns = the app's ReadMemStats"
	else
		fail "$bin: gc num_gc and last pause = the app's ReadMemStats" \
			"app: NumGC $a_gc, last pause $a_pause" "pprofd: $(jq -c .gc "$E2E_TMP/pd.stats")"
	fi
	a_n=$(jq -r .NumGoroutine "$E2E_TMP/app.ms")
	p_n=$(jq -r .goroutines "$E2E_TMP/pd.stats")
	# The app counts its /memstats handler and its connection's reader.
	if [ -n "$p_n" ] && [ "$p_n" != null ] && [ "$p_n" -le "$a_n" ] &&
		[ "$p_n" -ge $((a_n - 3)) ]; then
		ok "$bin: /performance/stats goroutines $p_n (the app's NumGoroutine: $a_n)"
	else
		fail "$bin: /performance/stats goroutines = NumGoroutine less its HTTP" \
			"app $a_n, pprofd $p_n"
	fi
	if jq -e '.gc.gogc == 100 and .gc.next_gc_bytes > 0 and .gc.heap_sys_bytes > 0' \
		"$E2E_TMP/pd.stats" >/dev/null; then
		ok "$bin: gc gogc 100, next_gc_bytes, heap_sys_bytes"
	else
		fail "$bin: gc gogc 100, next_gc_bytes, heap_sys_bytes" "$(jq -c .gc "$E2E_TMP/pd.stats")"
	fi
	fetch "$DAEMON_URL/performance/health" "$E2E_TMP/pd.health" >/dev/null
	if jq -e '[.checks[] | select(.name == "goroutines" and .threshold == 1000 and
			.status == "ok" and .value > 500)] | length == 1' "$E2E_TMP/pd.health" \
		>/dev/null &&
		jq -e '[.checks[] | select(.name == "gc_pause" and .threshold == 500 and
			.warning_above == 100 and .value >= 0)] | length == 1' "$E2E_TMP/pd.health" \
			>/dev/null; then
		ok "$bin: health checks goroutines (1000) and gc_pause (100 / 500 ms)"
	else
		fail "$bin: health checks goroutines and gc_pause" "$(jq -c .checks "$E2E_TMP/pd.health")"
	fi
	fetch "$DAEMON_URL/metrics" "$E2E_TMP/pd.metrics" >/dev/null
	local m_gc m_n
	m_gc=$(awk '$1 == "go_gc_duration_seconds_count" { print $2 }' "$E2E_TMP/pd.metrics")
	m_n=$(awk '$1 == "go_goroutines" { print $2 }' "$E2E_TMP/pd.metrics")
	if [ "$m_gc" = "$a_gc" ] && [ -n "$m_n" ] && [ "$m_n" -ge "$PARKED" ] &&
		grep -q '^go_gc_duration_seconds{quantile="0.5"} ' "$E2E_TMP/pd.metrics" &&
		grep -q '^go_memstats_next_gc_bytes ' "$E2E_TMP/pd.metrics" &&
		grep -q '^go_info{version="go1\.' "$E2E_TMP/pd.metrics"; then
		ok "$bin: /metrics go_goroutines $m_n, go_gc_duration_seconds (count $m_gc), go_memstats_*"
	else
		fail "$bin: /metrics go_* series" "$(grep '^go_' "$E2E_TMP/pd.metrics")"
	fi

	# The OS-thread view at its own name; the Go runtime in /debug/metrics.
	code=$(fetch "$DAEMON_URL/debug/pprof/threads?debug=1" "$E2E_TMP/pd.t1")
	if [ "$code" = 200 ] && grep -q '^threads profile: total [0-9]' "$E2E_TMP/pd.t1"; then
		ok "$bin: /debug/pprof/threads is the OS-thread view"
	else
		fail "$bin: /debug/pprof/threads is the OS-thread view" "code $code" \
			"$(head -3 "$E2E_TMP/pd.t1")"
	fi
	fetch "$DAEMON_URL/debug/metrics" "$E2E_TMP/metrics.json" >/dev/null
	local goinfo
	goinfo=$(jq -c '.go_runtime' "$E2E_TMP/metrics.json" 2>/dev/null)
	if jq -e '.go_runtime.readable == true and (.go_runtime.version | startswith("go1."))' \
		"$E2E_TMP/metrics.json" >/dev/null 2>&1; then
		ok "$bin: /debug/metrics go_runtime $goinfo"
	else
		fail "$bin: /debug/metrics go_runtime readable with its version" "$goinfo"
	fi

	stop "$DAEMON_PID"
	stop "$go_pid"
}

run_against goserver
run_against goserver-stripped

# A binary that never references runtime.MemProfile: MemProfileRate 0.  The
# heap profile says so (503, naming the opt-in); with go.set_mem_profile_rate
# pprofd turns the runtime's sampling on, and main.churn's 4 MiB shows.
opt_in()
{
	local bin=$1 code live
	if ! start_workload "$bin"; then
		fail "$bin: start"
		return
	fi
	local pid=$WORKLOAD_PID
	if start_daemon "$pid"; then
		code=$(fetch "$DAEMON_URL/debug/pprof/heap" "$E2E_TMP/noprof.heap")
		if [ "$code" = 503 ] && grep -q 'MemProfileRate is 0' "$E2E_TMP/noprof.heap" &&
			grep -q 'go.set_mem_profile_rate' "$E2E_TMP/noprof.heap"; then
			ok "$bin: heap 503: MemProfileRate 0, names go.set_mem_profile_rate"
		else
			fail "$bin: heap 503: MemProfileRate 0, names go.set_mem_profile_rate" \
				"code $code: $(head -c 300 "$E2E_TMP/noprof.heap")"
		fi
		stop "$DAEMON_PID"
	else
		fail "$bin: start pprofd"
	fi
	printf '{ "go": { "set_mem_profile_rate": 4096 } }\n' >"$E2E_TMP/optin.json"
	if start_daemon "$pid" --config "$E2E_TMP/optin.json"; then
		sleep 3 # 300 blocks allocated, 3 GCs: the profile is published
		code=$(fetch "$DAEMON_URL/debug/pprof/heap" "$E2E_TMP/optin.heap")
		live=$(flat_bytes "$E2E_TMP/optin.heap" '(main\.)?churn')
		if [ "$code" = 200 ] && [ "$live" -ge $((2 << 20)) ] && [ "$live" -le $((8 << 20)) ]; then
			ok "$bin: go.set_mem_profile_rate 4096: main.churn inuse_space $live B (4 MiB live)"
		else
			fail "$bin: go.set_mem_profile_rate 4096: main.churn inuse_space ~4 MiB" \
				"code $code, $live B" "$(grep -i memprofilerate "$DAEMON_LOG")"
		fi
		stop "$DAEMON_PID"
	else
		fail "$bin: start pprofd with go.set_mem_profile_rate"
	fi
	stop "$pid"
}

opt_in gonoprof
opt_in gonoprof-stripped

# A Go version of a table row but no toolchain here (esbuild from npm, Go
# 1.26, stripped, GOGC=5 so that it collects while it builds): its
# goroutines, heap and GC read through the go1.26 row.  And a version with
# neither a row nor type descriptors to read (esbuild of Go 1.16): a clear
# "unsupported Go version" in /debug/metrics, the native view kept.
newer_go()
{
	local esbuild=$OUTPUT/npm/esbuild holder pid code port
	if [ ! -x "$esbuild" ]; then
		skip "Go 1.2x: no $esbuild (tests/fetch-esbuild.sh)"
		return
	fi
	mkdir -p "$E2E_TMP/www"
	for i in $(seq 3000); do
		echo "export function f$i(x) { return x * $i + Math.sqrt(x) }"
	done >"$E2E_TMP/www/lib.js"
	echo 'import * as l from "./lib.js"; console.log(Object.keys(l).length)' >"$E2E_TMP/www/app.js"
	mkfifo "$E2E_TMP/stdin"
	# esbuild --serve stops when its stdin closes: a writer holds it open.
	sleep 120 >"$E2E_TMP/stdin" &
	holder=$!
	track "$holder"
	port=$(free_port)
	GOGC=5 "$esbuild" "$E2E_TMP/www/app.js" --bundle --outdir="$E2E_TMP/www/out" \
		--serve="127.0.0.1:$port" <"$E2E_TMP/stdin" >>"$E2E_TMP/esbuild.log" 2>&1 &
	pid=$!
	track "$pid"
	for _ in $(seq 50); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/app.js" && break
		sleep 0.1
	done
	# Builds to allocate and collect: ~100 MB, ~200 heap profile samples
	# (one every 512 KiB), so that the share of esbuild's own functions is
	# not a handful of samples'.
	for _ in $(seq 20); do
		curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$port/app.js"
	done
	if ! start_daemon "$pid"; then
		fail "esbuild: start pprofd"
		stop "$pid"
		stop "$holder"
		return
	fi
	fetch "$DAEMON_URL/debug/metrics" "$E2E_TMP/esb.metrics" >/dev/null
	if jq -e '.go_runtime.readable == true and .go_runtime.layouts == "go1.26 table" and
		(.go_runtime.version | test("^go1\\.26\\."))' "$E2E_TMP/esb.metrics" >/dev/null; then
		ok "esbuild: /debug/metrics $(jq -c .go_runtime "$E2E_TMP/esb.metrics")"
	else
		fail "esbuild: /debug/metrics go_runtime from the go1.26 row" \
			"$(jq -c .go_runtime "$E2E_TMP/esb.metrics")"
	fi
	code=$(fetch "$DAEMON_URL/debug/pprof/goroutine?debug=2" "$E2E_TMP/esb.g2")
	# main waits in serveImpl on a channel; its stdin reader in a read(2).
	if [ "$code" = 200 ] && grep -q '^goroutine 1 \[chan receive\]:$' "$E2E_TMP/esb.g2" &&
		grep -q '^goroutine [0-9]* \[syscall\]:$' "$E2E_TMP/esb.g2" &&
		grep -q '^github.com/evanw/esbuild/pkg/cli.serveImpl(' "$E2E_TMP/esb.g2" &&
		grep -q '^created by main.main.func1 in goroutine 1$' "$E2E_TMP/esb.g2"; then
		ok "esbuild: debug=2 goroutines with wait reasons, serveImpl, created by ... in goroutine 1"
	else
		fail "esbuild: debug=2 goroutines of Go 1.26" "code $code" "$(head -30 "$E2E_TMP/esb.g2")"
	fi
	# The goroutine count: the dump's, debug=1's total and /performance/stats' agree.
	local n2 n1 ns
	fetch "$DAEMON_URL/debug/pprof/goroutine?debug=1" "$E2E_TMP/esb.g1" >/dev/null
	fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/esb.stats" >/dev/null
	n2=$(grep -c '^goroutine [0-9]* \[' "$E2E_TMP/esb.g2")
	n1=$(sed -n 's/^goroutine profile: total \([0-9]*\)$/\1/p' "$E2E_TMP/esb.g1")
	ns=$(jq -r '.goroutines' "$E2E_TMP/esb.stats")
	if [ "$n2" -ge 2 ] && [ "$n1" = "$n2" ] && [ "$ns" = "$n2" ]; then
		ok "esbuild: $n2 goroutines in the dump, debug=1 and /performance/stats"
	else
		fail "esbuild: one goroutine count" "dump $n2, debug=1 $n1, stats $ns"
	fi
	# GC through the row: GOGC where gcController keeps it, collections counted.
	if jq -e '.gc.num_gc >= 2 and .gc.gogc == 5 and .gc.last_pause_ns > 0 and
		.gc.pause_total_ns >= .gc.last_pause_ns and .gc.heap_sys_bytes > 0 and
		.gc.next_gc_bytes > 0' "$E2E_TMP/esb.stats" >/dev/null; then
		ok "esbuild: /performance/stats gc $(jq -c '.gc | {num_gc, gogc, last_pause_ns, pause_total_ns, next_gc_bytes}' "$E2E_TMP/esb.stats")"
	else
		fail "esbuild: /performance/stats gc through the go1.26 row" \
			"$(jq -c '{gc, gc_reason}' "$E2E_TMP/esb.stats")"
	fi
	# Heap: the runtime's own buckets (esbuild references runtime.MemProfile: 512 KiB).
	code=$(fetch "$DAEMON_URL/debug/pprof/heap" "$E2E_TMP/esb.heap")
	local top named
	top=$(pprof_top "$E2E_TMP/esb.heap" -sample_index=alloc_space)
	named=$(flat_pct "$top" 'github\.com/evanw/esbuild/.*')
	if [ "$code" = 200 ] && grep -q 'MemProfileRate 524288): no probes' <<<"$top" &&
		awk -v n="$named" 'BEGIN { exit !(n >= 30) }'; then
		ok "esbuild: heap from the runtime's buckets, $named% of alloc_space in esbuild's own functions"
	else
		fail "esbuild: heap from the runtime's buckets" "code $code, esbuild's $named%" \
			"$(head -12 <<<"$top")"
	fi
	stop "$DAEMON_PID"
	stop "$pid"

	# Go 1.16: no row, and type descriptors of a layout pprofd does not read.
	local old=$OUTPUT/npm/esbuild-go116
	if [ ! -x "$old" ]; then
		skip "Go 1.16: no $old (tests/fetch-esbuild.sh)"
		stop "$holder"
		return
	fi
	port=$(free_port)
	"$old" --serve="127.0.0.1:$port" --servedir="$E2E_TMP/www" \
		<"$E2E_TMP/stdin" >>"$E2E_TMP/esbuild.log" 2>&1 &
	pid=$!
	track "$pid"
	sleep 0.5
	if ! start_daemon "$pid"; then
		fail "esbuild (Go 1.16): start pprofd"
		stop "$pid"
		stop "$holder"
		return
	fi
	fetch "$DAEMON_URL/debug/metrics" "$E2E_TMP/esb16.metrics" >/dev/null
	if jq -e '.go_runtime.readable == false and
		(.go_runtime.reason | test("^unsupported Go version go1\\.16\\.3"))' \
		"$E2E_TMP/esb16.metrics" >/dev/null; then
		ok "esbuild (Go 1.16): /debug/metrics $(jq -c .go_runtime "$E2E_TMP/esb16.metrics")"
	else
		fail "esbuild (Go 1.16): unsupported Go version in /debug/metrics" \
			"$(jq -c .go_runtime "$E2E_TMP/esb16.metrics")"
	fi
	code=$(fetch "$DAEMON_URL/debug/pprof/goroutine?debug=1" "$E2E_TMP/esb16.g1")
	if [ "$code" = 200 ] && grep -q '^threads profile: total\|^goroutine profile: total' "$E2E_TMP/esb16.g1"; then
		ok "esbuild (Go 1.16): goroutine keeps the native view ($(head -1 "$E2E_TMP/esb16.g1"))"
	else
		fail "esbuild (Go 1.16): goroutine keeps the native view" "code $code" \
			"$(head -3 "$E2E_TMP/esb16.g1")"
	fi
	stop "$DAEMON_PID"
	stop "$pid"
	stop "$holder"
}

newer_go

done_testing
