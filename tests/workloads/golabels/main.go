// SPDX-License-Identifier: MIT

// golabels burns CPU under two sets of pprof labels, and serves its own
// net/http/pprof, so that pprofd's CPU profile and the app's own can be
// compared label by label (go tool pprof -tags, -tagfocus).
//
// Usage: golabels [-listen 127.0.0.1:6072]
//
// Two goroutines take turns (a token passed over channels: one runs at a
// time) for about one CPU, each locked to its OS thread and timing its turn
// on that thread's CPU clock, so the split holds on a busy machine:
//
//	worker=hash tenant=a            ~70 %  (7 ms per turn), under pprof.Do
//	worker=sort tenant=b l1..l8=... ~30 %  (3 ms per turn), under
//	                                       SetGoroutineLabels: ten labels,
//	                                       a map of two buckets before Go 1.24
//
// Runs until killed.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"runtime"
	"runtime/pprof"
	"syscall"
	"unsafe"
)

var sink uint64

const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID

func threadCPUNanos() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// hashTurns hashes a buffer for 7 ms of CPU time per turn.
//
//go:noinline
func hashTurns(turn, done chan struct{}) {
	buf := make([]byte, 16384)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	h := uint64(14695981039346656037)
	for range turn {
		end := threadCPUNanos() + 7e6
		for threadCPUNanos() < end {
			for _, b := range buf {
				h ^= uint64(b)
				h *= 1099511628211
			}
		}
		sink += h
		done <- struct{}{}
	}
}

// sortTurns insertion-sorts a scrambled array for 3 ms of CPU time per turn.
//
//go:noinline
func sortTurns(turn, done chan struct{}) {
	a := make([]uint32, 256)
	x := uint32(1)
	for range turn {
		end := threadCPUNanos() + 3e6
		for threadCPUNanos() < end {
			for i := range a {
				x = x*1664525 + 1013904223
				a[i] = x
			}
			for i := 1; i < len(a); i++ {
				v := a[i]
				j := i - 1
				for j >= 0 && a[j] > v {
					a[j+1] = a[j]
					j--
				}
				a[j+1] = v
			}
		}
		sink += uint64(a[0])
		done <- struct{}{}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6072", "address of the HTTP server")
	flag.Parse()

	hashTurn, sortTurn := make(chan struct{}), make(chan struct{})
	hashDone, sortDone := make(chan struct{}), make(chan struct{})
	go func() {
		runtime.LockOSThread()
		pprof.Do(context.Background(), pprof.Labels("worker", "hash", "tenant", "a"),
			func(context.Context) { hashTurns(hashTurn, hashDone) })
	}()
	go func() {
		runtime.LockOSThread()
		labels := []string{"worker", "sort", "tenant", "b"}
		for i := 1; i <= 8; i++ {
			labels = append(labels, fmt.Sprintf("l%d", i), fmt.Sprintf("value-%d", i))
		}
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(),
			pprof.Labels(labels...)))
		sortTurns(sortTurn, sortDone)
	}()
	go func() {
		for {
			hashTurn <- struct{}{}
			<-hashDone
			sortTurn <- struct{}{}
			<-sortDone
		}
	}()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "golabels")
	})
	log.Fatal(http.Serve(ln, nil))
}
