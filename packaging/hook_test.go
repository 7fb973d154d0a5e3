// Package packaging holds the package's maintainer scripts and settings
// (built by `make packages`); this test runs the apt hook the way apt does.
package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hookScript builds the hook as mk/packaging.mk does: common.sh with its
// name put in, then apt-preflight.sh.
func hookScript(t *testing.T, dir string) string {
	t.Helper()
	common, err := os.ReadFile("scripts/common.sh")
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile("scripts/apt-preflight.sh")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "apt-preflight")
	s := strings.ReplaceAll(string(common), "@NAME@", "apt-preflight") + string(body)
	if err := os.WriteFile(p, []byte(s), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 21, item 6: PREFLIGHT_TIMEOUT=0 passed the hook's digit check, and
// `timeout 0` means no limit, so a hanging dlr blocked apt for ever. A 0,
// an absurd value or a non-number is refused, saying so, and the default
// bound (30 s) is used. The test puts a timeout(1) on PATH that records
// the limit it is given.
func TestHookTimeoutBounded(t *testing.T) {
	dir := t.TempDir()
	script := hookScript(t, dir)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	record := filepath.Join(dir, "limit")
	os.WriteFile(filepath.Join(bin, "timeout"), []byte("#!/bin/sh\nprintf '%s\\n' \"$3\" > "+record+"\nexit 124\n"), 0o755)
	os.WriteFile(filepath.Join(bin, "dlr"), []byte("#!/bin/sh\nsleep 1000\n"), 0o755)
	const input = "VERSION 3\nAPT::Architecture=amd64\n\ndocker.io 26.1 amd64 none < 28.5 amd64 none /tmp/My Debs/docker.io.deb\n"
	for _, c := range []struct {
		value, want string
		warned      bool
	}{
		{"45", "45", false},
		{"600", "600", false},
		{"0", "30", true},
		{"00", "30", true},
		{"601", "30", true},
		{"99999999999999999999", "30", true},
		{"-1", "30", true},
		{"1e3", "30", true},
	} {
		os.Remove(record)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		cmd := exec.CommandContext(ctx, "sh", script)
		cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "DLR_PREFLIGHT_TIMEOUT="+c.value, "DLR_STRICT=no", "DLR_PREFLIGHT=yes")
		cmd.Stdin = strings.NewReader(input)
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("PREFLIGHT_TIMEOUT=%s: %v\n%s", c.value, err, out)
			continue
		}
		got, _ := os.ReadFile(record)
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("PREFLIGHT_TIMEOUT=%s: timeout given %q, want %s\n%s", c.value, got, c.want, out)
		}
		if warned := strings.Contains(string(out), "not a whole number of seconds from 1 to 600"); warned != c.warned {
			t.Errorf("PREFLIGHT_TIMEOUT=%s: warned %v, want %v\n%s", c.value, warned, c.warned, out)
		}
	}
}
