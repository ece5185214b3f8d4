#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_security.sh - loopback by default, the bearer token, the limits and
# the access log:
#   bind       a non-loopback --listen without auth.token_file is refused
#              (exit 6, naming the key) before anything listens;
#   token      with auth.token_file every endpoint but /performance/health
#              answers 401 without the right "Authorization: Bearer";
#   limits     oversized headers (400) and bodies (413), one profile more than
#              limits.max_concurrent_profiles (503), a profile longer than
#              limits.request_timeout_seconds still answered;
#   log        one access line per request on stderr.
# Everything listens on 127.0.0.1: the non-loopback case never binds.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon

start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID

# ---- non-loopback without a token

for addr in 0.0.0.0:16999 "[::]:16999"; do
	"$PPROFD" --pid "$target" --listen "$addr" >"$E2E_TMP/bind.log" 2>&1
	status=$?
	if [ "$status" = 6 ] && grep -q 'refusing to listen on .* auth.token_file' "$E2E_TMP/bind.log"; then
		ok "--listen $addr without a token: refused, exit 6, names auth.token_file"
	else
		fail "--listen $addr without a token: refused, exit 6, names auth.token_file" \
			"exit $status: $(cat "$E2E_TMP/bind.log")"
	fi
done

# ---- the token

token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$token" >"$E2E_TMP/token"
chmod 600 "$E2E_TMP/token"
cat >"$E2E_TMP/auth.json" <<JSON
{
	"auth": { "token_file": "$E2E_TMP/token" },
	"limits": {
		"max_header_bytes": 4096,
		"max_body_bytes": 65536,
		"request_timeout_seconds": 1,
		"max_concurrent_profiles": 1
	}
}
JSON
if ! start_daemon "$target" --config "$E2E_TMP/auth.json"; then
	fail "start pprofd with auth.token_file"
	done_testing
fi
# start_daemon polled /debug/pprof/: 401 is an answer.
for path in /performance/stats /metrics /debug/metrics /debug/pprof/ /performance/info; do
	code=$(fetch "$DAEMON_URL$path" "$E2E_TMP/noauth")
	check_eq "token: $path without Authorization is 401" 401 "$code"
done
check_eq "token: 401 says WWW-Authenticate: Bearer" 'Bearer realm="pprofd"' \
	"$(header "$E2E_TMP/noauth.headers" WWW-Authenticate)"
# The last character changed (to 0, or to 1 when it is 0): never the token itself.
last=${token: -1}
code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/wrong" \
	-H "Authorization: Bearer ${token%?}$([ "$last" = 0 ] && echo 1 || echo 0)")
check_eq "token: a wrong token is 401" 401 "$code"
code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/wrong" -H "Authorization: Bearer ${token}x")
check_eq "token: the token with one byte more is 401" 401 "$code"
code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/right" -H "Authorization: Bearer $token")
check_eq "token: the right token is 200" 200 "$code"
code=$(fetch "$DAEMON_URL/performance/health" "$E2E_TMP/health")
check_eq "token: /performance/health needs none" 200 "$code"
auth=(-H "Authorization: Bearer $token")

# ---- limits

big=$(head -c 8000 /dev/zero | tr '\0' a)
code=$(fetch "$DAEMON_URL/performance/stats" "$E2E_TMP/big" "${auth[@]}" -H "X-Big: $big")
check_eq "limits: headers over max_header_bytes are 400" 400 "$code"
head -c 100000 /dev/zero | tr '\0' 1 >"$E2E_TMP/body"
code=$(fetch "$DAEMON_URL/debug/pprof/symbol" "$E2E_TMP/bigbody" "${auth[@]}" \
	--data-binary "@$E2E_TMP/body")
check_eq "limits: a body over max_body_bytes is 413" 413 "$code"
fetch "$DAEMON_URL/debug/pprof/profile?seconds=3" "$E2E_TMP/long" "${auth[@]}" \
	>"$E2E_TMP/long.code" &
long=$!
track "$long"
sleep 1
code=$(fetch "$DAEMON_URL/debug/pprof/profile?seconds=1" "$E2E_TMP/second" "${auth[@]}")
check_eq "limits: a profile beyond max_concurrent_profiles=1 is 503" 503 "$code"
wait "$long"
check_eq "limits: a 3 s profile outlives request_timeout_seconds=1" 200 "$(cat "$E2E_TMP/long.code")"
is_gzip "$E2E_TMP/long" && ok "limits: ... and is a gzip'd profile" ||
	fail "limits: ... and is a gzip'd profile"

# ---- access log

stop "$DAEMON_PID"
n=$(grep -c 'access: 127.0.0.1:[0-9]* "GET /performance/stats" 401 ' "$DAEMON_LOG")
check_eq "access log: one line for each of the 3 refused /performance/stats" 3 "$n"
if grep -q 'access: 127.0.0.1:[0-9]* "GET /debug/pprof/profile?seconds=3" 200 [0-9]' "$DAEMON_LOG"; then
	ok "access log: peer, method, URI, status, bytes"
else
	fail "access log: peer, method, URI, status, bytes" "$(grep access: "$DAEMON_LOG" | tail -5)"
fi

# ---- log.access false: no lines

printf '{"log": {"access": false}}\n' >"$E2E_TMP/quiet.json"
if start_daemon "$target" --config "$E2E_TMP/quiet.json"; then
	curl -s -o /dev/null "$DAEMON_URL/performance/health"
	stop "$DAEMON_PID"
	check_eq "log.access false: no access lines" 0 "$(grep -c 'access:' "$DAEMON_LOG")"
else
	fail "start pprofd with log.access false"
fi

done_testing
