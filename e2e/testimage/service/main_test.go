package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

func TestCheckExitsAtOnce(t *testing.T) {
	if err := run(context.Background(), []string{"-check"}, io.Discard); err != nil {
		t.Fatalf("-check: %v", err)
	}
	if err := run(context.Background(), []string{"-check", "-listen", ":1"}, io.Discard); err == nil {
		t.Error("-check with -listen accepted")
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"extra"}, &stderr); err == nil {
		t.Error("an argument accepted")
	}
}

func TestListenAnswersWithItsPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-listen", addr}, io.Discard) }()

	var body []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if want := fmt.Sprintf("ok %d\n", os.Getpid()); string(body) != want {
		t.Errorf("body %q, want %q", body, want)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("run did not return after its context ended")
	}
}
