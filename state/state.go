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
	"syscall"
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
	// Verified is the last check of dlr enable that found everything in
	// place (see [Verified]); any other change clears it.
	Verified *Verified `json:"verified,omitempty"`
}

// Verified records what an enable saw when it had checked everything (the
// file, systemd's units over D-Bus, the running dockerd through the Engine
// API, the watcher, the sysctl settings): while the same dockerd and
// watcher processes run, fs.pipe-max-size has the same value and none of
// the files has changed, there is nothing to check again, so the next
// enable needs neither D-Bus nor the Docker API.
type Verified struct {
	At           time.Time `json:"at"`
	Config       string    `json:"config"`
	ConfigSource string    `json:"config_source"`
	PipeMaxSize  uint64    `json:"pipe_max_size"` // the size asked for
	PipeRunning  uint64    `json:"pipe_running"`  // fs.pipe-max-size as it was
	Dockerd      Process   `json:"dockerd"`
	// WatcherProcs is the watcher's cgroup.procs file: it lists the
	// watcher's process while it runs.
	WatcherProcs string `json:"watcher_procs"`
	// Files are stamped (see [Stamps]); Stamps is their digest.
	Files  []string `json:"files"`
	Stamps string   `json:"stamps"`
}

// UnmarshalJSON reads a record, or none from one it cannot read (such as
// an older dlr's, of another shape): the record only saves work, and a
// state that cannot be read stops every command.
func (v *Verified) UnmarshalJSON(b []byte) error {
	type plain Verified
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		*v = Verified{}
		return nil
	}
	*v = Verified(p)
	return nil
}

// Process names one process: the PID and its start time (in clock ticks
// since boot, /proc/PID/stat field 22), which together never repeat.
type Process struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Stamps returns a digest of what lstat(2) says of each path: device,
// inode, mode, size, mtime and ctime, or that it is missing. A write to a
// file changes its size or times, a rename its inode, and nothing sets
// ctime back; a directory's times change when an entry is added, removed
// or renamed. So equal digests mean the files' contents are as they were,
// without reading them.
func Stamps(paths []string) string {
	h := sha256.New()
	var st syscall.Stat_t
	for _, p := range paths {
		if err := syscall.Lstat(p, &st); err != nil {
			fmt.Fprintf(h, "%s\x00-\n", p)
			continue
		}
		fmt.Fprintf(h, "%s\x00%d %d %o %d %d.%d %d.%d\n", p, st.Dev, st.Ino, st.Mode, st.Size,
			st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec)
	}
	return hex.EncodeToString(h.Sum(nil))
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
