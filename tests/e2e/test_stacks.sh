#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_stacks.sh - complete user stacks through code without frame pointers.
#
# nofp (built -fomit-frame-pointer, like Debian's libc and libm) alternates
# between trig_work -> sin/cos in libm and sort_work -> qsort -> compare_keys.
# A 5 s profile at hz=1000, read with `go tool pprof -raw`, by sample count:
#   - >= 99% of the samples have main in their stack;
#   - >= 99% of the samples in libm (first user frame in libm's mapping), and
#     of those in sin (__sin_fma, __sin, sin...), have trig_work as a caller;
#   - >= 99% of the samples in compare_keys have sort_work as a caller, with
#     qsort in between;
#   - under 1% of the samples end in a [truncated] frame.

# Awk programs in single quotes are passed as arguments on purpose.
# shellcheck disable=SC2016
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# share STACKS AWK_CONDITION: "MATCHING TOTAL" sample counts, where
# MATCHING is the samples for which the condition (on $1 count, $2 mapping,
# $3 frames) holds.
share()
{
	awk -F'\t' "{ all += \$1 } $2 { m += \$1 } END { printf \"%d %d\\n\", m, all }" <<<"$1"
}

# pct A B: 100 * A / B with two decimals.
pct()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b ? 100 * a / b : 0 }'
}

# show_stacks STACKS AWK_CONDITION [MAX]: the heaviest matching stacks, as diagnostics.
show_stacks()
{
	diag "$(awk -F'\t' "$2" <<<"$1" |
		awk -F'\t' '{ f = $3; gsub(/^;|;$/, "", f); gsub(/;/, " <- ", f); n[$2 "]  " f] += $1 }
			END { for (k in n) printf "%5d  [%s\n", n[k], k }' |
		sort -k1,1nr | head -n "${3:-8}")"
}

start_workload nofp || fail "start nofp"
nofp_pid=$WORKLOAD_PID
if [ -z "$nofp_pid" ] || ! start_daemon "$nofp_pid"; then
	fail "start pprofd --pid ${nofp_pid:-?}"
	done_testing
fi

