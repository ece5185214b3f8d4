#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_containment.sh - the files a target controls never lead pprofd (root)
# out of the target's view of the file system (/proc/PID/root):
#
#   perf map      /tmp/perf-PID.map replaced by a symbolic link to a file of
#                 the host: refused (a symbolic link), said in /debug/metrics
#                 and the log; replaced by a plain file again: read.
#   chroot /tmp   a target chrooted into an empty directory whose /tmp is a
#                 link up and out of it (../host, a host directory with a
#                 perf map): the perf map inside its root is read, never
#                 the host's.
#   debuglink     the same target's binary is stripped, its .gnu_debuglink
#                 names FILE.debug, an absolute link to the host's copy
#                 (symbols renamed outside_secret_fn): the copy inside the
#                 root is used (run_jit), never the host's.
#   ../debuglink  a second binary whose .gnu_debuglink is "../../..../host
#                 path": refused (not a plain file name), counted in
#                 /debug/metrics, logged.
#
# Before rootfs.c, each of these read the host's file.

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

require_daemon
need objcopy
need strip

# Profiles a few seconds of the daemon's target; TOP is go tool pprof -top.
profile()
{
	local name=$1 code
	PROF=$E2E_TMP/$name.prof
	TOP=''
	code=$(FETCH_TIMEOUT=30 fetch "$DAEMON_URL/debug/pprof/profile?seconds=3&hz=500" "$PROF")
	if [ "$code" != 200 ] || ! is_gzip "$PROF"; then
		fail "$name: profile is 200 and gzip" "got $code" "$(cat "$PROF.curl-err")"
		diag_daemon
		return 1
	fi
	TOP=$(pprof_top "$PROF") || {
		fail "$name: go tool pprof loads the profile" "$(cat "$PROF.pprof-err")"
		return 1
	}
}

has() { grep -q -- "$2" <<<"$1"; }

metrics() { curl -s --max-time 5 "$DAEMON_URL/debug/metrics"; }

wait_for_file()
{
	for _ in $(seq 100); do
		[ -s "$1" ] && return 0
		sleep 0.02
	done
	return 1
}

# ------------------------------------------------------ perf map: a symbolic link

HOST=$E2E_TMP/host # the host's files a target must not reach
mkdir -p "$HOST"
if ! start_workload jit; then
	fail "start jit"
else
	pid=$WORKLOAD_PID
	map=/tmp/perf-$pid.map
	if ! wait_for_file "$map" || ! read -r start size _ <"$map"; then
		fail "jit wrote $map"
	else
		echo "$start $size outside_secret_jit" >"$HOST/secret.map"
		rm -f "$map"
		ln -s "$HOST/secret.map" "$map"
		if start_daemon "$pid" && profile symlink; then
			if has "$TOP" outside_secret_jit; then
				fail "perf map symlink: the host file it points to was not read" \
					"$(head -8 <<<"$TOP")"
			else
				ok "perf map symlink: the host file it points to was not read"
			fi
			m=$(metrics)
			check_eq "perf map symlink: /debug/metrics says refused" refused \
				"$(jq -r .target_files.perf_map.state <<<"$m")"
			check "perf map symlink: the reason is a symbolic link" \
				has "$(jq -r .target_files.perf_map.reason <<<"$m")" "symbolic link"
			check "perf map symlink: the log says so" \
				grep -q "perf map /tmp/perf-$pid.map of pid $pid refused: a symbolic link" \
				"$DAEMON_LOG"
			# A plain file again: read within a second (the refusal is not sticky).
			rm -f "$map"
			echo "$start $size jit_plain_again" >"$map"
			sleep 1.1
			if profile plain; then
				check "perf map: a plain file is read again (jit_plain_again)" \
					has "$TOP" jit_plain_again
				check_eq "perf map: /debug/metrics says loaded" loaded \
					"$(metrics | jq -r .target_files.perf_map.state)"
			fi
			check_daemon_alive "the perf map profiles"
			stop "$DAEMON_PID"
		else
			fail "start pprofd --pid $pid"
		fi
	fi
	rm -f "$map"
	stop "$pid"
fi

# ------------------------------------------------------ a chrooted target

