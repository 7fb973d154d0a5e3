package buffers

import (
	"context"
	"fmt"
	"github.com/docker-liverestore/dlr/safetext"
	"io"
	"time"

	"github.com/docker-liverestore/dlr/engine"
)

// EventSource opens the Engine API's event stream.
type EventSource interface {
	Events(ctx context.Context, filters map[string][]string) (EventStream, error)
}

// EventStream is an open event stream; *engine.EventStream is one.
type EventStream interface {
	Next() (engine.Event, error)
	Close() error
}

type engineEvents struct{ c *engine.Client }

func (s engineEvents) Events(ctx context.Context, f map[string][]string) (EventStream, error) {
	return s.c.Events(ctx, f)
}

// EngineEvents is the event source of an Engine API client.
func EngineEvents(c *engine.Client) EventSource { return engineEvents{c} }

// watchFilters select the events after which a container has new FIFOs
// (start, exec_start), or what runs has changed (for Changed).
var watchFilters = map[string][]string{
	"type":  {"container"},
	"event": {"start", "exec_start", "die", "destroy", "pause", "unpause"},
}

// regrow are the delays after an event (or a connection) at which the
// watcher grows the container's FIFOs again.
var regrow = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

// Watcher follows dockerd's events and grows the log FIFOs of each
// container that starts, and of each exec session, right after the event
// (and all of them each time it connects). It is `dlr watch`, run by
// docker-liverestore.service.
//
// It never starts dockerd: it connects to the Docker socket (which
// docker.socket would answer by starting docker.service) only while
// Running says dockerd runs; otherwise it asks again every Poll. A failed
// connection is retried with a backoff from BackoffMin to BackoffMax.
type Watcher struct {
	Target, Budget int64
	Log            io.Writer
	// Running reports whether dockerd runs, so that its socket may be
	// used, and its PID (0 if unknown); state says why (logged when it
	// changes).
	Running func(ctx context.Context) (pid int, ok bool, state string)
	// Locate returns dockerd's API socket and exec root (with where the
	// exec root came from, and warnings) for its PID.
	Locate func(pid int) (socket, execRoot, source string, warnings []string)
	Events func(socket string) EventSource
	// PipeMax reads fs.pipe-max-size: growth stays within today's value
	// (the kernel refuses more without CAP_SYS_RESOURCE).
	PipeMax func() (uint64, error)

	Poll, BackoffMin, BackoffMax time.Duration
	GrowTimeout                  time.Duration

	// Hooks, each optional, each called in the watcher's goroutine (so
	// each returns at once and does its work in the background):
	// Connected when the event stream is open, with dockerd's PID and
	// socket; Changed after a container event that changes what runs
	// (start, die, destroy, pause, unpause); Lost when the stream ends.
	Connected func(ctx context.Context, pid int, socket string)
	Changed   func()
	Lost      func()

	last map[string]string // what was last logged, per topic
}

// Run watches until ctx ends (SIGTERM), which is no error.
func (w *Watcher) Run(ctx context.Context) error {
	w.logf("target %s per log FIFO, budget %s", SizeText(w.Target), SizeText(w.Budget))
	backoff := w.BackoffMin
	for ctx.Err() == nil {
		pid, ok, state := w.Running(ctx)
		if state != "" {
			w.logOnce("state", "%s", state)
		}
		if !ok {
			sleepCtx(ctx, w.Poll)
			continue
		}
		connected, err := w.follow(ctx, pid)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = w.BackoffMin
		}
		w.logOnce("stream", "event stream: %v; retrying", err)
		sleepCtx(ctx, backoff)
		if !connected {
			backoff = min(2*backoff, w.BackoffMax)
		}
	}
	w.logf("stopping")
	return nil
}

func (w *Watcher) logf(format string, args ...any) {
	// One line per message, whatever a container's name holds.
	fmt.Fprintf(w.Log, "dlr watch: %s\n", safetext.Clean(fmt.Sprintf(format, args...)))
}

// logOnce logs a message unless it is what was last logged on the topic,
// so that a daemon that stays down does not fill the journal.
func (w *Watcher) logOnce(topic, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if w.last == nil {
		w.last = map[string]string{}
	}
	if w.last[topic] == msg {
		return
	}
	w.last[topic] = msg
	w.logf("%s", msg)
}

