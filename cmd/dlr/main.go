// Command dlr turns Docker's live restore on and off safely on a systemd host.
// See README.md, or run `dlr help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	h := newHost()
	var once sync.Once
	h.catchSignals = func() {
		once.Do(func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt, syscall.SIGTERM)
			go func() { <-c; cancel() }()
		})
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, h)
	cancel()
	os.Exit(code)
}
