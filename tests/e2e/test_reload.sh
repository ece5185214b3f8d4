#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_reload.sh - SIGHUP re-reads the config file: health thresholds,
# log.access and the environment change at once; listen is logged as needing
# a restart; a bad file changes nothing, names the key, and the daemon runs on.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID
conf=$E2E_TMP/pprofd.json
printf '{"environment": "development", "health": {"max_threads": 4}}\n' >"$conf"
DAEMON_ENV= start_daemon "$target" --config "$conf" || {
	fail "start pprofd --config"
	done_testing
}

# hup: SIGHUP, then wait for the daemon to log the outcome.
hup()
{
	local lines
	lines=$(wc -l <"$DAEMON_LOG")
	kill -HUP "$DAEMON_PID"
	for _ in $(seq 30); do
		tail -n +"$((lines + 1))" "$DAEMON_LOG" | grep -q 'reload: \(done\|.*nothing changed\)' && break
		sleep 0.1
	done
	tail -n +"$((lines + 1))" "$DAEMON_LOG" >"$E2E_TMP/hup.log"
}

check_eq "before: 1 thread of max 4 is 200" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/health")"
check_eq "before: /performance/memory served (development)" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/memory")"

port=$(free_port)
printf '{"environment": "production", "listen": "127.0.0.1:%s", "health": {"max_threads": 1},
"log": {"access": false}}\n' "$port" >"$conf"
hup
check_eq "after SIGHUP: 1 thread of max 1 (above 80%) is 202" 202 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/health")"
check_eq "after SIGHUP: production: /performance/memory is 404" 404 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/memory")"
grep -q 'reload: listen changed in .*restart' "$E2E_TMP/hup.log" &&
	ok "SIGHUP: listen is logged as needing a restart" ||
	fail "SIGHUP: listen is logged as needing a restart" "$(cat "$E2E_TMP/hup.log")"
grep -q 'reload: health.max_threads changed' "$E2E_TMP/hup.log" &&
	ok "SIGHUP: logs what changed" || fail "SIGHUP: logs what changed" "$(cat "$E2E_TMP/hup.log")"
before=$(grep -c 'access:' "$DAEMON_LOG")
curl -s -o /dev/null "$DAEMON_URL/performance/health"
check_eq "after SIGHUP: log.access false: no more access lines" "$before" \
	"$(grep -c 'access:' "$DAEMON_LOG")"

printf '{"health": {"max_threads": "lots"}}\n' >"$conf"
hup
grep -q 'key "health.max_threads": expected an integer.*nothing changed' "$E2E_TMP/hup.log" &&
	ok "SIGHUP with a bad file: names the key, nothing changed" ||
	fail "SIGHUP with a bad file: names the key, nothing changed" "$(cat "$E2E_TMP/hup.log")"
check_eq "after a bad reload: still 202 (max_threads 1 kept)" 202 \
	"$(curl -s -o /dev/null -w '%{http_code}' "$DAEMON_URL/performance/health")"
check_daemon_alive "a bad reload"
stop "$DAEMON_PID"

done_testing