ROOT=$E2E_TMP/root
mkdir -p "$ROOT/tmp" "$ROOT/host"
# Where, inside the root, an absolute link to $HOST lands once the root's
# /tmp is a link to ../host (below).
case $HOST in
/tmp/*) INSIDE=$ROOT/host${HOST#/tmp} ;;
*) INSIDE=$ROOT$HOST ;;
esac
mkdir -p "$INSIDE"
bin=$WORKLOADS/jit_static
run_jit=$(nm "$bin" | awk '$3 ~ /^run_jit/ { print $3; exit }')
[ -n "$run_jit" ] || fail "jit_static has a run_jit symbol"

# jit_a: debuglink jit_a.debug; $ROOT/jit_a.debug -> $HOST/jit_a.debug (absolute).
objcopy --only-keep-debug "$bin" "$E2E_TMP/jit.debug"
objcopy --redefine-sym "$run_jit=outside_secret_fn" "$E2E_TMP/jit.debug" "$HOST/jit_a.debug"
cp "$E2E_TMP/jit.debug" "$INSIDE/jit_a.debug" # inside the root: the real names
strip --strip-all "$bin" -o "$ROOT/jit_a"
objcopy --add-gnu-debuglink="$HOST/jit_a.debug" "$ROOT/jit_a"
ln -s "$HOST/jit_a.debug" "$ROOT/jit_a.debug"

# jit_b: a .gnu_debuglink that climbs out: "../" x 16 + the host path.
cp "$HOST/jit_a.debug" "$HOST/jit_b.debug"
link=$(printf '../%.0s' $(seq 16))${HOST#/}/jit_b.debug
{
	printf '%s\0' "$link"
	pad=$(((4 - (${#link} + 1) % 4) % 4))
	head -c "$pad" /dev/zero
	printf '\0\0\0\0' # a CRC: the build ID decides
} >"$E2E_TMP/debuglink.section"
strip --strip-all "$bin" -o "$ROOT/jit_b"
objcopy --add-section .gnu_debuglink="$E2E_TMP/debuglink.section" "$ROOT/jit_b"

# Starts $1 chrooted; CHROOT_PID.
start_chrooted()
{
	chroot "$ROOT" "/$1" >>"$E2E_TMP/$1.log" 2>&1 &
	CHROOT_PID=$!
	track "$CHROOT_PID"
	for _ in $(seq 100); do
		[ "$(readlink "/proc/$CHROOT_PID/exe" 2>/dev/null)" = "$ROOT/$1" ] && return 0
		sleep 0.02
	done
	diag_file "$E2E_TMP/$1.log"
	return 1
}

if ! start_chrooted jit_a; then
	fail "start jit_a chrooted in $ROOT"
elif ! wait_for_file "$ROOT/tmp/perf-$CHROOT_PID.map" ||
	! read -r start size _ <"$ROOT/tmp/perf-$CHROOT_PID.map"; then
	fail "jit_a wrote its perf map in its root"
else
	pid=$CHROOT_PID
	# Its /tmp becomes a link up and out of its root, to a host directory
	# that has a perf map; inside the root, ../host is $ROOT/host.
	mv "$ROOT/tmp" "$ROOT/tmp.real"
	ln -s ../host "$ROOT/tmp"
	echo "$start $size outside_secret_jit" >"$E2E_TMP/host/perf-$pid.map"
	echo "$start $size inside_jit" >"$ROOT/host/perf-$pid.map"
	if start_daemon "$pid" && profile chroot; then
		diag "chrooted jit_a -top:" "$(head -8 <<<"$TOP")"
		if has "$TOP" outside_secret; then
			fail "chroot: no name from the host's files" "$(head -12 <<<"$TOP")"
		else
			ok "chroot: no name from the host's files (outside_secret_*)"
		fi
		check "chroot /tmp link: the perf map inside the root is read (inside_jit)" \
			has "$TOP" inside_jit
		check "chroot debuglink link: the debug file inside the root is read ($run_jit)" \
			has "$TOP" "$run_jit"
		check_daemon_alive "the chroot profile"
		stop "$DAEMON_PID"
	else
		fail "start pprofd --pid $pid (chrooted jit_a)"
	fi
	stop "$pid"
	rm -f "$HOST/perf-$pid.map" "$ROOT/host/perf-$pid.map"
	rm -f "$ROOT/tmp" && mv "$ROOT/tmp.real" "$ROOT/tmp"
fi

if ! start_chrooted jit_b; then
	fail "start jit_b chrooted in $ROOT"
else
	pid=$CHROOT_PID
	if start_daemon "$pid" && profile dotdot; then
		if has "$TOP" outside_secret_fn; then
			fail "../ debuglink: the host's debug file was not read" "$(head -12 <<<"$TOP")"
		else
			ok "../ debuglink: the host's debug file was not read"
		fi
		m=$(metrics)
		refused=$(jq -r .target_files.debuglinks.refused <<<"$m")
		if [ "${refused:-0}" -ge 1 ] 2>/dev/null; then
			ok "../ debuglink: /debug/metrics counts it refused ($refused)"
		else
			fail "../ debuglink: /debug/metrics counts it refused" "$m"
		fi
		check "../ debuglink: /debug/metrics says why" \
			has "$(jq -r .target_files.debuglinks.last_refused <<<"$m")" "not a plain file name"
		check "../ debuglink: the log says so" \
			grep -q "debuglink .*jit_b.debug refused: not a plain file name" "$DAEMON_LOG"
		check_daemon_alive "the ../ debuglink profile"
		stop "$DAEMON_PID"
	else
		fail "start pprofd --pid $pid (chrooted jit_b)"
	fi
	stop "$pid"
fi
rm -f "$ROOT"/tmp/perf-*.map
done_testing
