#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_make_profiles.sh - the Makefile's profile-* / analyze-* /
# compare-profiles targets against a running pprofd, URL overridden.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
start_workload busy || {
	fail "start busy"
	done_testing
}
start_daemon "$WORKLOAD_PID" || {
	fail "start pprofd"
	done_testing
}
dir=$E2E_TMP/profiles
mk()
{
	make -s -C "$E2E_REPO" "$@" PPROF_URL="$DAEMON_URL" SECONDS=1 PROFILE_DIR="$dir" 2>&1
}

for t in profile-cpu:cpu.pprof profile-heap:heap.pprof profile-goroutines:goroutines.txt \
	profile-trace:trace.json; do
	if out=$(mk "${t%%:*}") && [ -s "$dir/${t#*:}" ]; then
		ok "make ${t%%:*} PPROF_URL=...: $dir/${t#*:}"
	else
		fail "make ${t%%:*} PPROF_URL=...: $dir/${t#*:}" "$out"
	fi
done
is_gzip "$dir/cpu.pprof" && ok "profile-cpu: a gzip'd profile" || fail "profile-cpu: a gzip'd profile"
grep -q 'thread ' "$dir/goroutines.txt" && ok "profile-goroutines: thread stacks" ||
	fail "profile-goroutines: thread stacks" "$(head -5 "$dir/goroutines.txt")"
jq -e '.traceEvents | length > 0' "$dir/trace.json" >/dev/null && ok "profile-trace: trace events" ||
	fail "profile-trace: trace events"
out=$(mk analyze-cpu)
grep -q 'flat%' <<<"$out" && ok "analyze-cpu: pprof's top" || fail "analyze-cpu: pprof's top" "$out"
out=$(mk analyze-heap)
grep -q 'flat%' <<<"$out" && ok "analyze-heap: pprof's top" || fail "analyze-heap: pprof's top" "$out"
mv "$dir/cpu.pprof" "$dir/cpu-base.pprof"
mk profile-cpu >/dev/null
out=$(mk compare-profiles)
grep -q 'flat%' <<<"$out" && ok "compare-profiles: pprof -base" || fail "compare-profiles: pprof -base" "$out"
code=$(make -s -C "$E2E_REPO" profile-cpu PPROF_URL=http://127.0.0.1:1 PROFILE_DIR="$dir" >/dev/null 2>&1; echo $?)
[ "$code" != 0 ] && ok "profile-cpu fails when nothing answers" || fail "profile-cpu fails when nothing answers"

done_testing
