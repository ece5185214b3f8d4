#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_systemd.sh - systemd/pprofd@.service and what it relies on, without a
# running systemd (none here: the unit is checked offline):
#   verify     systemd-analyze verify is clean on an instance of the template;
#   security   systemd-analyze security --offline rates its exposure <= 4.5;
#   notify     Type=notify: READY=1, WATCHDOG=1 every WatchdogSec/2 and
#              STOPPING=1 on NOTIFY_SOCKET;
#   caps       the unit's CapabilityBoundingSet, as a non-root user, is
#              enough: CPU profile, heap profile, /performance/stats;
#   install    make install DESTDIR=... lays out binary, unit, config, docs.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
UNIT=$E2E_REPO/systemd/pprofd@.service

# ---- verify and security, on an instance whose ExecStart is this build

mkdir -p "$E2E_TMP/units"
instance=$E2E_TMP/units/pprofd@pprofd-e2e.service
sed "s|/usr/local/bin/pprofd|$PPROFD|" "$UNIT" >"$instance"
if need systemd-analyze; then
	out=$(systemd-analyze verify "$instance" 2>&1)
	status=$?
	if [ "$status" = 0 ] && [ -z "$out" ]; then
		ok "systemd-analyze verify: clean"
	else
		fail "systemd-analyze verify: clean" "exit $status" "$out"
	fi
	systemd-analyze security --offline=true "$instance" >"$E2E_TMP/security" 2>&1
	exposure=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' "$E2E_TMP/security")
	if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 4.5) }'; then
		ok "systemd-analyze security: exposure $exposure <= 4.5"
	else
		fail "systemd-analyze security: exposure <= 4.5" "got '$exposure'" \
			"$(grep '✗' "$E2E_TMP/security" | head -30)"
	fi
else
	fail "systemd-analyze installed (Debian's systemd package)"
fi
for key in "Type=notify" "WatchdogSec=" "ExecStart=/usr/local/bin/pprofd --unit %i" \
	"NoNewPrivileges=yes" "StandardError=journal"; do
	grep -q "^$key" "$UNIT" && ok "unit: $key" || fail "unit: $key"
done

# ---- the notify protocol: a datagram socket playing systemd

start_workload grow || {
	fail "start grow"
	done_testing
}
target=$WORKLOAD_PID
sock=$E2E_TMP/notify.sock
python3 - "$sock" >"$E2E_TMP/notify.msgs" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(12)
try:
    while True:
        m = s.recv(4096).decode()
        print(m.replace("\n", " ") + " @%.3f" % time.monotonic(), flush=True)
        if m.startswith("STOPPING=1"):
            break
except socket.timeout:
    pass
PY
listener=$!
track "$listener"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$sock WATCHDOG_USEC=1000000 start_daemon "$target" ||
	fail "start pprofd with NOTIFY_SOCKET"
sleep 2.2
stop "$DAEMON_PID"
wait_exit "$listener" 3
if grep -q "^READY=1 STATUS=profiling process $target on http://127.0.0.1:$DAEMON_PORT/ MAINPID=$DAEMON_PID" \
	"$E2E_TMP/notify.msgs"; then
	ok "notify: READY=1 with STATUS and MAINPID once serving"
else
	fail "notify: READY=1 with STATUS and MAINPID once serving" "$(cat "$E2E_TMP/notify.msgs")"
fi
# Every 0.5 s from READY to STOPPING (each message is stamped by the
# listener): as many pings as that span holds, less one at its edges, and
# never a gap that systemd's WATCHDOG_USEC (1 s) would kill for.
read -r pings want gap <<<"$(awk '
	{ t = $NF; sub(/^@/, "", t) }
	/^READY=1/ { ready = t; last = t }
	/^WATCHDOG=1/ { n++; if (last != "" && t - last > gap) gap = t - last; last = t }
	/^STOPPING=1/ { stop = t; if (last != "" && t - last > gap) gap = t - last }
	END { w = (ready != "" && stop != "") ? int((stop - ready) / 0.5) - 1 : 1
		printf "%d %d %.3f\n", n, w < 1 ? 1 : w, gap }' "$E2E_TMP/notify.msgs")"
