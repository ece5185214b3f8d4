#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_attach.sh - targets by --pidfile and --unit, followed across restarts:
#   the target exits      health 503 "target not running", profiles 503;
#   it comes back         pprofd re-attaches within 2 s without restarting
#                         (same daemon PID), health 200 on the new PID and a
#                         CPU profile of the new process;
#   --unit NAME.service   the main process of the unit's cgroup (a cgroup
#                         made for the test: no systemd needed);
#   bad sources           a missing pidfile or an empty unit: exit 4.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# health_pid: the target PID /performance/health reports, and its HTTP code.
health()
{
	HEALTH_CODE=$(fetch "$DAEMON_URL/performance/health" "$E2E_TMP/health")
	HEALTH_PID=$(jq -r .target.pid "$E2E_TMP/health" 2>/dev/null)
}

# follow WHAT MOVE_CMD: the current target ($target) exits and a new grow
# comes back (MOVE_CMD NEWPID makes it the source's process).
follow()
{
	local what=$1 move=$2 daemon=$DAEMON_PID t0 elapsed
	kill -KILL "$target"
	wait_exit "$target" 3
	sleep 0.6
	health
	check_eq "$what: target gone: health 503" 503 "$HEALTH_CODE"
	check_eq "$what: ... saying target not running" "target not running" \
		"$(jq -r .reason "$E2E_TMP/health")"
	code=$(fetch "$DAEMON_URL/debug/pprof/profile?seconds=1" "$E2E_TMP/gone")
	if [ "$code" = 503 ] && grep -q 'target not running' "$E2E_TMP/gone"; then
		ok "$what: target gone: profiles 503 target not running"
	else
		fail "$what: target gone: profiles 503 target not running" "$code $(cat "$E2E_TMP/gone")"
	fi

	start_workload grow || fail "$what: start the new grow"
	target=$WORKLOAD_PID
	$move "$target"
	t0=$(date +%s%N)
	for _ in $(seq 40); do
		health
		[ "$HEALTH_PID" = "$target" ] && break
		sleep 0.1
	done
	elapsed=$((($(date +%s%N) - t0) / 1000000))
	if [ "$HEALTH_PID" = "$target" ] && [ "$HEALTH_CODE" = 200 ] && [ "$elapsed" -le 2000 ]; then
		ok "$what: re-attached to the new process within 2 s (${elapsed} ms)"
	else
		fail "$what: re-attached to the new process within 2 s" \
			"health $HEALTH_CODE pid $HEALTH_PID (want $target) after $elapsed ms"
		diag_daemon
	fi
	check_eq "$what: the same pprofd (not restarted)" "$daemon" "$DAEMON_PID"
	check_daemon_alive "$what: re-attach"
	code=$(fetch "$DAEMON_URL/debug/pprof/profile?seconds=1" "$E2E_TMP/new.prof")
	if [ "$code" = 200 ] && is_gzip "$E2E_TMP/new.prof"; then
		ok "$what: a CPU profile of the new process"
	else
		fail "$what: a CPU profile of the new process" "$code $(head -c 200 "$E2E_TMP/new.prof")"
	fi
	check_eq "$what: cmdline is the new process's" "$(tr '\0' ' ' <"/proc/$target/cmdline" | sed 's/ $//')" \
		"$(curl -s "$DAEMON_URL/debug/pprof/cmdline" | tr '\0' ' ')"
}

# ---- bad sources

"$PPROFD" --pidfile "$E2E_TMP/missing.pid" >"$E2E_TMP/bad.log" 2>&1
check_eq "--pidfile missing: exit 4" 4 "$?"
"$PPROFD" --unit pprofd-e2e-nothing.service >"$E2E_TMP/bad.log" 2>&1
check_eq "--unit with no process: exit 4" 4 "$?"
"$PPROFD" --pid 1 --unit x.service >"$E2E_TMP/bad.log" 2>&1
check_eq "--pid with --unit: exit 2" 2 "$?"

# ---- --pidfile

start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID
echo "$target" >"$E2E_TMP/app.pid"
# start_daemon passes --pid: start this one by hand.
DAEMON_PORT=$(free_port)
DAEMON_URL=http://127.0.0.1:$DAEMON_PORT
DAEMON_LOG=$E2E_TMP/pprofd-pidfile.log
APP_ENVIRONMENT=development "$PPROFD" --pidfile "$E2E_TMP/app.pid" \
	--listen "127.0.0.1:$DAEMON_PORT" >"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track "$DAEMON_PID"
for _ in $(seq 150); do
	health
	[ "$HEALTH_CODE" = 200 ] && break
	sleep 0.1
done
check_eq "--pidfile: attached to the pidfile's process" "200 $target" "$HEALTH_CODE $HEALTH_PID"
write_pidfile() { echo "$1" >"$E2E_TMP/app.pid.new" && mv "$E2E_TMP/app.pid.new" "$E2E_TMP/app.pid"; }
follow "--pidfile" write_pidfile
follow "--pidfile, twice" write_pidfile
stop "$DAEMON_PID"

# ---- --unit: a cgroup named like a unit, in whichever hierarchy is writable

unit=pprofd-e2e-$$.service
cg=
for root in /sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup; do
	[ -w "$root/cgroup.procs" ] || continue
	mkdir "$root/$unit" 2>/dev/null && cg=$root/$unit && break
done
if [ -z "$cg" ]; then
	skip "--unit" "no writable cgroup hierarchy to make $unit in"
	done_testing
fi
into_unit() { echo "$1" >"$cg/cgroup.procs"; }
start_workload grow || fail "start grow for the unit"
target=$WORKLOAD_PID
into_unit "$target"
DAEMON_PORT=$(free_port)
DAEMON_URL=http://127.0.0.1:$DAEMON_PORT
DAEMON_LOG=$E2E_TMP/pprofd-unit.log
APP_ENVIRONMENT=development "$PPROFD" --unit "$unit" --listen "127.0.0.1:$DAEMON_PORT" \
	>"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
track "$DAEMON_PID"
for _ in $(seq 150); do
	health
	[ "$HEALTH_CODE" = 200 ] && break
	sleep 0.1
done
check_eq "--unit: attached to the unit's main process" "200 $target" "$HEALTH_CODE $HEALTH_PID"
follow "--unit" into_unit
stop "$DAEMON_PID"
stop "$target"
for _ in $(seq 20); do rmdir "$cg" 2>/dev/null && break; sleep 0.1; done

done_testing
