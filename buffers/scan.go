package buffers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultExecRoot is dockerd's default --exec-root (/var/run is a link to
// /run on current systems).
const DefaultExecRoot = "/var/run/docker"

// Dir returns the directory holding the FIFOs of the containers of the
// dockerd with the given exec root: <execRoot>/containerd.
func Dir(execRoot string) string { return filepath.Join(execRoot, "containerd") }

// Stream is one log FIFO of a container or of one of its exec sessions.
type Stream struct {
	// Container is the name of the directory under <exec-root>/containerd,
	// the container's full ID.
	Container string `json:"container"`
	// Name is the FIFO's file name: "init-stdout" (Docker 20.10),
	// "<container ID>-stderr" (Docker 23 and later), "<exec ID>-stdout".
	Name string `json:"name"`
	Path string `json:"path"`
	// Exec is true for an exec session's stream.
	Exec bool `json:"exec"`
	// Size is the FIFO's buffer size in bytes (F_GETPIPE_SZ), 0 if Err.
	Size int64 `json:"size"`
	// Err says why the stream could not be opened or its size read.
	Err error `json:"-"`
}

// Kind returns "stdout" or "stderr".
func (s Stream) Kind() string {
	if strings.HasSuffix(s.Name, "-stderr") {
		return "stderr"
	}
	return "stdout"
}

// isStreamName reports whether a FIFO name is a log stream's.
func isStreamName(name string) bool {
	return (strings.HasSuffix(name, "-stdout") || strings.HasSuffix(name, "-stderr")) && len(name) > len("-stdout")
}

// Scan returns the log streams under <execRoot>/containerd, sorted by
// container and name, with their sizes. A missing directory means no
// container runs (or dockerd uses another exec root): no streams and no
// error. Only entries named *-stdout or *-stderr are looked at and only
// FIFOs are opened; an entry that is something else, or a container
// directory that is a symbolic link, is returned with Err set. Scan fails
// only if the containerd directory itself cannot be read, or ctx ends.
func Scan(ctx context.Context, execRoot string) ([]Stream, error) {
	root := Dir(execRoot)
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: root, Err: err}
	}
	rootDir := os.NewFile(uintptr(rootFD), root)
	defer rootDir.Close()
	ids, err := rootDir.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	var out []Stream
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		out = append(out, scanContainer(rootFD, root, id)...)
	}
	return out, nil
}

// scanContainer returns the streams of one container directory.
func scanContainer(rootFD int, root, id string) []Stream {
	dirPath := filepath.Join(root, id)
	var st unix.Stat_t
	err := unix.Fstatat(rootFD, id, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil // gone since the listing
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return []Stream{{Container: id, Path: dirPath, Err: &os.PathError{Op: "open", Path: dirPath, Err: ErrSymlink}}}
	case err == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return nil // a file next to the container directories: not ours
	}
	// O_NOFOLLOW: a link put there since the check is refused (with O_DIRECTORY
	// it fails with ENOTDIR).
	fd, err := unix.Openat(rootFD, id, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ELOOP), errors.Is(err, unix.ENOTDIR):
		return []Stream{{Container: id, Path: dirPath, Err: &os.PathError{Op: "open", Path: dirPath, Err: ErrSymlink}}}
	case err != nil:
		return []Stream{{Container: id, Path: dirPath, Err: &os.PathError{Op: "open", Path: dirPath, Err: err}}}
	}
	dir := os.NewFile(uintptr(fd), dirPath)
	defer dir.Close()
	names, err := dir.Readdirnames(-1)
	if err != nil {
		return []Stream{{Container: id, Path: dirPath, Err: err}}
	}
	sort.Strings(names)
	var out []Stream
	for _, name := range names {
		if !isStreamName(name) {
			continue
		}
		s := Stream{Container: id, Name: name, Path: filepath.Join(dirPath, name)}
		prefix := name[:len(name)-len("-stdout")]
		s.Exec = prefix != "init" && prefix != id
		ffd, err := openFIFO(fd, name)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			s.Err = &os.PathError{Op: "open", Path: s.Path, Err: err}
			out = append(out, s)
			continue
		}
		s.Size, err = pipeSize(ffd)
		unix.Close(ffd)
		if err != nil {
			s.Size, s.Err = 0, &os.PathError{Op: "fcntl F_GETPIPE_SZ", Path: s.Path, Err: err}
		}
		out = append(out, s)
	}
	return out
}
