#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# seeds.sh - (re)makes the seed corpus of every harness in corpus/<harness>/
# from this machine's /proc, the documented config and small ELF files
# compiled here.  Run once by hand; the seeds are committed.  Inputs that
# found a bug are added by hand, named after it (crash-*, leak-*).
set -eu
cd "$(dirname "$0")"
C=corpus
mkdir -p $C/{perfmap,proc_stat,proc_status,proc_limits,proc_smaps,proc_misc,proc_maps,config,http_query,elf,elf_decompress,thread_name,gopclntab}

printf '7f1c2d3e4040 f jit_hot_loop\n' >$C/perfmap/jit
printf '3ef414c0 398 LazyCompile:~foo /srv/app.js:1\n3ef41860 1c Builtin:ArgumentsAdaptorTrampoline\n' >$C/perfmap/v8
printf '0x400000 0x100 with_0x\r\n400100 10\n400200 0 zero_size\nffffffffffffff00 1000 wraps\n' >$C/perfmap/edges
printf '1000 10 a\n1000 10 b same start\n1008 4 inner\n' >$C/perfmap/overlap

cat /proc/self/stat >$C/proc_stat/self
cat /proc/1/stat >$C/proc_stat/init
printf '4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 1234 0 7 0 250 31 0 0 20 0 5 0 98765 123456789 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n' >$C/proc_stat/parens
printf '1 (x)' >$C/proc_stat/ends_at_paren

cat /proc/self/status >$C/proc_status/status
cat /proc/meminfo >$C/proc_status/meminfo
cat /proc/self/io >$C/proc_status/io
cat /proc/self/smaps_rollup >$C/proc_status/smaps_rollup

cat /proc/self/limits >$C/proc_limits/limits

head -c 6000 /proc/self/smaps >$C/proc_smaps/smaps
printf '7f0000000000-7f0000001000 rw-p 00000000 00:00 0                          [anon:my pool]\nSize:                  4 kB\nRss:                   4 kB\nPss:                   4 kB\nAnonymous:             4 kB\nSwap:                  0 kB\n' >$C/proc_smaps/anon_name

cat /proc/loadavg >$C/proc_misc/loadavg
cat /proc/1/task/1/syscall >$C/proc_misc/syscall 2>/dev/null || printf '7 0x7ffd 0x1 0xffffffff 0x0 0x0 0x0 0x7ffd8e2c1a58 0x7f2b1c0e5d3f\n' >$C/proc_misc/syscall
printf 'running\n' >$C/proc_misc/syscall_running
cat /proc/self/cgroup >$C/proc_misc/cgroup
printf '0::/system.slice/app.service\n' >$C/proc_misc/cgroup_unit
printf '1234\n' >$C/proc_misc/pidfile

grep ' r-xp \| r--p ' /proc/self/maps | head -12 >$C/proc_maps/self
printf '55d0c0a00000-55d0c0a01000 r-xp 00001000 08:01 0 /opt/app/bin (deleted)\n7ffd1e5f0000-7ffd1e5f2000 r-xp 00000000 00:00 0                          [vdso]\n' >$C/proc_maps/deleted_vdso

cp ../../config/pprofd.json $C/config/pprofd.json
printf '{"environment": "development", "cpu": {"hz": 250}, "health": {"max_threads": 200}}\n' >$C/config/small
printf '{"cpu": {"hz": 100000}}\n' >$C/config/out_of_range
printf '{"nope": 1}\n' >$C/config/unknown_key

printf 'seconds=30&hz=100' >$C/http_query/profile
printf 'debug=2&seconds=5' >$C/http_query/goroutine
printf '0x4005d0+0x400610+0xffffffff81000000' >$C/http_query/symbol
printf '127.0.0.1:6060' >$C/http_query/listen
printf '[::1]:6060' >$C/http_query/listen6

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/lib.c" <<'SRC'
static inline int inner(int x) { return x * 3 + 1; }
__attribute__((noinline)) int work(int n) { int s = 0; for (int i = 0; i < n; i++) s += inner(i); return s; }
int entry(int n) { return work(n) + 1; }
SRC
cc -O2 -g -fPIC -shared "$tmp/lib.c" -o $C/elf/lib_g.so
cc -O2 -g -gz=zlib -fPIC -shared "$tmp/lib.c" -o $C/elf/lib_gz.so
cc -O2 -fPIC -shared "$tmp/lib.c" -o "$tmp/lib.so"
objcopy --only-keep-debug "$tmp/lib.so" "$tmp/lib.so.debug"
strip "$tmp/lib.so" -o $C/elf/lib_debuglink.so
objcopy --add-gnu-debuglink="$tmp/lib.so.debug" $C/elf/lib_debuglink.so
cp $C/elf/lib_gz.so $C/elf_decompress/lib_gz.so
cc -O2 -g -gz=zlib -c "$tmp/lib.c" -o $C/elf_decompress/lib_gz.o

# thread_name: records of a 16-byte name, a 4-byte tid, then 8-byte pcs.
{ printf 'holder-1\0\0\0\0\0\0\0\0\x01\x02\0\0'; head -c 32 /dev/urandom
  printf 'a\xff\xfe"\\<>&\n%%s%%n\0\0\0\0\x03\0\0\0'; head -c 16 /dev/urandom; } >$C/thread_name/names

# gopclntab: the whole table of the smallest Go program built here (Debian's
# Go, stripped), and the first 64 KiB of those of esbuild built with Go 1.16
# and 1.26 (tests/fetch-esbuild.sh): their headers, the other layouts.
pcln=$tmp/pcln
objcopy -O binary --only-section=.gopclntab ../../build/workloads/gonoprof-stripped $C/gopclntab/go119
for v in go116:esbuild-go116 go126:esbuild; do
	if objcopy -O binary --only-section=.gopclntab "../../build/npm/${v#*:}" "$pcln" 2>/dev/null; then
		head -c 65536 "$pcln" >"$C/gopclntab/${v%%:*}-64k"
	fi
done
