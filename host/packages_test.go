package host

import (
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
	got, err := ParseAptHook(strings.NewReader(aptV3), keep)
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
	got, err = ParseAptHook(strings.NewReader(v2), keep)
	if err != nil || len(got) != 1 || got[0] != (guard.PkgChange{Package: "docker.io", New: "28.5.2+dfsg4-5"}) {
		t.Errorf("VERSION 2: %+v %v", got, err)
	}
	for _, bad := range []string{"", "/var/cache/apt/archives/x.deb\n", "VERSION 3\n\ndocker.io 1 < 2 /x.deb\n"} {
		if _, err := ParseAptHook(strings.NewReader(bad), keep); err == nil {
			t.Errorf("%q: no error", bad)
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
