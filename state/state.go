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
	"reflect"
	"sort"
	"strconv"
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
	// Version is the file's format (StateFormat when written; format.go).
	Version    int         `json:"version"`
	DaemonJSON *DaemonJSON `json:"daemon_json,omitempty"`
	Sysctl     *Sysctl     `json:"sysctl,omitempty"`
	// Pending is set while an operation is under way and cleared when it
	// ends; one found by a later run means that run was interrupted.
	Pending *Pending `json:"pending,omitempty"`
}

// Verified records what an enable saw when it had checked everything (the
// file, systemd's units over D-Bus, the running dockerd through the Engine
// API, the watcher, the sysctl settings): while the same dockerd process
// runs, the watcher runs, fs.pipe-max-size has the same value and none of
// the files has changed, there is nothing to check again, so the next
// enable needs neither D-Bus nor the Docker API. It lives in its own file
// ("verified", see [Store.SaveVerified]), read without reflection: the
// whole point is to be quick.
type Verified struct {
	At           time.Time
	Config       string
	ConfigSource string
	PipeMaxSize  uint64 // the size asked for
	PipeRunning  uint64 // fs.pipe-max-size as it was
	Dockerd      Process
	// WatcherProcs is the watcher's cgroup.procs file: it lists the
	// watcher's process while it runs.
	WatcherProcs string
	// Files are stamped (see [Stamps]); Stamps is their digest.
	Files  []string
	Stamps string
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
	b := make([]byte, 0, 256)
	for _, p := range paths {
		b = append(b[:0], p...)
		b = append(b, 0)
		if err := syscall.Lstat(p, &st); err != nil {
			b = append(b, '-')
		} else {
			for _, n := range []int64{int64(st.Dev), int64(st.Ino), int64(st.Mode), st.Size,
				st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec} {
				b = strconv.AppendInt(b, n, 10)
				b = append(b, ' ')
			}
		}
		b = append(b, '\n')
		h.Write(b)
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
	// A rollback under way (Step "rollback"): while Path holds bytes the
	// failed run wrote (their SHA-256s in Written), it is to be put back to
	// the bytes in the backup Restore (BeforeSHA is their hash), or removed
	// with RestoreAbsent. The next run that changes anything does it first.
	Restore       string   `json:"restore,omitempty"`
	RestoreAbsent bool     `json:"restore_absent,omitempty"`
	Written       []string `json:"written,omitempty"`
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
	return decodeState(filepath.Join(s.Dir, fileName), b, filepath.Join(s.Dir, "backups"))
}

// decodeState decodes state.json's bytes b: any format up to StateFormat
// (without a version: format 1), a *FormatError for a newer one.
func decodeState(path string, b []byte, backups string) (State, error) {
	var st State
	v, err := JSONVersion(path, b)
	if err == nil {
		err = CheckFormat(path, v, StateFormat)
	}
	if err != nil {
		return st, fmt.Errorf("reading dlr's state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("reading dlr's state %s: %w (move it aside to start afresh; backups are in %s)", path, err, backups)
	}
	st.Version = v
	return st, nil
}

// Save writes the state atomically.
func (s Store) Save(st State) error { return s.save(st, false) }

// SaveUnsynced is Save without the fsyncs, for a state whose loss to a
// power cut the next run recovers from by design: it then finds the last
// durable state, with its pending mark, and finishes the job (the record
// of a write in progress says which bytes it was writing). dlr uses it for
// the steps after daemon.json is written and for the end of an operation.
func (s Store) SaveUnsynced(st State) error { return s.save(st, true) }

func (s Store) save(st State, nosync bool) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	// Any change of the state ends the record (it covers state.json too).
	if err := os.Remove(filepath.Join(s.Dir, verifiedName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	st.Version = StateFormat
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	_, err = atomicfile.Replace(filepath.Join(s.Dir, fileName), append(b, '\n'), atomicfile.Options{Mode: 0o600, NoSync: nosync})
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

// verifiedName is the record's file in the state directory.
const verifiedName = "verified"

// SaveVerified writes the record, after the state it goes with: it adds
// state.json to the files it covers and computes the digest, so that any
// later change of the state (an operation starting, another command) ends
// it. The format is one "key value" line each, strings quoted as in Go.
func (s Store) SaveVerified(v Verified) error {
	if err := s.ensureDir(); err != nil {
		return err
	}
	v = s.sealed(v)
	b := []byte("# dlr's record of its last full check (see dlr enable in dlr(8)); any change ends it\nversion 1\n")
	line := func(key string, vals ...string) {
		b = append(b, key...)
		for _, x := range vals {
			b = append(b, ' ')
			b = append(b, x...)
		}
		b = append(b, '\n')
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	line("at", v.At.UTC().Format(time.RFC3339Nano))
	line("config", strconv.Quote(v.Config))
	line("config-source", strconv.Quote(v.ConfigSource))
	line("pipe-max-size", u(v.PipeMaxSize))
	line("pipe-running", u(v.PipeRunning))
	line("dockerd", strconv.Itoa(v.Dockerd.PID), u(v.Dockerd.Start))
	line("watcher-procs", strconv.Quote(v.WatcherProcs))
	line("stamps", v.Stamps)
	for _, f := range v.Files {
		line("file", strconv.Quote(f))
	}
	// No fsync: after a power cut the record may be the old one, empty or
	// missing, and each of those sends the next run down the full path.
	_, err := atomicfile.Replace(filepath.Join(s.Dir, verifiedName), b, atomicfile.Options{Mode: 0o600, NoSync: true})
	return err
}

// Recorded reports whether old (as LoadVerified read it) already records
// v, as SaveVerified would write it now, whenever it was taken.
func (s Store) Recorded(old *Verified, v Verified) bool {
	if old == nil {
		return false
	}
	v = s.sealed(v)
	v.At = old.At
	return reflect.DeepEqual(*old, v)
}

// sealed is v as SaveVerified writes it: covering state.json too, with the
// digest of its files as they are now.
func (s Store) sealed(v Verified) Verified {
	v.Files = append(v.Files[:len(v.Files):len(v.Files)], filepath.Join(s.Dir, fileName))
	v.Stamps = Stamps(v.Files)
	return v
}

// LoadVerified reads the record; nil when there is none or it cannot be
// read (such as one of another version): it only saves work.
func (s Store) LoadVerified() *Verified {
	b, err := os.ReadFile(filepath.Join(s.Dir, verifiedName))
	if err != nil {
		return nil
	}
	v := &Verified{}
	var version bool
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		key, val, _ := strings.Cut(l, " ")
		var err error
		switch key {
		case "version":
			version = val == "1"
		case "at":
			v.At, err = time.Parse(time.RFC3339Nano, val)
		case "config":
			v.Config, err = strconv.Unquote(val)
		case "config-source":
			v.ConfigSource, err = strconv.Unquote(val)
		case "pipe-max-size":
			v.PipeMaxSize, err = strconv.ParseUint(val, 10, 64)
		case "pipe-running":
			v.PipeRunning, err = strconv.ParseUint(val, 10, 64)
		case "dockerd":
			pid, start, _ := strings.Cut(val, " ")
			if v.Dockerd.PID, err = strconv.Atoi(pid); err == nil {
				v.Dockerd.Start, err = strconv.ParseUint(start, 10, 64)
			}
		case "watcher-procs":
			v.WatcherProcs, err = strconv.Unquote(val)
		case "stamps":
			v.Stamps = val
		case "file":
			var f string
			if f, err = strconv.Unquote(val); err == nil {
				v.Files = append(v.Files, f)
			}
		default:
			return nil
		}
		if err != nil {
			return nil
		}
	}
	if !version || v.Stamps == "" || len(v.Files) == 0 {
		return nil
	}
	return v
}

// Clone returns a deep copy of s: a change to the copy's records leaves s
// as it was (an operation keeps the state as loaded, to put it back).
func (s State) Clone() State {
	c := s
	if s.DaemonJSON != nil {
		d := *s.DaemonJSON
		c.DaemonJSON = &d
	}
	if s.Sysctl != nil {
		x := *s.Sysctl
		c.Sysctl = &x
	}
	if s.Pending != nil {
		p := *s.Pending
		p.Written = append([]string(nil), p.Written...)
		c.Pending = &p
	}
	return c
}

// Equal reports whether two states hold the same records.
func (s State) Equal(o State) bool { return reflect.DeepEqual(s, o) }
