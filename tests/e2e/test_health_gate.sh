#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_health_gate.sh - scripts/health-gate exits as documented: 0 when the
# gate passes, 1 with every failing check printed, 2 on bad usage, 3 when
# nothing answers within --wait; it waits for a daemon that starts late.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
GATE=$E2E_REPO/scripts/health-gate

# gate EXPECTED_STATUS WHAT ARGS...: runs the gate, checks its exit status.
gate()
{
	local expected=$1 what=$2 status
	shift 2
	"$GATE" "$@" >"$E2E_TMP/gate.out" 2>&1
	status=$?
	if [ "$status" = "$expected" ]; then
		ok "health-gate $what: exit $expected"
	else
		fail "health-gate $what: exit $expected" "exit $status" "$(cat "$E2E_TMP/gate.out")"
	fi
}

gate 2 "--fail-on bogus" --fail-on bogus
gate 2 "--wait x" --wait x
gate 2 "an unknown argument" --frobnicate
gate 0 "--help" --help
port=$(free_port)
start=$SECONDS
gate 3 "with nothing listening (--wait 1)" --url "http://127.0.0.1:$port" --wait 1
[ $((SECONDS - start)) -le 4 ] && ok "health-gate --wait 1 gives up within 4 s" ||
	fail "health-gate --wait 1 gives up within 4 s" "took $((SECONDS - start)) s"

start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID
printf '{"health": {"max_threads": 4}}\n' >"$E2E_TMP/health.json"

# The gate started before the daemon: it waits for it.
port=$(free_port)
"$GATE" --url "http://127.0.0.1:$port/" --wait 20 >"$E2E_TMP/late.out" 2>&1 &
late=$!
track "$late"
sleep 1
APP_ENVIRONMENT=development "$PPROFD" --pid "$target" --listen "127.0.0.1:$port" \
	--config "$E2E_TMP/health.json" >"$E2E_TMP/pprofd.log" 2>&1 &
DAEMON_PID=$!
DAEMON_LOG=$E2E_TMP/pprofd.log
DAEMON_URL=http://127.0.0.1:$port
track "$DAEMON_PID"
if wait_exit "$late" 20 && [ "$EXIT_STATUS" = 0 ]; then
	ok "health-gate waits for a daemon that starts after it, then passes"
else
	fail "health-gate waits for a daemon that starts after it, then passes" \
		"exit ${EXIT_STATUS:-still running}" "$(cat "$E2E_TMP/late.out")"
	diag_daemon
fi

gate 0 "on a healthy target" --url "$DAEMON_URL" --wait 5
grep -q '^FAIL' "$E2E_TMP/gate.out" &&
	fail "health-gate prints no FAIL line when it passes" "$(cat "$E2E_TMP/gate.out")"

# 4 threads of max 4: a warning.
for n in 2 3 4; do
	kill -USR1 "$target"
	for _ in $(seq 50); do
		[ "$(awk '/^Threads:/ { print $2 }' "/proc/$target/status")" = "$n" ] && break
		sleep 0.1
	done
done
gate 0 "on a warning with --fail-on critical" --url "$DAEMON_URL" --fail-on critical --wait 5
gate 1 "on a warning with --fail-on warning" --url "$DAEMON_URL/performance/health" \
	--fail-on warning --wait 5
if grep -q '^FAIL threads: 4 (threshold 4, warning above 3.2, warning)' "$E2E_TMP/gate.out"; then
	ok "health-gate prints the failing check with value, threshold and status"
else
	fail "health-gate prints the failing check with value, threshold and status" \
		"$(cat "$E2E_TMP/gate.out")"
fi

# The target exits: critical.
kill -KILL "$target"
wait_exit "$target" 3
gate 1 "once the target exited" --url "$DAEMON_URL" --wait 5
grep -q '^FAIL target_running: false' "$E2E_TMP/gate.out" &&
	ok "health-gate names target_running when the target is gone" ||
	fail "health-gate names target_running when the target is gone" "$(cat "$E2E_TMP/gate.out")"
stop "$DAEMON_PID"

done_testing
