package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadSaveRoundTrip(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "state")}
	st, err := s.Load()
	if err != nil || st.DaemonJSON != nil {
		t.Fatalf("empty Load = %+v, %v", st, err)
	}
	st.DaemonJSON = &DaemonJSON{Path: "/etc/docker/daemon.json", Prior: PriorAbsent, WrittenSHA256: SHA256([]byte("x"))}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load()
	if err != nil || got.DaemonJSON == nil || got.DaemonJSON.Prior != PriorAbsent {
		t.Fatalf("Load = %+v, %v", got, err)
	}
	for _, p := range []string{s.Dir, filepath.Join(s.Dir, fileName)} {
		fi, _ := os.Stat(p)
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", p, fi.Mode())
		}
	}
}

func TestCorruptStateSaysWhatToDo(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	os.WriteFile(filepath.Join(s.Dir, fileName), []byte("{"), 0o600)
	if _, err := s.Load(); err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("Load of a corrupt state = %v", err)
	}
}

func TestStateDirSymlinkRefused(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "elsewhere"), 0o700)
	os.Symlink("elsewhere", filepath.Join(dir, "state"))
	if err := (Store{Dir: filepath.Join(dir, "state")}).Save(State{}); err == nil {
		t.Error("Save through a symlinked state dir succeeded")
	}
}

func TestBackupsAreBounded(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var last string
	for i := range KeepBackups + 5 {
		p, err := s.Backup("daemon.json", []byte{byte(i)}, now.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	m, _ := filepath.Glob(filepath.Join(s.Dir, "backups", "daemon.json.*"))
	if len(m) != KeepBackups {
		t.Errorf("%d backups kept, want %d", len(m), KeepBackups)
	}
	if b, _ := os.ReadFile(last); len(b) != 1 || b[0] != KeepBackups+4 {
		t.Errorf("newest backup content = %v", b)
	}
}

func TestLockTimesOutNamingHolder(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	unlock, err := Lock(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Lock(ctx, p)
	if !errors.Is(err, ErrLockTimeout) || !strings.Contains(err.Error(), "dlr process") {
		t.Errorf("second Lock = %v; want a timeout naming the holder", err)
	}
	unlock()
	u2, err := Lock(context.Background(), p)
	if err != nil {
		t.Fatalf("Lock after unlock: %v", err)
	}
	u2()
}

// A run killed while writing a backup leaves a temp file named after that
// backup; the next backup removes it.
func TestBackupRemovesTempFilesOfKilledRuns(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	os.MkdirAll(filepath.Join(s.Dir, "backups"), 0o700)
	stale := filepath.Join(s.Dir, "backups", ".daemon.json.20260101T000000.000000000Z.dlr-tmp-0123456789ab")
	os.WriteFile(stale, []byte("half"), 0o600)
	if _, err := s.Backup("daemon.json", []byte("{}"), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(stale); err == nil {
		t.Error("the temp file of a killed backup is still there")
	}
}

func TestBackupsDirSymlinkRefused(t *testing.T) {
	s := Store{Dir: t.TempDir()}
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(s.Dir, "backups"))
	if _, err := s.Backup("daemon.json", []byte("{}"), time.Now()); err == nil || !strings.Contains(err.Error(), "refusing to keep backups") {
		t.Errorf("Backup through a symlinked backups dir = %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(outside, "*")); len(m) != 0 {
		t.Errorf("wrote outside the state dir: %v", m)
	}
}

// A record of another shape (an older dlr's) is dropped, not an error: it
// only saves work, and an unreadable state stops every command.
func TestLoadIgnoresARecordOfAnotherShape(t *testing.T) {
	dir := t.TempDir()
	body := `{"version": 1, "daemon_json": {"path": "/etc/docker/daemon.json", "prior": "absent"},
  "verified": {"files": [{"path": "/etc/docker/daemon.json", "exists": true}]}}`
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := Store{Dir: dir}.Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if st.DaemonJSON == nil || st.DaemonJSON.Path != "/etc/docker/daemon.json" {
		t.Errorf("the rest of the state was lost: %+v", st)
	}
	if st.Verified == nil || st.Verified.Dockerd.PID != 0 || len(st.Verified.Files) != 0 {
		t.Errorf("record = %+v, want an empty one", st.Verified)
	}
	// A record of the current shape round-trips.
	want := &Verified{Config: "/etc/docker/daemon.json", PipeMaxSize: 16 << 20, Dockerd: Process{PID: 60, Start: 99},
		Files: []string{"/etc/docker/daemon.json"}, Stamps: Stamps([]string{"/etc/docker/daemon.json"})}
	if err := (Store{Dir: dir}).Save(State{Verified: want}); err != nil {
		t.Fatal(err)
	}
	st, err = Store{Dir: dir}.Load()
	if err != nil || st.Verified == nil || st.Verified.Stamps != want.Stamps || st.Verified.Dockerd != want.Dockerd {
		t.Errorf("round trip: %+v, %v", st.Verified, err)
	}
}

func TestStamps(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("a"), 0o644)
	paths := []string{f, filepath.Join(dir, "missing"), dir}
	a := Stamps(paths)
	if Stamps(paths) != a {
		t.Fatal("Stamps is not stable")
	}
	for name, change := range map[string]func(){
		"rewrite same bytes": func() { time.Sleep(5 * time.Millisecond); os.WriteFile(f, []byte("a"), 0o644) },
		"chmod":              func() { os.Chmod(f, 0o600) },
		"create missing":     func() { os.WriteFile(filepath.Join(dir, "missing"), nil, 0o644) },
		"new entry in dir":   func() { os.WriteFile(filepath.Join(dir, "other"), nil, 0o644) },
	} {
		b := Stamps(paths)
		change()
		if Stamps(paths) == b {
			t.Errorf("%s: stamps unchanged", name)
		}
	}
}
