package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/docker-liverestore/dlr/unit"
)

// eventSource opens the Engine API's event stream; *engine.Client does.
type eventSource interface {
	Events(ctx context.Context, filters map[string][]string) (eventStream, error)
}

// eventStream is an open event stream; *engine.EventStream is one.
type eventStream interface {
	Next() (engine.Event, error)
	Close() error
}

type engineEventSource struct{ c *engine.Client }

func (s engineEventSource) Events(ctx context.Context, f map[string][]string) (eventStream, error) {
	return s.c.Events(ctx, f)
}

func engineEvents(socket string) eventSource { return engineEventSource{engine.New(socket)} }

// unitReader is all the watcher asks of systemd: it reads docker.service's
// state and never starts, stops or restarts anything.
type unitReader interface {
	Unit(ctx context.Context, name string) (unit.Unit, error)
	Close() error
}

// watchFilters select the events after which a container has new FIFOs.
var watchFilters = map[string][]string{
	"type":  {"container"},
	"event": {"start", "exec_start"},
}

// watch is `dlr watch`: it follows the Engine API's events and grows the
// log FIFOs of each container that starts, and of each exec session, right
// after the event (and all of them each time it connects). It logs to log
// and runs until ctx ends (SIGTERM), which is no error.
//
// It never starts dockerd: on a systemd host it connects to the Docker
// socket (which docker.socket would answer by starting docker.service) only
// while docker.service is active according to systemd over D-Bus and its
// main process is alive; otherwise it looks again every h.bufs.poll. A
// failed connection is retried with a backoff from h.bufs.backoffMin to
// backoffMax.
func watch(ctx context.Context, h *host, o options, log io.Writer) error {
	sizes, err := h.bufferSizes(o)
	if err != nil {
		return err
	}
	w := &watcher{h: h, o: o, sizes: sizes, log: log}
	// No chroot check here (enable's reads /proc/1/root, which needs
	// CAP_SYS_PTRACE, and the unit does not grant it): a watcher started by
	// systemd runs on the host.
	if _, err := os.Stat(h.runSystemd); err == nil {
		w.systemd = true
	}
	w.logf("target %s per log FIFO, budget %s", sizeText(sizes.target), sizeText(sizes.budget))
	defer w.closeBus()
	backoff := h.bufs.backoffMin
	for ctx.Err() == nil {
		pid, ok := w.dockerRunning(ctx)
		if !ok {
			sleepCtx(ctx, h.bufs.poll)
			continue
		}
		connected, err := w.follow(ctx, pid)
		if ctx.Err() != nil {
			break
		}
		if connected {
			backoff = h.bufs.backoffMin
		}
		w.logOnce("stream", "event stream: %v; retrying", err)
		sleepCtx(ctx, backoff)
		if !connected {
			backoff = min(2*backoff, h.bufs.backoffMax)
		}
	}
	w.logf("stopping")
	return nil
}

type watcher struct {
	h       *host
	o       options
	sizes   bufferSizes
	log     io.Writer
	systemd bool
	sd      unitReader
	last    map[string]string // what was last logged, per topic
}

func (w *watcher) logf(format string, args ...any) {
	fmt.Fprintf(w.log, "dlr watch: "+format+"\n", args...)
}

