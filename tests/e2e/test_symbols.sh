#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_symbols.sh - what pprofd names the frames, read by `go tool pprof`
# (-symbolize=none: only what pprofd put in the profile):
#   cxx       C++ names demangled (ns::Widget::spin(int), a template instance,
#             no "_Z..." left), and an always_inline function as an inline
#             frame: a Location with two lines, mix_inline then hash_block;
#   dlopen    a library dlopen()ed 2 s into a profile (on SIGUSR1), with pprofd already
#             attached: hot_lib_spin is named, libhot.so is a mapping, and its
#             stacks reach main;
#   jit       code in an anonymous mapping announced in /tmp/perf-PID.map
#             (perf's format): named jit_hot_loop, and unwound (it keeps a
#             frame pointer) to run_jit and main;
#   goserver  Go functions by their Go names (main.hashLoop), goroutine
#             stacks ending in runtime.goexit.

# Awk programs in single quotes are passed as arguments on purpose.
# shellcheck disable=SC2016
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# share STACKS AWK_CONDITION: "MATCHING TOTAL" sample counts; the condition
# is on $1 count, $2 mapping, $3 frames, $4 address.
share()
{
	awk -F'\t' "{ all += \$1 } $2 { m += \$1 } END { printf \"%d %d\\n\", m, all }" <<<"$1"
}

# pct A B: 100 * A / B with two decimals.
pct()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f\n", b ? 100 * a / b : 0 }'
}

# at_least VALUE MIN: VALUE >= MIN (decimals ok).
at_least()
{
	awk -v v="$1" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0) }'
}

# show_stacks STACKS AWK_CONDITION [MAX]: the heaviest matching stacks, as diagnostics.
show_stacks()
{
	diag "$(awk -F'\t' "$2" <<<"$1" |
		awk -F'\t' '{ f = $3; gsub(/^;|;$/, "", f); gsub(/;/, " <- ", f); n[$2 "]  " f] += $1 }
			END { for (k in n) printf "%5d  [%s\n", n[k], k }' |
		sort -k1,1nr | head -n "${3:-8}")"
}

# profile NAME QUERY: fetches $DAEMON_URL/debug/pprof/profile?QUERY into
# $E2E_TMP/NAME.prof; sets PROF, RAW (the -raw dump), STACKS (raw_stacks) and
# TOP (pprof_top).  Returns 1 (after one failed check) when there is no
# usable profile.
profile()
{
	local name=$1 query=$2 code
	PROF=$E2E_TMP/$name.prof
	RAW='' STACKS='' TOP=''
	code=$(FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/profile?$query" "$PROF")
	if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
		fail "$name: profile?$query is 200 and gzip" "got $code: $(head -c 300 "$PROF" \
			2>/dev/null | tr -c '[:print:]\n' '.')" "$(cat "$PROF.curl-err")"
		diag_daemon
		return 1
	fi
	if ! RAW=$(pprof "$PROF" -raw); then
		fail "$name: go tool pprof loads the profile" "$(cat "$PROF.pprof-err")"
		return 1
	fi
	STACKS=$(raw_stacks "$RAW")
	TOP=$(pprof_top "$PROF")
	read -r _ PROF_SAMPLES <<<"$(share "$STACKS" 0)"
	diag "$name: $PROF_SAMPLES samples"
	if [ "${PROF_SAMPLES:-0}" -lt 50 ]; then
		fail "$name: the profile has samples (got ${PROF_SAMPLES:-0}, want >= 50)" \
			"$(head -20 <<<"$TOP")"
		return 1
	fi
}

# top_names TOP: the function names of a -top report, one a line.
top_names()
{
	awk '$2 ~ /%$/ && $3 ~ /%$/ && NF >= 6 {
		name = $6; for (i = 7; i <= NF; i++) name = name " " $i
		sub(/ \(inline\)$/, "", name); print name }' <<<"$1"
}

# ------------------------------------------------------------ cxx

if ! start_workload cxx; then
	fail "start cxx"
elif ! start_daemon "$WORKLOAD_PID"; then
	fail "start pprofd --pid $WORKLOAD_PID"
