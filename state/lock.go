package state

import (
	"context"
	"errors"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultLockPath is the lock that serialises dlr runs: a file in a
// directory of its own that only root may write (/run/lock is mode 1777 on
// Debian: any user could create a file or a symlink there that every root
// run would then fail on or write through). It is not daemon.json itself:
// replacing daemon.json by rename gives it a new inode, so a lock on it
// would not exclude a run that opened the old one.
const DefaultLockPath = "/run/docker-liverestore/lock"

// ErrLockTimeout is returned when another run holds the lock for longer than
// the caller waits; ErrLockInterrupted when the caller's context was
// cancelled (a signal) while waiting.
var (
	ErrLockTimeout     = errors.New("timed out waiting for the lock")
	ErrLockInterrupted = errors.New("interrupted while waiting for the lock")
)

// Lock takes the exclusive lock at path, waiting until ctx is done (a
// deadline: ErrLockTimeout; a cancel: ErrLockInterrupted). The directory is
// created 0700 if missing; a directory or lock file that is not this user's
// own (another owner, a symlink, writable by others, not a regular file)
// is refused, never obeyed or written through. The lock file records the
// holder's PID, so that a wait can say who holds it.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	dir := filepath.Dir(path)
	d, err := atomicfile.CreateDir(dir, 0o700)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if err := ownDir(dir); err != nil {
		return nil, err
	}
	f, err := d.OpenFile(filepath.Base(path), os.O_RDWR|os.O_CREATE|syscall.O_NONBLOCK, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("refusing the lock %s: it is a symlink (not dlr's); remove it", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening the lock %s: %w", path, errors.Unwrap(err))
	}
	fd := int(f.Fd())
	if err := ownFile(f, path); err != nil {
		f.Close()
		return nil, err
	}
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("taking the lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			holder := holderOf(path)
			f.Close()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w %s: %s holds it; wait for it to finish or stop it", ErrLockTimeout, path, holder)
			}
			return nil, fmt.Errorf("%w %s (%s holds it); nothing was changed", ErrLockInterrupted, path, holder)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// flock locks are advisory: the PID only informs a waiting run. It is
	// written through the descriptor dlr opened (never by path).
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil
}

// ownDir refuses a lock directory that someone else could write in.
func ownDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("refusing the lock directory %s: it is a symlink (not dlr's); remove it", dir)
	case !fi.IsDir():
		return fmt.Errorf("refusing the lock directory %s: not a directory; remove it", dir)
	case st != nil && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("refusing the lock directory %s: owned by uid %d, not by this user (uid %d); remove it", dir, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("refusing the lock directory %s: mode %o lets others write in it; remove it (dlr makes it 0700)", dir, fi.Mode().Perm())
	}
	return nil
}

// ownFile refuses a lock file that is not a regular file of this user's.
func ownFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("refusing the lock %s: not a regular file; remove it", path)
	case st != nil && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("refusing the lock %s: owned by uid %d, not by this user (uid %d); remove it", path, st.Uid, os.Geteuid())
	}
	return nil
}

// holderOf names the process the lock file says holds it, if that process
// still runs; otherwise it says what it knows.
func holderOf(path string) string {
	b, err := atomicfile.ReadFile(path, atomicfile.MaxRead)
	if err != nil {
		return "another dlr run"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "another dlr run"
	}
	if syscall.Kill(pid, 0) != nil && !errors.Is(syscall.Kill(pid, 0), syscall.EPERM) {
		return fmt.Sprintf("a process dlr cannot name (the lock file names PID %d, which no longer runs)", pid)
	}
	return fmt.Sprintf("dlr process %d", pid)
}
