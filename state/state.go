// Package state keeps what dlr changed on a host, so that `dlr disable` can
// undo exactly that and a run interrupted half-way is noticed by the next one.
// It lives in its own directory (default /var/lib/docker-liverestore), never in
// daemon.json: dockerd refuses to start on keys it does not know.
//
// The directory is mode 0700 and its files 0600: backups of daemon.json may
// hold registry credentials or proxy passwords.
package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
)

// DefaultDir is where dlr keeps its state and backups.
const DefaultDir = "/var/lib/docker-liverestore"

// KeepBackups is how many daemon.json backups are kept; older ones are
// removed after each new backup.
const KeepBackups = 10

const fileName = "state.json"

// Prior values of "live-restore" before dlr first changed it.
const (
	PriorNoFile = "no-file" // daemon.json did not exist
	PriorAbsent = "absent"  // the file had no "live-restore" member
	PriorEmpty  = "empty"   // the file was empty or whitespace only
	PriorFalse  = "false"
	PriorTrue   = "true"
)

// State is the content of state.json.
type State struct {
	Version    int         `json:"version"`
	DaemonJSON *DaemonJSON `json:"daemon_json,omitempty"`
	Sysctl     *Sysctl     `json:"sysctl,omitempty"`
	// Pending is set while an operation is under way and cleared when it
	// ends; one found by a later run means that run was interrupted.
	Pending *Pending `json:"pending,omitempty"`
}

// DaemonJSON records dlr's change to daemon.json.
type DaemonJSON struct {
	Path string `json:"path"`
	// Prior is what "live-restore" was before dlr first changed it: one of
	// the Prior constants. Later runs keep it.
	Prior string `json:"prior"`
	// WrittenSHA256 is the hash of the bytes dlr last wrote.
	WrittenSHA256 string    `json:"written_sha256"`
	Backup        string    `json:"backup,omitempty"`
	Changed       time.Time `json:"changed"`
}

// Sysctl records dlr's fs.pipe-max-size drop-in.
type Sysctl struct {
	DropIn       string `json:"drop_in"`
	PriorRunning uint64 `json:"prior_running"`
	Applied      uint64 `json:"applied,omitempty"`
}

// Pending describes an operation that has started and not yet ended.
type Pending struct {
	Op        string    `json:"op"`
	Path      string    `json:"path"`
	BeforeSHA string    `json:"before_sha256"`
	AfterSHA  string    `json:"after_sha256"`
	Started   time.Time `json:"started"`
	Step      string    `json:"step"`
	PID       int       `json:"pid"`
}

// Store reads and writes the state in one directory.
type Store struct{ Dir string }

// Load returns the saved state, or an empty one if there is none.
func (s Store) Load() (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(s.Dir, fileName))
	if errors.Is(err, fs.ErrNotExist) {
		return State{Version: 1}, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading dlr's state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading dlr's state %s: %w (move it aside to start afresh; backups are in %s)",
			filepath.Join(s.Dir, fileName), err, filepath.Join(s.Dir, "backups"))
	}
	return st, nil
}

// Save writes the state atomically.
func (s Store) Save(st State) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	st.Version = 1
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = atomicfile.Replace(filepath.Join(s.Dir, fileName), append(b, '\n'), atomicfile.Options{Mode: 0o600})
	return err
}

// Backup saves the bytes of a file about to be replaced under
// backups/<name>.<time>, keeps the newest KeepBackups, and returns its path.
func (s Store) Backup(name string, b []byte, now time.Time) (string, error) {
	dir := filepath.Join(s.Dir, "backups")
	if err := s.ensureDir(); err != nil {
		return "", err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	// Backups may hold credentials: never write them through a symlink
	// out of dlr's own directory.
	if fi, err := os.Lstat(dir); err != nil {
		return "", err
	} else if !fi.IsDir() {
		return "", fmt.Errorf("refusing to keep backups in %s: it is not a directory (a symlink or a file); remove it", dir)
	}
	// A run killed while writing a backup leaves its temp file, and no
	// later backup has the same name (the time is in it), so Replace's own
	// clean-up never finds it: remove such leftovers here (callers hold
	// dlr's lock).
	stale, _ := filepath.Glob(filepath.Join(dir, "."+name+".*.dlr-tmp-*"))
	for _, f := range stale {
		if fi, err := os.Lstat(f); err == nil && fi.Mode().IsRegular() {
			os.Remove(f)
		}
	}
	p := filepath.Join(dir, fmt.Sprintf("%s.%s", name, now.UTC().Format("20060102T150405.000000000Z")))
	if _, err := atomicfile.Replace(p, b, atomicfile.Options{Mode: 0o600}); err != nil {
		return "", fmt.Errorf("backing up %s: %w", name, err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, name+".*"))
	sort.Strings(old)
	for len(old) > KeepBackups {
		if !strings.Contains(filepath.Base(old[0]), ".dlr-tmp-") {
			os.Remove(old[0])
		}
		old = old[1:]
	}
	return p, nil
}

// ensureDir creates the state directory, mode 0700, and refuses one that is
// a symlink: dlr never follows a link out of its own directories.
func (s Store) ensureDir() error {
	fi, err := os.Lstat(s.Dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(s.Dir, 0o700); err != nil {
			return err
		}
		return os.Chmod(s.Dir, 0o700)
	case err != nil:
		return err
	case fi.Mode()&fs.ModeSymlink != 0 || !fi.IsDir():
		return fmt.Errorf("refusing to use %s for dlr's state: it is not a directory (a symlink or a file); remove it", s.Dir)
	}
	return nil
}

// SHA256 returns the hex SHA-256 of b.
func SHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// SaveFile writes a file of dlr's own into the state directory (0600).
func (s Store) SaveFile(name string, b []byte) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	_, err := atomicfile.Replace(filepath.Join(s.Dir, name), b, atomicfile.Options{Mode: 0o600})
	return err
}