# utime + stime of the target, in clock ticks.
cpu_ticks()
{
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

PROF=$E2E_TMP/nofp.prof
ticks0=$(cpu_ticks "$nofp_pid")
t0=$EPOCHREALTIME
code=$(FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/profile?seconds=5&hz=1000" "$PROF")
t1=$EPOCHREALTIME
ticks1=$(cpu_ticks "$nofp_pid")
if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
	fail "nofp: profile?seconds=5&hz=1000 is 200 and gzip" "got $code: $(head -c 300 "$PROF" \
		2>/dev/null | tr -c '[:print:]\n' '.')" "$(cat "$PROF.curl-err")"
	diag_daemon
	done_testing
fi
if ! RAW=$(pprof "$PROF" -raw); then
	fail "nofp: go tool pprof loads the profile" "$(cat "$PROF.pprof-err")"
	done_testing
fi
STACKS=$(raw_stacks "$RAW")

read -r _ total <<<"$(share "$STACKS" 0)"
diag "nofp: $total samples ($(wc -l <<<"$STACKS") distinct stacks)"
# As many samples as the CPU time the target had in the window, at 1000 Hz:
# the kernel's count over the request, less what fell outside the 5 s
# (nofp is one busy thread: at most the request's extra wall time), 80%
# of it (the intervals are random: 5000 expected on an idle core).  What
# the scheduler gave the target is not ours to assert; that we sampled it is.
want=$(awk -v t0="$ticks0" -v t1="$ticks1" -v hz="$(getconf CLK_TCK)" -v a="$t0" -v b="$t1" \
	'BEGIN { cpu = (t1 - t0) / hz - ((b - a) - 5); w = 0.8 * cpu * 1000 - 20
		printf "%d", w < 1 ? 1 : w }')
if [ "${total:-0}" -ge "$want" ]; then
	ok "nofp: $total samples in 5 s at hz=1000 (the target's CPU time wants >= $want)"
else
	fail "nofp: $total samples in 5 s at hz=1000 (the target's CPU time wants >= $want)" \
		"$(head -30 <<<"$RAW")"
	done_testing
fi

# Every stack goes down to main.
read -r m all <<<"$(share "$STACKS" '$3 ~ /;main;/')"
p=$(pct "$m" "$all")
if awk -v p="$p" 'BEGIN { exit !(p >= 99) }'; then
	ok "nofp: $p% of the samples have main in their stack (want >= 99)"
else
	fail "nofp: $p% of the samples have main in their stack (want >= 99)" \
		"stacks without main ($((all - m)) samples), heaviest first:"
	show_stacks "$STACKS" '$3 !~ /;main;/'
fi

# libm: trig_work is the only caller of libm in nofp.
read -r m all <<<"$(share "$STACKS" '$2 ~ /libm[.-]/ && $3 ~ /;trig_work;/')"
read -r inlibm _ <<<"$(share "$STACKS" '$2 ~ /libm[.-]/')"
p=$(pct "$m" "$inlibm")
diag "nofp: $inlibm samples with the user leaf in libm, $m of them under trig_work"
if [ "$inlibm" -ge 100 ] && awk -v p="$p" 'BEGIN { exit !(p >= 99) }'; then
	ok "nofp: $p% of the $inlibm samples in libm have trig_work as a caller (want >= 99)"
else
	fail "nofp: $p% of the $inlibm samples in libm have trig_work as a caller" \
		"(want >= 99, and >= 100 samples in libm); stacks in libm without trig_work:"
	show_stacks "$STACKS" '$2 ~ /libm[.-]/ && $3 !~ /;trig_work;/'
	[ "$inlibm" -gt 0 ] || diag "mappings:" "$(sed -n '/^Mappings/,$p' <<<"$RAW")"
fi

# sin itself, by name (whichever variant libm picked: __sin_fma, __sin_avx2,
# __sin, sin; do_sin and __branred are under it).
sin_re=';(__)?sin(_[a-z0-9]+)?;'
read -r m all <<<"$(share "$STACKS" "\$3 ~ /$sin_re/ && \$3 ~ /$sin_re(.*;)?trig_work;/")"
read -r insin _ <<<"$(share "$STACKS" "\$3 ~ /$sin_re/")"
p=$(pct "$m" "$insin")
if [ "$insin" -ge 50 ] && awk -v p="$p" 'BEGIN { exit !(p >= 99) }'; then
	ok "nofp: $p% of the $insin samples in sin have trig_work as a caller (want >= 99)"
else
	fail "nofp: $p% of the $insin samples in sin have trig_work as a caller" \
		"(want >= 99, and >= 50 samples in sin); heaviest stacks in sin:"
	show_stacks "$STACKS" "\$3 ~ /$sin_re/ && \$3 !~ /$sin_re(.*;)?trig_work;/"
	[ "$insin" -gt 0 ] || show_stacks "$STACKS" '$2 ~ /libm[.-]/'
fi

# compare_keys <- (msort...) <- qsort <- sort_work.
read -r m all <<<"$(share "$STACKS" '$3 ~ /;compare_keys;(.*;)?[a-z_]*qsort[a-z_]*;(.*;)?sort_work;/')"
read -r incmp _ <<<"$(share "$STACKS" '$3 ~ /;compare_keys;/')"
p=$(pct "$m" "$incmp")
if [ "$incmp" -ge 50 ] && awk -v p="$p" 'BEGIN { exit !(p >= 99) }'; then
	ok "nofp: $p% of the $incmp samples in compare_keys have qsort then sort_work as callers (want >= 99)"
else
	fail "nofp: $p% of the $incmp samples in compare_keys have qsort then sort_work as callers" \
		"(want >= 99, and >= 50 samples in compare_keys); the others:"
	show_stacks "$STACKS" '$3 ~ /;compare_keys;/ && $3 !~ /;compare_keys;(.*;)?[a-z_]*qsort[a-z_]*;(.*;)?sort_work;/'
fi

# Stacks the unwinder could not finish.
read -r m all <<<"$(share "$STACKS" '$3 ~ /;\[truncated\];/')"
p=$(pct "$m" "$all")
if awk -v p="$p" 'BEGIN { exit !(p < 1) }'; then
	ok "nofp: $p% of the samples ($m) have a [truncated] frame (want < 1)"
else
	fail "nofp: $p% of the samples ($m) have a [truncated] frame (want < 1)" "heaviest:"
	show_stacks "$STACKS" '$3 ~ /;\[truncated\];/'
fi
[ "$m" = 0 ] || {
	diag "truncated stacks (heaviest):"
	show_stacks "$STACKS" '$3 ~ /;\[truncated\];/' 5
}

check_daemon_alive "the nofp profile"
stop "$DAEMON_PID"
stop "$nofp_pid"

done_testing
