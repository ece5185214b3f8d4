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
#
# Then pprof labels: golabels burns ~70 % of its CPU under pprof.Do with
# worker=hash tenant=a and ~30 % under SetGoroutineLabels with worker=sort
# tenant=b and eight more (a map of two buckets in Go 1.19).  Built with
# symbols and stripped, its own profile and pprofd's over the same 5 s:
#   - pprofd's samples carry both label sets (go tool pprof -tags), every
#     key of each, the shares of worker=hash / worker=sort within 5 points
#     of Go's own profile's;
#   - -tagfocus=worker=sort keeps main.sortTurns, worker=hash main.hashTurns;
#   - /debug/metrics: labeled samples, none unreadable;
#   - the goroutine profile: pprofd's ?debug=1 "# labels: {...}" lines are
#     Go's own (each label set, with the goroutines under it), and its
#     samples carry the labels (go tool pprof -tags).
#
# Then block and mutex from the Go runtime's own buckets: goserver
# -contention -burn=false (SetBlockProfileRate(1), SetMutexProfileFraction(1),
# a channel receive of ~2 ms in main.chanWait, two main.mutexLoop holding one
# sync.Mutex 1 ms in turn), with symbols and stripped.  The app's own
# /debug/pprof/{block,mutex}?seconds=5 and pprofd's over the same 5 s: the
# same top function by delay, total delay and contentions within 10%; the
# comment names the runtime's profile; ?debug=1 "--- contention:" /
# "--- mutex:" with the app's own cycles/second.  Without -contention (the
# rates 0): the OS-level collectors, the comment saying the runtime's
# profile is off.

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
cpu_side_by_side goserver "$app_port" 5 || done_testing

warnings=$(pprof_warnings "$E2E_TMP/goserver.pprofd.prof")
if [ -z "$warnings" ]; then
	ok "pprofd profile of goserver: no pprof warnings"
else
	fail "pprofd profile of goserver: no pprof warnings" "$warnings"
fi

go_top=$(pprof_top "$E2E_TMP/goserver.go.prof")
pd_top=$(pprof_top "$E2E_TMP/goserver.pprofd.prof")
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
stop "$DAEMON_PID"
stop "$go_pid"

# --- pprof labels -------------------------------------------------------------

# tag_pct FILE KEY VALUE: the share (%) of the samples whose label KEY is
# VALUE, from go tool pprof -tags; 0 when none.
tag_pct()
{
	pprof "$1" -tags -symbolize=none | awk -v k="$2" -v v="$3" '
		/^ [^ ].*: Total / { key = $1; sub(/:$/, "", key); next }
		key == k && $NF == v { p = $2; gsub(/[(%):]/, "", p); print p; found = 1; exit }
		END { if (!found) print 0 }'
}

