package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAppendLine(t *testing.T) {
	tests := []struct {
		seq, nanos int64
		n          int
		want       string
	}{
		{1, 1732563000123456789, 30, "000001 1732563000123456789 xx\n"},
		{123, 5, 12, "000123 5 xx\n"},
		{1234567, 5, 12, "1234567 5 x\n"},
		{7, 5, 9, "000007 5\n"}, // no room for the space before padding
		{7, 5, 1, "000007 5\n"}, // never shorter than its header
	}
	for _, tt := range tests {
		got := string(appendLine(nil, tt.seq, tt.nanos, tt.n))
		if got != tt.want {
			t.Errorf("appendLine(%d, %d, %d) = %q, want %q", tt.seq, tt.nanos, tt.n, got, tt.want)
		}
	}
}

func TestRunWritesNumberedTimestampedLines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errOut bytes.Buffer
	before := time.Now().UnixNano()
	if err := run(ctx, []string{"-rate", "20000", "-line", "50"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(out.String(), "\n")
	lines = lines[:len(lines)-1] // after the last "\n"
	// 0.3 s at 20000 B/s is 6000 bytes: 120 lines of 50 bytes.
	if len(lines) < 60 || len(lines) > 130 {
		t.Fatalf("got %d lines, want about 120", len(lines))
	}
	prev := before
	for i, l := range lines {
		if len(l) != 50 {
			t.Fatalf("line %d is %d bytes, want 50: %q", i, len(l), l)
		}
		f := strings.Fields(l)
		if f[0] != fmt.Sprintf("%06d", i+1) {
			t.Fatalf("line %d has sequence %q", i, f[0])
		}
		ts, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || ts < prev {
			t.Fatalf("line %d has timestamp %q (previous %d)", i, f[1], prev)
		}
		prev = ts
	}
	if want := "stopping after " + strconv.Itoa(len(lines)) + " lines"; !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr %q does not say %q", errOut.String(), want)
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-rate", "-1"}, {"-line", "0"}, {"extra"}, {"-nope"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("run(%q) succeeded, want an error", args)
		}
	}
}

func TestRunRateZeroWaitsForContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, nil, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q with -rate 0", out.String())
	}
}

func TestRunCheckAndListen(t *testing.T) {
	if err := run(context.Background(), []string{"-check"}, io.Discard, io.Discard); err != nil {
		t.Fatalf("-check: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", addr}, io.Discard, io.Discard) }()
	var c net.Conn
	for i := 0; i < 100; i++ {
		if c, err = net.Dial("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("-listen %s: %v", addr, err)
	}
	c.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Errorf("%s still accepts after the logger stopped", addr)
	}
}
