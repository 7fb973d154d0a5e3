// Command service is the long-running program of the upgrade matrix's
// container images (e2e/matrix_test.go). Build it static (CGO_ENABLED=0);
// rig.BuildService does.
//
// Usage:
//
//	service [-listen ADDR]
//	service -check
//
// Without -listen it sleeps until SIGTERM or SIGINT, then exits with status
// 0. With -listen (e.g. ":8080") it also answers every HTTP request on ADDR
// with status 200 and the body "ok <pid>\n", its own PID as seen in the
// container, so that a client can tell which process answered.
//
// With -check it exits 0 at once: it is the exec-form health check of an
// image that has no shell (HEALTHCHECK CMD ["/app","-check"]); each probe
// Docker runs is one short-lived process, recorded in the container's
// health log. Bad flags exit with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "service:", err)
		}
		os.Exit(2)
	}
}

// run parses args and serves until ctx is done.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "answer HTTP requests on `addr` (e.g. :8080)")
	check := fs.Bool("check", false, "exit 0 at once (the health check)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *check {
		if *listen != "" {
			return errors.New("-check and -listen are exclusive")
		}
		return nil
	}
	if *listen == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("ok %d\n", os.Getpid())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, body)
	})}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
