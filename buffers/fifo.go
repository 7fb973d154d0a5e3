package buffers

import (
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrNotFIFO is the error (inside an *os.PathError) for an entry that is
// not a FIFO; ErrSymlink for one that is a symbolic link. Neither is opened.
var (
	ErrNotFIFO = errors.New("not a FIFO; refusing to open it")
	ErrSymlink = errors.New("a symbolic link; refusing to follow it")
)

// openFIFO opens the FIFO name in the directory dirfd for reading, without
// blocking and without following a symbolic link, and returns its
// descriptor. It checks the entry before opening it (so that no device or
// other special file is ever opened) and the opened file after (so that an
// entry replaced in between is refused too).
func openFIFO(dirfd int, name string) (int, error) {
	var before unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &before, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, err
	}
	switch before.Mode & unix.S_IFMT {
	case unix.S_IFIFO:
	case unix.S_IFLNK:
		return -1, ErrSymlink
	default:
		return -1, ErrNotFIFO
	}
	// O_NONBLOCK: opening the read side of a FIFO without it waits for a
	// writer. O_NOFOLLOW: a symbolic link put there since the check fails
	// with ELOOP instead of being followed.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return -1, ErrSymlink
		}
		return -1, err
	}
	var after unix.Stat_t
	if err := unix.Fstat(fd, &after); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if after.Mode&unix.S_IFMT != unix.S_IFIFO || after.Dev != before.Dev || after.Ino != before.Ino {
		unix.Close(fd)
		return -1, ErrNotFIFO
	}
	return fd, nil
}

// pipeSize returns the FIFO's buffer size (F_GETPIPE_SZ).
func pipeSize(fd int) (int64, error) {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	return int64(n), err
}

// setPipeSize asks the kernel for a buffer of size bytes (F_SETPIPE_SZ) and
// returns the size it gave, which may be larger (it rounds up to a power of
// two pages).
func setPipeSize(fd int, size int64) (int64, error) {
	n, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, int(size))
	return int64(n), err
}

// withFIFO opens the FIFO at path (see the package documentation for the
// checks) and calls f with its descriptor.
func withFIFO(path string, f func(fd int) error) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dirfd)
	fd, err := openFIFO(dirfd, name)
	if err != nil {
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	if err := f(fd); err != nil {
		return &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return nil
}

// Size returns the buffer size of the FIFO at path (F_GETPIPE_SZ). It
// opens only a FIFO, never through a symbolic link in the last element of
// path, and never reads from it.
func Size(path string) (int64, error) {
	var n int64
	err := withFIFO(path, func(fd int) (err error) {
		n, err = pipeSize(fd)
		return err
	})
	return n, err
}

// SetSize grows the buffer of the FIFO at path to at least size bytes and
// returns its size before and after. It never shrinks one: a FIFO at or
// above size is left alone. A size above fs.pipe-max-size fails with EPERM
// without CAP_SYS_RESOURCE, and succeeds with it: callers keep to the
// sysctl themselves. A pipe whose last reader and writer close loses its
// size; a FIFO nobody else has open cannot be grown for later.
func SetSize(path string, size int64) (old, now int64, err error) {
	err = withFIFO(path, func(fd int) (err error) {
		if old, err = pipeSize(fd); err != nil {
			return err
		}
		now = old
		if old >= size {
			return nil
		}
		now, err = setPipeSize(fd, size)
		if err != nil {
			now = old
		}
		return err
	})
	return old, now, err
}
