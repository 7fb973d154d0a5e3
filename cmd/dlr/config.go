package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
)

// configFile is daemon.json as read: its bytes, whether it exists, and the
// file an edit will replace (a symlink's target).
type configFile struct {
	path   string
	target string
	exists bool
	data   []byte
	doc    *daemonjson.Doc
}

// readConfig reads and parses daemon.json. Whatever makes an edit unsafe
// (not a regular file, a symlink loop, unreadable, not what dockerd would
// parse) is an exit-4 error naming the file, with the file untouched.
func readConfig(path string) (*configFile, error) {
	target, fi, err := atomicfile.Resolve(path, true)
	if err != nil {
		return nil, invalid(fmt.Errorf("%s: %v", path, err))
	}
	c := &configFile{path: path, target: target, exists: fi != nil}
	if c.exists {
		f, err := os.Open(target)
		if err != nil {
			return nil, invalid(fmt.Errorf("reading %s: %v", target, errText(err)))
		}
		defer f.Close()
		// Read one byte more than Parse accepts, so that a huge file is
		// refused without reading all of it.
		c.data, err = io.ReadAll(io.LimitReader(f, daemonjson.MaxSize+1))
		if err != nil {
			return nil, invalid(fmt.Errorf("reading %s: %v", target, errText(err)))
		}
	}
	c.doc, err = daemonjson.Parse(c.data)
	if err != nil {
		return nil, invalid(fmt.Errorf("%s: %w", path, err))
	}
	return c, nil
}

// liveRestoreWord describes "live-restore" in a file: "true", "false",
// "absent" or "no-file".
func (c *configFile) liveRestoreWord() string {
	if !c.exists {
		return "no-file"
	}
	v, has := c.doc.LiveRestore()
	switch {
	case !has:
		return "absent"
	case v:
		return "true"
	}
	return "false"
}

// writeConfig replaces daemon.json (through a symlink, keeping mode and
// owner; a new file gets 0644), or removes it when data is nil and remove is
// set.
func writeConfig(path string, data []byte, remove bool) error {
	if remove {
		target, _, err := atomicfile.Resolve(path, true)
		if err != nil {
			return err
		}
		if err := atomicfile.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	target, _, err := atomicfile.Resolve(path, true)
	if err != nil {
		return err
	}
	// /etc/docker may not exist yet when dlr is installed before Docker.
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	_, err = atomicfile.Replace(path, data, atomicfile.Options{Mode: 0o644, FollowSymlink: true})
	return err
}
