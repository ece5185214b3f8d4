#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cpu.sh - the CPU profile is right, read by `go tool pprof`:
#   cpu_split    50/30/20 split within 5 points, file:line, thread/tid labels
#                on every sample, sample types, period, build IDs, CPU total
#                matching what the kernel accounted to the thread;
#   hz           hz=1000 gives ~10x the samples of hz=100, period 1e6 ns;
#   late_thread  a thread created after the profile started is in it, by name.
# pprof must print nothing on stderr for any of these profiles.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# profile NAME QUERY: fetches $URL/profile?QUERY into $E2E_TMP/NAME.prof and
# checks the response and that pprof loads it silently; sets PROF and RAW
# (the -raw dump).  Returns 1 when there is no usable profile.
profile()
{
	local name=$1 query=$2 code warnings
	PROF=$E2E_TMP/$name.prof
	RAW=
	code=$(FETCH_TIMEOUT=30 fetch "$URL/profile?$query" "$PROF")
	if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
		fail "$name: profile?$query is 200 and gzip" "got $code: $(head -c 300 "$PROF" \
			2>/dev/null | tr -c '[:print:]\n' '.')" "$(cat "$PROF.curl-err")"
		diag_daemon
		return 1
	fi
	if ! RAW=$(pprof "$PROF" -raw); then
		fail "$name: go tool pprof loads it" "$(cat "$PROF.pprof-err")"
		return 1
	fi
	warnings=$(pprof_warnings "$PROF")
	if [ -z "$warnings" ]; then
		ok "$name: go tool pprof loads it with no warnings"
	else
		fail "$name: go tool pprof loads it with no warnings" "$warnings"
	fi
}

