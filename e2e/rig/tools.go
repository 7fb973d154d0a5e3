package rig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
)

// hostTools maps each host command the rig runs to the Debian package that
// provides it.
var hostTools = map[string]string{
	"debootstrap":    "debootstrap",
	"systemd-nspawn": "systemd-container",
	"nsenter":        "util-linux",
	"unshare":        "util-linux",
	"mount":          "mount",
	"cp":             "coreutils",
}

// extraPackages are installed along with a tool's package: debootstrap only
// recommends the keyring it needs to verify the archive.
var extraPackages = map[string][]string{
	"debootstrap": {"debian-archive-keyring"},
}

var toolsMu sync.Mutex

// ensureTools checks that the process runs as root and that every host tool
// is on $PATH, and installs the Debian packages of the missing ones with
// apt-get (apt-get update first). It returns an error naming what is still
// missing if that fails.
func ensureTools(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("rig: must run as root (systemd-nspawn, mount and debootstrap need it)")
	}
	toolsMu.Lock()
	defer toolsMu.Unlock()

	pkgSet := map[string]bool{}
	for tool, pkg := range hostTools {
		if _, err := exec.LookPath(tool); err != nil {
			pkgSet[pkg] = true
			for _, p := range extraPackages[tool] {
				pkgSet[p] = true
			}
		}
	}
	if len(pkgSet) == 0 {
		return nil
	}
	var pkgs []string
	for p := range pkgSet {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)

	ctx, cancel := context.WithTimeout(ctx, toolInstallTimeout)
	defer cancel()
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	steps := [][]string{
		{"apt-get", "update"},
		append([]string{"apt-get", "install", "-y", "--no-install-recommends",
			"-o", "DPkg::Lock::Timeout=300"}, pkgs...),
	}
	for _, args := range steps {
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("rig: installing host packages %s: %s: %w\n%s",
				strings.Join(pkgs, " "), strings.Join(args, " "), err, tail(string(out), 20))
		}
	}
	for tool := range hostTools {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("rig: %s still missing after installing %s: %w",
				tool, strings.Join(pkgs, " "), err)
		}
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
