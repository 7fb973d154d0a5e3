// Package atomicfile is dlr's one writer: every file dlr changes on a host
// (daemon.json, its sysctl.d and systemd drop-ins, its state and backups) is
// replaced through Replace, so that a reader, a crash or a full disk sees
// either the old file or the new one, never a mix.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Options say how Replace treats the path it is given.
type Options struct {
	// Mode is the permission of a file Replace creates. An existing file
	// keeps its own mode, owner and group.
	Mode fs.FileMode
	// FollowSymlink makes Replace write through a symlink: the link's final
	// target is replaced and the link itself is left alone. Without it, a
	// symlink is refused; dlr uses that for the files it owns, so that it
	// never follows a link out of its own directories.
	FollowSymlink bool
	// NoSync skips the fsyncs of the file and of the directory (steps 5
	// and 7 below), for a file whose loss after a power cut costs only work
	// (a cache). Readers still see the old or the new file, never a mix.
	NoSync bool
}

// Result says what Replace did.
type Result struct {
	Target  string // the file replaced: the path, or a symlink's target
	Created bool   // there was no file before
}

const tmpInfix = ".dlr-tmp-"

// Resolve returns the regular file path names, following symlinks if follow
// is set, and its FileInfo (nil if it does not exist). It refuses what is not
// a regular file, symlink loops, dangling symlinks, and symlinks when follow
// is false.
func Resolve(path string, follow bool) (string, fs.FileInfo, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	target := path
	if fi.Mode()&fs.ModeSymlink != 0 {
		if !follow {
			return "", nil, fmt.Errorf("refusing to replace %s: it is a symlink, and dlr does not follow symlinks for its own files", path)
		}
		// Stat follows the chain in the kernel, which reports loops as
		// ELOOP; EvalSymlinks does not.
		if _, err = os.Stat(path); err == nil {
			target, err = filepath.EvalSymlinks(path)
		}
		switch {
		case errors.Is(err, syscall.ELOOP):
			return "", nil, fmt.Errorf("refusing to replace %s: symlink loop", path)
		case errors.Is(err, fs.ErrNotExist):
			dest, _ := os.Readlink(path)
			return "", nil, fmt.Errorf("refusing to replace %s: it is a symlink to %s, which does not exist", path, dest)
		case err != nil:
			return "", nil, fmt.Errorf("resolving symlink %s: %w", path, err)
		}
		if fi, err = os.Lstat(target); err != nil {
			return "", nil, err
		}
	}
	if !fi.Mode().IsRegular() {
		return "", nil, fmt.Errorf("refusing to replace %s: it is not a regular file (%s)", target, DescribeMode(fi.Mode()))
	}
	return target, fi, nil
}

// DescribeMode names a file's type for a message ("a directory", "a
// FIFO"), for whatever is not a regular file.
func DescribeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return m.Type().String()
}

// Replace writes data to path atomically and durably, through a [Dir]
// handle on path's directory (see Dir for the checks on the directories on
// the way). Step by step, and why:
//
//  1. Open the directory as a Dir: a directory another user could change
//     is refused, and no later step resolves a path again.
//  2. Lstat the name in it: a symlinked daemon.json (FollowSymlink) has its
//     target replaced, through a Dir on the target's own directory, because
//     renaming over the link would turn it into a file; anything else that
//     is not a regular file is refused.
//  3. Remove temp files a killed earlier run left beside the target; callers
//     hold dlr's lock, so no other run can be writing them.
//  4. Create the temp file in the target's directory (rename is atomic only
//     within one filesystem) exclusively (O_EXCL, never an existing file or a
//     planted symlink) with the final mode from the start, so the content is
//     never readable by more users than the final file allows.
//  5. Give it the old file's owner, group and SELinux label, so that the
//     daemon and the admin's tools see the same file they had.
//  6. Write, fsync and close it, checking each error: a full disk fails
//     here, and the old file is untouched.
//  7. Rename it over the target (renameat, in the same directory handle):
//     readers see the old or the new file.
//  8. Fsync the directory, so that the rename survives a power cut.
//
// On failure the temp file is removed and the target is left as it was.
func Replace(path string, data []byte, opt Options) (Result, error) {
	d, err := OpenDir(dirOf(path))
	if err != nil {
		return Result{}, err
	}
	defer d.Close()
	return d.Replace(filepath.Base(path), data, opt)
}

func dirOf(path string) string {
	dir := filepath.Dir(path)
	if dir == "" {
		return "."
	}
	return dir
}

// Replace is the package's Replace for the file name in d.
func (d *Dir) Replace(name string, data []byte, opt Options) (Result, error) {
	return d.replace(name, data, opt, d.join(name), 0)
}

