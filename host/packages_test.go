package host

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/guard"
)

// aptV3 is what apt 2.x gives a DPkg::Pre-Install-Pkgs command with
// Version "3" (shape recorded from apt on Debian 12: a VERSION line, the
// configuration, a blank line, one line per action).
const aptV3 = `VERSION 3
APT::Architecture=amd64
APT::Build-Essential::=build-essential
DPkg::Pre-Install-Pkgs::=/usr/sbin/dpkg-preconfigure --apt || true

containerd 1.7.24~ds1-6+deb13u1 amd64 none < 2.1.9+ds1-5 amd64 none /var/cache/apt/archives/containerd_2.1.9+ds1-5_amd64.deb
docker.io 26.1.5+dfsg1-9+deb13u1+b1 amd64 none < 28.5.2+dfsg4-5 amd64 none /tmp/debs/docker.io_28.5.2+dfsg4-5_amd64.deb
docker-cli 26.1.5+dfsg1-9+deb13u1+b1 amd64 none < 28.5.2+dfsg4-5 amd64 none /tmp/debs/docker-cli_28.5.2+dfsg4-5_amd64.deb
tini - - none < 0.19.0-6+b2 amd64 none /tmp/debs/tini_0.19.0-6+b2_amd64.deb
runc 1.1.15+ds1-2+b4 amd64 none < 1.3.6+ds1-1 amd64 none /tmp/debs/runc_1.3.6+ds1-1_amd64.deb
containerd 1.7.24~ds1-6+deb13u1 amd64 none < 2.1.9+ds1-5 amd64 none **CONFIGURE**
moby-engine 20.10 amd64 none > - - none **REMOVE**`

