package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxRead is the most ReadFile's callers ask for by default: 4 MiB, the
// size of the largest daemon.json dlr accepts, and far more than any state
// record, /proc file or configuration dlr reads.
const MaxRead = 4 << 20

// ErrTooLarge is wrapped by ReadFile's error for a file larger than the
// limit it was given.
var ErrTooLarge = errors.New("file too large")

// ReadFile is the one way dlr reads a file (vet_test.go in this package
// fails the build's tests when production code calls os.ReadFile, os.Open
// or os.OpenFile anywhere else). What it guarantees:
//
//   - Symlinks are followed (a symlinked daemon.json is normal), but only a
//     regular file is read: the file is opened with O_NONBLOCK, so that
//     opening a FIFO never waits for a writer, and checked with fstat on the
//     open descriptor, so a FIFO, a device (/dev/zero) or a directory is
//     refused without reading a byte.
//   - At most limit+1 bytes are read. A larger file gives its first
//     limit+1 bytes together with an error wrapping [ErrTooLarge], so a
//     parser that wants to say "too large" in its own words can.
//   - Reading a regular file does not wait on anything another process
//     controls, so a signal's cancellation is never held up by it.
//
// Errors name the file; a missing file's error wraps fs.ErrNotExist.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := OpenRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, unwrapPath(err))
	}
	if int64(len(b)) > limit {
		return b, fmt.Errorf("%s: larger than the %d bytes dlr reads: %w", path, limit, ErrTooLarge)
	}
	return b, nil
}

// OpenRead opens a regular file for reading with ReadFile's guards (a FIFO,
// a device or a directory is refused without blocking), for a caller that
// reads only part of it (the tail of a log). The caller bounds what it
// reads.
func OpenRead(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, unwrapPath(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", path, unwrapPath(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, &NotRegularError{Path: path, Mode: fi.Mode()}
	}
	return f, nil
}

// NotRegularError is OpenRead's and ReadFile's refusal of what is not a
// regular file.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s: not a regular file (%s); dlr reads only regular files", e.Path, DescribeMode(e.Mode))
}
