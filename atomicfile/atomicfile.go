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
	"strings"
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
		return "", nil, fmt.Errorf("refusing to replace %s: it is not a regular file (%s)", target, describeMode(fi.Mode()))
	}
	return target, fi, nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// Replace writes data to path atomically and durably. Step by step, and why:
//
//  1. Resolve the path (see Resolve): a symlinked daemon.json has its target
//     replaced, because renaming over the link would turn it into a file.
//  2. Remove temp files a killed earlier run left beside the target; callers
//     hold dlr's lock, so no other run can be writing them.
//  3. Create the temp file in the target's directory (rename is atomic only
//     within one filesystem) exclusively (O_EXCL, never an existing file or a
//     planted symlink) with the final mode from the start, so the content is
//     never readable by more users than the final file allows.
//  4. Give it the old file's owner, group and SELinux label, so that the
//     daemon and the admin's tools see the same file they had.
//  5. Write, fsync and close it, checking each error: a full disk fails
//     here, and the old file is untouched.
//  6. Rename it over the target: readers see the old or the new file.
//  7. Fsync the directory, so that the rename survives a power cut.
//
// On failure the temp file is removed and the target is left as it was.
func Replace(path string, data []byte, opt Options) (Result, error) {
	target, old, err := Resolve(path, opt.FollowSymlink)
	if err != nil {
		return Result{}, err
	}
	res := Result{Target: target, Created: old == nil}
	dir, base := filepath.Split(target)
	if dir == "" {
		dir = "."
	}
	CleanStale(dir, base)

	mode := opt.Mode.Perm()
	if old != nil {
		// The old file's permissions, setuid, setgid and sticky bits
		// included.
		mode = old.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if st, ok := old.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			// A rename gives the name a new inode: the file's other names
			// would keep the old content, silently.
			return res, fmt.Errorf("refusing to replace %s: it has %d hard links, which replacing it would split (the other names would keep the old content); make it a single file, or a symlink, which dlr follows", target, st.Nlink)
		}
	}
	tmp, f, err := createTemp(dir, base, mode.Perm())
	if err != nil {
		return res, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if old != nil {
		if st, isUnix := old.Sys().(*syscall.Stat_t); isUnix {
			if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
				return res, err
			}
		}
		copyLabel(target, f)
	}
	// The umask applied to OpenFile's mode; set the exact one, after the
	// chown (which clears setuid and setgid).
	if err := f.Chmod(mode); err != nil {
		return res, err
	}
	if _, err := f.Write(data); err != nil {
		return res, fmt.Errorf("writing %s: %w", tmp, unwrapPath(err))
	}
	if !opt.NoSync {
		if err := f.Sync(); err != nil {
			return res, fmt.Errorf("syncing %s: %w", tmp, unwrapPath(err))
		}
	}
	if err := f.Close(); err != nil {
		return res, fmt.Errorf("closing %s: %w", tmp, unwrapPath(err))
	}
	if err := os.Rename(tmp, target); err != nil {
		os.Remove(tmp)
		ok = true
		return res, err
	}
	ok = true
	if opt.NoSync {
		return res, nil
	}
	return res, SyncDir(dir)
}

func createTemp(dir, base string, mode fs.FileMode) (string, *os.File, error) {
	for range 10 {
		var r [6]byte
		if _, err := rand.Read(r[:]); err != nil {
			return "", nil, err
		}
		tmp := filepath.Join(dir, "."+base+tmpInfix+hex.EncodeToString(r[:]))
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, mode)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, err // *PathError names the file already
		}
		return tmp, f, nil
	}
	return "", nil, fmt.Errorf("creating a temporary file in %s: too many name collisions", dir)
}

// CleanStale removes temp files that an interrupted Replace of dir/base left
// behind, and returns how many it removed.
func CleanStale(dir, base string) int {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+escapeGlob(base)+tmpInfix+"*"))
	n := 0
	for _, m := range matches {
		if fi, err := os.Lstat(m); err == nil && fi.Mode().IsRegular() && os.Remove(m) == nil {
			n++
		}
	}
	return n
}

func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// copyLabel gives f the SELinux label of the file at path, where there is
// one; on hosts without SELinux there is nothing to copy.
func copyLabel(path string, f *os.File) {
	const attr = "security.selinux"
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, attr, buf)
	if err != nil || n <= 0 || n > len(buf) {
		return
	}
	_ = unix.Fsetxattr(int(f.Fd()), attr, buf[:n], 0)
}

// Remove deletes path (not following a symlink) and syncs its directory. A
// missing file is not an error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, unwrapPath(err))
	}
	return nil
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
