// SPDX-License-Identifier: MIT

// gonoprof is a Go program that never references runtime.MemProfile (no
// runtime/pprof, no net/http/pprof), so its linker sets MemProfileRate to 0:
// the runtime samples no allocations unless someone turns it on from
// outside (pprofd's go.set_mem_profile_rate).
//
// Usage: gonoprof
//
// main.churn allocates a 64 KiB block every 10 ms and keeps the latest 64
// (4 MiB live); a GC runs every 100 blocks.  Runs until killed.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

var ring [64][]byte

//go:noinline
func churn(i int) {
	ring[i%len(ring)] = make([]byte, 65536)
}

func main() {
	fmt.Fprintf(os.Stderr, "gonoprof: pid %d\n", os.Getpid())
	for i := 0; ; i++ {
		churn(i)
		if i%100 == 99 {
			runtime.GC()
		}
		time.Sleep(10 * time.Millisecond)
	}
}
