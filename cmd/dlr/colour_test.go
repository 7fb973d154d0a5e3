package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/docker-liverestore/dlr/ops"
	"golang.org/x/sys/unix"
)

func TestColourOffATerminal(t *testing.T) {
	var b bytes.Buffer
	if colourOn(&b) || colourLines(&b) != &b {
		t.Error("colour on for a buffer")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if colourOn(w) || isTerminal(w) {
		t.Error("colour on for a pipe")
	}
	if got := colourFor(w)(red, "x"); got != "x" {
		t.Errorf("paint on a pipe: %q", got)
	}
	p := newProgress(&b, false)
	p.Show("waiting %d", 1)
	p.Done()
	if b.Len() != 0 {
		t.Errorf("progress off a terminal printed %q", b.String())
	}
}

// openPty returns the terminal end of a new pseudo-terminal.
func openPty(t *testing.T) *os.File {
	_, s := openPtyPair(t)
	return s
}

// openPtyPair returns both ends of a new pseudo-terminal.
func openPtyPair(t *testing.T) (master, terminal *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
		return nil, nil
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("opening the terminal: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

func TestWaitingLine(t *testing.T) {
	m, tty := openPtyPair(t)
	t.Setenv("TERM", "xterm")
	stop := waitingLine(tty, "enable", cliFlags{})
	time.Sleep(800 * time.Millisecond)
	stop()
	// A terminal hands its output over in pieces: read until the final
	// clearing sequence (stop has written everything by now).
	var all []byte
	buf := make([]byte, 4096)
	m.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(all) == 0 || !bytes.HasSuffix(all, []byte("s\r\x1b[K")) {
		n, err := m.Read(buf)
		all = append(all, buf[:n]...)
		if err != nil {
			break
		}
	}
	got := string(all)
	if !strings.Contains(got, "dlr enable: waiting (lock, reload, dockerd's /info): 0.") || !strings.HasSuffix(got, "\r\x1b[K") {
		t.Errorf("waiting line %q", got)
	}
	for _, o := range []cliFlags{{json: true}, {o: ops.Options{Quiet: true}}, {o: ops.Options{DryRun: true}}} {
		stop := waitingLine(tty, "enable", o)
		stop()
	}
	var b bytes.Buffer
	waitingLine(&b, "enable", cliFlags{})()
	waitingLine(tty, "status", cliFlags{})()
	if b.Len() != 0 {
		t.Errorf("waiting line off a terminal: %q", b.String())
	}
}

func TestColourOnATerminal(t *testing.T) {
	tty := openPty(t)
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "xterm")
	if !colourOn(tty) || colourFor(tty)(red, "x") != "\x1b[31mx\x1b[0m" {
		t.Error("no colour on a terminal")
	}
	t.Setenv("NO_COLOR", "1")
	if colourOn(tty) {
		t.Error("colour on with NO_COLOR set")
	}
	t.Setenv("NO_COLOR", "")
	t.Setenv("TERM", "dumb")
	if colourOn(tty) {
		t.Error("colour on with TERM=dumb")
	}
}

// TestLineColourer colours PASS/WARN/FAIL after a tabwriter, keeping the
// alignment (the escapes wrap the words only).
func TestLineColourer(t *testing.T) {
	var b bytes.Buffer
	c := &lineColourer{w: &b, paint: func(code, s string) string { return "<" + code + ">" + s + "</>" }}
	tw := tabwriter.NewWriter(c, 0, 0, 2, ' ', 0)
	tw.Write([]byte("PASS\tone\tok\nFAIL\ttwo\tbad\nWARN\tthree\thm\n\t\tfix: x\n"))
	tw.Flush()
	want := "<32>PASS</>  one    ok\n<31>FAIL</>  two    bad\n<33>WARN</>  three  hm\n             fix: x\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	p := &progress{w: &b, on: true}
	b.Reset()
	p.Show("docker is stopped: %d s left", 3)
	p.Done()
	if !strings.HasPrefix(b.String(), "\r\x1b[Kdocker is stopped: 3 s left") || !strings.HasSuffix(b.String(), "\r\x1b[K") {
		t.Errorf("progress %q", b.String())
	}
}