labels_against()
{
	local bin=$1 app_port go_pid
	start_go_target "$bin" || return
	app_port=$APP_PORT
	go_pid=$WORKLOAD_PID
	if ! cpu_side_by_side "$bin" "$app_port" 5; then
		stop "$DAEMON_PID"
		stop "$go_pid"
		return
	fi
	local pd=$E2E_TMP/$bin.pprofd.prof go=$E2E_TMP/$bin.go.prof
	diag "$bin: pprofd's -tags:" "$(pprof "$pd" -tags -symbolize=none | grep -v '^ *$' |
		grep -Ev '^ *(l[1-8]|thread|tid|[0-9.]+m?s +\(.*\): (value-[1-8]|[0-9]+))' | head -12)"
	local keys
	keys=$(pprof "$pd" -tags -symbolize=none | awk '/^ [^ ].*: Total / { k = $1; sub(/:$/, "", k); print k }' |
		sort | tr '\n' ' ')
	if [ "$keys" = "l1 l2 l3 l4 l5 l6 l7 l8 tenant thread tid worker " ] &&
		[ "$(tag_pct "$pd" tenant a)" != 0 ] && [ "$(tag_pct "$pd" tenant b)" != 0 ] &&
		[ "$(tag_pct "$pd" l8 value-8)" != 0 ]; then
		ok "$bin: pprofd's samples carry both label sets, every key ($keys)"
	else
		fail "$bin: pprofd's samples carry both label sets, every key" "keys: $keys"
	fi
	local v g p
	for v in hash sort; do
		g=$(tag_pct "$go" worker "$v")
		p=$(tag_pct "$pd" worker "$v")
		if [ "$p" != 0 ] && within "$p" "$g" 5; then
			ok "$bin: worker=$v in $p% of pprofd's samples, Go's own $g% (within 5 points)"
		else
			fail "$bin: worker=$v in $p% of pprofd's samples, Go's own $g% (within 5 points)"
		fi
	done
	local top_sort top_hash
	top_sort=$(pprof_top "$pd" -tagfocus=worker=sort | flat_pct_first)
	top_hash=$(pprof_top "$pd" -tagfocus=worker=hash | flat_pct_first)
	if [[ $top_sort =~ (main\.)?sortTurns ]] && [[ $top_hash =~ (main\.)?hashTurns ]]; then
		ok "$bin: -tagfocus=worker=sort keeps $top_sort, worker=hash $top_hash"
	else
		fail "$bin: -tagfocus keeps each worker's function" "sort: $top_sort, hash: $top_hash"
	fi
	fetch "$DAEMON_URL/debug/metrics" "$E2E_TMP/$bin.metrics" >/dev/null
	if jq -e '.collectors[] | select(.name == "profile") |
		.samples_labeled > 0 and .labels_unreadable == 0' "$E2E_TMP/$bin.metrics" >/dev/null; then
		ok "$bin: /debug/metrics $(jq -c '.collectors[] | select(.name == "profile") |
			{samples, samples_labeled, labels_unreadable, go_labels}' "$E2E_TMP/$bin.metrics")"
	else
		fail "$bin: /debug/metrics labeled samples, none unreadable" \
			"$(jq -c '.collectors[] | select(.name == "profile")' "$E2E_TMP/$bin.metrics")"
	fi
	# The goroutine profile's labels: Go's own ?debug=1 and pprofd's.
	fetch "http://127.0.0.1:$app_port/debug/pprof/goroutine?debug=1" "$E2E_TMP/$bin.go.gr" >/dev/null
	fetch "$DAEMON_URL/debug/pprof/goroutine?debug=1" "$E2E_TMP/$bin.pd.gr" >/dev/null
	fetch "$DAEMON_URL/debug/pprof/goroutine" "$E2E_TMP/$bin.pd.grprof" >/dev/null
	local go_l pd_l
	go_l=$(label_sets "$E2E_TMP/$bin.go.gr")
	pd_l=$(label_sets "$E2E_TMP/$bin.pd.gr")
	if [ -n "$go_l" ] && [ "$go_l" = "$pd_l" ]; then
		ok "$bin: goroutine ?debug=1 label lines are Go's own ($(wc -l <<<"$go_l") sets)"
	else
		fail "$bin: goroutine ?debug=1 label lines are Go's own" "Go's:" "$go_l" "pprofd's:" "$pd_l"
	fi
	if [ "$(tag_pct "$E2E_TMP/$bin.pd.grprof" worker sort)" != 0 ] &&
		[ "$(tag_pct "$E2E_TMP/$bin.pd.grprof" l8 value-8)" != 0 ]; then
		ok "$bin: goroutine profile samples carry the labels (-tags)"
	else
		fail "$bin: goroutine profile samples carry the labels (-tags)" \
			"$(pprof "$E2E_TMP/$bin.pd.grprof" -tags -symbolize=none | head -20)"
	fi
	stop "$DAEMON_PID"
	stop "$go_pid"
}

# label_sets FILE: the "# labels:" lines of a goroutine ?debug=1, each with
# the goroutine count of its record (summed per set), sorted.
label_sets()
{
	awk '/^[0-9]+ @/ { n = $1 } /^# labels: / { sum[$0] += n } END { for (l in sum) print sum[l], l }' "$1" |
		sort
}

# flat_pct_first: the function of the first row of a -top report.
flat_pct_first()
{
	awk '$2 ~ /%$/ && $3 ~ /%$/ && NF >= 6 { print $6; exit }'
}

labels_against golabels
labels_against golabels-stripped

# --- block and mutex from the Go runtime's own buckets ------------------------

IGNORE=-ignore=net/http/pprof

# total FILE INDEX [ARGS...]: the total of sample type INDEX (delay in ms) that
# ARGS (-ignore) leave ("accounting for": pprof's "of N total" counts all).
total()
{
	local f=$1 i=$2
	shift 2
	pprof_top "$f" -sample_index="$i" -unit=ms "$@" |
		awk '/^Showing nodes accounting for / { v = $5; gsub(/[^0-9.]/, "", v); print v; exit }'
}

# within_pct A B PCT: A within PCT% of B.
within_pct()
{
	awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= p / 100 * b) }'
}