if [ "$pings" -ge "$want" ] && awk -v g="$gap" 'BEGIN { exit !(g < 1.0) }'; then
	ok "notify: WATCHDOG=1 every half WATCHDOG_USEC ($pings from READY to STOPPING, want >= $want; longest gap ${gap} s < 1 s)"
else
	fail "notify: WATCHDOG=1 every half WATCHDOG_USEC ($pings, want >= $want; longest gap ${gap} s, want < 1 s)" \
		"$(cat "$E2E_TMP/notify.msgs")"
fi
grep -q '^STOPPING=1' "$E2E_TMP/notify.msgs" && ok "notify: STOPPING=1 on SIGTERM" ||
	fail "notify: STOPPING=1 on SIGTERM" "$(cat "$E2E_TMP/notify.msgs")"

# ---- the unit's capabilities are enough, as another user

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT" | tr ' ' '\n' |
	sed 's/^CAP_//' | tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -)
if ! need setpriv; then
	skip "unit capabilities suffice" "setpriv missing"
else
	port=$(free_port)
	setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps="-all,$caps" \
		--ambient-caps="-all,$caps" --bounding-set="-all,$caps" \
		env APP_ENVIRONMENT=development "$PPROFD" --pid "$target" \
		--listen "127.0.0.1:$port" >"$E2E_TMP/caps.log" 2>&1 &
	capsd=$!
	track "$capsd"
	for _ in $(seq 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/performance/health" && break
		sleep 0.1
	done
	code=$(fetch "http://127.0.0.1:$port/debug/pprof/profile?seconds=1" "$E2E_TMP/caps.prof")
	check_eq "caps ($caps) as nobody: CPU profile 200" 200 "$code"
	code=$(fetch "http://127.0.0.1:$port/debug/pprof/heap" "$E2E_TMP/caps.heap")
	check_eq "caps as nobody: heap profile 200" 200 "$code"
	code=$(fetch "http://127.0.0.1:$port/performance/stats" "$E2E_TMP/caps.stats")
	check_eq "caps as nobody: stats read the target's /proc (heap_bytes not null)" "200 true" \
		"$code $(jq '.memory.heap_bytes != null' "$E2E_TMP/caps.stats")"
	stop "$capsd"
	[ "$E2E_FAILED" -eq 0 ] || diag_file "$E2E_TMP/caps.log"
fi

# ---- make install

dest=$E2E_TMP/dest
if make -s -C "$E2E_REPO" install DESTDIR="$dest" OUTPUT="$OUTPUT" >"$E2E_TMP/install.log" 2>&1; then
	ok "make install DESTDIR=..."
else
	fail "make install DESTDIR=..." "$(tail -5 "$E2E_TMP/install.log")"
fi
for f in usr/local/bin/pprofd usr/local/bin/pprofd-health-gate \
	usr/local/lib/systemd/system/pprofd@.service etc/pprofd/pprofd.json \
	usr/local/share/doc/pprofd/README.md; do
	[ -s "$dest/$f" ] && ok "installed /$f" || fail "installed /$f"
done
cmp -s "$UNIT" "$dest/usr/local/lib/systemd/system/pprofd@.service" &&
	ok "installed unit is systemd/pprofd@.service" || fail "installed unit is systemd/pprofd@.service"
echo '{"environment": "development"}' >"$dest/etc/pprofd/pprofd.json"
make -s -C "$E2E_REPO" install DESTDIR="$dest" OUTPUT="$OUTPUT" >/dev/null 2>&1
check_eq "make install keeps an edited /etc/pprofd/pprofd.json" '{"environment": "development"}' \
	"$(cat "$dest/etc/pprofd/pprofd.json")"

done_testing
