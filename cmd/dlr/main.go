// Command dlr turns Docker's live restore on and off safely on a systemd host.
// See README.md, or run `dlr help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	e := ops.NewEnv(host.New())
	var once sync.Once
	e.CatchSignals = func() {
		once.Do(func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, os.Interrupt, syscall.SIGTERM)
			go func() { <-c; cancel() }()
		})
	}
	e.QuitOnSignal = func(cmd string) {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt, syscall.SIGTERM)
		go func() {
			sig := <-c
			fmt.Fprintf(os.Stderr, "dlr %s: interrupted (%v); it changes nothing\n", cmd, sig)
			host.KillChildren() // no dpkg-deb left blocked on a FIFO
			os.Exit(exitFailed)
		}()
	}
	e.Stdin, e.Prompt = os.Stdin, os.Stderr
	e.Terminal = isTerminal(os.Stdin) && isTerminal(os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, e)
	cancel()
	os.Exit(code)
}
