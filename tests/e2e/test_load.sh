#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_load.sh - load with faults, on loopback, in bounded time:
#   load        wrk with 64 connections on /performance/health, /stats and
#               /metrics (in turn) while CPU, heap, block and goroutine
#               profiles are taken one after the other and the target (demo,
#               followed through --pidfile) is killed and restarted twice:
#               every request is answered (no wrk socket error or timeout;
#               200, or 503 while the target is down), every profile
#               answered 200 is one go tool pprof reads (503 only saying the
#               target is not running), every kind is answered 200 at least
#               once, no connection is refused under limits.max_connections,
#               and pprofd's anonymous RSS (RssAnon: the least of each
#               phase's second half) grows by at most 4 MiB from after the
#               first restart to the end;
#   cap         limits.max_connections=8 (applied by SIGHUP): of 12
#               connections open at once, 8 are served and 4 answered 503
#               naming the limit; once they close the count is back to the
#               one asking.
# Only the endpoints' contract is relied on (a status and a valid profile),
# not how a collector collects.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
if ! need wrk jq; then
	fail "wrk and jq installed (make deps)"
	done_testing
fi

LOAD_SECONDS=${LOAD_SECONDS:-8} # per phase; three phases

# restart_target: the target exits (SIGKILL) and a new demo takes its place
# in the pidfile.
restart_target()
{
	kill -KILL "$target"
	wait_exit "$target" 3
	sleep 0.3 # pprofd sees it gone (checked every 500 ms): requests get 503 meanwhile
	start_workload demo 100 || fail "restart: start a new demo"
	target=$WORKLOAD_PID
	echo "$target" >"$E2E_TMP/app.pid.new" && mv "$E2E_TMP/app.pid.new" "$E2E_TMP/app.pid"
	for _ in $(seq 40); do
		[ "$(curl -s --max-time 2 "$DAEMON_URL/performance/health" | jq -r .target.pid 2>/dev/null)" = "$target" ] &&
			return 0
		sleep 0.1
	done
	fail "restart: pprofd follows the pidfile to $target within 4 s"
	diag_daemon
}

# load_phase: LOAD_SECONDS of load; ANON_MIN gets pprofd's smallest
# anonymous RSS (RssAnon, kB: its heap, where a leak would be; RssFile is
# the debug info it maps, paged in and out as symbols are looked up) of the
# phase's second half, sampled every 0.5 s: what it holds, not the buffers
# of the profile being encoded at the moment; RSS_NOW its VmRSS at the end.
load_phase()
{
	local i v
	ANON_MIN=
	for ((i = 0; i < 2 * LOAD_SECONDS; i++)); do
		sleep 0.5
		[ "$i" -lt "$LOAD_SECONDS" ] && continue
		v=$(awk '/^RssAnon:/ { print $2 }' "/proc/$DAEMON_PID/status")
		[ -z "$ANON_MIN" ] || [ "$v" -lt "$ANON_MIN" ] && ANON_MIN=$v
	done
	RSS_NOW=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
}

# metric NAME: a pprofd_* value from /metrics.
metric()
{
	curl -s --max-time 5 "$DAEMON_URL/metrics" | awk -v m="$1" '$1 == m { print $2 }'
}

# profiles: takes profiles in turn until $E2E_TMP/stop exists; one line
# "KIND CODE FILE" per profile in $E2E_TMP/profiles.list.
profiles()
{
	local n=0 kind url code
	while [ ! -e "$E2E_TMP/stop" ]; do
		for kind in cpu heap block goroutine; do
			case $kind in
			cpu) url="$DAEMON_URL/debug/pprof/profile?seconds=1" ;;
			*) url="$DAEMON_URL/debug/pprof/$kind" ;;
			esac
			n=$((n + 1))
			code=$(curl -s --max-time 20 -o "$E2E_TMP/prof.$n.$kind" -w '%{http_code}' "$url")
			echo "$kind ${code:-000} $E2E_TMP/prof.$n.$kind" >>"$E2E_TMP/profiles.list"
		done
	done
}

