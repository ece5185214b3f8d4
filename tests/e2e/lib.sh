# SPDX-License-Identifier: MIT
# shellcheck shell=bash
#
# lib.sh - helpers shared by the end-to-end tests (tests/e2e/test_*.sh).
#
# Source it first thing:   . "$(dirname "$0")/lib.sh"
#
# Output is TAP-like, one line per check: "ok - what" / "not ok - what", with
# diagnostics on lines starting with "#".  tests/run.sh counts those lines.
#
# Everything a script starts (workloads, daemons, curls in the background) is
# recorded by PID and killed by PID on exit, however the script ends; the temp
# directory goes with it.  A watchdog ends a script that runs longer than
# E2E_TIMEOUT seconds (default 180: start-up loads several BPF objects, slow on a busy machine).  Everything listens on 127.0.0.1 only.
#
# Environment: OUTPUT (build directory, default "build", relative to the
# repository root), E2E_TIMEOUT, E2E_KEEP=1 (keep the temp directory).

set -u

E2E_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUTPUT=${OUTPUT:-build}
case $OUTPUT in
/*) ;;
*) OUTPUT=$E2E_REPO/$OUTPUT ;;
esac
PPROFD=$OUTPUT/pprofd
WORKLOADS=$OUTPUT/workloads
E2E_NAME=$(basename "$0" .sh)
E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pprofd-$E2E_NAME.XXXXXX")
E2E_PIDS=()
E2E_PASSED=0
E2E_FAILED=0
E2E_SKIPPED=0

# go tool pprof wants a HOME and a GOCACHE; do not touch the user's if set.
export HOME=${HOME:-$E2E_TMP}
export GOCACHE=${GOCACHE:-$E2E_TMP/gocache}
# A profile must load with what the daemon put in it: no binaries picked up
# from ~/pprof/binaries behind our back.
export PPROF_BINARY_PATH=$E2E_TMP/no-binaries

# ---------------------------------------------------------------- reporting

diag()
{
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/# /'
	done
}

# diag_file FILE [MAX_LINES]: a file's contents as diagnostics.
diag_file()
{
	[ -s "$1" ] || return 0
	diag "--- $1 (last ${2:-20} lines):"
	tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

ok()
{
	E2E_PASSED=$((E2E_PASSED + 1))
	echo "ok - $*"
}

# fail DESCRIPTION [DIAGNOSTIC...]
fail()
{
	local what=$1
	shift
	E2E_FAILED=$((E2E_FAILED + 1))
	echo "not ok - $what"
	[ $# -eq 0 ] || diag "$@"
}

# skip DESCRIPTION REASON
skip()
{
	E2E_SKIPPED=$((E2E_SKIPPED + 1))
	echo "ok - $1 # SKIP $2"
}

# check DESCRIPTION COMMAND [ARGS...]: ok when the command succeeds; its
# output is shown as diagnostics when it fails.
check()
{
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$what"
	else
		fail "$what" "command: $*"
		[ -z "$out" ] || diag "$out"
	fi
}

# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq()
{
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "expected: $2" "got:      $3"
	fi
}

# Prints the summary and exits: 0 when nothing failed.
done_testing()
{
	diag "$E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed, $E2E_SKIPPED skipped"
	[ "$E2E_FAILED" -eq 0 ]
	exit
}

# ---------------------------------------------------------------- processes

# track PID: kill it when the script ends.
track()
{
	E2E_PIDS+=("$1")
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive()
{
	local state
	state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# wait_exit PID SECONDS: waits up to SECONDS (decimals allowed) for PID to
# exit; reaps it if it is our child.  EXIT_STATUS is its exit status, or
# empty when it is still running.
wait_exit()
{
	local pid=$1 tenths
	tenths=$(awk -v s="$2" 'BEGIN { printf "%d", s * 10 }')
	EXIT_STATUS=
	while [ "$tenths" -gt 0 ] && proc_alive "$pid"; do
		sleep 0.1
		tenths=$((tenths - 1))
	done
	proc_alive "$pid" && return 1
	wait "$pid" 2>/dev/null
	EXIT_STATUS=$?
	return 0
}

# stop PID: SIGTERM, then SIGKILL after 3 s.
stop()
{
	local pid=$1
	proc_alive "$pid" || {
		wait "$pid" 2>/dev/null
		return 0
	}
	kill -TERM "$pid" 2>/dev/null
	wait_exit "$pid" 3 && return 0
	kill -KILL "$pid" 2>/dev/null
	wait_exit "$pid" 2
}

e2e_cleanup()
{
	local pid
	trap - EXIT INT TERM ALRM
	for pid in "${E2E_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${E2E_PIDS[@]}"; do
		stop "$pid"
	done
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		diag "kept $E2E_TMP"
	else
		rm -rf "$E2E_TMP"
	fi
}

e2e_timeout()
{
	fail "$E2E_NAME finished within ${E2E_TIMEOUT:-180} s" "watchdog fired: killing everything"
	exit 1
}

trap e2e_cleanup EXIT
trap 'exit 1' INT TERM
trap e2e_timeout ALRM

# The watchdog: one subshell that sends SIGALRM to the script when time is
# up; killing the subshell (cleanup does) takes its sleep with it.
(
	trap 'kill "$sleeper" 2>/dev/null; exit 0' TERM
	sleep "${E2E_TIMEOUT:-180}" &
	sleeper=$!
	wait "$sleeper" && kill -ALRM $$ 2>/dev/null
) &
track $!

# ---------------------------------------------------------------- environment

# need COMMAND...: true when all are installed; otherwise says which is not.
need()
{
	local c missing=
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] && return 0
	diag "missing:$missing (make deps)"
	return 1
}

# require_daemon: bail out (one failure) when build/pprofd or the tools are missing.
require_daemon()
{
	need curl jq go || {
		fail "$E2E_NAME: test tools installed"
		done_testing
	}
	if [ ! -x "$PPROFD" ]; then
		fail "$E2E_NAME: $PPROFD built" "run: make all workloads"
		done_testing
	fi
}

# free_port: prints a TCP port nobody on this machine is using (IPv4 or v6).
free_port()
{
	local used port
	used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
		while read -r hex; do echo $((16#$hex)); done | sort -u)
	for _ in $(seq 200); do
		port=$((20000 + RANDOM % 30000))
		grep -qx "$port" <<<"$used" || {
			echo "$port"
			return 0
		}
	done
	return 1
}

# ---------------------------------------------------------------- workloads

# start_workload NAME [ARGS...]: starts $OUTPUT/workloads/NAME in the
# background; sets WORKLOAD_PID once the program has been exec'd.
start_workload()
{
	local bin=$WORKLOADS/$1 real
	shift
	WORKLOAD_PID=
	if [ ! -x "$bin" ]; then
		diag "missing $bin (make workloads)"
		return 1
	fi
	real=$(readlink -f "$bin")
	"$bin" "$@" >>"$E2E_TMP/$(basename "$bin").log" 2>&1 &
	WORKLOAD_PID=$!
	track "$WORKLOAD_PID"
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$WORKLOAD_PID/exe" 2>/dev/null)" = "$real" ] && return 0
		sleep 0.02
	done
	diag "$bin did not start"
	return 1
}

# start_go_app BIN [ARGS...]: a Go workload serving HTTP on a free loopback
# port (its -listen), waited for (up to 5 s) until it answers; sets APP_PORT
# and WORKLOAD_PID.
start_go_app()
{
	local bin=$1
	shift
	APP_PORT=$(free_port) || return 1
	start_workload "$bin" -listen "127.0.0.1:$APP_PORT" "$@" || return 1
	for _ in $(seq 50); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$APP_PORT/" && break
		sleep 0.1
	done
	return 0
}

# start_go_target BIN [ARGS...]: start_go_app, then pprofd on it
# (start_daemon); a "BIN: start ..." fail line and nothing left running when
# either does not start.  Sets APP_PORT, WORKLOAD_PID, DAEMON_PID, DAEMON_URL.
start_go_target()
{
	local bin=$1
	if ! start_go_app "$@"; then
		fail "$bin: start"
		return 1
	fi
	if ! start_daemon "$WORKLOAD_PID"; then
		fail "$bin: start pprofd --pid $WORKLOAD_PID"
		stop "$WORKLOAD_PID"
		return 1
	fi
	return 0
}

# cpu_side_by_side NAME APP_PORT SECONDS: the Go app's own CPU profile (its
# net/http/pprof on APP_PORT) and pprofd's (DAEMON_URL) over the same
# window, into $E2E_TMP/NAME.go.prof and $E2E_TMP/NAME.pprofd.prof; each
# must answer 200 and load in go tool pprof (an ok or a fail line each).
# Returns 1 when one does not.
cpu_side_by_side()
{
	local name=$1 port=$2 secs=$3 go_curl pprofd_curl who f code rc=0
	FETCH_TIMEOUT=30 fetch "http://127.0.0.1:$port/debug/pprof/profile?seconds=$secs" \
		"$E2E_TMP/$name.go.prof" >"$E2E_TMP/$name.go.code" &
	go_curl=$!
	track "$go_curl"
	FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/profile?seconds=$secs" \
		"$E2E_TMP/$name.pprofd.prof" >"$E2E_TMP/$name.pprofd.code" &
	pprofd_curl=$!
	track "$pprofd_curl"
	wait "$go_curl" "$pprofd_curl"
	for who in go pprofd; do
		f=$E2E_TMP/$name.$who.prof
		code=$(cat "$E2E_TMP/$name.$who.code")
		if [ "$code" = 200 ] && pprof "$f" -raw >/dev/null; then
			ok "$name: $who's CPU profile: 200 and loads in go tool pprof"
		else
			fail "$name: $who's CPU profile: 200 and loads in go tool pprof" "got $code" \
				"$(cat "$f.curl-err" "$f.pprof-err" 2>/dev/null)" \
				"$(head -c 300 "$f" 2>/dev/null | tr -c '[:print:]\n' '.')"
			[ "$who" = go ] || diag_daemon
			rc=1
		fi
	done
	return $rc
}

# ---------------------------------------------------------------- the daemon

# start_daemon PID [ARGS...]: starts pprofd on PID listening on a free
# loopback port and waits (up to 15 s) until it answers HTTP.
# APP_ENVIRONMENT is DAEMON_ENV (default "development"; DAEMON_ENV= starts it
# with APP_ENVIRONMENT unset, i.e. production mode).
# Sets DAEMON_PID, DAEMON_PORT, DAEMON_URL (http://127.0.0.1:PORT), DAEMON_LOG.
# On failure shows the daemon's log and returns 1.
start_daemon()
{
	local target=$1 code
	shift
	for _ in 1 2 3; do
		DAEMON_PORT=$(free_port) || return 1
		DAEMON_URL=http://127.0.0.1:$DAEMON_PORT
		DAEMON_LOG=$E2E_TMP/pprofd.$DAEMON_PORT.log
		if [ -n "${DAEMON_ENV-development}" ]; then
			APP_ENVIRONMENT=${DAEMON_ENV-development} "$PPROFD" --pid "$target" \
				--listen "127.0.0.1:$DAEMON_PORT" "$@" >"$DAEMON_LOG" 2>&1 &
		else
			env -u APP_ENVIRONMENT "$PPROFD" --pid "$target" \
				--listen "127.0.0.1:$DAEMON_PORT" "$@" >"$DAEMON_LOG" 2>&1 &
		fi
		DAEMON_PID=$!
		track "$DAEMON_PID"
		for _ in $(seq 150); do
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
				"$DAEMON_URL/debug/pprof/" 2>/dev/null)
			[ "$code" != 000 ] && [ -n "$code" ] && return 0
			proc_alive "$DAEMON_PID" || break
			sleep 0.1
		done
		if wait_exit "$DAEMON_PID" 0; then
			# Exit 6: somebody took the port between free_port and bind; retry.
			[ "$EXIT_STATUS" = 6 ] && continue
			diag "pprofd --pid $target exited with status $EXIT_STATUS before answering"
		else
			diag "pprofd --pid $target did not answer on $DAEMON_URL within 15 s"
		fi
		diag_file "$DAEMON_LOG"
		return 1
	done
	return 1
}

# diag_daemon: why the daemon is not answering: its exit status (or signal)
# if it has died, and the end of its log.
diag_daemon()
{
	if ! proc_alive "$DAEMON_PID"; then
		wait_exit "$DAEMON_PID" 0
		if [ "${EXIT_STATUS:-0}" -gt 128 ]; then
			diag "pprofd died: killed by signal $((EXIT_STATUS - 128))" \
				"($(kill -l "$((EXIT_STATUS - 128))" 2>/dev/null))"
		else
			diag "pprofd exited with status $EXIT_STATUS"
		fi
	fi
	diag_file "$DAEMON_LOG"
}

# check_daemon_alive WHAT: one check that the daemon is still running.
check_daemon_alive()
{
	if proc_alive "$DAEMON_PID"; then
		ok "pprofd still running after $1"
	else
		fail "pprofd still running after $1"
		diag_daemon
	fi
}

# ---------------------------------------------------------------- HTTP

# fetch URL OUT [CURL_ARGS...]: GET (or whatever the args say) into OUT,
# headers into OUT.headers; prints the HTTP status code (000: no answer).
fetch()
{
	local url=$1 out=$2
	shift 2
	: >"$out"
	curl -sS --max-time "${FETCH_TIMEOUT:-30}" -D "$out.headers" -o "$out" \
		-w '%{http_code}' "$@" "$url" 2>"$out.curl-err"
}

# header FILE.headers NAME: the value of a response header (last response).
header()
{
	tr -d '\r' <"$1" | awk -v name="$2" '
		BEGIN { name = tolower(name) }
		/^HTTP\// { value = "" }
		{ i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == name) {
			value = substr($0, i + 1); sub(/^[ \t]+/, "", value) } }
		END { print value }'
}

# is_gzip FILE: starts with the gzip magic 1f 8b.
is_gzip()
{
	[ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = 1f8b ]
}

# ---------------------------------------------------------------- pprof

# pprof FILE ARGS...: go tool pprof ARGS FILE; stderr goes to FILE.pprof-err
# (pprof_warnings shows it).
pprof()
{
	local file=$1
	shift
	go tool pprof "$@" "$file" 2>"$file.pprof-err"
}

# pprof_top FILE [ARGS...]: the -top report with every node, names as the
# profile gives them (-symbolize=none: what pprofd resolved, not what pprof
# could find by itself).
pprof_top()
{
	local file=$1
	shift
	pprof "$file" -top -nodecount=100000 -nodefraction=0 -edgefraction=0 \
		-symbolize=none "$@"
}

# pprof_warnings FILE: loads the profile the way a user would (default
# symbolization) and prints whatever pprof says on stderr; fails if it
# cannot load it.
pprof_warnings()
{
	# shellcheck disable=SC2069 # stderr to the caller, stdout discarded: on purpose
	go tool pprof -top "$1" 2>&1 >/dev/null
}

# flat_pct TOP_OUTPUT NAME_REGEX: the summed flat% of the functions whose name
# matches the extended regex (anchored at both ends); 0 if none.
flat_pct()
{
	awk -v re="^($2)\$" '
		$2 ~ /%$/ && $3 ~ /%$/ && NF >= 6 {
			name = $6
			for (i = 7; i <= NF; i++) name = name " " $i
			sub(/ \(inline\)$/, "", name)
			if (name ~ re) { v = $2; sub(/%$/, "", v); sum += v }
		}
		END { printf "%.2f\n", sum }' <<<"$1"
}

# cum_pct TOP_OUTPUT NAME_REGEX: the largest cum% among the functions whose
# name matches (anchored at both ends); 0 if none.
cum_pct()
{
	awk -v re="^($2)\$" '
		$2 ~ /%$/ && $5 ~ /%$/ && NF >= 6 {
			name = $6
			for (i = 7; i <= NF; i++) name = name " " $i
			sub(/ \(inline\)$/, "", name)
			if (name ~ re) { v = $5; sub(/%$/, "", v); if (v + 0 > max) max = v + 0 }
		}
		END { printf "%.2f\n", max }' <<<"$1"
}

# raw_sample_stats RAW_OUTPUT: from `go tool pprof -raw`, prints
# "SAMPLES COUNT_SUM VALUE2_SUM WITHOUT_THREAD WITHOUT_TID PERIOD".
raw_sample_stats()
{
	awk '
		/^Period: / { period = $2 }
		/^Samples:/ { in_samples = 1; getline; next }
		/^Locations/ { in_samples = 0 }
		!in_samples { next }
		/^ *-?[0-9]+ +-?[0-9]+: / {
			finish(); n++; count += $1; v = $2; sub(/:$/, "", v); value += v
			has_thread = has_tid = 0; next
		}
		/thread:\[/ { has_thread = 1 }
		/tid:\[/ { has_tid = 1 }
		function finish() { if (n) { no_thread += !has_thread; no_tid += !has_tid } }
		END {
			finish()
			# %.0f: mawk clamps %d to 32 bits, and nanoseconds sums overflow that.
			printf "%.0f %.0f %.0f %.0f %.0f %.0f\n", n, count, value, no_thread, no_tid, period
		}' <<<"$1"
}

# raw_stacks RAW: one line per sample of `go tool pprof -raw` output:
#   COUNT <TAB> MAPPING <TAB> ;FRAME;FRAME;...; <TAB> ADDRESS
# MAPPING and ADDRESS are those of the first frame not in the kernel (the
# user leaf); FRAMEs are function names, leaf first, inline frames expanded
# (innermost first); a location without any line is its address.
raw_stacks()
{
	awk '
		function fname(s) {
			sub(/^ +/, "", s)
			sub(/ s=-?[0-9]+(\(.*\))?$/, "", s)
			sub(/ [^ ]*:-?[0-9]+$/, "", s)
			return s
		}
		/^Samples:/ { sect = "s"; getline; next }
		/^Locations/ { sect = "l"; next }
		/^Mappings/ { sect = "m"; next }
		sect == "s" && /^ *-?[0-9]+ +-?[0-9]+: / {
			n++; cnt[n] = $1; s = $0; sub(/^[^:]*: */, "", s); stk[n] = s; next
		}
		sect == "l" && /^ *[0-9]+: 0x[0-9a-f]+/ {
			cur = $1; sub(/:$/, "", cur); addr[cur] = $2
			s = $0; sub(/^ *[0-9]+: 0x[0-9a-f]+ */, "", s)
			if (s ~ /^M=[0-9]+/) { m = s; sub(/ .*/, "", m); lmap[cur] = substr(m, 3); sub(/^M=[0-9]+ */, "", s) }
			sub(/^\[F\] */, "", s)
			names[cur] = (s == "") ? $2 : fname(s)
			next
		}
		sect == "l" && /^ +[^ ]/ { names[cur] = names[cur] ";" fname($0); next }
		sect == "m" && /^[0-9]+: / { id = $1; sub(/:$/, "", id); mfile[id] = $3; next }
		END {
			for (i = 1; i <= n; i++) {
				k = split(stk[i], ids, " ")
				leafmap = ""; leafaddr = ""; frames = ";"
				for (j = 1; j <= k; j++) {
					f = mfile[lmap[ids[j]]]
					if (leafmap == "" && f != "[kernel.kallsyms]") {
						leafmap = (f == "") ? "?" : f
						leafaddr = addr[ids[j]]
					}
					frames = frames names[ids[j]] ";"
				}
				printf "%s\t%s\t%s\t%s\n", cnt[i], leafmap, frames, leafaddr
			}
		}' <<<"$1"
}

# within VALUE EXPECTED TOLERANCE: |VALUE - EXPECTED| <= TOLERANCE (decimals ok).
within()
{
	awk -v v="$1" -v e="$2" -v t="$3" 'BEGIN { d = v - e; if (d < 0) d = -d; exit !(d <= t) }'
}

# ratio A B: A / B with two decimals (0 when B is 0).
ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b ? a / b : 0 }'
}
