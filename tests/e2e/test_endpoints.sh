#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_endpoints.sh - the /debug/pprof/* endpoints against Go's semantics
# (shared/reference/pprof-endpoints.md): production mode, index, cmdline,
# symbol, unknown profile, 400s on bad parameters, concurrent CPU profiles.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

# late_thread with a delay longer than the test: one thread spinning in
# main_spin().  The extra arguments are for /cmdline (one has a space).
start_workload late_thread 100000 "two words" "x=1" || fail "start late_thread"
target=$WORKLOAD_PID

# ---- production mode: APP_ENVIRONMENT unset -> 404 with a hint

if DAEMON_ENV='' start_daemon "$target"; then
	for path in /debug/pprof/ "/debug/pprof/profile?seconds=1" /debug/pprof/cmdline; do
		code=$(fetch "$DAEMON_URL$path" "$E2E_TMP/prod")
		if [ "$code" = 404 ] && grep -q 'APP_ENVIRONMENT=development' "$E2E_TMP/prod"; then
			ok "production mode: $path is 404 naming APP_ENVIRONMENT=development"
		else
			fail "production mode: $path is 404 naming APP_ENVIRONMENT=development" \
				"got $code: $(head -c 300 "$E2E_TMP/prod")"
		fi
	done
	stop "$DAEMON_PID"
else
	fail "production mode: start pprofd without APP_ENVIRONMENT"
fi

# ---- dev mode from the config file (no APP_ENVIRONMENT)

port=$(free_port)
printf '{"environment": "development", "listen": "127.0.0.1:%s"}\n' "$port" >"$E2E_TMP/dev.json"
env -u APP_ENVIRONMENT "$PPROFD" --pid "$target" --config "$E2E_TMP/dev.json" \
	>"$E2E_TMP/config-daemon.log" 2>&1 &
config_daemon=$!
track "$config_daemon"
code=000
for _ in $(seq 100); do
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/debug/pprof/")
	[ "$code" != 000 ] && break
	proc_alive "$config_daemon" || break
	sleep 0.1
done
if [ "$code" = 200 ]; then
	ok "config {\"environment\":\"development\",\"listen\":...}: /debug/pprof/ is 200 on that address"
else
	fail "config {\"environment\":\"development\",\"listen\":...}: /debug/pprof/ is 200 on that address" \
		"got $code"
	diag_file "$E2E_TMP/config-daemon.log"
fi
stop "$config_daemon"

# ---- development mode

if ! start_daemon "$target"; then
	fail "start pprofd --pid $target in development mode"
	done_testing
fi
URL=$DAEMON_URL/debug/pprof

# Index.
code=$(fetch "$URL/" "$E2E_TMP/index")
check_eq "index: 200" 200 "$code"
ctype=$(header "$E2E_TMP/index.headers" Content-Type)
case $ctype in
text/html*) ok "index: text/html" ;;
*) fail "index: text/html" "Content-Type: $ctype" ;;
esac
missing=
grep -Eq "href=['\"]profile\\?debug=1['\"]" "$E2E_TMP/index" || missing="$missing profile?debug=1"
grep -q 'cmdline' "$E2E_TMP/index" || missing="$missing cmdline"
grep -q 'symbol' "$E2E_TMP/index" || missing="$missing symbol"
if [ -z "$missing" ]; then
	ok "index: lists profile (link profile?debug=1), cmdline, symbol"
else
	fail "index: lists profile (link profile?debug=1), cmdline, symbol" "missing:$missing"
	diag "$(head -c 1500 "$E2E_TMP/index")"
fi

# cmdline: the target's arguments joined by NUL, no trailing NUL or newline.
code=$(fetch "$URL/cmdline" "$E2E_TMP/cmdline")
check_eq "cmdline: 200" 200 "$code"
head -c -1 "/proc/$target/cmdline" >"$E2E_TMP/cmdline.expected"
if cmp -s "$E2E_TMP/cmdline.expected" "$E2E_TMP/cmdline"; then
	ok "cmdline: equals /proc/PID/cmdline, NUL-separated, nothing trailing"
else
	fail "cmdline: equals /proc/PID/cmdline, NUL-separated, nothing trailing" \
		"expected: $(od -c "$E2E_TMP/cmdline.expected" | head -3)" \
		"got:      $(od -c "$E2E_TMP/cmdline" | head -3)"
fi

# symbol GET: num_symbols: 1.
code=$(fetch "$URL/symbol" "$E2E_TMP/symbol")
if [ "$code" = 200 ] && [ "$(head -1 "$E2E_TMP/symbol")" = "num_symbols: 1" ]; then
	ok "symbol GET: 200, num_symbols: 1"
else
	fail "symbol GET: 200, num_symbols: 1" "got $code: $(head -c 200 "$E2E_TMP/symbol")"
fi