else
	cxx_pid=$WORKLOAD_PID
	if profile cxx "seconds=3&hz=1000"; then
		names=$(top_names "$TOP")
		diag "cxx -top:" "$(head -12 <<<"$TOP")"
		for want in 'ns::Widget::spin(int)' 'ns::accumulate<unsigned int>(' \
			'ns::hash_block(unsigned int const*, unsigned long)' 'ns::mix_inline(unsigned int)'; do
			# The name as __cxa_demangle gives it (a template instance comes with
			# its return type first); its cum% must be real, not a stray sample
			# (cum: hash_block's own samples are in the function inlined into it).
			p=$(awk -v w="$want" 'index($0, w) { print; exit }' <<<"$names")
			# shellcheck disable=SC2001 # a bracket expression: sed is clearer
			cum=$([ -z "$p" ] || cum_pct "$TOP" "$(sed 's/[][\.*^$()+?{}|]/\\&/g' <<<"$p")")
			if [ -n "$p" ] && at_least "$cum" 10; then
				ok "cxx: demangled '$p' in -top (cum $cum%)"
			else
				fail "cxx: demangled name containing '$want' in -top with cum% >= 10" \
					"got: ${p:-no such name}${p:+ (cum $cum%)}" "names:" "$(head -15 <<<"$names")"
			fi
		done
		mangled=$(grep -E '(^|[^[:alnum:]_])_Z' <<<"$names")
		if [ -z "$mangled" ]; then
			ok "cxx: no mangled (_Z...) function name in -top"
		else
			fail "cxx: no mangled (_Z...) function name in -top" "$mangled"
		fi

		# The inline frame: a Location whose first line is mix_inline and a
		# later one hash_block (pprof -raw prints the innermost line first).
		inl=$(share "$STACKS" '$3 ~ /^;[^;]*mix_inline[^;]*;[^;]*hash_block/')
		read -r m all <<<"$inl"
		read -r inhash _ <<<"$(share "$STACKS" '$3 ~ /^;[^;]*hash_block/')"
		p=$(pct "$m" "$all")
		locs=$(awk '/^Locations/ { l = 1; next } /^Mappings/ { l = 0 }
			l && /^ *[0-9]+: 0x/ { first = $0; next }
			l && /^ +[^ ]/ && /hash_block/ && first ~ /mix_inline/ { print first; print; exit }' <<<"$RAW")
		diag "cxx: $all samples: $m with ns::mix_inline (inlined in hash_block) as the leaf frame," \
			"$inhash with hash_block's own code as the leaf frame"
		if [ -n "$locs" ] && at_least "$p" 10; then
			ok "cxx: mix_inline is an inline frame of hash_block ($p% of the samples)"
			diag "$locs"
		else
			fail "cxx: mix_inline is an inline frame of hash_block in >= 10% of the samples" \
				"got $p%; Locations with hash_block:" \
				"$(sed -n '/^Locations/,/^Mappings/p' <<<"$RAW" | grep -B1 -A1 hash_block | head -12)"
		fi
		traces=$(pprof "$PROF" -traces -symbolize=none)
		if grep -Eq 'mix_inline.* \(inline\)$' <<<"$traces"; then
			ok "cxx: -traces shows mix_inline (inline)"
			diag "$(grep -E -m1 'mix_inline.* \(inline\)$' <<<"$traces")"
		else
			fail "cxx: -traces shows mix_inline (inline)" "$(grep -m5 -E 'mix_inline|hash_block' <<<"$traces")"
		fi
	fi
	check_daemon_alive "the cxx profile"
	stop "$DAEMON_PID"
	stop "$cxx_pid"
fi

# ------------------------------------------------------------ dlopen

lib=$(readlink -f "$WORKLOADS/libhot.so")
if [ ! -f "$lib" ]; then
	fail "dlopen: $WORKLOADS/libhot.so built" "run: make workloads"
elif ! start_workload dlopen usr1 "$lib"; then
	fail "start dlopen"
elif ! start_daemon "$WORKLOAD_PID"; then
	fail "start pprofd --pid $WORKLOAD_PID"
else
	dl_pid=$WORKLOAD_PID
	if grep -qF "$lib" "/proc/$dl_pid/maps"; then
		fail "dlopen: libhot.so not loaded yet when pprofd is up" \
			"it is loaded on SIGUSR1, which was not sent yet"
	else
		ok "dlopen: libhot.so not loaded yet when pprofd is up"
	fi
	# The dlopen 2 s into the profile, once it runs (its request is counted in
	# /debug/metrics), whatever the daemon's start took.
	(for _ in $(seq 250); do
		[ "$(curl -s --max-time 2 "$DAEMON_URL/debug/metrics" |
			jq '.collectors[] | select(.name == "profile") | .requests')" -ge 1 ] 2>/dev/null &&
			break
		sleep 0.02
	done
	sleep 2
	kill -USR1 "$dl_pid") &
	track $!
	if profile dlopen "seconds=6&hz=1000"; then
		diag "dlopen -top:" "$(head -8 <<<"$TOP")"
		grep -qF "$lib" "/proc/$dl_pid/maps" ||
			diag "libhot.so is not in /proc/$dl_pid/maps after the profile:" \
				"$(cat "$E2E_TMP/dlopen.log" 2>/dev/null)"
		before=$(flat_pct "$TOP" before_dlopen_spin)
		hot=$(flat_pct "$TOP" hot_lib_spin)
		if at_least "$before" 5; then
			ok "dlopen: the profile began before the dlopen (before_dlopen_spin flat $before%)"
		else
			fail "dlopen: the profile began before the dlopen (before_dlopen_spin flat $before%)"
		fi
		if at_least "$hot" 20; then
			ok "dlopen: hot_lib_spin named, flat $hot% (want >= 20)"
		else
			fail "dlopen: hot_lib_spin named, flat $hot% (want >= 20)" \
				"stacks with the user leaf in libhot.so or in no mapping:"
			show_stacks "$STACKS" '$2 ~ /libhot/ || $2 == "?"'
		fi
		mapping=$(sed -n '/^Mappings/,$p' <<<"$RAW" | grep -F " $lib ")
		build_id=$(readelf -n "$lib" | awk '/Build ID:/ { print $3 }')
		if [ -n "$mapping" ]; then
			ok "dlopen: $lib is a mapping of the profile"
			diag "$mapping"
			if [ -n "$build_id" ] && grep -q "$build_id" <<<"$mapping"; then
				ok "dlopen: its mapping has the build ID $build_id"
			else
				fail "dlopen: its mapping has the build ID $build_id" "$mapping"
			fi
		else
			fail "dlopen: $lib is a mapping of the profile" "$(sed -n '/^Mappings/,$p' <<<"$RAW")"
		fi
		read -r m all <<<"$(share "$STACKS" '$3 ~ /;hot_lib_spin;/ && $3 ~ /;hot_lib_spin;(.*;)?lib_phase;(.*;)?main;/')"
		read -r inhot _ <<<"$(share "$STACKS" '$3 ~ /;hot_lib_spin;/')"
		p=$(pct "$m" "$inhot")
		if [ "$inhot" -gt 0 ] && at_least "$p" 99; then
			ok "dlopen: $p% of the $inhot samples in hot_lib_spin have lib_phase and main as callers"
		else
			fail "dlopen: $p% of the ${inhot:-0} samples in hot_lib_spin have lib_phase and main as callers (want >= 99)"
			show_stacks "$STACKS" '$3 ~ /;hot_lib_spin;/ && $3 !~ /;hot_lib_spin;(.*;)?lib_phase;(.*;)?main;/'
		fi
	fi
	check_daemon_alive "the dlopen profile"
	stop "$DAEMON_PID"
	stop "$dl_pid"
fi

# ------------------------------------------------------------ jit

if ! start_workload jit; then
	fail "start jit"
else
	jit_pid=$WORKLOAD_PID
	jit_map=/tmp/perf-$jit_pid.map
	for _ in $(seq 50); do
		[ -s "$jit_map" ] && break
		sleep 0.02
	done
	if ! read -r jit_start jit_size jit_name <"$jit_map" 2>/dev/null; then
		fail "jit: the workload wrote $jit_map" "$(cat "$E2E_TMP/jit.log" 2>/dev/null)"
	elif ! start_daemon "$jit_pid"; then
		fail "start pprofd --pid $jit_pid"
	else
		diag "$jit_map: $jit_start $jit_size $jit_name"
		diag "$(grep -i "^$(printf '%x' $((16#$jit_start & ~4095)))-" "/proc/$jit_pid/maps")"
		if profile jit "seconds=3&hz=1000"; then
			diag "jit -top:" "$(head -8 <<<"$TOP")"
			in_jit="{ a = \$4; sub(/^0x/, \"\", a) } length(a) == length(\"$jit_start\") && \
a >= \"$jit_start\" && a < \"$(printf '%x' $((16#$jit_start + 16#$jit_size)))\""
			read -r injit all <<<"$(share "$STACKS" "$in_jit")"
			diag "jit: $injit of $all samples have their user leaf in the JIT'ed code"
			named=$(flat_pct "$TOP" jit_hot_loop)
			if at_least "$named" 50; then
				ok "jit: jit_hot_loop named from $jit_map (flat $named%, want >= 50)"
			else
				fail "jit: jit_hot_loop named from $jit_map (flat $named%, want >= 50)" \
					"what pprofd gave the JIT'ed addresses (samples, [mapping] stack):"
				show_stacks "$STACKS" "$in_jit" 5
				diag "Locations in the JIT region:" "$(awk -v s="$jit_start" '
					/^Locations/ { l = 1; next } /^Mappings/ { l = 0 }
					l && /^ *[0-9]+: 0x/ { a = $2; sub(/^0x/, "", a)
						if (length(a) == length(s) && substr(a, 1, length(s) - 3) == substr(s, 1, length(s) - 3)) print }' \
					<<<"$RAW" | head -5)"
			fi
			read -r m _ <<<"$(share "$STACKS" "$in_jit && \$3 ~ /;run_jit;(.*;)?main;/")"
			p=$(pct "$m" "$injit")
			if [ "${injit:-0}" -gt 0 ] && at_least "$p" 95; then
				ok "jit: $p% of the samples in the JIT'ed code unwind to run_jit and main (want >= 95)"
			else
				fail "jit: $p% of the ${injit:-0} samples in the JIT'ed code unwind to run_jit and main (want >= 95)"
				show_stacks "$STACKS" "$in_jit" 5
			fi
		fi
		check_daemon_alive "the jit profile"
		stop "$DAEMON_PID"
	fi
	stop "$jit_pid"
	rm -f "$jit_map"
fi

# ------------------------------------------------------------ goserver

app_port=$(free_port)
if ! start_workload goserver -listen "127.0.0.1:$app_port"; then
	fail "start goserver"
elif ! start_daemon "$WORKLOAD_PID"; then
	fail "start pprofd --pid $WORKLOAD_PID"
else
	go_pid=$WORKLOAD_PID
	if profile goserver "seconds=3&hz=1000"; then
		diag "goserver -top:" "$(head -8 <<<"$TOP")"
		for fn in main.hashLoop main.sortLoop; do
			flat=$(flat_pct "$TOP" "${fn//./\\.}")
			if at_least "$flat" 10; then
				ok "goserver: $fn named (flat $flat%)"
			else
				fail "goserver: $fn named (flat $flat%, want >= 10)" "names:" \
					"$(top_names "$TOP" | head -15)"
			fi
		done
		# The two goroutines' stacks: down to runtime.goexit, the bottom of
		# every goroutine stack (pprofd names it from the ELF symbol table,
		# where the assembly function is runtime.goexit.abi0).
		for fn in hashLoop sortLoop; do
			read -r m _ <<<"$(share "$STACKS" "\$3 ~ /;main\\.$fn;/ && \$3 ~ /;runtime\\.goexit(\\.abi0)?;\$/")"
			read -r infn _ <<<"$(share "$STACKS" "\$3 ~ /;main\\.$fn;/")"
			p=$(pct "$m" "$infn")
			if [ "${infn:-0}" -gt 0 ] && at_least "$p" 99; then
				ok "goserver: $p% of the $infn samples in main.$fn have stacks down to runtime.goexit (want >= 99)"
			else
				fail "goserver: $p% of the ${infn:-0} samples in main.$fn have stacks down to runtime.goexit (want >= 99)" \
					"heaviest stacks in main.$fn that do not:"
				show_stacks "$STACKS" "\$3 ~ /;main\\.$fn;/ && \$3 !~ /;runtime\\.goexit(\\.abi0)?;\$/" 4
			fi
		done
		diag "goserver: outermost frames (samples):" "$(awk -F'\t' '{ n = split($3, f, ";"); c[f[n - 1]] += $1 }
			END { for (k in c) printf "%6d %s\n", c[k], k }' <<<"$STACKS" | sort -nr | head -6)"
	fi
	check_daemon_alive "the goserver profile"
	stop "$DAEMON_PID"
	stop "$go_pid"
fi

done_testing
