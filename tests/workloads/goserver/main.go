// SPDX-License-Identifier: MIT

// goserver is a Go web server with the standard net/http/pprof endpoints and
// a known CPU profile, so its own /debug/pprof/profile and pprofd's can be
// compared side by side.
//
// Usage: goserver [-listen 127.0.0.1:6071] [-goroutines N] [-retain] [-churn]
//
//	[-contention] [-burn=false]
//
// -goroutines N starts N more goroutines parked in main.parked (a channel
// receive), for the goroutine profile.  -retain keeps 8 MiB allocated by
// main.retainLarge and 4 MiB by main.retainSmall live (the heap profile),
// then runs two GCs and stays idle.  /memstats answers the app's own
// runtime.NumGoroutine and runtime.ReadMemStats as JSON.  -churn adds
// main.churn, a goroutine that allocates without pause and calls
// runtime.GC() now and then: the runtime works for it on the system stack
// (GC assists, span allocation, runtime.GC), so its frames are under
// runtime.systemstack in Go's own profile.  -contention turns on the
// runtime's block and mutex profiles (SetBlockProfileRate(1),
// SetMutexProfileFraction(1)) and adds known waits: main.chanWait receives
// from a channel main.chanFeed writes to every 2 ms (block: chanrecv1 under
// main.chanWait), and two main.mutexLoop goroutines hold one sync.Mutex for
// 1 ms in turn (block: sync.(*Mutex).Lock; mutex: the holder's Unlock).
// -burn=false leaves out the two CPU loops below (an idle server).
//
// Expected CPU profile: two background goroutines take turns (a token passed
// over channels, so only one of them runs at a time) for about one CPU:
//
//	main.hashLoop  ~60 %  (6 ms of CPU time per turn)
//	main.sortLoop  ~40 %  (4 ms of CPU time per turn)
//
// Each goroutine is locked to its own OS thread and measures its turn on that
// thread's CPU clock, so the split holds on a busy machine too.  The work is
// written out inside those two functions (no calls into the standard
// library but the clock, read about every 50 µs) so that the flat time lands
// on them.  Runs until killed.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

var sink uint64

const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID

// threadCPUNanos is the calling OS thread's CPU time (the goroutine's, once
// it is locked to the thread).
func threadCPUNanos() int64 {
	var ts syscall.Timespec
	syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// hashLoop hashes a buffer with FNV-1a for 6 ms of CPU time per turn.
//
//go:noinline
func hashLoop(turn, done chan struct{}) {
	runtime.LockOSThread()
	buf := make([]byte, 16384)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	h := uint64(14695981039346656037)
	for range turn {
		end := threadCPUNanos() + 6e6
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

// sortLoop insertion-sorts a scrambled array for 4 ms of CPU time per turn.
//
//go:noinline
func sortLoop(turn, done chan struct{}) {
	runtime.LockOSThread()
	a := make([]uint32, 256)
	x := uint32(1)
	for range turn {
		end := threadCPUNanos() + 4e6
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

// parked waits on a channel that is never written to.
//
//go:noinline
func parked(never chan struct{}) {
	<-never
}

var retained [][]byte

// retainLarge keeps n 64 KiB blocks live.
//
//go:noinline
func retainLarge(n int) {
	for i := 0; i < n; i++ {
		retained = append(retained, make([]byte, 65536))
	}
}

// retainSmall keeps n 4 KiB blocks live.
//
//go:noinline
func retainSmall(n int) {
	for i := 0; i < n; i++ {
		retained = append(retained, make([]byte, 4096))
	}
}

// churn allocates 256-767 byte blocks without pause, the last 4096 kept
// live, and calls runtime.GC() every 50000 blocks.
//
//go:noinline
func churn() {
	keep := make([][]byte, 4096)
	for i := 1; ; i++ {
		keep[i%len(keep)] = make([]byte, 256+i%512)
		if i%50000 == 0 {
			runtime.GC()
		}
	}
}

// chanFeed writes to ch every 2 ms.
//
//go:noinline
func chanFeed(ch chan int) {
	for i := 0; ; i++ {
		time.Sleep(2 * time.Millisecond)
		ch <- i
	}
}

// chanWait receives from ch without end: about 2 ms blocked per receive.
//
//go:noinline
func chanWait(ch chan int) {
	for v := range ch {
		sink += uint64(v)
	}
}

var contended sync.Mutex

// mutexLoop holds contended for 1 ms, again and again: with two of them,
// each waits about 1 ms for the other's Unlock.
//
//go:noinline
func mutexLoop() {
	for {
		contended.Lock()
		time.Sleep(time.Millisecond)
		contended.Unlock()
	}
}

func memstats(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	n := runtime.NumGoroutine()
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]interface{}{
		"NumGoroutine": n,
		"NumGC":        ms.NumGC,
		"PauseTotalNs": ms.PauseTotalNs,
		"LastPauseNs":  ms.PauseNs[(ms.NumGC+255)%256],
		"LastGC":       ms.LastGC,
		"HeapAlloc":    ms.HeapAlloc,
		"HeapSys":      ms.HeapSys,
		"NextGC":       ms.NextGC,
		"Sys":          ms.Sys,
	})
}

func main() {
	listen := flag.String("listen", "127.0.0.1:6071", "address to serve net/http/pprof on (host:port, port not 0)")
	goroutines := flag.Int("goroutines", 0, "more goroutines parked in main.parked")
	retain := flag.Bool("retain", false, "keep 8 MiB (main.retainLarge) and 4 MiB (main.retainSmall) live")
	churnFlag := flag.Bool("churn", false, "allocate without pause in main.churn (GC work on the system stack)")
	contention := flag.Bool("contention", false, "block and mutex profiles on, channel and sync.Mutex waits")
	burn := flag.Bool("burn", true, "run main.hashLoop and main.sortLoop (about one CPU)")
	flag.Parse()
	if *contention {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
		ch := make(chan int)
		go chanFeed(ch)
		go chanWait(ch)
		go mutexLoop()
		go mutexLoop()
	}
	never := make(chan struct{})
	for i := 0; i < *goroutines; i++ {
		go parked(never)
	}
	if *retain {
		retainLarge(128)
		retainSmall(1024)
		runtime.GC()
		runtime.GC()
	}
	if *churnFlag {
		go churn()
	}
	http.HandleFunc("/memstats", memstats)
	if _, port, err := net.SplitHostPort(*listen); err != nil || port == "0" {
		fmt.Fprintf(os.Stderr, "goserver: -listen %q: want host:port with a fixed port\n", *listen)
		os.Exit(2)
	}

	if *burn {
		hashTurn, sortTurn := make(chan struct{}), make(chan struct{})
		hashDone, sortDone := make(chan struct{}), make(chan struct{})
		go hashLoop(hashTurn, hashDone)
		go sortLoop(sortTurn, sortDone)
		go func() {
			for {
				hashTurn <- struct{}{}
				<-hashDone
				sortTurn <- struct{}{}
				<-sortDone
			}
		}()
	}

	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "goserver: see /debug/pprof/")
	})
	log.Printf("goserver: pid %d, listening on %s", os.Getpid(), *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
