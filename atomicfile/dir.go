package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is a handle on a directory that dlr writes in as root. Every write,
// rename and removal dlr makes in a directory goes through one (vet_test.go
// in this package fails when production code writes, renames or removes by
// path anywhere else), because a path can be changed between dlr's check
// and its write, and a handle cannot:
//
//   - The directory is reached from "/" one name at a time, each opened
//     with O_NOFOLLOW relative to the one above (systemd's chase() does the
//     same). A symlink on the way is followed only if it is owned by root
//     (or by the user dlr runs as) and sits in a directory that passed the
//     checks below, so no other user could have put it there.
//   - The directory and every directory above it must be changeable by root
//     alone (the rule sudo and systemd-tmpfiles apply): owned by root (or
//     by the user dlr runs as), and not writable by group or others unless
//     sticky (/tmp). Otherwise it is refused, naming the directory and its
//     owner: that user could rename the directory away and put a symlink to
//     any other directory in its place (issue 21: prometheus-node-exporter
//     makes /var/lib/prometheus the prometheus user's).
//   - Names given to the handle's methods are single components: no "/",
//     no "..": nothing is resolved outside the handle.
type Dir struct {
	f    *os.File // O_RDONLY|O_DIRECTORY, for *at calls, fsync and listing
	Path string   // the path the directory was reached by (for messages)
}

// maxLinks bounds the symlinks followed on one walk, as the kernel does
// (ELOOP after 40).
const maxLinks = 40

// OpenDir opens the directory path with the checks described on [Dir].
func OpenDir(path string) (*Dir, error) { return walk(path, false, 0) }

// CreateDir is OpenDir that creates the missing directories of path with
// mode (each created by dlr, so owned by the user it runs as).
func CreateDir(path string, mode fs.FileMode) (*Dir, error) { return walk(path, true, mode) }

// MkdirAll is CreateDir for a caller that needs no handle.
func MkdirAll(path string, mode fs.FileMode) error {
	d, err := CreateDir(path, mode)
	if err != nil {
		return err
	}
	return d.Close()
}

// OpenFile opens name in the directory with flags (O_NOFOLLOW always
// added: a symlink is ELOOP) and, when it creates the file, mode.
func (d *Dir) OpenFile(name string, flags int, mode fs.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	fd, err := unix.Openat(d.fd(), name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return nil, d.pathErr("open", name, err)
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// trustedOwner says whether uid may own a directory dlr writes in.
func trustedOwner(uid uint32) bool { return uid == 0 || int(uid) == os.Geteuid() }

// checkTrusted refuses a directory another user could change.
func checkTrusted(st *unix.Stat_t, path, target string) error {
	if !trustedOwner(st.Uid) {
		return fmt.Errorf("refusing to write in %s: %s is owned by uid %d, not root, and that user could replace what dlr writes there (make %s owned by root, or choose a directory only root can change)", target, path, st.Uid, path)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		who := "others"
		if st.Mode&0o020 != 0 {
			who = fmt.Sprintf("group %d", st.Gid)
		}
		return fmt.Errorf("refusing to write in %s: %s is writable by %s (mode %04o), who could replace what dlr writes there (chmod go-w %s, or choose a directory only root can change)", target, path, who, st.Mode&0o7777, path)
	}
	return nil
}

func walk(path string, create bool, mode fs.FileMode) (*Dir, error) {
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		path = abs
	}
	type ent struct {
		fd   int
		path string
	}
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /: %w", err)
	}
	stack := []ent{{root, "/"}}
	defer func() {
		for _, e := range stack {
			unix.Close(e.fd)
		}
	}()
	var st unix.Stat_t
	if err := unix.Fstat(root, &st); err != nil {
		return nil, err
	}
	if err := checkTrusted(&st, "/", path); err != nil {
		return nil, err
	}
	comps := strings.Split(path, "/")
	links := 0
	for len(comps) > 0 {
		c := comps[0]
		comps = comps[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				unix.Close(stack[len(stack)-1].fd)
				stack = stack[:len(stack)-1]
			}
			continue
		}
		top := stack[len(stack)-1]
		p := filepath.Join(top.path, c)
		fd, err := unix.Openat(top.fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) && create {
			if err := unix.Mkdirat(top.fd, c, uint32(mode.Perm())); err != nil && !errors.Is(err, unix.EEXIST) {
				return nil, &fs.PathError{Op: "mkdir", Path: p, Err: err}
			}
			fd, err = unix.Openat(top.fd, c, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: p, Err: err}
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, &fs.PathError{Op: "stat", Path: p, Err: err}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			unix.Close(fd)
			if !trustedOwner(st.Uid) {
				return nil, fmt.Errorf("refusing to write in %s: %s is a symlink owned by uid %d, not root", path, p, st.Uid)
			}
			if links++; links > maxLinks {
				return nil, &fs.PathError{Op: "open", Path: path, Err: unix.ELOOP}
			}
			dest, err := readlinkat(top.fd, c)
			if err != nil {
				return nil, &fs.PathError{Op: "readlink", Path: p, Err: err}
			}
			if strings.HasPrefix(dest, "/") {
				for _, e := range stack[1:] {
					unix.Close(e.fd)
				}
				stack = stack[:1]
			}
			comps = append(strings.Split(dest, "/"), comps...)
			continue
		case unix.S_IFDIR:
		default:
			unix.Close(fd)
			return nil, &fs.PathError{Op: "open", Path: p, Err: unix.ENOTDIR}
		}
		if err := checkTrusted(&st, p, path); err != nil {
			unix.Close(fd)
			return nil, err
		}
		stack = append(stack, ent{fd, p})
	}
	top := stack[len(stack)-1]
	fd, err := unix.Openat(top.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{f: os.NewFile(uintptr(fd), path), Path: path}, nil
}