// follow connects to the event stream, grows every stream once, then grows
// each container's streams after its start and exec_start events. It
// returns when the stream ends, with whether it had connected.
func (w *Watcher) follow(ctx context.Context, pid int) (bool, error) {
	socket, dir, source, warnings := w.Locate(pid)
	for _, m := range warnings {
		w.logOnce("config", "%s", m)
	}
	// Subscribe first, then grow what is there: a container that starts
	// in between is seen by one or the other.
	stream, err := w.Events(socket).Events(ctx, watchFilters)
	if err != nil {
		return false, err
	}
	defer stream.Close()
	w.logOnce("stream", "following events on %s; log FIFOs in %s (exec root from %s)", socket, Dir(dir), source)
	if w.Connected != nil {
		w.Connected(ctx, pid, socket)
	}
	if w.Lost != nil {
		defer w.Lost()
	}

	// Events are read in their own goroutine so that growth can be
	// retried: Docker 20.10 sends exec_start before it creates the exec
	// session's FIFOs, and a FIFO grown before its first real opener holds
	// it loses the size. Each container is grown again after each delay in
	// regrow; growing is idempotent.
	events, errc := readEvents(ctx, stream)
	type retry struct {
		id string
		at time.Time
	}
	var retries []retry
	schedule := func(id string) {
		now := time.Now()
		for _, d := range regrow {
			retries = append(retries, retry{id, now.Add(d)})
		}
	}
	w.grow(ctx, dir, "")
	schedule("")
	tick := time.NewTicker(regrow[0] / 2)
	defer tick.Stop()
	for {
		select {
		case err := <-errc:
			return true, err
		case e := <-events:
			if e.Type != "container" || e.Actor.ID == "" {
				continue
			}
			switch e.Verb() {
			case "start", "exec_start":
				w.grow(ctx, dir, e.Actor.ID)
				schedule(e.Actor.ID)
			}
			switch e.Verb() {
			case "start", "die", "destroy", "pause", "unpause":
				if w.Changed != nil {
					w.Changed()
				}
			}
		case <-tick.C:
			now, kept := time.Now(), retries[:0]
			done := map[string]bool{}
			for _, r := range retries {
				switch {
				case r.at.After(now):
					kept = append(kept, r)
				case !done[r.id]:
					done[r.id] = true
					w.grow(ctx, dir, r.id)
				}
			}
			retries = kept
		}
	}
}

// readEvents reads the stream in its own goroutine until it fails or ctx
// ends; the error comes on the second channel.
func readEvents(ctx context.Context, stream EventStream) (<-chan engine.Event, <-chan error) {
	events := make(chan engine.Event)
	errc := make(chan error, 1)
	go func() {
		for {
			e, err := stream.Next()
			if err != nil {
				errc <- err
				return
			}
			select {
			case events <- e:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()
	return events, errc
}

// grow grows one container's streams (all, if id is ""), within the budget
// over all streams, and logs what it did.
func (w *Watcher) grow(ctx context.Context, dir, id string) {
	ctx, cancel := context.WithTimeout(ctx, w.GrowTimeout)
	defer cancel()
	target := w.Target
	if n, err := w.PipeMax(); err == nil && int64(n) < target {
		for target = MinSize; target*2 <= int64(n); target *= 2 {
		}
	}
	o := Options{ExecRoot: dir, Target: target, Budget: w.Budget}
	if id != "" {
		o.Containers = []string{id}
	}
	rep, err := Grow(ctx, o)
	if err != nil {
		w.logf("growing log FIFOs under %s: %v", Dir(dir), err)
	}
	for _, s := range rep.Streams {
		switch {
		case s.Grown:
			w.logf("grew %s/%s from %s to %s", ShortID(s.Container), s.Name, SizeText(s.Old), SizeText(s.New))
		case s.Error != "" && (id == "" || s.Container == id):
			w.logf("%s", s.Error)
		}
	}
	if rep.Level > 0 && rep.Level < rep.Target && rep.Grown() > 0 {
		w.logf("budget %s: log FIFOs get %s each, not %s", SizeText(rep.Budget), SizeText(rep.Level), SizeText(rep.Target))
	}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