// logOnce logs a message unless it is what was last logged on the topic,
// so that a daemon that stays down does not fill the journal.
func (w *watcher) logOnce(topic, format string, args ...any) {
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

func (w *watcher) closeBus() {
	if w.sd != nil {
		w.sd.Close()
		w.sd = nil
	}
}

// dockerRunning reports whether dockerd runs, so that connecting to its
// socket cannot start it, and its main PID (0 if unknown). With systemd:
// docker.service is active (or reloading) and its main process is a live
// dockerd. Without systemd there is no socket activation: the pid file's
// dockerd, or else yes.
func (w *watcher) dockerRunning(ctx context.Context) (int, bool) {
	h := w.h
	if !w.systemd {
		return 0, true
	}
	if w.sd == nil {
		cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
		sd, err := h.dialSystemd(cctx)
		cancel()
		if err != nil {
			w.logOnce("state", "cannot reach systemd over D-Bus: %v", err)
			return 0, false
		}
		w.sd = sd
	}
	cctx, cancel := context.WithTimeout(ctx, h.callTimeout)
	u, err := w.sd.Unit(cctx, dockerService)
	cancel()
	if err != nil {
		w.closeBus()
		w.logOnce("state", "reading %s: %v", dockerService, err)
		return 0, false
	}
	if u.ActiveState != "active" && u.ActiveState != "reloading" {
		w.logOnce("state", "%s is %s; waiting", dockerService, u.ActiveState)
		return 0, false
	}
	if u.MainPID == 0 || !h.isDockerd(int(u.MainPID)) {
		w.logOnce("state", "%s is %s but its main process %d is not a live dockerd; waiting", dockerService, u.ActiveState, u.MainPID)
		return 0, false
	}
	w.logOnce("state", "%s is %s (PID %d)", dockerService, u.ActiveState, u.MainPID)
	return int(u.MainPID), true
}

// follow connects to the event stream, grows every stream once, then grows
// each container's streams after its start and exec_start events. It
// returns when the stream ends, with whether it had connected.
func (w *watcher) follow(ctx context.Context, pid int) (bool, error) {
	h := w.h
	c := h.dockerdCmdline(pid)
	socket := h.dockerSocket
	if socket == "" {
		socket = c.socket()
	}
	if socket == "" {
		socket = defaultSocket
	}
	dir, source, warnings := h.execRoot(w.o, c)
	for _, m := range warnings {
		w.logOnce("config", "%s", m)
	}
	// Subscribe first, then grow what is there: a container that starts
	// in between is seen by one or the other.
	stream, err := h.bufs.events(socket).Events(ctx, watchFilters)
	if err != nil {
		return false, err
	}
	defer stream.Close()
	w.logOnce("stream", "following events on %s; log FIFOs in %s (exec root from %s)", socket, buffers.Dir(dir), source)

	// Events are read in their own goroutine so that growth can be
	// retried: Docker 20.10 sends exec_start before it creates the exec
	// session's FIFOs, and a FIFO grown before its first real opener holds
	// it loses the size. Each container is grown again after each delay in
	// regrow; growing is idempotent.
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

// regrow are the delays after an event (or a connection) at which the
// watcher grows the container's FIFOs again.
var regrow = []time.Duration{100 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second}

// grow grows one container's streams (all, if id is ""), within the budget
// over all streams, and logs what it did.
func (w *watcher) grow(ctx context.Context, dir, id string) {
	ctx, cancel := context.WithTimeout(ctx, w.h.bufs.growTimeout)
	defer cancel()
	// fs.pipe-max-size may have changed since the watcher started: keep
	// within today's value (the kernel refuses more without
	// CAP_SYS_RESOURCE, which the unit does not grant).
	target := w.sizes.target
	if n, err := sysctl.Running(w.h.procSys, sysctl.Key); err == nil && int64(n) < target {
		for target = buffers.MinSize; target*2 <= int64(n); target *= 2 {
		}
	}
	o := buffers.Options{ExecRoot: dir, Target: target, Budget: w.sizes.budget}
	if id != "" {
		o.Containers = []string{id}
	}
	rep, err := buffers.Grow(ctx, o)
	if err != nil {
		w.logf("growing log FIFOs under %s: %v", buffers.Dir(dir), err)
	}
	for _, s := range rep.Streams {
		switch {
		case s.Grown:
			w.logf("grew %s/%s from %s to %s", shortID(s.Container), s.Name, sizeText(s.Old), sizeText(s.New))
		case s.Error != "" && (id == "" || s.Container == id):
			w.logf("%s", s.Error)
		}
	}
	if rep.Level > 0 && rep.Level < rep.Target && rep.Grown() > 0 {
		w.logf("budget %s: log FIFOs get %s each, not %s", sizeText(rep.Budget), sizeText(rep.Level), sizeText(rep.Target))
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
