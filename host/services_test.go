package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testRoot(t *testing.T) *Env {
	t.Helper()
	e := New()
	e.Root = t.TempDir()
	e.Euid = func() int { return 0 }
	env := map[string]string{}
	e.Getenv = func(k string) string { return env[k] }
	os.MkdirAll(filepath.Join(e.Root, "proc/1"), 0o755)
	os.MkdirAll(filepath.Join(e.Root, "run/systemd/system"), 0o755)
	os.Symlink("/", filepath.Join(e.Root, "proc/1/root"))
	return e
}

func TestServicesBlocked(t *testing.T) {
	ctx := context.Background()
	e := testRoot(t)
	if why := e.ServicesBlocked(ctx, true); why != "" {
		t.Fatalf("a plain host is blocked: %q", why)
	}
	// policy-rc.d: 101 blocks, any other answer does not.
	p := filepath.Join(e.Root, "usr/sbin/policy-rc.d")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if why := e.ServicesBlocked(ctx, true); why != "" {
		t.Errorf("policy-rc.d exit 0 blocks: %q", why)
	}
	os.WriteFile(p, []byte("#!/bin/sh\n[ \"$1 $2\" = \"docker reload\" ] && exit 101\nexit 0\n"), 0o755)
	if why := e.ServicesBlocked(ctx, true); !strings.Contains(why, "policy-rc.d forbids touching services (exit 101)") {
		t.Errorf("policy-rc.d 101: %q", why)
	}
	os.Remove(p)
	// No systemd: units only.
	os.RemoveAll(filepath.Join(e.Root, "run/systemd"))
	if why := e.ServicesBlocked(ctx, false); why != "" {
		t.Errorf("no systemd blocks dockerd's reload: %q", why)
	}
	if why := e.ServicesBlocked(ctx, true); why != "systemd is not running" {
		t.Errorf("no systemd, units: %q", why)
	}
	// An image build.
	e.Getenv = func(k string) string {
		if k == "DPKG_ROOT" {
			return "/srv/img"
		}
		return ""
	}
	if why := e.ServicesBlocked(ctx, false); why != "installing into /srv/img (DPKG_ROOT)" {
		t.Errorf("DPKG_ROOT: %q", why)
	}
	// A chroot: /proc/1/root is not our /.
	e = testRoot(t)
	os.Remove(filepath.Join(e.Root, "proc/1/root"))
	os.Symlink(t.TempDir(), filepath.Join(e.Root, "proc/1/root"))
	if why := e.ServicesBlocked(ctx, false); !strings.Contains(why, "chroot") {
		t.Errorf("chroot: %q", why)
	}
}
