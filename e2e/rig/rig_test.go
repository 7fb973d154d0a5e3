package rig

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// These tests cover the pure helpers; booting guests is tested by the
// e2e-tagged tests of package e2e.

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/plain`:         `/tmp/plain`,
		`/tmp/a\040b`:        `/tmp/a b`,
		`/tmp/tab\011x\134y`: "/tmp/tab\tx\\y",
		`/tmp/short\04`:      `/tmp/short\04`,
		`/tmp/notoct\09x`:    `/tmp/notoct\09x`,
	} {
		if got := unescapeMountinfo(in); got != want {
			t.Errorf("unescapeMountinfo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIncludeListAndStamp(t *testing.T) {
	b, err := includeList("bookworm")
	if err != nil || b != "systemd,systemd-sysv,dbus,docker.io,iproute2,procps,rpm,jq,ansible-core,python3-cffi-backend,python3-apt" {
		t.Errorf("bookworm: %q, %v", b, err)
	}
	x, err := includeList("trixie")
	if err != nil || x != b+",docker-cli" {
		t.Errorf("trixie: %q, %v", x, err)
	}
	if f, err := includeList("forky"); err != nil || f != x {
		t.Errorf("forky: %q, %v", f, err)
	}
	if _, err := includeList("sid"); err == nil {
		t.Error("sid accepted")
	}
	if _, err := includeList("upstream"); err == nil {
		t.Error("a derived suite was given a debootstrap list")
	}
	// The fleet suite is trixie's list and its own packages, and its stamp
	// names the Debian suite; the other stamps stay as they were, so that
	// no cache is rebuilt for nothing.
	fl, err := includeList(FleetSuite)
	if err != nil || fl != x+",openssh-server,openssh-client,prometheus-node-exporter,curl" {
		t.Errorf("fleet: %q, %v", fl, err)
	}
	if got := string(stampFor(FleetSuite, fl)); !strings.HasSuffix(got, "include="+fl+"\ndebian=trixie\n") {
		t.Errorf("fleet stamp %q", got)
	}
	if got := string(stampFor("trixie", x)); got != stampVersion+"\nsuite=trixie\nvariant=minbase\ninclude="+x+"\n" {
		t.Errorf("trixie stamp changed: %q", got)
	}
	// The stamp changes with the package list, so that a changed list
	// rebuilds the cache.
	if string(stampFor("bookworm", b)) == string(stampFor("bookworm", b+",curl")) {
		t.Error("stamp does not depend on the package list")
	}
	if !strings.Contains(string(stampFor("trixie", x)), "include="+x+"\n") {
		t.Errorf("stamp %q lacks the package list", stampFor("trixie", x))
	}
}

func TestDebootstrapArgs(t *testing.T) {
	// bookworm's debootstrap has no forky script: sid's is named.
	for suite, want := range map[string]string{
		"bookworm": "--variant=minbase --include=P bookworm /d http://deb.debian.org/debian",
		"trixie":   "--variant=minbase --include=P trixie /d http://deb.debian.org/debian",
		"forky":    "--variant=minbase --include=P forky /d http://deb.debian.org/debian /usr/share/debootstrap/scripts/sid",
		FleetSuite: "--variant=minbase --include=P trixie /d http://deb.debian.org/debian",
	} {
		if got := strings.Join(debootstrapArgs(suite, "P", "/d"), " "); got != want {
			t.Errorf("%s: %s, want %s", suite, got, want)
		}
	}
	if len(DebianSuites()) != len(suitePackages) {
		t.Errorf("DebianSuites() = %v, but suitePackages has %d", DebianSuites(), len(suitePackages))
	}
	for _, s := range Suites() {
		_, debian := suitePackages[s]
		d, derived := derivedSuites[s]
		if debian == derived {
			t.Errorf("suite %s: want it either debootstrapped or derived", s)
		}
		if derived && DebianSuite(s) != d.base {
			t.Errorf("DebianSuite(%s) = %s, want %s", s, DebianSuite(s), d.base)
		}
	}
	for _, s := range Suites() {
		if s == FleetSuite {
			t.Error("the fleet suite is in Suites(): suite-looping tests would run on it")
		}
	}
	if DebianSuite(FleetSuite) != "trixie" {
		t.Errorf("DebianSuite(fleet) = %s", DebianSuite(FleetSuite))
	}
	if _, err := upstreamRelease(UpstreamSuiteRelease); err != nil {
		t.Errorf("the upstream suite's release is not pinned: %v", err)
	}
}

func TestPathStaysInRoot(t *testing.T) {
	g := &Guest{root: "/tmp/dlr-rig-1/merged"}
	for in, want := range map[string]string{
		"/etc/docker/daemon.json": "/tmp/dlr-rig-1/merged/etc/docker/daemon.json",
		"etc/hostname":            "/tmp/dlr-rig-1/merged/etc/hostname",
		"/../../etc/passwd":       "/tmp/dlr-rig-1/merged/etc/passwd",
		"/":                       "/tmp/dlr-rig-1/merged",
	} {
		if got := g.Path(in); got != want {
			t.Errorf("Path(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTail(t *testing.T) {
	if got := tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("tail = %q", got)
	}
	if got := tail("a", 5); got != "a" {
		t.Errorf("tail = %q", got)
	}
}

func TestQuoteArgs(t *testing.T) {
	if got := quoteArgs([]string{"sh", "-c", "exit 3", ""}); got != `sh -c "exit 3" ""` {
		t.Errorf("quoteArgs = %s", got)
	}
}

func TestDebFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"tini_0.19.0-6+b2_amd64.deb", "tini-static_0.19.0-6+b2_amd64.deb", "runc_1.3.6+ds1-1_amd64.deb"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// "tini" must not match tini-static's file.
	got, err := debFiles(dir, []string{"runc", "tini", "tini-static"})
	if err != nil || len(got) != 3 || filepath.Base(got[1]) != "tini_0.19.0-6+b2_amd64.deb" {
		t.Errorf("debFiles = %v, %v", got, err)
	}
	if _, err := debFiles(dir, []string{"containerd"}); err == nil {
		t.Error("a missing package was not reported")
	}
}

func TestParseRouteDsts(t *testing.T) {
	// Trimmed from "ip -j -4 route show table all" on a rig host.
	j := `[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
{"dst":"192.0.2.0/24","dev":"eth0","protocol":"kernel","scope":"link","prefsrc":"192.0.2.2","flags":[]},
{"type":"local","dst":"127.0.0.1","table":"local","dev":"lo","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},
{"type":"unreachable","dst":"0.0.0.0/0","table":"99","flags":[]}]`
	got, err := parseRouteDsts([]byte(j))
	if err != nil || fmt.Sprint(got) != "[192.0.2.0/24 127.0.0.1/32]" {
		t.Errorf("parseRouteDsts = %v, %v", got, err)
	}
	if _, err := parseRouteDsts([]byte(`[{"dst":"bogus"}]`)); err == nil {
		t.Error("a bad destination was accepted")
	}
}

func TestOverlapError(t *testing.T) {
	p := netip.MustParsePrefix("10.231.0.0/24")
	used := []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("127.0.0.1/32")}
	if err := overlapError(p, used); err != nil {
		t.Errorf("no overlap, got %v", err)
	}
	for _, u := range []string{"10.0.0.0/8", "10.231.0.77/32", "10.231.0.128/25"} {
		err := overlapError(p, append(used, netip.MustParsePrefix(u)))
		if err == nil || !strings.Contains(err.Error(), u) {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{"10.231.0.0/24": "10.231.0.255", "10.231.4.0/22": "10.231.7.255", "10.0.0.8/30": "10.0.0.11"} {
		if got := lastAddr(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestOwnerAlias(t *testing.T) {
	a, err := ownerAlias()
	if err != nil {
		t.Fatal(err)
	}
	p, ok := parseOwnerAlias(a)
	if !ok || p.pid != os.Getpid() || !p.alive() {
		t.Errorf("parseOwnerAlias(%q) = %v, %v", a, p, ok)
	}
	for _, bad := range []string{"", "dlr-rig owner 12", "someone else's 1 2", "dlr-rig owner x 2"} {
		if _, ok := parseOwnerAlias(bad); ok {
			t.Errorf("parseOwnerAlias(%q) accepted", bad)
		}
	}
}
