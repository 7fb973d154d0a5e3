package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/host"
)

// fakeEvents plays dockerd's event stream: each Events call is one
// connection, fed from ch until ctx ends or the test ends the stream.
type fakeEvents struct {
	mu      sync.Mutex
	opened  int
	sockets []string
	ch      chan engine.Event
	end     chan struct{} // closed: the current stream ends (dockerd stops)
}

func (f *fakeEvents) Events(ctx context.Context, _ map[string][]string) (buffers.EventStream, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened++
	return &fakeStream{ctx: ctx, f: f, end: f.end}, nil
}

// send delivers an event to the watcher, failing the test if it is not
// reading.
func (f *fakeEvents) send(t *testing.T, e engine.Event) {
	t.Helper()
	select {
	case f.ch <- e:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher is not reading events")
	}
}

func (f *fakeEvents) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opened
}

type fakeStream struct {
	ctx context.Context
	f   *fakeEvents
	end chan struct{}
}

func (s *fakeStream) Next() (engine.Event, error) {
	select {
	case e := <-s.f.ch:
		return e, nil
	case <-s.end:
		return engine.Event{}, io.EOF
	case <-s.ctx.Done():
		return engine.Event{}, s.ctx.Err()
	}
}

func (s *fakeStream) Close() error { return nil }

// syncBuffer is a log written by the watcher and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startWatch runs `dlr watch` until the test ends and returns its log.
func startWatch(t *testing.T, e *testEnv, args ...string) (*fakeEvents, *syncBuffer, func() int) {
	f := &fakeEvents{ch: make(chan engine.Event), end: make(chan struct{})}
	e.h.Events = func(socket string) buffers.EventSource {
		f.mu.Lock()
		f.sockets = append(f.sockets, socket)
		f.mu.Unlock()
		return f
	}
	e.h.T.Poll, e.h.T.Backoff = 10*time.Millisecond, 40*time.Millisecond
	e.write("proc/4242/stat", "4242 (dockerd) S 1 4242\n")
	e.write("proc/4242/cmdline", "/usr/sbin/dockerd\x00-H\x00fd://\x00")
	ctx, cancel := context.WithCancel(context.Background())
	log := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		var out bytes.Buffer
		done <- run(ctx, append([]string{"watch", "--exec-root", filepath.Join(e.dir, "var/run/docker")}, args...), &out, log, e.h)
	}()
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(5 * time.Second):
				t.Error("dlr watch did not stop after its context ended")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	return f, log, stop
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestWatchGrowsNewContainers(t *testing.T) {
	e, fds := bufferEnv(t)
	f, log, stop := startWatch(t, e)

	// On connecting it grows what is there.
	waitFor(t, "the existing FIFOs to grow", func() bool { return pipeSz(t, fds[idA+"/init-stdout"]) == 1<<20 })

	// A container that starts later, and an exec session in it.
	idC := strings.Repeat("c", 64)
	c := e.fifo("var/run/docker/containerd/" + idC + "/" + idC + "-stdout")
	start := time.Now()
	f.send(t, engine.Event{Type: "container", Action: "start", Actor: engine.Actor{ID: idC}})
	waitFor(t, "the new container's FIFO to grow", func() bool { return pipeSz(t, c) == 1<<20 })
	if d := time.Since(start); d > time.Second {
		t.Errorf("grown after %v", d)
	}
	x := e.fifo("var/run/docker/containerd/" + idC + "/" + strings.Repeat("e", 64) + "-stderr")
	f.send(t, engine.Event{Type: "container", Action: "exec_start: sh -c date", Actor: engine.Actor{ID: idC}})
	waitFor(t, "the exec session's FIFO to grow", func() bool { return pipeSz(t, x) == 1<<20 })

	// dockerd restarts: the stream ends, the watcher reconnects.
	close(f.end)
	f.mu.Lock()
	f.end = make(chan struct{})
	f.mu.Unlock()
	waitFor(t, "a reconnection", func() bool { return f.count() >= 2 })

	if code := stop(); code != 0 {
		t.Errorf("exit %d on SIGTERM", code)
	}
	if f.sockets[0] != e.h.Path(host.DefaultSocket) {
		t.Errorf("socket %s", f.sockets[0])
	}
	if !strings.Contains(log.String(), "grew cccccccccccc/"+idC[:12]) {
		t.Errorf("log:\n%s", log)
	}
}

// TestWatchNeverStartsDocker: while docker.service is not active (stopped,
// with docker.socket listening), the watcher does not touch the socket.
func TestWatchNeverStartsDocker(t *testing.T) {
	e, _ := bufferEnv(t)
	e.d.mu.Lock()
	e.d.svc.ActiveState = "inactive"
	e.d.svc.MainPID = 0
	e.d.mu.Unlock()
	f, log, _ := startWatch(t, e)
	time.Sleep(200 * time.Millisecond)
	if n := f.count(); n != 0 {
		t.Fatalf("connected %d times while docker.service was inactive", n)
	}
	if strings.Count(log.String(), "docker.service is inactive; waiting") != 1 {
		t.Errorf("log:\n%s", log)
	}
	// Active, but the main process is gone (killed, not yet noticed).
	e.d.mu.Lock()
	e.d.svc.ActiveState, e.d.svc.MainPID = "active", 999
	e.d.mu.Unlock()
	time.Sleep(100 * time.Millisecond)
	if n := f.count(); n != 0 {
		t.Fatalf("connected while the main PID was dead")
	}
	e.d.mu.Lock()
	e.d.svc.MainPID = 4242
	e.d.mu.Unlock()
	waitFor(t, "a connection", func() bool { return f.count() == 1 })
}

func TestWatchBadSize(t *testing.T) {
	e, _ := bufferEnv(t)
	code, _, errOut := e.run("watch", "--size", "8M")
	if code != exitRefused || !strings.Contains(errOut, "fs.pipe-max-size") {
		t.Errorf("exit %d %q", code, errOut)
	}
}
