#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh - runs pprofd's tests and counts the results.
#
# Usage: tests/run.sh [unit|e2e|all]        (default: all)
#
#   unit  every $OUTPUT/tests/test_* binary (cmocka, CMOCKA_MESSAGE_OUTPUT=TAP);
#         needs no root.
#   e2e   every tests/e2e/test_*.sh: the real daemon against real workloads;
#         needs root (BPF).  Without root they are counted as skipped.
#
# Every test prints TAP-like lines ("ok ..." / "not ok ..." / "# diagnostic");
# a line whose directive is "# SKIP" counts as skipped.  A binary or script
# that crashes, times out, or exits non-zero without any "not ok" line counts
# as one failure.  The last line is always "N passed, N failed" (plus
# ", N skipped" when some were); the exit status is 1 when anything failed.
#
# Environment: OUTPUT (build directory, default build), E2E_SCRIPT_TIMEOUT
# (hard limit per e2e script in seconds, default 240), UNIT_TIMEOUT (per unit
# test binary, default 120).

set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTPUT=${OUTPUT:-build}
case $OUTPUT in
/*) ;;
*) OUTPUT=$REPO/$OUTPUT ;;
esac
export OUTPUT

passed=0
failed=0
skipped=0
failures=()

usage()
{
	echo "usage: $0 [unit|e2e|all]" >&2
	exit 2
}

# count LOG NAME STATUS: adds the TAP results in LOG to the totals; a
# crash, a timeout, or a non-zero exit with no "not ok" line is one failure.
count()
{
	local log=$1 name=$2 status=$3 p f s
	# A skip is neither a pass nor a failure (cmocka 1.1 prints "not ok N # SKIP").
	s=$(grep -Ec '^(not )?ok\b.*#[[:space:]]*SKIP' "$log")
	p=$(($(grep -Ec '^ok\b' "$log") - $(grep -Ec '^ok\b.*#[[:space:]]*SKIP' "$log")))
	f=$(($(grep -Ec '^not ok\b' "$log") - $(grep -Ec '^not ok\b.*#[[:space:]]*SKIP' "$log")))
	passed=$((passed + p))
	skipped=$((skipped + s))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("$name")

	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "not ok - $name: timed out"
	elif [ "$status" -gt 128 ]; then
		echo "not ok - $name: killed by signal $((status - 128))"
	elif [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name: exit status $status without a failing test"
	else
		return 0
	fi
	failed=$((failed + 1))
	[ "$f" -ne 0 ] || failures+=("$name")
}

run_unit()
{
	local bin found=0 log status
	echo "# unit tests ($OUTPUT/tests)"
	for bin in "$OUTPUT"/tests/test_*; do
		if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
			continue
		fi
		found=1
		echo "# $(basename "$bin")"
		log=$(mktemp)
		CMOCKA_MESSAGE_OUTPUT=TAP timeout -k 5 "${UNIT_TIMEOUT:-120}" "$bin" 2>&1 | tee "$log"
		status=${PIPESTATUS[0]}
		count "$log" "$(basename "$bin")" "$status"
		rm -f "$log"
	done
	[ "$found" = 1 ] || echo "# no unit test binaries in $OUTPUT/tests (make test-unit builds them)"
}

run_e2e()
{
	local script scripts=() log status
	for script in "$REPO"/tests/e2e/test_*.sh; do
		[ -f "$script" ] && scripts+=("$script")
	done
	echo "# end-to-end tests (tests/e2e)"
	if [ "${#scripts[@]}" -eq 0 ]; then
		echo "# no tests/e2e/test_*.sh"
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "# end-to-end tests need root (they load BPF programs): run 'sudo make test-e2e'"
		for script in "${scripts[@]}"; do
			echo "ok - $(basename "$script") # SKIP not root"
			skipped=$((skipped + 1))
		done
		return
	fi
	for script in "${scripts[@]}"; do
		echo "# $(basename "$script")"
		log=$(mktemp)
		timeout -k 10 "${E2E_SCRIPT_TIMEOUT:-240}" bash "$script" 2>&1 | tee "$log"
		status=${PIPESTATUS[0]}
		count "$log" "$(basename "$script")" "$status"
		rm -f "$log"
	done
}

case ${1:-all} in
unit) run_unit ;;
e2e) run_e2e ;;
all)
	run_unit
	run_e2e
	;;
*) usage ;;
esac

[ "${#failures[@]}" -eq 0 ] || echo "# failed: ${failures[*]}"
summary="$passed passed, $failed failed"
[ "$skipped" -eq 0 ] || summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