func TestParseAptHook(t *testing.T) {
	keep := func(p string) bool { return p != "docker-cli" && p != "tini" }
	got, _, err := ParseAptHook(strings.NewReader(aptV3), keep)
	if err != nil {
		t.Fatal(err)
	}
	want := []guard.PkgChange{
		{Package: "containerd", Old: "1.7.24~ds1-6+deb13u1", New: "2.1.9+ds1-5"},
		{Package: "docker.io", Old: "26.1.5+dfsg1-9+deb13u1+b1", New: "28.5.2+dfsg4-5"},
		{Package: "runc", Old: "1.1.15+ds1-2+b4", New: "1.3.6+ds1-1"},
		{Package: "moby-engine", Old: "20.10", Remove: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, got[i], want[i])
		}
	}

	v2 := "VERSION 2\nAPT::Architecture=amd64\n\ndocker.io - < 28.5.2+dfsg4-5 /x/docker.io.deb\n"
	got, _, err = ParseAptHook(strings.NewReader(v2), keep)
	if err != nil || len(got) != 1 || got[0] != (guard.PkgChange{Package: "docker.io", New: "28.5.2+dfsg4-5"}) {
		t.Errorf("VERSION 2: %+v %v", got, err)
	}
	for _, bad := range []string{"", "/var/cache/apt/archives/x.deb\n", "VERSION 3\n\ndocker.io 1 < 2 /x.deb\n"} {
		if _, _, err := ParseAptHook(strings.NewReader(bad), keep); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// Issue 21, item 2: apt writes the .deb's file name raw at the end of the
// line, so a path with spaces gives more than 9 (5) space-separated words;
// and a line dlr cannot read that names no Docker package is skipped with a
// note, never fatal.
func TestParseAptHookAsAptWritesIt(t *testing.T) {
	keep := guard.DockerPackage
	v3 := "VERSION 3\nAPT::Architecture=amd64\n\n" +
		"docker.io 26.1.5 amd64 none < 28.5.2+dfsg4-5 amd64 none /root/My Debs/docker.io_28.5.2_amd64.deb\n" +
		"tini - - none < 0.19.0 amd64 none /root/My Debs/tini 0.19.deb\n" +
		"a line apt never wrote\n" +
		"mystery\n" +
		"curl " + strings.Repeat("x", 2<<20) + "\n" +
		"runc 1.1 amd64 none < 1.3 amd64 none /tmp/runc.deb\n"
	got, notes, err := ParseAptHook(strings.NewReader(v3), keep)
	if err != nil {
		t.Fatal(err)
	}
	want := []guard.PkgChange{{Package: "docker.io", Old: "26.1.5", New: "28.5.2+dfsg4-5"}, {Package: "runc", Old: "1.1", New: "1.3"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(notes) != 3 {
		t.Errorf("notes = %q; want one for each of the 3 unreadable non-Docker lines", notes)
	}
	for _, n := range notes {
		if len(n) > 400 {
			t.Errorf("a note of %d bytes: the line is echoed whole", len(n))
		}
	}
	v2 := "VERSION 2\n\ndocker.io - < 28.5.2 ./My Debs/docker.io_28.5.2_amd64.deb\nfoo bar\n"
	got, notes, err = ParseAptHook(strings.NewReader(v2), keep)
	if err != nil || len(got) != 1 || got[0] != (guard.PkgChange{Package: "docker.io", New: "28.5.2"}) || len(notes) != 1 {
		t.Errorf("VERSION 2 with a space in the path: %+v %q %v", got, notes, err)
	}
	for _, bad := range []string{
		"VERSION 3x\n\n",
		"VERSION 3\n\ndocker.io 1 amd64 none < 2\n",                    // a Docker line cut short: fatal
		"VERSION 3\n\ndocker.io  1 amd64 none < 2 amd64 none /x.deb\n", // two spaces: not apt's
		"VERSION 3\n\ndocker.io " + strings.Repeat("1", 2<<20) + "\n",
	} {
		_, _, err := ParseAptHook(strings.NewReader(bad), keep)
		if err == nil {
			t.Errorf("%.60q: no error", bad)
		} else if len(err.Error()) > 400 {
			t.Errorf("%.60q: an error of %d bytes", bad, len(err.Error()))
		}
	}
}

func TestParsePolicy(t *testing.T) {
	out := `containerd:
  Installed: 1.7.24~ds1-6+deb13u1
  Candidate: 2.1.9+ds1-5
  Version table:
     2.1.9+ds1-5 500
        500 http://deb.debian.org/debian forky/main amd64 Packages
 *** 1.7.24~ds1-6+deb13u1 100
        100 /var/lib/dpkg/status
docker.io:
  Installed: 26.1.5+dfsg1-9+deb13u1+b1
  Candidate: 26.1.5+dfsg1-9+deb13u1+b1
docker-ce:
  Installed: (none)
  Candidate: 5:28.5.2-1~debian.13~trixie
`
	got := parsePolicy(out)
	if len(got) != 1 || got[0] != (guard.PkgChange{Package: "containerd", Old: "1.7.24~ds1-6+deb13u1", New: "2.1.9+ds1-5"}) {
		t.Errorf("got %+v", got)
	}
}

// Issue 21, item 9's small ones: the same .deb named twice gave two
// findings, and FOO.DEB was refused.
func TestPackageFilesDedupAndCase(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("dpkg-deb is not installed")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "pkg/DEBIAN"), 0o755)
	os.WriteFile(filepath.Join(dir, "pkg/DEBIAN/control"), []byte("Package: dlr-test-pkg\nVersion: 1.2-3\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: test\n"), 0o644)
	deb := filepath.Join(dir, "My Debs", "DLR.DEB")
	os.MkdirAll(filepath.Dir(deb), 0o755)
	if out, err := exec.Command("dpkg-deb", "--build", filepath.Join(dir, "pkg"), deb).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb --build: %v\n%s", err, out)
	}
	got, err := New().PackageFiles(context.Background(), []string{deb, deb})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Package != "dlr-test-pkg" || got[0].New != "1.2-3" {
		t.Errorf("got %+v; want one change of dlr-test-pkg to 1.2-3", got)
	}
}

// Issue 21, item 9: a unit file's backslash continuation and a line over
// 64 KiB were not read.
func TestDependencyLinesAsSystemdReadsThem(t *testing.T) {
	long := "Description=" + strings.Repeat("x", 100<<10)
	unitFile := "[Unit]\n" + long + "\nWants=a.service \\\n  containerd.service\nBindsTo=b.service \\\n# a comment inside\n  containerd.service\n"
	got := DependencyLines([]byte(unitFile), "containerd.service")
	if len(got) != 1 || !strings.HasPrefix(got[0], "BindsTo=b.service") {
		t.Errorf("got %q; want the BindsTo= line joined from its continuation", got)
	}
}