# ---- load with faults

start_workload demo 100 || {
	fail "start demo"
	done_testing
}
target=$WORKLOAD_PID
echo "$target" >"$E2E_TMP/app.pid"
# Thresholds no healthy demo crosses: health answers 200 unless the target is
# down.  No heap overhead limit: the governor would pause heap tracking
# (its endpoints then answer 503 saying so) on a loaded machine.
cat >"$E2E_TMP/load.json" <<EOF
{
	"health": { "max_threads": 100000, "max_heap_bytes": 1099511627776,
		    "pause_warn_ms": 3600000, "pause_critical_ms": 3600000 },
	"heap": { "max_overhead_percent": 0 },
	"limits": { "max_connections": 256 }
}
EOF
port=$(free_port)
DAEMON_URL=http://127.0.0.1:$port
DAEMON_PORT=$port
DAEMON_LOG=$E2E_TMP/pprofd.log
APP_ENVIRONMENT=development "$PPROFD" --pidfile "$E2E_TMP/app.pid" --config "$E2E_TMP/load.json" \
	--listen "127.0.0.1:$port" >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track "$DAEMON_PID"
for _ in $(seq 150); do
	curl -s -o /dev/null --max-time 1 "$DAEMON_URL/performance/health" && break
	sleep 0.1
done
if ! check_eq "pprofd answers" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/health")"; then
	diag_daemon
	done_testing
fi

cat >"$E2E_TMP/rotate.lua" <<'EOF'
-- health, stats and metrics in turn; every status counted, per thread.
local paths = { "/performance/health", "/performance/stats", "/metrics" }
local threads = {}
function setup(thread)
	table.insert(threads, thread)
end
function init(args)
	n = 0
	codes = {}
end
function request()
	n = n + 1
	return wrk.format("GET", paths[n % 3 + 1])
end
function response(status, headers, body)
	codes[status] = (codes[status] or 0) + 1
end
function done(summary, latency, requests)
	local total = {}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get("codes")) do
			total[k] = (total[k] or 0) + v
		end
	end
	for k, v in pairs(total) do
		io.write(string.format("status %d %d\n", k, v))
	end
	local e = summary.errors
	io.write(string.format("errors %d connect %d read %d write %d timeout %d\n",
		e.connect + e.read + e.write + e.timeout, e.connect, e.read, e.write, e.timeout))
	io.write(string.format("requests %d\n", summary.requests))
end
EOF

rm -f "$E2E_TMP/stop"
: >"$E2E_TMP/profiles.list"
profiles &
profiler=$!
track "$profiler"
wrk -t2 -c64 -d$((3 * LOAD_SECONDS + 4))s --timeout 10s -s "$E2E_TMP/rotate.lua" "$DAEMON_URL" \
	>"$E2E_TMP/wrk.out" 2>&1 &
loader=$!
track "$loader"

load_phase
restart_target
load_phase
rss_a=$ANON_MIN
vm_a=$RSS_NOW
restart_target
load_phase
rss_b=$ANON_MIN
vm_b=$RSS_NOW
wait_exit "$loader" 30 || fail "wrk ends"
touch "$E2E_TMP/stop"
wait_exit "$profiler" 30 || fail "the profile loop ends"

diag "wrk: $(tr '\n' ';' <"$E2E_TMP/wrk.out" | grep -o 'status.*')"
check_eq "load: every request answered (no socket error, no timeout)" 0 \
	"$(awk '$1 == "errors" { print $2 }' "$E2E_TMP/wrk.out")"
requests=$(awk '$1 == "requests" { print $2 }' "$E2E_TMP/wrk.out")
answered=$(awk '$1 == "status" && ($2 == 200 || $2 == 202 || $2 == 503) { n += $3 } END { print n + 0 }' "$E2E_TMP/wrk.out")
if [ "${requests:-0}" -gt 1000 ] && [ "$answered" = "$requests" ]; then
	ok "load: all $requests requests answered 200 (202, 503: health's, or the target down)"
