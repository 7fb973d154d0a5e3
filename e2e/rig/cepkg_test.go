package rig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCEScripts runs the docker-ce-like package's maintainer scripts as
// dpkg calls them, with deb-systemd-invoke, deb-systemd-helper and
// systemctl replaced by recorders and a /run/systemd/system of their own
// (a private mount namespace with a tmpfs on /run), and checks what they
// ask systemd to do: a fresh install starts docker.service and
// docker.socket, an upgrade, a downgrade or a reinstall restarts them, a
// prerm stops them only on remove, and without a running systemd nothing
// is started at all.
func TestCEScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the scripts run in a private mount namespace with a tmpfs on /run")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("needs unshare (util-linux)")
	}
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "calls")
	for _, name := range []string{"deb-systemd-invoke", "deb-systemd-helper", "systemctl", "getent", "groupadd"} {
		script := "#!/bin/sh\necho \"" + name + " $*\" >> " + log + "\n"
		if name == "deb-systemd-helper" {
			script += "[ \"$1\" = --quiet ] && [ \"$2\" = was-enabled ] && exit 0\n" // a fresh install: enable
		}
		if name == "getent" {
			script += "exit 0\n" // the docker group exists
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	scripts := t.TempDir()
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		data, err := cepkgFiles.ReadFile("cepkg/" + s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scripts, s), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func(systemd bool, script string, args ...string) []string {
		t.Helper()
		os.Remove(log)
		setup := "mount -t tmpfs tmpfs /run"
		if systemd {
			setup += " && mkdir -p /run/systemd/system"
		}
		cmd := exec.Command("unshare", append([]string{"--mount", "sh", "-c",
			setup + ` && exec "$0" "$@"`, filepath.Join(scripts, script)}, args...)...)
		cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", script, args, err, out)
		}
		b, _ := os.ReadFile(log)
		var invoked []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if strings.HasPrefix(l, "deb-systemd-invoke ") {
				invoked = append(invoked, strings.TrimPrefix(l, "deb-systemd-invoke "))
			}
		}
		return invoked
	}
	for _, tc := range []struct {
		systemd bool
		script  string
		args    []string
		want    string
	}{
		{true, "postinst", []string{"configure"}, "start docker.service docker.socket"},
		{true, "postinst", []string{"configure", "5:28.5.2-1~debian.14~forky"}, "restart docker.service docker.socket"},
		{true, "postinst", []string{"configure", "5:29.7.1-1~debian.14~forky"}, "restart docker.service docker.socket"}, // reinstall or downgrade: the old version is set all the same
		{true, "prerm", []string{"upgrade", "5:29.7.1-1~debian.14~forky"}, ""},
		{true, "prerm", []string{"remove"}, "stop docker.service docker.socket"},
		{false, "postinst", []string{"configure", "5:28.5.2-1~debian.14~forky"}, ""}, // a chroot, an image build
		{false, "prerm", []string{"remove"}, ""},
	} {
		got := strings.Join(run(tc.systemd, tc.script, tc.args...), "; ")
		if got != tc.want {
			t.Errorf("systemd=%v %s %v: deb-systemd-invoke %q, want %q", tc.systemd, tc.script, tc.args, got, tc.want)
		}
	}
}
