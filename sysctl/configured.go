package sysctl

import (
	"errors"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Dirs locates the sysctl configuration. Every path is joined under Root,
// which is "/" when empty; tests set it to a temporary directory.
type Dirs struct {
	Root string
}

// sysctlDirs lists the sysctl.d directories in decreasing priority, as
// systemd-sysctl searches them. /lib/sysctl.d is searched too: systemd does
// so on split-/usr systems, and on merged-/usr systems it is /usr/lib/sysctl.d
// again, whose files it cannot add to since a name found once shadows the
// same name in later directories.
func (d Dirs) sysctlDirs() []string {
	return []string{
		d.path("/etc/sysctl.d"),
		d.path("/run/sysctl.d"),
		d.path("/usr/local/lib/sysctl.d"),
		d.path("/usr/lib/sysctl.d"),
		d.path("/lib/sysctl.d"),
	}
}

// DropInPath returns the path of dlr's drop-in: /etc/sysctl.d/[DropInName]
// under Root.
func (d Dirs) DropInPath() string { return d.path("/etc/sysctl.d/" + DropInName) }

// SysctlConf returns the path of /etc/sysctl.conf under Root.
func (d Dirs) SysctlConf() string { return d.path("/etc/sysctl.conf") }

func (d Dirs) path(p string) string {
	root := d.Root
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, p)
}

// Configured reads the sysctl configuration under d and returns the setting
// that decides key at boot, and every line that concerns key (assigns it,
// excludes it, or assigns a glob matching it) in the order they are applied.
// The winner is the zero Setting when no line sets key (none concerns it, or
// the last one for the key is an exclusion), so that the kernel default
// stays.
//
// Files are found as systemd-sysctl(8) finds them (sysctl.d(5)): every
// "*.conf" file, not hidden, in /etc/sysctl.d, /run/sysctl.d,
// /usr/local/lib/sysctl.d, /usr/lib/sysctl.d and /lib/sysctl.d. A name found
// in an earlier directory shadows the same name in later ones; a symlink to
// /dev/null masks the name (as does a dangling symlink, which systemd-sysctl
// cannot read either). Symlinks are followed on the host, so an absolute link
// target is not re-rooted under Root. The files are read in order
// of file name across all directories. /etc/sysctl.conf, which procps'
// "sysctl --system" reads after all of them, is read last unless one of those
// files already is it (Debian ships /etc/sysctl.d/99-sysctl.conf ->
// ../sysctl.conf, and systemd-sysctl reads it only there). Missing
// directories are skipped; any other failure to list or read is an error
// naming the path.
//
// Keys may be written with "." or "/" separators; lines are read as
// described on [Setting], and the winner is chosen as systemd-sysctl chooses
// the value it writes (later lines win, an explicit key beats a matching
// glob).
func Configured(d Dirs, key string) (Setting, []Setting, error) {
	norm := normalizeKey(key)
	if norm == "" || isGlob(norm) {
		return Setting{}, nil, fmt.Errorf("reading sysctl configuration: %q is not a sysctl key such as %s", key, Key)
	}
	files, err := d.files()
	if err != nil {
		return Setting{}, nil, fmt.Errorf("reading sysctl configuration: %w", err)
	}
	var seen []Setting
	for _, f := range files {
		data, err := atomicfile.ReadFile(f, atomicfile.MaxRead)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since it was listed
		}
		if err != nil {
			return Setting{}, nil, fmt.Errorf("reading sysctl configuration: %w", err)
		}
		for _, s := range parseConf(f, data) {
			if concerns(s, norm) {
				seen = append(seen, s)
			}
		}
	}
	winner, ok := effective(seen, norm)
	if !ok {
		winner = Setting{}
	}
	return winner, seen, nil
}

// Sources lists what [Configured] reads, for a caller that wants to notice
// a change without reading it all again: the sysctl.d directories (adding,
// removing or renaming a file changes its directory), every configuration
// file and, for a symlink, what it resolves to, and /etc/sysctl.conf.
func (d Dirs) Sources() ([]string, error) {
	files, err := d.files()
	if err != nil {
		return nil, fmt.Errorf("reading sysctl configuration: %w", err)
	}
	out := d.sysctlDirs()
	for _, f := range files {
		out = append(out, f)
		if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
			out = append(out, t)
		}
	}
	return append(out, d.SysctlConf()), nil
}

// files lists the configuration files in the order they are applied.
func (d Dirs) files() ([]string, error) {
	type conf struct{ name, path string }
	var confs []conf
	claimed := map[string]bool{}
	for _, dir := range d.sysctlDirs() {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name := e.Name()
			// Like systemd's conf_files_list: only regular files and
			// symlinks count, hidden ones do not, and the first directory
			// that has a name claims it.
			t := e.Type()
			if !strings.HasSuffix(name, ".conf") || strings.HasPrefix(name, ".") ||
				!(t.IsRegular() || t&fs.ModeSymlink != 0) || claimed[name] {
				continue
			}
			claimed[name] = true
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err != nil || !st.Mode().IsRegular() {
				// A symlink to /dev/null masks the name; so does a
				// dangling or otherwise unreadable symlink, which
				// systemd-sysctl lists and then fails to read.
				continue
			}
			confs = append(confs, conf{name, p})
		}
	}
	slices.SortFunc(confs, func(a, b conf) int { return strings.Compare(a.name, b.name) })
	paths := make([]string, 0, len(confs)+1)
	for _, c := range confs {
		paths = append(paths, c.path)
	}

	legacy := d.SysctlConf()
	st, err := os.Stat(legacy)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return paths, nil
	case err != nil:
		return nil, err
	case !st.Mode().IsRegular():
		return paths, nil
	}
	for _, p := range paths {
		if other, err := os.Stat(p); err == nil && os.SameFile(st, other) {
			return paths, nil
		}
	}
	return append(paths, legacy), nil
}
