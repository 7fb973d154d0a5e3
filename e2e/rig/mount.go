package rig

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// mountOverlay mounts an overlayfs at merged with lower as its read-only
// layer and upper/work (which must be on one filesystem) taking the writes.
func mountOverlay(lower, upper, work, merged string) error {
	for _, p := range []string{lower, upper, work} {
		// These characters separate overlayfs options and layers.
		if strings.ContainsAny(p, ",:\\") {
			return fmt.Errorf("overlay path %q contains one of , : \\", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := syscall.Mount("overlay", merged, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount -t overlay -o %s overlay %s: %w", opts, merged, err)
	}
	return nil
}

// mountsUnder returns the mount points at or below dir in this process's
// mount namespace, deepest first (the order to unmount them in).
func mountsUnder(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var found []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		// Field 5 (index 4) is the mount point, with space, tab, newline
		// and backslash escaped as \ooo.
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMountinfo(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(found, func(i, j int) bool { return len(found[i]) > len(found[j]) })
	return found, nil
}

// unescapeMountinfo undoes the octal escapes of /proc/self/mountinfo.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			var v byte
			ok := true
			for _, c := range []byte(s[i+1 : i+4]) {
				if c < '0' || c > '7' {
					ok = false
					break
				}
				v = v*8 + (c - '0')
			}
			if ok {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// unmountUnder unmounts everything mounted at or below dir, deepest first.
// A mount that is busy is detached lazily (MNT_DETACH) so that it is gone
// from the namespace even if some process still holds a file in it.
func unmountUnder(dir string) error {
	mps, err := mountsUnder(dir)
	if err != nil {
		return fmt.Errorf("listing mounts under %s: %w", dir, err)
	}
	var errs []string
	for _, mp := range mps {
		if err := syscall.Unmount(mp, 0); err != nil {
			if err2 := syscall.Unmount(mp, syscall.MNT_DETACH); err2 != nil && err2 != syscall.EINVAL {
				errs = append(errs, fmt.Sprintf("umount %s: %v (lazy: %v)", mp, err, err2))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// removeTree unmounts everything under dir and then removes it. Unmounting
// first matters: os.RemoveAll would otherwise descend into a mount (a
// guest's root, or the /proc a killed debootstrap left mounted) and delete
// what is there.
func removeTree(dir string) error {
	if err := unmountUnder(dir); err != nil {
		return err
	}
	if mps, err := mountsUnder(dir); err == nil && len(mps) > 0 {
		return fmt.Errorf("not removing %s: still mounted: %s", dir, strings.Join(mps, " "))
	}
	return os.RemoveAll(dir)
}