contention_against()
{
	local bin=$1 app_port go_pid p who pids=()
	start_go_target "$bin" -contention -burn=false || return
	app_port=$APP_PORT
	go_pid=$WORKLOAD_PID
	for p in block mutex; do
		FETCH_TIMEOUT=30 fetch "http://127.0.0.1:$app_port/debug/pprof/$p?seconds=5" \
			"$E2E_TMP/$bin.go.$p" >"$E2E_TMP/$bin.go.$p.code" &
		pids+=($!)
		FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/$p?seconds=5" \
			"$E2E_TMP/$bin.pd.$p" >"$E2E_TMP/$bin.pd.$p.code" &
		pids+=($!)
	done
	for who in "${pids[@]}"; do track "$who"; done
	wait "${pids[@]}"
	for p in block mutex; do
		local go=$E2E_TMP/$bin.go.$p pd=$E2E_TMP/$bin.pd.$p
		if [ "$(cat "$go.code")" != 200 ] || [ "$(cat "$pd.code")" != 200 ] ||
			! pprof "$pd" -raw >/dev/null || ! pprof "$go" -raw >/dev/null; then
			fail "$bin: both $p profiles load" "Go's: $(cat "$go.code"), pprofd's: $(cat "$pd.code")" \
				"$(cat "$pd.pprof-err" 2>/dev/null)"
			continue
		fi
		local comment
		comment=$(pprof "$pd" -raw | grep -m1 "Go runtime")
		if [[ $comment == *"Go runtime's own $p profile"* ]]; then
			ok "$bin: $p comment: $comment"
		else
			fail "$bin: $p comment names the Go runtime's own profile" "$comment"
		fi
		local gtop ptop
		# The app's own handler waits out its ?seconds=5 in a select: a wait
		# of the observer, in Go's delta or pprofd's as the race goes; left out.
		gtop=$(pprof_top "$go" -sample_index=delay $IGNORE | flat_pct_first)
		ptop=$(pprof_top "$pd" -sample_index=delay $IGNORE | flat_pct_first)
		if [ -n "$gtop" ] && [ "$gtop" = "$ptop" ]; then
			ok "$bin: $p top function by delay: $ptop, Go's own $gtop"
		else
			fail "$bin: $p top function by delay: $ptop, Go's own $gtop" \
				"$(pprof_top "$pd" -sample_index=delay | head -12)" \
				"$(pprof_top "$go" -sample_index=delay | head -12)"
		fi
		local idx g v
		for idx in delay contentions; do
			g=$(total "$go" "$idx" $IGNORE)
			v=$(total "$pd" "$idx" $IGNORE)
			if within_pct "$v" "$g" 10; then
				ok "$bin: $p total $idx: pprofd $v, Go's own $g (within 10%)"
			else
				fail "$bin: $p total $idx: pprofd $v, Go's own $g (within 10%)"
			fi
		done
	done
	# ?debug=1: Go's text, the app's own cycles/second (the runtime measured it by now).
	fetch "http://127.0.0.1:$app_port/debug/pprof/block?debug=1" "$E2E_TMP/$bin.go.b1" >/dev/null
	fetch "$DAEMON_URL/debug/pprof/block?debug=1" "$E2E_TMP/$bin.pd.b1" >/dev/null
	fetch "$DAEMON_URL/debug/pprof/mutex?debug=1" "$E2E_TMP/$bin.pd.m1" >/dev/null
	if [ "$(head -2 "$E2E_TMP/$bin.pd.b1")" = "$(head -2 "$E2E_TMP/$bin.go.b1")" ] &&
		[ "$(head -1 "$E2E_TMP/$bin.pd.m1")" = "--- mutex:" ] &&
		grep -q '^sampling period=1$' "$E2E_TMP/$bin.pd.m1" &&
		grep -Eq '^#	0x[0-9a-f]+	main\.chanWait\+0x[0-9a-f]+	' "$E2E_TMP/$bin.pd.b1"; then
		ok "$bin: ?debug=1 $(head -2 "$E2E_TMP/$bin.pd.b1" | tr '\n' ' ')as the app's own"
	else
		fail "$bin: ?debug=1 as the app's own" "$(head -6 "$E2E_TMP/$bin.pd.b1")" \
			"Go's:" "$(head -6 "$E2E_TMP/$bin.go.b1")"
	fi
	stop "$DAEMON_PID"
	stop "$go_pid"
}

contention_against goserver
contention_against goserver-stripped

# The rates 0 (Go's default): the OS-level collectors, and the comment says why.
if start_go_app goserver -burn=false && start_daemon "$WORKLOAD_PID"; then
	go_pid=$WORKLOAD_PID
	fetch "$DAEMON_URL/debug/pprof/block?seconds=1" "$E2E_TMP/off.block" >/dev/null
	fetch "$DAEMON_URL/debug/pprof/mutex?seconds=1" "$E2E_TMP/off.mutex" >/dev/null
	for p in block mutex; do
		c=$(pprof "$E2E_TMP/off.$p" -raw | grep -m1 "profile is off")
		if [[ $c == *"Go runtime's own $p profile is off"*"OS-level"* ]]; then
			ok "rates 0: $p from the OS-level collector: $c"
		else
			fail "rates 0: $p comment says the runtime's profile is off" \
				"$(pprof "$E2E_TMP/off.$p" -raw | head -5)"
		fi
	done
	stop "$DAEMON_PID"
	stop "$go_pid"
else
	fail "rates 0: start goserver -burn=false and pprofd"
fi

done_testing
