package ops

import (
	"context"
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
	if err := (state.Store{Dir: dir}).SaveFile(snapshotName, state.EncodeStartedWith(b)); err != nil {
		return failed("%v", err)
	}
	r.Action("recorded %s as dockerd starts with it (%s)", path, filepath.Join(dir, snapshotName))
	return nil
}

// startedWith returns the file dockerd started with, as dlr's drop-in
// recorded it, and whether there is such a record; the error of a record
// in a newer format than this dlr reads (state.FormatError), or of one
// whose header is broken.
func (e *Env) startedWith() (*daemonjson.Doc, bool, error) {
	path := filepath.Join(e.Path(host.StateDir), snapshotName)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, nil
	}
	if b, err = state.DecodeStartedWith(path, b); err != nil {
		return nil, false, err
	}
	d, err := daemonjson.Parse(b)
	return d, err == nil, nil
}

// baseline returns what the running daemon uses: the snapshot dlr's drop-in
// took when dockerd last started, or else the current file (saying why,
// when the snapshot cannot be read).
func (e *Env) baseline(current *host.Config) (*daemonjson.Doc, string) {
	d, ok, err := e.startedWith()
	if ok {
		return d, "the file dockerd started with"
	}
	if current != nil {
		if err != nil {
			return current.Doc, "the current " + current.Path + " (not the file dockerd started with: " + err.Error() + ")"
		}
		return current.Doc, "the current " + current.Path
	}
	d, _ = daemonjson.Parse(nil)
	return d, "an empty configuration"
}