# thread_cpu_ticks PID: utime + stime of the whole process, in clock ticks.
cpu_ticks()
{
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Samples are drawn at random intervals averaging the period (pprofd's
# sampling grid, bpf/pprofd.h) and each weighs the CPU time since the
# thread's previous sample: the mean weight is the period, within a margin.
check_mean_weight()
{
	local what=$1 count=$2 value=$3 period=$4 mean
	mean=$(awk -v c="$count" -v v="$value" 'BEGIN { printf "%.0f", c ? v / c : 0 }')
	if awk -v m="$mean" -v p="$period" 'BEGIN { exit !(m >= 0.8 * p && m <= 1.25 * p) }'; then
		ok "$what: mean sample weight ${mean} ns is the period $period ns (-20%/+25%)"
	else
		fail "$what: mean sample weight ${mean} ns is the period $period ns (-20%/+25%)"
	fi
}

# ------------------------------------------------------------ cpu_split

start_workload cpu_split || fail "start cpu_split"
split_pid=$WORKLOAD_PID
if ! start_daemon "$split_pid"; then
	fail "start pprofd --pid $split_pid"
	done_testing
fi
URL=$DAEMON_URL/debug/pprof

# At 1000 Hz: 10x the samples of the default rate, so that sampling noise
# (binomial: ~2 points at 100 Hz on an idle core, more on a busy machine)
# stays well inside the +-5 points.
ticks0=$(cpu_ticks "$split_pid")
if profile cpu_split "seconds=5&hz=1000"; then
	ticks=$(($(cpu_ticks "$split_pid") - ticks0))
	top=$(pprof_top "$PROF")
	p50=$(flat_pct "$top" burn_50pct)
	p30=$(flat_pct "$top" burn_30pct)
	p20=$(flat_pct "$top" burn_20pct)
	sum=$(awk -v a="$p50" -v b="$p30" -v c="$p20" 'BEGIN { print a + b + c }')
	diag "flat%: burn_50pct $p50, burn_30pct $p30, burn_20pct $p20 (the three: $sum% of all)"
	for f in 50 30 20; do
		eval "p=\$p$f"
		norm=$(awk -v p="$p" -v s="$sum" 'BEGIN { printf "%.1f", s ? 100 * p / s : 0 }')
		if within "$norm" "$f" 5; then
			ok "cpu_split: burn_${f}pct has $norm% of the three (want $f ± 5)"
		else
			fail "cpu_split: burn_${f}pct has $norm% of the three (want $f ± 5)"
			bad_split=1
		fi
	done
	[ -z "${bad_split:-}" ] || diag "$(head -25 <<<"$top")"
	if within "$sum" 100 10; then
		ok "cpu_split: the three functions have $sum% of the samples (want > 90)"
	else
		fail "cpu_split: the three functions have $sum% of the samples (want > 90)" \
			"$(head -25 <<<"$top")"
	fi

	# Frame-pointer and libc frames alike: every stack goes down to main.
	main_cum=$(cum_pct "$top" main)
	if within "$main_cum" 100 2; then
		ok "cpu_split: stacks reach main (cum $main_cum%)"
	else
		fail "cpu_split: stacks reach main (cum $main_cum%, want > 98)" \
			"$(pprof "$PROF" -traces -symbolize=none | head -40)"
	fi

	# Sample types, period, labels.
	stypes=$(awk '/^Samples:/ { getline; print; exit }' <<<"$RAW" | sed 's/\[dflt\]//g')
	check_eq "cpu_split: sample types samples/count cpu/nanoseconds" \
		"samples/count cpu/nanoseconds" "$stypes"
	check_eq "cpu_split: period type cpu nanoseconds" "PeriodType: cpu nanoseconds" \
		"$(grep '^PeriodType:' <<<"$RAW")"
	read -r n count value no_thread no_tid period <<<"$(raw_sample_stats "$RAW")"
	check_eq "cpu_split: period 1000000 ns (hz=1000)" 1000000 "$period"
	if [ "$n" -gt 0 ] && [ "$no_thread" = 0 ] && [ "$no_tid" = 0 ]; then
		ok "cpu_split: thread and tid labels on all $n samples"
	else
		fail "cpu_split: thread and tid labels on every sample" \
			"$n samples, $no_thread without thread, $no_tid without tid"
	fi
	check_mean_weight "cpu_split" "$count" "$value" "$period"
	labels=$(grep -oE '(thread|tid):\[[^]]*\]' <<<"$RAW" | sort | uniq -c | awk '{ print $2 }' |
		tr '\n' ' ')
	check_eq "cpu_split: every sample labelled thread cpu_split, tid $split_pid" \
		"thread:[cpu_split] tid:[$split_pid] " "$labels"
	tags=$(pprof "$PROF" -tags)
	if grep -q 'thread:' <<<"$tags" && grep -q 'cpu_split' <<<"$tags"; then
		ok "cpu_split: go tool pprof -tags shows thread: cpu_split"
	else
		fail "cpu_split: go tool pprof -tags shows thread: cpu_split" "$tags"
	fi

	# The CPU time in the profile is the CPU time the kernel accounted, give or
	# take sampling error on a busy machine (± 25%: this catches gross errors).
	hz=$(getconf CLK_TCK)
	prof_s=$(awk -v v="$value" 'BEGIN { printf "%.2f", v / 1e9 }')
	kern_s=$(awk -v t="$ticks" -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }')
	if within "$prof_s" "$kern_s" "$(awk -v k="$kern_s" 'BEGIN { print 0.25 * k + 0.1 }')"; then
		ok "cpu_split: profile holds ${prof_s}s of CPU, the kernel counted ${kern_s}s (± 25%)"
	else
		fail "cpu_split: profile holds ${prof_s}s of CPU, the kernel counted ${kern_s}s (± 25%)"
	fi

	# Functions with file:line.
	lines=$(pprof_top "$PROF" -lines)
	if grep -Eq 'burn_50pct .*cpu_split\.c:[0-9]+' <<<"$lines" &&
		grep -Eq 'burn_20pct .*cpu_split\.c:[0-9]+' <<<"$lines"; then
		ok "cpu_split: -lines shows cpu_split.c:LINE for the burn functions"
	else
		fail "cpu_split: -lines shows cpu_split.c:LINE for the burn functions" \
			"$(head -20 <<<"$lines")"
	fi

	# The mapping of the executable has its build ID.
	bin=$(readlink -f "$WORKLOADS/cpu_split")
	build_id=$(readelf -n "$bin" | awk '/Build ID:/ { print $3 }')
	mapping=$(sed -n '/^Mappings/,$p' <<<"$RAW" | grep -F " $bin ")
	if [ -n "$build_id" ] && grep -q "$build_id" <<<"$mapping"; then
		ok "cpu_split: mapping of $bin has build ID $build_id"
	else
		fail "cpu_split: mapping of $bin has build ID $build_id" \
			"$(sed -n '/^Mappings/,$p' <<<"$RAW" | head -10)"
	fi
fi

# ------------------------------------------------------------ hz

# The machine may be busy: compare samples per second of CPU the thread got.
t0=$(cpu_ticks "$split_pid")
if profile hz100 "seconds=3&hz=100"; then
	raw100=$RAW
	t1=$(cpu_ticks "$split_pid")
	if profile hz1000 "seconds=3&hz=1000"; then
		raw1000=$RAW
		t2=$(cpu_ticks "$split_pid")
		read -r _ c100 _ _ _ period100 <<<"$(raw_sample_stats "$raw100")"
		read -r _ c1000 v1000 _ _ period1000 <<<"$(raw_sample_stats "$raw1000")"
		check_eq "hz=100: period 10000000 ns" 10000000 "$period100"
		check_eq "hz=1000: period 1000000 ns" 1000000 "$period1000"
		# Samples per CPU tick of the target in each window.
		r=$(awk -v a="$c1000" -v ta="$((t2 - t1))" -v b="$c100" -v tb="$((t1 - t0))" \
			'BEGIN { printf "%.2f", (ta && b && tb) ? (a / ta) / (b / tb) : 0 }')
		diag "hz=100: $c100 samples over $((t1 - t0)) ticks of CPU;" \
			"hz=1000: $c1000 samples over $((t2 - t1)) ticks"
		if within "$r" 10 3; then
			ok "hz=1000 has ${r}x the samples per CPU second of hz=100 (want 10 ± 3)"
		else
			fail "hz=1000 has ${r}x the samples per CPU second of hz=100 (want 10 ± 3)"
		fi
		check_mean_weight "hz=1000" "$c1000" "$v1000" "$period1000"
	fi
fi
check_daemon_alive "the cpu_split profiles"
stop "$DAEMON_PID"
stop "$split_pid"

# ------------------------------------------------------------ late_thread

# The late thread starts on SIGUSR1, sent 1 s into the profile.
start_workload late_thread usr1 || fail "start late_thread"
late_pid=$WORKLOAD_PID
if start_daemon "$late_pid"; then
	URL=$DAEMON_URL/debug/pprof
	threads=$(find "/proc/$late_pid/task" -mindepth 1 -maxdepth 1 | wc -l)
	if [ "$threads" = 1 ]; then
		ok "late_thread: one thread when the profile starts"
	else
		fail "late_thread: one thread when the profile starts" \
			"$threads threads already"
	fi
	# Once the profile runs (its request is counted in /debug/metrics), not
	# after a time its start may or may not have taken.
	(for _ in $(seq 250); do
		[ "$(curl -s --max-time 2 "$DAEMON_URL/debug/metrics" |
			jq '.collectors[] | select(.name == "profile") | .requests')" -ge 1 ] 2>/dev/null &&
			break
		sleep 0.02
	done
	sleep 1
	kill -USR1 "$late_pid") &
	starter=$!
	track "$starter"
	if profile late_thread seconds=5; then
		late_tid=
		for t in /proc/"$late_pid"/task/*; do
			[ "$(cat "$t/comm")" = late-worker ] && late_tid=${t##*/}
		done
		# Percentages in a -tagfocus report are of the whole profile.
		top=$(pprof_top "$PROF" -tagfocus=thread=late-worker)
		p=$(awk -v a="$(flat_pct "$top" late_worker_spin)" -v all="$(flat_pct "$top" '.*')" \
			'BEGIN { printf "%.1f", all ? 100 * a / all : 0 }')
		if within "$p" 100 10; then
			ok "late_thread: samples with thread=late-worker: $p% in late_worker_spin"
		else
			fail "late_thread: samples with thread=late-worker are in late_worker_spin" \
				"flat% $p in:" "$(head -15 <<<"$top")"
		fi
		all=$(pprof_top "$PROF")
		diag "flat%: main_spin $(flat_pct "$all" main_spin)," \
			"late_worker_spin $(flat_pct "$all" late_worker_spin)"
		check_eq "late_thread: period 10000000 ns (default 100 Hz)" 10000000 \
			"$(awk '/^Period:/ { print $2 }' <<<"$RAW")"
		if grep -q "tid:\\[$late_tid\\]" <<<"$RAW" && [ -n "$late_tid" ]; then
			ok "late_thread: samples labelled with the late thread's tid $late_tid"
		else
			fail "late_thread: samples labelled with the late thread's tid ${late_tid:-?}" \
				"$(grep -oE 'tid:\[[^]]*\]' <<<"$RAW" | sort | uniq -c)"
		fi
	fi
	check_daemon_alive "the late_thread profile"
else
	fail "start pprofd --pid $late_pid"
fi

done_testing
