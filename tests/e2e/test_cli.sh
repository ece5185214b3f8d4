#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli.sh - command line, exit codes and start-up error messages.
#
#   0 --help / --version     2 usage error            3 config error
#   4 no such process        5 missing privilege      6 listen address unusable
#
# Every start-up error is one line on stderr that says what is wrong and names
# the thing (flag, PID, file and line or key, address, capability).

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
need setpriv || fail "setpriv installed (util-linux)"

# run_pprofd [ARGS...]: runs pprofd in the foreground (10 s at most); sets
# STATUS, OUT (stdout) and ERR (stderr).
run_pprofd()
{
	timeout -k 2 10 "$PPROFD" "$@" >"$E2E_TMP/out" 2>"$E2E_TMP/err"
	STATUS=$?
	OUT=$(cat "$E2E_TMP/out")
	ERR=$(cat "$E2E_TMP/err")
}

# expect_status WHAT CODE: one check on STATUS.
expect_status()
{
	if [ "$STATUS" = "$2" ]; then
		ok "$1: exit status $2"
	else
		fail "$1: exit status $2" "got $STATUS" "stderr: $ERR"
	fi
}

# expect_error WHAT DESCRIPTION REGEX...: stderr is one line matching every
# (case-insensitive, extended) regex.
expect_error()
{
	local what=$1 desc=$2 re lines
	shift 2
	lines=$(printf '%s' "$ERR" | grep -c '')
	if [ "$lines" -ne 1 ]; then
		fail "$what: one line on stderr $desc" "got $lines lines:" "$ERR"
		return
	fi
	for re in "$@"; do
		if ! grep -Eqi -- "$re" <<<"$ERR"; then
			fail "$what: one line on stderr $desc" "does not match /$re/:" "$ERR"
			return
		fi
	done
	ok "$what: one line on stderr $desc"
	diag "$ERR"
}

start_workload cpu_split || fail "start cpu_split"
target=$WORKLOAD_PID

# --help, --version
run_pprofd --help
expect_status "--help" 0
if grep -qi usage <<<"$OUT" && grep -q -- --pid <<<"$OUT"; then
	ok "--help: usage with --pid on stdout"
else
	fail "--help: usage with --pid on stdout" "stdout: $OUT"
fi
run_pprofd --version
expect_status "--version" 0
if [ -n "$OUT" ]; then
	ok "--version: version on stdout"
	diag "$OUT"
else
	fail "--version: version on stdout" "stdout is empty; stderr: $ERR"
fi

# Usage errors: 2.
run_pprofd --pid "$target" --bogus-flag
expect_status "unknown flag" 2
expect_error "unknown flag" "naming it" 'bogus-flag'
run_pprofd --listen 127.0.0.1:1
expect_status "missing --pid" 2
expect_error "missing --pid" "naming --pid" '--pid|pid'
run_pprofd --pid 12abc
expect_status "non-numeric pid" 2
expect_error "non-numeric pid" "naming the value" '12abc'

# No such process: 4, the message has the PID.
pid_max=$(cat /proc/sys/kernel/pid_max)
gone=$((pid_max - 1))
while [ -e "/proc/$gone" ]; do gone=$((gone - 1)); done
run_pprofd --pid "$gone" --listen "127.0.0.1:$(free_port)"
expect_status "nonexistent pid $gone" 4
expect_error "nonexistent pid" "with the PID" "\\b$gone\\b"

# Missing privilege: 5, the message names CAP_BPF and CAP_PERFMON (or root).
# The binary is copied where nobody can execute it (the build tree may not be).
if command -v setpriv >/dev/null 2>&1; then
	mkdir -p "$E2E_TMP/nobody" && cp "$PPROFD" "$E2E_TMP/nobody/pprofd"
	chmod 755 "$E2E_TMP" "$E2E_TMP/nobody" "$E2E_TMP/nobody/pprofd"
	STATUS=0
	timeout -k 2 10 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$E2E_TMP/nobody/pprofd" --pid "$target" --listen "127.0.0.1:$(free_port)" \
		>"$E2E_TMP/out" 2>"$E2E_TMP/err" || STATUS=$?
	ERR=$(cat "$E2E_TMP/err")
	expect_status "as nobody" 5
	expect_error "as nobody" "naming CAP_BPF and CAP_PERFMON or root" \
		'CAP_BPF.*CAP_PERFMON|CAP_PERFMON.*CAP_BPF|root'
else
	skip "as nobody: exit status 5" "setpriv missing"
fi

# Listen address in use: 6, the message names the address.  goserver holds the port.
busy=$(free_port)
if start_workload goserver -listen "127.0.0.1:$busy"; then
	for _ in $(seq 50); do
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$busy/" && break
		sleep 0.1
	done
	APP_ENVIRONMENT=development run_pprofd --pid "$target" --listen "127.0.0.1:$busy"
	expect_status "port in use" 6
	expect_error "port in use" "naming the address" "127\\.0\\.0\\.1:$busy"
else
	fail "port in use: start goserver to hold the port"
fi

# Config errors: 3, the message names the file and the line or key.
port=$(free_port)
run_pprofd --pid "$target" --config "$E2E_TMP/no-such-config.json"
expect_status "unreadable config" 3
expect_error "unreadable config" "naming the file" "no-such-config\\.json"

cfg=$E2E_TMP/malformed.json
# Line 3 is not JSON (an unquoted address).
printf '{\n  "environment": "development",\n  "listen": 127.0.0.1:%s,\n  "cpu": {"hz": 100}\n}\n' \
	"$port" >"$cfg"
run_pprofd --pid "$target" --config "$cfg"
expect_status "malformed JSON config" 3
expect_error "malformed JSON config" "naming the file and line 3" 'malformed\.json' \
	'line 3|:3\b'

cfg=$E2E_TMP/unknown-key.json
printf '{\n  "environment": "development",\n  "listen": "127.0.0.1:%s",\n  "bogus_key": 1\n}\n' \
	"$port" >"$cfg"
run_pprofd --pid "$target" --config "$cfg"
expect_status "config with an unknown key" 3
expect_error "config with an unknown key" "naming the file and the key" 'unknown-key\.json' \
	'bogus_key'

cfg=$E2E_TMP/wrong-type.json
printf '{\n  "listen": "127.0.0.1:%s",\n  "cpu": {"hz": "fast"}\n}\n' "$port" >"$cfg"
run_pprofd --pid "$target" --config "$cfg"
expect_status "config value of the wrong type" 3
expect_error "config value of the wrong type" "naming the file and the key" 'wrong-type\.json' \
	'hz'

# A start-up error changes nothing: the target is still running.
check "target still running after all that" proc_alive "$target"

done_testing
