// Command logger is the program in the container images of dlr's
// end-to-end tests. Build it static (CGO_ENABLED=0); rig.BuildLogger does.
//
// Usage:
//
//	logger [-rate BYTES_PER_SEC] [-line BYTES] [-listen ADDR]
//	logger -check
//
// With -rate 0 (the default) it prints nothing and sleeps until it gets
// SIGTERM or SIGINT. Otherwise it writes lines to stdout at an average of
// -rate bytes per second, each -line bytes long (default 100, newline
// included) and of the form
//
//	000123 1732563000123456789 xxxx...x
//
// a sequence number counting from 1 (at least six digits), the time just
// before the line was written in Unix nanoseconds, and padding. A line is
// never shorter than its sequence number and timestamp. Each line is one
// write(2), so the gap between two timestamps shows how long the program
// was blocked writing the first one. It keeps the average rate: after being
// blocked it writes the lines it owes at once.
//
// With -listen it also accepts TCP connections on ADDR and closes each at
// once (a published port to probe). With -check it exits 0 at once: an
// exec-form HEALTHCHECK for the image, which has no shell.
//
// On SIGTERM or SIGINT it exits with status 0, immediately even when it is
// blocked writing. On a normal stop it reports on stderr how many lines it
// wrote. Bad flags exit with status 2.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- run(ctx, os.Args[1:], os.Stdout, os.Stderr) }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		// run returns promptly unless it is blocked in write(2) on a full
		// pipe; exit anyway then.
		select {
		case err = <-done:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "logger:", err)
		}
		os.Exit(2)
	}
}

// run parses args and writes lines to stdout until ctx is done. It returns
// an error for bad flags or a failed write.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logger", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rate := fs.Int64("rate", 0, "average output `bytes` per second; 0 prints nothing and sleeps")
	lineLen := fs.Int("line", 100, "length of a line in `bytes`, newline included")
	check := fs.Bool("check", false, "exit 0 at once: an exec-form health check for an image without a shell")
	listen := fs.String("listen", "", "also accept TCP connections on `addr` (e.g. :8080), closing each at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *check {
		return nil
	}
	if *listen != "" {
		l, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		defer l.Close()
		go accept(l)
	}
	if *rate < 0 {
		return fmt.Errorf("-rate %d: must not be negative", *rate)
	}
	if *lineLen < 1 {
		return fmt.Errorf("-line %d: must be at least 1", *lineLen)
	}
	if *rate == 0 {
		<-ctx.Done()
		return nil
	}

	// Every tick, write the lines owed since start at the given rate.
	tick := time.Second * time.Duration(*lineLen) / time.Duration(*rate)
	tick = min(max(tick, time.Millisecond), 100*time.Millisecond)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	start := time.Now()
	var seq, written int64
	buf := make([]byte, 0, *lineLen+64)
	for {
		owed := int64(time.Since(start).Seconds() * float64(*rate))
		for written+int64(*lineLen) <= owed {
			if ctx.Err() != nil {
				break
			}
			seq++
			buf = appendLine(buf[:0], seq, time.Now().UnixNano(), *lineLen)
			if _, err := stdout.Write(buf); err != nil {
				return fmt.Errorf("writing line %d: %w", seq, err)
			}
			written += int64(*lineLen)
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "logger: stopping after %d lines\n", seq)
			return nil
		case <-ticker.C:
		}
	}
}

// accept accepts connections on l and closes each, until l is closed.
func accept(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// appendLine appends one line: seq (zero-padded to six digits), a space,
// nanos, a space if there is room, 'x' padding up to n-1 bytes, and '\n'.
func appendLine(b []byte, seq, nanos int64, n int) []byte {
	start := len(b)
	s := strconv.FormatInt(seq, 10)
	for i := len(s); i < 6; i++ {
		b = append(b, '0')
	}
	b = append(b, s...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, nanos, 10)
	if len(b)-start < n-1 {
		b = append(b, ' ')
	}
	for len(b)-start < n-1 {
		b = append(b, 'x')
	}
	return append(b, '\n')
}
