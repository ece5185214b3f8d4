// SPDX-License-Identifier: MIT

// gofixture is what tests/unit/test_gopclntab.c reads the pclntab of, built
// at test time with and without -ldflags='-s -w': a few functions the
// compiler inlines into others (so the inline tree has entries two deep), a
// method, a closure and goroutines.  It prints nothing and exits; with the
// argument "wait" it stays until its stdin is closed.
package main

import (
	"os"
	"strconv"
)

var sink int

type counter struct{ n int }

// inner and middle are small enough to be inlined: main.outer holds
// inline frames main.inner <- main.middle <- main.outer (the test finds
// their lines by the MARK comments).
func inner(x int) int {
	sink += x * 3 // MARK inner
	return sink
}

func middle(x int) int {
	return inner(x+1) + 1 // MARK middle
}

//go:noinline
func outer(x int) int {
	return middle(x) * 2 // MARK outer
}

//go:noinline
func (c *counter) add(x int) {
	c.n += outer(x)
}

func main() {
	c := &counter{}
	done := make(chan bool)
	for i := 0; i < 4; i++ {
		go func(i int) {
			c.add(i)
			done <- true
		}(i)
		<-done
	}
	if len(os.Args) > 1 && os.Args[1] == "wait" {
		// Alive until stdin closes: the symbolizer reads a running process.
		os.Stdin.Read(make([]byte, 1))
	} else if len(os.Args) > 1 {
		os.Stdout.WriteString(strconv.Itoa(c.n) + "\n")
	}
}
