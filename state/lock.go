package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// DefaultLockPath is the lock that serialises dlr runs. It is not daemon.json
// itself: replacing daemon.json by rename gives it a new inode, so a lock on
// it would not exclude a run that opened the old one.
const DefaultLockPath = "/run/lock/docker-liverestore.lock"

// ErrLockTimeout is returned when another run holds the lock for longer than
// the caller waits.
var ErrLockTimeout = errors.New("timed out waiting for the lock")

// Lock takes the exclusive lock at path, waiting until ctx is done. The lock
// file records the holder's PID, so a timeout can say who holds it.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryLockContext(ctx, 50*time.Millisecond)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return nil, fmt.Errorf("taking the lock %s: %w", path, err)
	}
	if !ok {
		holder := "another dlr run"
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				holder = fmt.Sprintf("dlr process %d", pid)
			}
		}
		return nil, fmt.Errorf("%w %s: %s holds it; wait for it to finish or stop it", ErrLockTimeout, path, holder)
	}
	// flock locks are advisory: writing the PID through another descriptor
	// is fine and only informs a waiting run.
	_ = os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
	return func() { fl.Unlock() }, nil
}
