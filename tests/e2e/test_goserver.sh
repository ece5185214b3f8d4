#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_goserver.sh - pprofd against Go's own CPU profiler on a Go program.
#
# goserver burns CPU in main.hashLoop (~60 %) and main.sortLoop (~40 %) and
# serves net/http/pprof.  Its own /debug/pprof/profile?seconds=5 and pprofd's
# are taken over the same 5 s; the two functions' shares (normalised over the
# two) must agree within 5 points.  pprofd names Go frames from the binary's
# own pclntab (main.hashLoop); the pattern also takes a bare hashLoop.
# The same against a stripped build, under load: test_gostripped.sh.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

if ! start_go_app goserver; then
	fail "start goserver"
	done_testing
fi
app_port=$APP_PORT
go_pid=$WORKLOAD_PID
if ! start_daemon "$go_pid"; then
	fail "start pprofd --pid $go_pid"
	done_testing
fi

# Both profiles over the same window.
FETCH_TIMEOUT=30 fetch "http://127.0.0.1:$app_port/debug/pprof/profile?seconds=5" \
	"$E2E_TMP/go.prof" >"$E2E_TMP/go.code" &
go_curl=$!
track "$go_curl"
FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/profile?seconds=5" \
	"$E2E_TMP/pprofd.prof" >"$E2E_TMP/pprofd.code" &
pprofd_curl=$!
track "$pprofd_curl"
wait "$go_curl" "$pprofd_curl"

loaded=1
for who in go pprofd; do
	f=$E2E_TMP/$who.prof
	code=$(cat "$E2E_TMP/$who.code")
	if [ "$code" = 200 ] && pprof "$f" -raw >/dev/null; then
		ok "$who profile of goserver: 200 and loads in go tool pprof"
	else
		fail "$who profile of goserver: 200 and loads in go tool pprof" "got $code" \
			"$(cat "$f.curl-err" "$f.pprof-err" 2>/dev/null)" \
			"$(head -c 300 "$f" 2>/dev/null | tr -c '[:print:]\n' '.')"
		[ "$who" = go ] || diag_daemon
		loaded=
	fi
done
[ -n "$loaded" ] || done_testing

warnings=$(pprof_warnings "$E2E_TMP/pprofd.prof")
if [ -z "$warnings" ]; then
	ok "pprofd profile of goserver: no pprof warnings"
else
	fail "pprofd profile of goserver: no pprof warnings" "$warnings"
fi

go_top=$(pprof_top "$E2E_TMP/go.prof")
pd_top=$(pprof_top "$E2E_TMP/pprofd.prof")
go_hash=$(flat_pct "$go_top" '(main\.)?hashLoop')
go_sort=$(flat_pct "$go_top" '(main\.)?sortLoop')
pd_hash=$(flat_pct "$pd_top" '(main\.)?hashLoop')
pd_sort=$(flat_pct "$pd_top" '(main\.)?sortLoop')
diag "flat%         hashLoop  sortLoop" \
	"Go's own:     $go_hash     $go_sort" \
	"pprofd:       $pd_hash     $pd_sort"

norm()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a + b ? 100 * a / (a + b) : 0 }'
}
for fn in hashLoop sortLoop; do
	if [ "$fn" = hashLoop ]; then
		g=$(norm "$go_hash" "$go_sort")
		p=$(norm "$pd_hash" "$pd_sort")
	else
		g=$(norm "$go_sort" "$go_hash")
		p=$(norm "$pd_sort" "$pd_hash")
	fi
	diag "$fn share of the two: Go $g%, pprofd $p%"
	if [ "$(norm "$pd_hash" "$pd_sort")" != 0.0 ] && within "$p" "$g" 5; then
		ok "$fn: pprofd's share $p% within 5 points of Go's $g%"
	else
		fail "$fn: pprofd's share $p% within 5 points of Go's $g%"
		[ -n "${shown:-}" ] || diag "pprofd -top:" "$(head -20 <<<"$pd_top")"
		shown=1
	fi
done

# The two functions are most of the program's CPU in both profiles.  (Not
# "equal within N points": on a starved machine Go's own profile puts much
# more in its runtime's scheduling, 61% vs 83% in the two at load 20.)
pd_sum=$(awk -v a="$pd_hash" -v b="$pd_sort" 'BEGIN { print a + b }')
go_sum=$(awk -v a="$go_hash" -v b="$go_sort" 'BEGIN { print a + b }')
if awk -v p="$pd_sum" -v g="$go_sum" 'BEGIN { exit !(p >= 50 && g >= 50) }'; then
	ok "hashLoop+sortLoop: most of the samples in both: pprofd $pd_sum%, Go $go_sum%"
else
	fail "hashLoop+sortLoop: most of the samples in both: pprofd $pd_sum%, Go $go_sum% (want >= 50)"
fi

done_testing
