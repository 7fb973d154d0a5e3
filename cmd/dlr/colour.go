package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Colour and progress lines are for a person at a terminal only: never in a
// pipe, a file, a journal or --json, and never when NO_COLOR is set to
// anything non-empty (https://no-color.org). TERM=dumb turns them off too.

const (
	red    = "31"
	green  = "32"
	yellow = "33"
)

// isTerminal reports whether f is a terminal (TCGETS succeeds on it).
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// isTerminalWriter reports whether w is an *os.File on a terminal (behind
// the error-keeping writer of the report, if it is one).
func isTerminalWriter(w io.Writer) bool {
	if ew, ok := w.(*errWriter); ok {
		w = ew.w
	}
	f, ok := w.(*os.File)
	return ok && isTerminal(f)
}

// colourOn reports whether text written to w may be coloured.
func colourOn(w io.Writer) bool {
	return os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb" && isTerminalWriter(w)
}

// colourFor returns paint for w: it colours only when colourOn(w).
func colourFor(w io.Writer) func(code, s string) string {
	if !colourOn(w) {
		return func(_, s string) string { return s }
	}
	return func(code, s string) string { return "\x1b[" + code + "m" + s + "\x1b[0m" }
}

// lineColourer colours a leading PASS, WARN or FAIL, and a leading
// "dlr ...: refused:"/error line, of each line written through it. It
// buffers up to the end of each line, so it may sit behind a tabwriter.
type lineColourer struct {
	w     io.Writer
	paint func(code, s string) string
	buf   []byte
}

// colourLines returns w itself when w takes no colour.
func colourLines(w io.Writer) io.Writer {
	if !colourOn(w) {
		return w
	}
	return &lineColourer{w: w, paint: colourFor(w)}
}

func (c *lineColourer) Write(p []byte) (int, error) {
	c.buf = append(c.buf, p...)
	for {
		i := bytes.IndexByte(c.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(c.buf[:i])
		c.buf = c.buf[i+1:]
		if _, err := io.WriteString(c.w, c.colour(line)+"\n"); err != nil {
			return len(p), err
		}
	}
}

func (c *lineColourer) colour(line string) string {
	for word, code := range map[string]string{"PASS": green, "WARN": yellow, "FAIL": red} {
		if len(line) >= 4 && line[:4] == word {
			return c.paint(code, word) + line[4:]
		}
	}
	return line
}

// errorLine colours an error or refusal line for stderr.
func errorLine(w io.Writer, line string) string {
	return colourFor(w)(red, line)
}

// progress is one line on stderr, rewritten in place, while dlr waits
// (a reload, the drill's outage). It prints nothing off a terminal.
type progress struct {
	w     io.Writer
	on    bool
	shown bool
}

func newProgress(w io.Writer, terminal bool) *progress {
	return &progress{w: w, on: terminal && os.Getenv("TERM") != "dumb"}
}

// Show replaces the line with a new one.
func (p *progress) Show(format string, args ...any) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", fmt.Sprintf(format, args...))
	p.shown = true
}

// Done clears the line.
func (p *progress) Done() {
	if p.on && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// waitingLine shows, on a terminal only, a line on stderr while enable,
// disable, set or unset has run for more than half a second (they wait for
// the lock, a reload job and dockerd's /info): "dlr enable: waiting (lock,
// reload, dockerd's /info): 2.5 s". The returned function clears it; call
// it before printing the report.
func waitingLine(stderr io.Writer, cmd string, fl cliFlags) func() {
	switch {
	case fl.json || fl.o.Quiet || fl.o.DryRun:
		return func() {}
	case cmd != "enable" && cmd != "disable" && cmd != "set" && cmd != "unset":
		return func() {}
	}
	p := newProgress(stderr, isTerminalWriter(stderr))
	if !p.on {
		return func() {}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				p.Done()
				return
			case <-t.C:
				if d := time.Since(start); d >= 500*time.Millisecond {
					p.Show("dlr %s: waiting (lock, reload, dockerd's /info): %.1f s", cmd, d.Seconds())
				}
			}
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}