func readlinkat(dirfd int, name string) (string, error) {
	for n := 256; ; n *= 2 {
		buf := make([]byte, n)
		m, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if m < n {
			return string(buf[:m]), nil
		}
	}
}

// Close releases the handle.
func (d *Dir) Close() error { return d.f.Close() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

func (d *Dir) join(name string) string { return filepath.Join(d.Path, name) }

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsRune(name, '/') {
		return fmt.Errorf("%q is not a single file name", name)
	}
	return nil
}

// Lstat describes name in the directory without following a symlink; a
// missing file is (nil, nil).
func (d *Dir) Lstat(name string) (*unix.Stat_t, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	err := unix.Fstatat(d.fd(), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: d.join(name), Err: err}
	}
	return &st, nil
}

// Remove deletes the file name (a symlink itself, never its target) and
// syncs the directory. A missing file is not an error.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Unlinkat(d.fd(), name, 0); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
	}
	return d.Sync()
}

// RemoveDir deletes the empty directory name; a directory that is not
// empty or missing is left, and that is not an error.
func (d *Dir) RemoveDir(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := unix.Unlinkat(d.fd(), name, unix.AT_REMOVEDIR)
	if err == nil || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
		return nil
	}
	return &fs.PathError{Op: "remove", Path: d.join(name), Err: err}
}

// Symlink makes name a symlink to target (an existing name is an error
// wrapping fs.ErrExist).
func (d *Dir) Symlink(target, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, d.fd(), name); err != nil {
		return &fs.PathError{Op: "symlink", Path: d.join(name), Err: err}
	}
	return nil
}

// Chmod sets the directory's own mode.
func (d *Dir) Chmod(mode fs.FileMode) error {
	if err := unix.Fchmod(d.fd(), uint32(mode.Perm())); err != nil {
		return &fs.PathError{Op: "chmod", Path: d.Path, Err: err}
	}
	return nil
}

// Sync fsyncs the directory, so that renames and removals in it are
// durable.
func (d *Dir) Sync() error {
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", d.Path, unwrapPath(err))
	}
	return nil
}

// Names lists the directory's entries.
func (d *Dir) Names() ([]string, error) {
	fd, err := unix.Openat(d.fd(), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: d.Path, Err: err}
	}
	f := os.NewFile(uintptr(fd), d.Path)
	defer f.Close()
	return f.Readdirnames(-1)
}

// CleanStale removes temp files that an interrupted Replace of base left
// in the directory, and returns how many it removed.
func (d *Dir) CleanStale(base string) int {
	names, _ := d.Names()
	n := 0
	prefix := "." + base + tmpInfix
	for _, m := range names {
		if !strings.HasPrefix(m, prefix) {
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(d.fd(), m, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && unix.Unlinkat(d.fd(), m, 0) == nil {
			n++
		}
	}
	return n
}

// pathErr gives a *fs.PathError for name in d.
func (d *Dir) pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: d.join(name), Err: err}
}
