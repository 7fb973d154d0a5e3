package ops

import (
	"context"
	"fmt"
	"github.com/docker-liverestore/dlr/safetext"
	"io"
	"os"
	"sync"
	"time"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/restore"
)

// restoreWatch is the watcher's part in the restore checks. It keeps the
// view of the running containers in the state directory (rewritten after
// each container start, stop or removal: a crash has no ExecStop, so the
// last view is the record of what ran), and when dockerd is back with a new
// PID in the same boot, it checks the restore in the background: it never
// delays docker's start, which is over by the time the watcher connects.
// Every rewrite of the view, the metrics and the checks happen in
// goroutines of their own; the hooks return at once.
type restoreWatch struct {
	e     *Env
	o     Options
	log   io.Writer
	logMu sync.Mutex

	mu     sync.Mutex
	pid    int
	socket string
	online bool
	downAt time.Time

	poke chan struct{}

	// version is the Docker version of dockerd versionPID, asked once
	// per dockerd for the views (saveView's goroutine only).
	version    string
	versionPID int

	metricsErr string // the textfile's last error, logged once
	wg         sync.WaitGroup
}

func newRestoreWatch(e *Env, o Options, log io.Writer) *restoreWatch {
	return &restoreWatch{e: e, o: o, log: log, poke: make(chan struct{}, 1)}
}

func (w *restoreWatch) logf(format string, args ...any) {
	w.logMu.Lock()
	defer w.logMu.Unlock()
	// One line per message, whatever a container's name holds.
	fmt.Fprintf(w.log, "dlr watch: %s\n", safetext.Clean(fmt.Sprintf(format, args...)))
}

// connected is the watcher's Connected hook.
func (w *restoreWatch) connected(ctx context.Context, pid int, socket string) {
	// The view before is read before this connection may rewrite it.
	old, err := w.e.restoreStore().LoadView()
	if err != nil {
		w.logf("%v", err)
	}
	w.mu.Lock()
	down := w.downAt
	w.pid, w.socket, w.online = pid, socket, true
	w.mu.Unlock()
	if old != nil && old.DockerdPID != 0 && old.DockerdPID != pid && old.BootID == w.e.bootID() && len(old.Containers) > 0 {
		back := w.e.Now()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			w.check(ctx, *old, pid, socket, back, down)
			w.changed()
		}()
		return
	}
	w.changed()
}

// lost is the watcher's Lost hook: dockerd went away (or the stream broke).
func (w *restoreWatch) lost() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.online, w.downAt = false, w.e.Now()
}

// changed is the watcher's Changed hook: the view is rewritten soon.
func (w *restoreWatch) changed() {
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// run rewrites the view after each poke (at most every 200 ms) and the
// metrics textfile every T.Metrics, until ctx ends.
func (w *restoreWatch) run(ctx context.Context) {
	tick := time.NewTicker(w.e.T.Metrics)
	defer tick.Stop()
	w.writeMetrics(ctx)
	for {
		select {
		case <-ctx.Done():
			w.wg.Wait()
			return
		case <-w.poke:
			sleepCtxOps(ctx, 200*time.Millisecond)
			w.saveView(ctx)
		case <-tick.C:
			w.writeMetrics(ctx)
		}
	}
}

// saveView lists the running containers and writes the view, while
// connected to a live dockerd only (a connection to docker.socket would
// start a stopped docker.service).
func (w *restoreWatch) saveView(ctx context.Context) {
	w.mu.Lock()
	pid, socket, ok := w.pid, w.socket, w.online
	w.mu.Unlock()
	if !ok || !w.e.IsDockerd(pid) {
		return
	}
	if w.versionPID != pid {
		w.version = ""
		if i, err := w.e.Info(ctx, socket); err == nil {
			w.version, w.versionPID = i.Version, pid
		}
	}
	v, err := w.e.view(ctx, socket, pid, w.version)
	if err == nil {
		err = w.e.restoreStore().SaveView(v)
	}
	if err != nil {
		w.logf("recording the running containers: %v", err)
	}
}

// check checks one restore, unless a drill holds the restore lock and has
// checked it already.
func (w *restoreWatch) check(ctx context.Context, before restore.View, pid int, socket string, back, down time.Time) {
	e := w.e
	unlock, err := e.lockRestore(ctx, 15*time.Minute)
	if err != nil {
		w.logf("restore check: %v", err)
		return
	}
	defer unlock()
	if last, _ := e.restoreStore().Last(); last != nil && last.DockerdPIDAfter == pid {
		w.logf("restore check: dockerd PID %d -> %d: checked by %s already", before.DockerdPID, pid, last.Trigger)
		return
	}
	version, firewall := "", ""
	if i, err := e.Info(ctx, socket); err == nil {
		version, firewall = i.Version, i.Firewall
	}
	config, _ := e.ConfigLocation(w.o.Config, []host.Cmdline{e.DockerdCmdline(pid)}, false)
	rec, err := e.checkRestore(ctx, before, socket, pid, back, e.restoreOptions("watcher", config, !w.o.NoRearm, version, firewall, down))
	if err != nil {
		w.logf("restore check: %v", err)
		if rec.Containers == 0 {
			return
		}
	}
	for _, l := range RestoreLines(rec) {
		w.logf("%s", l)
	}
	w.writeMetrics(ctx)
}

// writeMetrics writes `dlr metrics` to node_exporter's textfile directory
// when it exists, atomically (a scrape sees the old file or the new one).
func (w *restoreWatch) writeMetrics(ctx context.Context) {
	dir := w.e.Path(host.TextfileDir)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return
	}
	err := WriteTextfile(ctx, w.e, w.o, dir)
	// Said once, not every minute: a refused directory (one another user
	// can change, issue 21) stays refused until its owner is changed.
	if msg := errText(err); msg != w.metricsErr {
		w.metricsErr = msg
		if err != nil {
			w.logf("writing metrics: %v", err)
		}
	}
}

func sleepCtxOps(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// errText is err's message, "" for nil.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
