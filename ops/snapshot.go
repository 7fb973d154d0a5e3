package ops

import (
	"context"
	"github.com/docker-liverestore/dlr/atomicfile"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

// snapshotName is the copy of daemon.json taken when dockerd starts.
const snapshotName = "started-with.json"

// Snapshot is `dlr snapshot`, run by dlr's docker.service drop-in as
// ExecStartPre=-: it copies daemon.json as dockerd is about to read it, so
// that dlr knows later what the running daemon uses. It never touches the
// Docker socket (dockerd is not up yet, and docker.socket would start it),
// never blocks, and its failure cannot fail the start (the "-").
func Snapshot(ctx context.Context, e *Env, o Options, r *Report) error {
	// With --config (as dlr's drop-in passes it) no D-Bus call is made:
	// this runs while docker.service starts.
	path := o.Config
	if path == "" {
		f, err := e.Observe(ctx, o.Config, false)
		if err != nil {
			return failed("%v", err)
		}
		f.Close()
		path = f.Config
	}
	var b []byte
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		if b, err = host.ReadFile(path); err != nil {
			return failed("%v", err)
		}
	}
	dir := e.Path(host.StateDir)
	if err := (state.Store{Dir: dir}).SaveFile(snapshotName, b); err != nil {
		return failed("%v", err)
	}
	r.Action("recorded %s as dockerd starts with it (%s)", path, filepath.Join(dir, snapshotName))
	return nil
}

// startedWith returns the file dockerd started with, as dlr's drop-in
// recorded it, and whether there is such a record.
func (e *Env) startedWith() (*daemonjson.Doc, bool) {
	b, err := atomicfile.ReadFile(filepath.Join(e.Path(host.StateDir), snapshotName), atomicfile.MaxRead)
	if err != nil {
		return nil, false
	}
	d, err := daemonjson.Parse(b)
	return d, err == nil
}

// baseline returns what the running daemon uses: the snapshot dlr's drop-in
// took when dockerd last started, or else the current file.
func (e *Env) baseline(current *host.Config) (*daemonjson.Doc, string) {
	if d, ok := e.startedWith(); ok {
		return d, "the file dockerd started with"
	}
	if current != nil {
		return current.Doc, "the current " + current.Path
	}
	d, _ := daemonjson.Parse(nil)
	return d, "an empty configuration"
}
