#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fetch-esbuild.sh - a stripped Go binary built with a much newer Go than
# Debian's: esbuild, as the npm registry ships it (@esbuild/linux-x64), into
# $OUTPUT/npm/esbuild.  The pclntab reader's unit test and
# tests/e2e/test_gostripped.sh use it to prove the Go 1.20+ layouts.
#
# Usage: tests/fetch-esbuild.sh          (OUTPUT defaults to build)
#
# Through npm's own client (`npm pack`), a pinned version so that the test
# reads the same bytes every time.  When the registry cannot be reached it
# says so and exits 0: the tests that need the binary then skip, naming
# this script.

set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTPUT=${OUTPUT:-build}
case $OUTPUT in
/*) ;;
*) OUTPUT=$REPO/$OUTPUT ;;
esac
VERSION=${ESBUILD_VERSION:-0.28.2}
dest=$OUTPUT/npm
bin=$dest/esbuild

if [ -x "$bin" ] && [ "$(cat "$dest/esbuild.version" 2>/dev/null)" = "$VERSION" ]; then
	exit 0
fi
if ! command -v npm >/dev/null; then
	echo "fetch-esbuild: npm is not installed (make deps): tests that need esbuild skip" >&2
	exit 0
fi
mkdir -p "$dest/pack"
if ! (cd "$dest/pack" && timeout 120 npm pack --silent "@esbuild/linux-x64@$VERSION") \
	>"$dest/pack/npm.log" 2>&1; then
	echo "fetch-esbuild: npm registry unreachable ($(tail -n 1 "$dest/pack/npm.log")):" \
		"tests that need esbuild skip" >&2
	exit 0
fi
tar -xzf "$dest/pack/esbuild-linux-x64-$VERSION.tgz" -C "$dest/pack" package/bin/esbuild &&
	mv "$dest/pack/package/bin/esbuild" "$bin.tmp" && mv "$bin.tmp" "$bin" &&
	echo "$VERSION" >"$dest/esbuild.version"
rm -rf "$dest/pack"
if ! [ -x "$bin" ]; then
	echo "fetch-esbuild: the package held no package/bin/esbuild" >&2
	exit 1
fi
echo "fetch-esbuild: $bin (@esbuild/linux-x64@$VERSION)" >&2