func (d *Dir) replace(name string, data []byte, opt Options, orig string, hops int) (Result, error) {
	old, err := d.Lstat(name)
	if err != nil {
		return Result{}, err
	}
	if old == nil && hops > 0 {
		dest, _ := os.Readlink(orig)
		return Result{}, fmt.Errorf("refusing to replace %s: it is a symlink to %s, which does not exist", orig, dest)
	}
	if old != nil && old.Mode&unix.S_IFMT == unix.S_IFLNK {
		if !opt.FollowSymlink {
			return Result{}, fmt.Errorf("refusing to replace %s: it is a symlink, and dlr does not follow symlinks for its own files", d.join(name))
		}
		if hops >= maxLinks {
			return Result{}, fmt.Errorf("refusing to replace %s: symlink loop", orig)
		}
		dest, err := readlinkat(d.fd(), name)
		if err != nil {
			return Result{}, d.pathErr("readlink", name, err)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(d.Path, dest)
		}
		nd, err := OpenDir(filepath.Dir(dest))
		switch {
		case errors.Is(err, unix.ELOOP):
			return Result{}, fmt.Errorf("refusing to replace %s: symlink loop", orig)
		case errors.Is(err, fs.ErrNotExist):
			first, _ := os.Readlink(orig)
			return Result{}, fmt.Errorf("refusing to replace %s: it is a symlink to %s, which does not exist", orig, first)
		case err != nil:
			return Result{}, err
		}
		defer nd.Close()
		return nd.replace(filepath.Base(dest), data, opt, orig, hops+1)
	}
	target := d.join(name)
	if old != nil && old.Mode&unix.S_IFMT != unix.S_IFREG {
		return Result{}, fmt.Errorf("refusing to replace %s: it is not a regular file (%s)", target, DescribeMode(unixType(old.Mode)))
	}
	res := Result{Target: target, Created: old == nil}
	d.CleanStale(name)

	mode := opt.Mode.Perm()
	if old != nil {
		// The old file's permissions, setuid, setgid and sticky bits
		// included.
		mode = fs.FileMode(old.Mode&0o777) | unixType(old.Mode&^unix.S_IFMT)
		if old.Nlink > 1 {
			// A rename gives the name a new inode: the file's other names
			// would keep the old content, silently.
			return res, fmt.Errorf("refusing to replace %s: it has %d hard links, which replacing it would split (the other names would keep the old content); make it a single file, or a symlink, which dlr follows", target, old.Nlink)
		}
	}
	tmp, f, err := d.createTemp(name, mode.Perm())
	if err != nil {
		return res, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			unix.Unlinkat(d.fd(), tmp, 0)
		}
	}()
	if old != nil {
		if err := f.Chown(int(old.Uid), int(old.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return res, err
		}
		d.copyLabel(name, f)
	}
	// The umask applied to the open's mode; set the exact one, after the
	// chown (which clears setuid and setgid).
	if err := f.Chmod(mode); err != nil {
		return res, err
	}
	if _, err := f.Write(data); err != nil {
		return res, fmt.Errorf("writing %s: %w", d.join(tmp), unwrapPath(err))
	}
	if !opt.NoSync {
		if err := f.Sync(); err != nil {
			return res, fmt.Errorf("syncing %s: %w", d.join(tmp), unwrapPath(err))
		}
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("closing %s: %w", d.join(tmp), unwrapPath(err))
	}
	if err := unix.Renameat(d.fd(), tmp, d.fd(), name); err != nil {
		unix.Unlinkat(d.fd(), tmp, 0)
		ok = true
		return res, &os.LinkError{Op: "rename", Old: d.join(tmp), New: target, Err: err}
	}
	ok = true
	if opt.NoSync {
		return res, nil
	}
	return res, d.Sync()
}

// unixType turns stat's mode bits into fs.FileMode's, for messages and for
// the setuid, setgid and sticky bits.
func unixType(m uint32) fs.FileMode {
	var fm fs.FileMode
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		fm |= fs.ModeDir
	case unix.S_IFIFO:
		fm |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		fm |= fs.ModeSocket
	case unix.S_IFCHR:
		fm |= fs.ModeCharDevice | fs.ModeDevice
	case unix.S_IFBLK:
		fm |= fs.ModeDevice
	case unix.S_IFLNK:
		fm |= fs.ModeSymlink
	}
	if m&unix.S_ISUID != 0 {
		fm |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		fm |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

func (d *Dir) createTemp(base string, mode fs.FileMode) (string, *os.File, error) {
	for range 10 {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", nil, err
		}
		tmp := "." + base + tmpInfix + hex.EncodeToString(r[:])
		fd, err := unix.Openat(d.fd(), tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode))
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return "", nil, d.pathErr("open", tmp, err)
		}
		return tmp, os.NewFile(uintptr(fd), d.join(tmp)), nil
	}
	return "", nil, fmt.Errorf("creating a temporary file in %s: too many name collisions", d.Path)
}

// CleanStale removes temp files that an interrupted Replace of dir/base left
// behind, and returns how many it removed.
func CleanStale(dir, base string) int {
	d, err := OpenDir(dir)
	if err != nil {
		return 0
	}
	defer d.Close()
	return d.CleanStale(base)
}

// copyLabel gives f the SELinux label of the file name in d, where there
// is one; on hosts without SELinux there is nothing to copy.
func (d *Dir) copyLabel(name string, f *os.File) {
	const attr = "security.selinux"
	fd, err := unix.Openat(d.fd(), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	n, err := unix.Fgetxattr(fd, attr, buf)
	if err != nil || n <= 0 || n > len(buf) {
		return
	}
	_ = unix.Fsetxattr(int(f.Fd()), attr, buf[:n], 0)
}

// Remove deletes path (not following a symlink) through a Dir on its
// directory, and syncs the directory. A missing file is not an error.
func Remove(path string) error {
	return removeIn(path, (*Dir).Remove)
}

// RemoveDir deletes the directory path if it is empty (through a Dir on
// the directory above it).
func RemoveDir(path string) error {
	return removeIn(path, (*Dir).RemoveDir)
}

// removeIn calls remove on a Dir of path's directory with path's base
// name; a missing directory means there is nothing to remove.
func removeIn(path string, remove func(*Dir, string) error) error {
	d, err := OpenDir(dirOf(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return remove(d, filepath.Base(path))
}

// Symlink makes path a symlink to target, through a Dir on path's
// directory.
func Symlink(target, path string) error {
	d, err := OpenDir(dirOf(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Symlink(target, filepath.Base(path))
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// unwrapPath drops an *fs.PathError's own path when the caller's message
// already names the file, so errors do not repeat it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
