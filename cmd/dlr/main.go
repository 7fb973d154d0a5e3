// Command dlr turns Docker's live restore on and off safely on a systemd host.
// See README.md, or run `dlr help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, newHost())
	stop()
	os.Exit(code)
}
