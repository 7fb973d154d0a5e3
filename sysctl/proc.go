package sysctl

import (
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// DefaultProcSys is where the kernel exposes sysctls.
const DefaultProcSys = "/proc/sys"

// Running returns the current value of key (such as [Key]) from procSys
// ([DefaultProcSys] when empty). Keys may use "." or "/" separators.
func Running(procSys string, key string) (uint64, error) {
	p, err := procPath(procSys, key)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	data, err := atomicfile.ReadFile(p, atomicfile.MaxRead)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", key, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %s holds %q, not a number", key, p, strings.TrimSpace(string(data)))
	}
	return v, nil
}

// Apply writes n to key (such as [Key]) under procSys ([DefaultProcSys] when
// empty), then reads it back. The file must exist; nothing is created. It is
// an error when the kernel refuses the value or holds a different value
// afterwards (the kernel rounds fs.pipe-max-size up to a power of two, so
// pass a value that passed [ValidatePipeMaxSize]). Apply does not check
// whether n is lower than the running value; [Plan] decides that. Nothing
// persists across a reboot: that is the drop-in's job.
func Apply(procSys string, key string, n uint64) error {
	p, err := procPath(procSys, key)
	if err != nil {
		return fmt.Errorf("setting %s: %w", key, err)
	}
	// O_TRUNC matters only for the regular files tests use; /proc/sys
	// ignores it, as it does for sysctl -w.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("setting %s to %d: %w", key, n, err)
	}
	_, werr := f.WriteString(strconv.FormatUint(n, 10) + "\n")
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("setting %s to %d: %w", key, n, werr)
	}
	if cerr != nil {
		return fmt.Errorf("setting %s to %d: %w", key, n, cerr)
	}
	got, err := Running(procSys, key)
	if err != nil {
		return fmt.Errorf("setting %s to %d: %w", key, n, err)
	}
	if got != n {
		return fmt.Errorf("setting %s to %d: %s reads back %d", key, n, p, got)
	}
	return nil
}

// procPath returns the file under procSys that holds key.
func procPath(procSys, key string) (string, error) {
	if procSys == "" {
		procSys = DefaultProcSys
	}
	n := normalizeKey(key)
	if n == "" || isGlob(n) || slices.Contains(strings.Split(n, "/"), "..") {
		return "", fmt.Errorf("%q is not a sysctl key such as %s", key, Key)
	}
	return filepath.Join(procSys, filepath.FromSlash(n)), nil
}
