#!/bin/sh
# Installs the Debian packages pprofd needs to build, run and test, only those
# that are missing.  Idempotent: prints nothing and changes nothing when all
# are there.  Needs root (or sudo) only when something is missing.
set -eu

# prometheus: only for promtool (check metrics in the tests); about 19 MB to
# download, 96 MB installed, pulled in without its recommends.
# bpftrace: only for make bench-heap (the memleak-style baseline).
# npm (to fetch Go binaries built with newer Go versions than Debian's,
# tests/fetch-esbuild.sh) comes with the machine's Node.js (nodesource's
# nodejs package, which conflicts with Debian's npm): installed from Debian
# only where no npm command exists.
# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes, for make fuzz
# (clang only recommends it).

PKGS="make gcc clang llvm bpftool libbpf-dev libelf-dev libdw-dev libevent-dev
libcjson-dev zlib1g-dev libcmocka-dev pkg-config golang-go jq curl linux-perf
procps iproute2 prometheus bpftrace wrk libclang-rt-14-dev"

# `scripts/deps.sh bench` (make bench-heap): a real allocation-heavy server and
# its own load tool, redis-server (Debian's links libjemalloc) and
# redis-benchmark.  Its service is disabled again: the bench starts its own.
BENCH_ONLY=""
if [ "${1:-}" = bench ]; then
	PKGS="redis-server redis-tools"
	BENCH_ONLY=1
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0

echo "pprofd: installing missing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "pprofd: need root to install:$missing (run as root or install sudo)" >&2
		exit 1
	}
	SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
if [ -n "$BENCH_ONLY" ] && command -v systemctl >/dev/null 2>&1; then
	$SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
