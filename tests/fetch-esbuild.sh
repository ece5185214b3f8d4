#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# fetch-esbuild.sh - stripped Go binaries built with other Go versions than
# Debian's: esbuild, as the npm registry ships it (@esbuild/linux-x64, and
# esbuild-linux-64 before 0.15), into $OUTPUT/npm/.  The pclntab reader's
# unit test reads every one of them (Go 1.16 to 1.26);
# tests/e2e/test_gostripped.sh runs the newest.
#
# Usage: tests/fetch-esbuild.sh          (OUTPUT defaults to build)
#
# Through npm's own client (`npm pack`), pinned versions so that the tests
# read the same bytes every time.  When the registry cannot be reached it
# says so and exits 0: the tests that need the binary then skip, naming
# this script.

set -u

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUTPUT=${OUTPUT:-build}
case $OUTPUT in
/*) ;;
*) OUTPUT=$REPO/$OUTPUT ;;
esac
dest=$OUTPUT/npm

# name  package@version  (the Go that built it, as its build info says)
BINARIES="esbuild @esbuild/linux-x64@0.28.2
esbuild-go116 esbuild-linux-64@0.11.23
esbuild-go117 esbuild-linux-64@0.13.15
esbuild-go120 @esbuild/linux-x64@0.17.19
esbuild-go122 @esbuild/linux-x64@0.23.1
esbuild-go123 @esbuild/linux-x64@0.25.5
esbuild-go125 @esbuild/linux-x64@0.27.7"
# esbuild: go1.26.5; -go116: go1.16.3; -go117: go1.17.2; -go120: go1.20.4;
# -go122: go1.22.5; -go123: go1.23.8; -go125: go1.25.7.  One per pclntab
# layout and then some: 1.16-1.17 (0xfffffffa), 1.20+ (0xfffffff1), 1.26
# (textStart 0 in the header); and one per Go version that has a layout row
# in daemon/golayout.c.  No esbuild release was built with Go 1.21 or 1.24:
# 0.21.5 is go1.20.12, 0.22.0 go1.22.4; 0.26.0 is go1.23.12, 0.27.0 go1.25.4.

if ! command -v npm >/dev/null; then
	echo "fetch-esbuild: npm is not installed (make deps): tests that need esbuild skip" >&2
	exit 0
fi
mkdir -p "$dest"
status=0
while read -r name spec; do
	bin=$dest/$name
	if [ -x "$bin" ] && [ "$(cat "$bin.version" 2>/dev/null)" = "$spec" ]; then
		continue
	fi
	rm -rf "$dest/pack"
	mkdir -p "$dest/pack"
	if ! (cd "$dest/pack" && timeout 120 npm pack --silent "$spec") >"$dest/pack/npm.log" 2>&1; then
		echo "fetch-esbuild: npm registry unreachable for $spec ($(tail -n 1 "$dest/pack/npm.log")):" \
			"tests that need $name skip" >&2
		rm -rf "$dest/pack"
		continue
	fi
	tgz=$(ls "$dest/pack"/*.tgz 2>/dev/null | head -n 1)
	if [ -n "$tgz" ] && tar -xzf "$tgz" -C "$dest/pack" package/bin/esbuild &&
		mv "$dest/pack/package/bin/esbuild" "$bin.tmp" && mv "$bin.tmp" "$bin"; then
		echo "$spec" >"$bin.version"
		echo "fetch-esbuild: $bin ($spec)" >&2
	else
		echo "fetch-esbuild: $spec held no package/bin/esbuild" >&2
		status=1
	fi
	rm -rf "$dest/pack"
done <<<"$BINARIES"
exit $status
