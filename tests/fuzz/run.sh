#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run.sh - runs every libFuzzer harness built in $FUZZ_OUT for FUZZ_SECONDS
# each (default 60), two at a time, from its seed corpus
# (tests/fuzz/corpus/<harness>/; what the fuzzer finds goes to a scratch
# copy, not into the repository).  A crash, a leak or a sanitizer report
# fails the harness: its input is left in $FUZZ_OUT/crashes/<harness>/.
# Prints executions per harness and a summary; the last line is
# "N passed, N failed".
#
# Environment: FUZZ_OUT (default build-fuzz), FUZZ_SECONDS, FUZZ_JOBS (2),
# FUZZ_ONLY="perfmap elf" (a subset).
set -u
cd "$(dirname "$0")/../.."

FUZZ_OUT=${FUZZ_OUT:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_JOBS=${FUZZ_JOBS:-2}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

harnesses=()
for bin in "$FUZZ_OUT"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=${bin##*/fuzz_}
	if [ -n "${FUZZ_ONLY:-}" ] && ! grep -qw -- "$name" <<<"$FUZZ_ONLY"; then
		continue
	fi
	harnesses+=("$name")
done
if [ ${#harnesses[@]} -eq 0 ]; then
	echo "fuzz: no harness in $FUZZ_OUT (make fuzz builds them)" >&2
	exit 2
fi

run_one()
{
	local name=$1 work=$FUZZ_OUT/work/$1 crashes=$FUZZ_OUT/crashes/$1
	rm -rf "$work" "$crashes"
	mkdir -p "$work" "$crashes"
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	"$FUZZ_OUT/fuzz_$name" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="$crashes/" "$work" \
		>"$FUZZ_OUT/log-$name.txt" 2>&1
	echo $? >"$FUZZ_OUT/rc-$name"
}

echo "fuzz: ${#harnesses[@]} harnesses, ${FUZZ_SECONDS} s each, $FUZZ_JOBS at a time"
running=0
for name in "${harnesses[@]}"; do
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$FUZZ_JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

passed=0
failed=0
printf '%-18s %12s %10s %8s %s\n' harness executions exec/s corpus result
for name in "${harnesses[@]}"; do
	log=$FUZZ_OUT/log-$name.txt
	rc=$(cat "$FUZZ_OUT/rc-$name" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	corpus=$(find "$FUZZ_OUT/work/$name" -type f | wc -l)
	if [ "$rc" = 0 ] && ! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log"; then
		result=ok
		passed=$((passed + 1))
	else
		result="FAILED (rc $rc): $FUZZ_OUT/log-$name.txt, inputs in $FUZZ_OUT/crashes/$name/"
		failed=$((failed + 1))
	fi
	printf '%-18s %12s %10s %8s %s\n' "$name" "${execs:-?}" "${rate:-?}" "$corpus" "$result"
done
for name in "${harnesses[@]}"; do
	rc=$(cat "$FUZZ_OUT/rc-$name" 2>/dev/null || echo 1)
	[ "$rc" = 0 ] && continue
	echo "--- $name:"
	grep -E -A12 'ERROR:|runtime error:|SUMMARY' "$FUZZ_OUT/log-$name.txt" | head -40
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