else
	fail "load: all requests answered 200 (202, 503: health's, or the target down)" \
		"$answered of ${requests:-0}: $(grep status "$E2E_TMP/wrk.out" | tr '\n' ' ')"
fi
check_eq "load: no connection refused below limits.max_connections" 0 \
	"$(metric pprofd_http_connections_refused_total)"

bad=0
for kind in cpu heap block goroutine; do
	good=0
	while read -r k code file; do
		[ "$k" = "$kind" ] || continue
		if [ "$code" = 200 ]; then
			if pprof "$file" -raw -symbolize=none >/dev/null; then
				good=$((good + 1))
			else
				bad=$((bad + 1))
				diag "$kind profile $file: go tool pprof: $(head -c 300 "$file.pprof-err")"
			fi
		elif [ "$code" != 503 ] || ! grep -q 'not running' "$file"; then
			bad=$((bad + 1))
			diag "$kind profile answered $code: $(head -c 300 "$file")"
		fi
	done <"$E2E_TMP/profiles.list"
	if [ "$good" -ge 1 ]; then
		ok "load: $good $kind profiles answered 200, each read by go tool pprof"
	else
		fail "load: $kind profiles answered 200, each read by go tool pprof" \
			"$(grep "^$kind " "$E2E_TMP/profiles.list" | awk '{ print $2 }' | sort | uniq -c | tr '\n' ' ')"
	fi
done
check_eq "load: every profile a valid one, or 503 target not running" 0 "$bad"
growth=$((rss_b - rss_a))
if [ "$growth" -le 4096 ]; then
	ok "load: pprofd's anonymous RSS flat across the second restart ($rss_a -> $rss_b kB;" \
		"VmRSS $vm_a -> $vm_b kB)"
else
	fail "load: pprofd's anonymous RSS flat across the second restart (<= 4 MiB)" \
		"RssAnon $rss_a -> $rss_b kB, VmRSS $vm_a -> $vm_b kB"
fi
check_daemon_alive "the load"

# ---- the connection cap

sed -i 's/"max_connections": 256/"max_connections": 8/' "$E2E_TMP/load.json"
kill -HUP "$DAEMON_PID"
for _ in $(seq 50); do
	grep -q 'reload: done' "$DAEMON_LOG" && break
	sleep 0.1
done
refused0=$(metric pprofd_http_connections_refused_total)
fds=()
for _ in $(seq 12); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$DAEMON_PORT"
	fds+=("$fd")
	sleep 0.02 # accepted one by one
done
codes=
for fd in "${fds[@]}"; do
	printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&"$fd"
done
for fd in "${fds[@]}"; do
	line=
	read -r -t 10 line <&"$fd"
	codes="$codes${codes:+ }${line:9:3}"
	[ "${line:9:3}" = 503 ] && cat <&"$fd" >"$E2E_TMP/refused"
	exec {fd}>&-
done
codes=$(tr ' ' '\n' <<<"${codes:-none}" | sort | uniq -c | awk '{ printf "%s%s x%s", (n++ ? ", " : ""), $2, $1 }')
check_eq "cap: 12 connections at max_connections=8: 8 served, 4 refused" "200 x8, 503 x4" "$codes"
if grep -q 'limits.max_connections' "$E2E_TMP/refused"; then
	ok "cap: the 503 names limits.max_connections"
else
	fail "cap: the 503 names limits.max_connections" "$(cat "$E2E_TMP/refused")"
fi
check_eq "cap: refusals counted" 4 "$(($(metric pprofd_http_connections_refused_total) - refused0))"
sleep 0.2
check_eq "cap: once they are closed, 1 connection open (this one)" 1 \
	"$(metric pprofd_http_connections)"
check_eq "cap: served again after" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/metrics")"
check_daemon_alive "the cap"
stop "$DAEMON_PID"
stop "$target"
done_testing