# symbol POST: addresses of two known functions (nm + the load base from
# /proc/PID/maps for a PIE) resolve to their names.
bin=$(readlink -f "$WORKLOADS/late_thread")
base=0
if readelf -h "$bin" | grep -q 'Type:.*DYN'; then
	base=$(awk -v f="$bin" '$6 == f && $3 ~ /^0+$/ { split($1, r, "-"); print r[1]; exit }' \
		"/proc/$target/maps")
	base=$((16#${base:-0}))
fi
sym_main=$(nm "$bin" | awk '$3 == "main_spin" { print $1 }')
sym_late=$(nm "$bin" | awk '$3 == "late_worker_spin" { print $1 }')
if [ -n "$sym_main" ] && [ -n "$sym_late" ]; then
	a1=$(printf '0x%x' $((base + 16#$sym_main)))
	a2=$(printf '0x%x' $((base + 16#$sym_late + 4)))
	code=$(fetch "$URL/symbol" "$E2E_TMP/symbol-post" --data-binary "$a1+$a2")
	if [ "$code" = 200 ] && grep -qx "$a1 main_spin" "$E2E_TMP/symbol-post" &&
		grep -qx "$a2 late_worker_spin" "$E2E_TMP/symbol-post"; then
		ok "symbol POST $a1+$a2: main_spin, late_worker_spin"
	else
		fail "symbol POST $a1+$a2: main_spin, late_worker_spin" "got $code:" \
			"$(head -c 500 "$E2E_TMP/symbol-post")"
	fi
else
	fail "symbol POST: find main_spin and late_worker_spin with nm $bin"
fi

# Unknown profile.
code=$(fetch "$URL/nosuch" "$E2E_TMP/nosuch")
if [ "$code" = 404 ] && grep -q 'Unknown profile' "$E2E_TMP/nosuch"; then
	ok "/debug/pprof/nosuch: 404 Unknown profile"
else
	fail "/debug/pprof/nosuch: 404 Unknown profile" "got $code: $(head -c 200 "$E2E_TMP/nosuch")"
fi

# Bad parameters: 400, X-Go-Pprof: 1, a one-line reason, at once.
for query in seconds=abc seconds=0 seconds=-1 seconds=100000 \
	"seconds=1&hz=0" "seconds=1&hz=10001" "seconds=1&hz=abc"; do
	start=$(date +%s.%N)
	code=$(FETCH_TIMEOUT=5 fetch "$URL/profile?$query" "$E2E_TMP/bad")
	took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
	xgo=$(header "$E2E_TMP/bad.headers" X-Go-Pprof)
	lines=$(grep -c '' "$E2E_TMP/bad")
	if [ "$code" = 400 ] && [ "$xgo" = 1 ] && [ "$lines" = 1 ] &&
		[ -n "$(tr -d '[:space:]' <"$E2E_TMP/bad")" ] && within "$took" 0 1; then
		ok "profile?$query: 400, X-Go-Pprof: 1, one-line reason"
		diag "$(cat "$E2E_TMP/bad")"
	else
		fail "profile?$query: 400, X-Go-Pprof: 1, one-line reason" \
			"got $code in ${took}s, X-Go-Pprof: '$xgo', $lines lines:" \
			"$(head -c 300 "$E2E_TMP/bad")"
	fi
done

# What a developer types: go tool pprof on the bare address (the empty path
# means /debug/pprof/profile; pprof symbolizes through /symbol if it must).
if PPROF_TMPDIR=$E2E_TMP go tool pprof -top -seconds 2 "$DAEMON_URL" >"$E2E_TMP/client.out" \
	2>"$E2E_TMP/client.err" && grep -q ' main_spin$' "$E2E_TMP/client.out" &&
	! grep -Eqi 'warn|error|fail' "$E2E_TMP/client.err"; then
	ok "go tool pprof -seconds 2 http://127.0.0.1:PORT: loads, main_spin, no warnings"
else
	fail "go tool pprof -seconds 2 http://127.0.0.1:PORT: loads, main_spin, no warnings" \
		"$(cat "$E2E_TMP/client.err")" "$(head -12 "$E2E_TMP/client.out")"
fi

# Two concurrent 3-second CPU profiles: both 200 and both load in pprof.
start=$(date +%s.%N)
conc_pids=()
for n in 1 2; do
	FETCH_TIMEOUT=20 fetch "$URL/profile?seconds=3" "$E2E_TMP/conc$n.prof" >"$E2E_TMP/conc$n.code" &
	track $!
	conc_pids+=($!)
done
wait "${conc_pids[@]}"
took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
for n in 1 2; do
	f=$E2E_TMP/conc$n.prof
	code=$(cat "$E2E_TMP/conc$n.code")
	ctype=$(header "$f.headers" Content-Type)
	cdisp=$(header "$f.headers" Content-Disposition)
	if [ "$code" = 200 ] && [ "$ctype" = application/octet-stream ] &&
		[ "$cdisp" = 'attachment; filename="profile"' ] && is_gzip "$f"; then
		ok "concurrent profile $n: 200, application/octet-stream, attachment; filename=\"profile\", gzip"
	else
		fail "concurrent profile $n: 200, application/octet-stream, attachment; filename=\"profile\", gzip" \
			"got $code, Content-Type: $ctype, Content-Disposition: $cdisp" \
			"$(head -c 200 "$f" 2>/dev/null | tr -c '[:print:]\n' '.')" "$(cat "$f.curl-err")"
	fi
	if pprof "$f" -raw >"$f.raw"; then
		ok "concurrent profile $n: go tool pprof -raw loads it"
	else
		fail "concurrent profile $n: go tool pprof -raw loads it" "$(cat "$f.pprof-err")"
	fi
done
if within "$took" 3 2; then
	ok "concurrent profiles: served side by side (${took}s for two 3 s profiles)"
else
	fail "concurrent profiles: served side by side" "two 3 s profiles took ${took}s"
fi
check_daemon_alive "all of the above"

done_testing
