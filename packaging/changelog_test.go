// Package packaging holds the packages' build files (nfpm.yaml's sources,
// the maintainer scripts, the changelog); its only Go code is this test,
// which keeps the changelog users read (CHANGELOG.md) and the one the
// packages ship (packaging/changelog) in step.
package packaging

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// release is one release as a changelog lists it.
type release struct {
	Version string
	Date    string // YYYY-MM-DD
	Entries []string
}

var (
	mdHeading  = regexp.MustCompile(`^## ([0-9][^ ]*) \(([0-9]{4}-[0-9]{2}-[0-9]{2})\)$`)
	debHeading = regexp.MustCompile(`^docker-liverestore \(([^)]+)-1\) [a-z]+; urgency=[a-z]+$`)
	debTrailer = regexp.MustCompile(`^ -- .+ <.+>  (.+)$`)
)

// parseMarkdown reads CHANGELOG.md: "## VERSION (DATE)" headings, "- "
// entries whose continuation lines are indented. A "## Unreleased" section
// on top (the changes since the last release, which its entry takes over)
// is no release: it is skipped.
func parseMarkdown(t *testing.T, text string) []release {
	t.Helper()
	var rs []release
	unreleased := false
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case l == "## Unreleased":
			if len(rs) > 0 || unreleased {
				t.Fatalf("CHANGELOG.md line %d: \"## Unreleased\" goes on top, once", n)
			}
			unreleased = true
		case unreleased && !strings.HasPrefix(l, "## "):
		case strings.HasPrefix(l, "## "):
			unreleased = false
			m := mdHeading.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("CHANGELOG.md line %d: %q is not \"## VERSION (YYYY-MM-DD)\"", n, l)
			}
			rs = append(rs, release{Version: m[1], Date: m[2]})
		case len(rs) == 0 || strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "- "):
			rs[len(rs)-1].Entries = append(rs[len(rs)-1].Entries, strings.TrimPrefix(l, "- "))
		case strings.HasPrefix(l, "  ") && len(rs[len(rs)-1].Entries) > 0:
			e := rs[len(rs)-1].Entries
			e[len(e)-1] += " " + strings.TrimSpace(l)
		default:
			t.Fatalf("CHANGELOG.md line %d: %q is neither an entry (\"- \") nor its continuation", n, l)
		}
	}
	return rs
}

// parseDebian reads a changelog in Debian's format (deb-changelog(5)).
func parseDebian(t *testing.T, name, text string) []release {
	t.Helper()
	var rs []release
	sc := bufio.NewScanner(strings.NewReader(text))
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case strings.TrimSpace(l) == "":
		case debHeading.MatchString(l):
			rs = append(rs, release{Version: debHeading.FindStringSubmatch(l)[1]})
		case len(rs) == 0:
			t.Fatalf("%s line %d: %q before the first entry's heading", name, n, l)
		case debTrailer.MatchString(l):
			d, err := time.Parse(time.RFC1123Z, debTrailer.FindStringSubmatch(l)[1])
			if err != nil {
				t.Fatalf("%s line %d: the date: %v", name, n, err)
			}
			rs[len(rs)-1].Date = d.UTC().Format(time.DateOnly)
		case strings.HasPrefix(l, "  * "):
			rs[len(rs)-1].Entries = append(rs[len(rs)-1].Entries, strings.TrimPrefix(l, "  * "))
		case strings.HasPrefix(l, "    ") && len(rs[len(rs)-1].Entries) > 0:
			e := rs[len(rs)-1].Entries
			e[len(e)-1] += " " + strings.TrimSpace(l)
		default:
			t.Fatalf("%s line %d: %q is not part of an entry", name, n, l)
		}
	}
	return rs
}

// version is the release in the file VERSION (its lines but comments).
func version(t *testing.T) string {
	t.Helper()
	var v []string
	for _, l := range strings.Split(read(t, "../VERSION"), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			v = append(v, l)
		}
	}
	if len(v) != 1 {
		t.Fatalf("VERSION holds %q, want one version line", v)
	}
	return v[0]
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestChangelogsInStep fails when CHANGELOG.md and packaging/changelog
// disagree on a release's version, date or entries, or when the newest
// release is not the one in VERSION.
func TestChangelogsInStep(t *testing.T) {
	md := parseMarkdown(t, read(t, "../CHANGELOG.md"))
	deb := parseDebian(t, "packaging/changelog", read(t, "changelog"))
	if len(md) == 0 {
		t.Fatal("CHANGELOG.md lists no release")
	}
	if v := version(t); md[0].Version != v {
		t.Errorf("VERSION is %s, but CHANGELOG.md's newest release is %s: add its entry (docs/release-checklist.md)", v, md[0].Version)
	}
	if len(md) != len(deb) {
		t.Fatalf("CHANGELOG.md lists %d releases, packaging/changelog %d", len(md), len(deb))
	}
	for i := range md {
		m, d := md[i], deb[i]
		if m.Version != d.Version || m.Date != d.Date {
			t.Errorf("release %d: CHANGELOG.md says %s of %s, packaging/changelog %s of %s", i+1, m.Version, m.Date, d.Version, d.Date)
		}
		if len(m.Entries) != len(d.Entries) {
			t.Errorf("%s: CHANGELOG.md has %d entries, packaging/changelog %d", m.Version, len(m.Entries), len(d.Entries))
			continue
		}
		for j := range m.Entries {
			if m.Entries[j] != d.Entries[j] {
				t.Errorf("%s, entry %d differs:\n  CHANGELOG.md:        %s\n  packaging/changelog: %s", m.Version, j+1, m.Entries[j], d.Entries[j])
			}
		}
	}
}

// TestShippedChangelog runs changelog.sh as `make packages` does, for the
// release and for a build after it, and checks that the result is the
// release's entries (plus one for the build) and, where dpkg-dev is
// installed, that dpkg-parsechangelog reads it.
func TestShippedChangelog(t *testing.T) {
	v := version(t)
	rels := parseDebian(t, "packaging/changelog", read(t, "changelog"))
	date := "Mon, 07 Dec 2026 01:02:03 +0000"
	for _, build := range []string{v, v + "+git3.g0123456789ab"} {
		out, err := exec.Command("sh", "changelog.sh", build, date, "0123456789ab").Output()
		if err != nil {
			t.Fatalf("changelog.sh %s: %v", build, err)
		}
		got := parseDebian(t, "changelog.sh's output", string(out))
		want := rels
		if build != v {
			want = append([]release{{Version: build, Date: "2026-12-07",
				Entries: []string{"Build between releases, after " + v + ", from git commit 0123456789ab."}}}, rels...)
		}
		if len(got) != len(want) || got[0].Version != want[0].Version || got[0].Date != want[0].Date ||
			strings.Join(got[0].Entries, "\n") != strings.Join(want[0].Entries, "\n") || got[len(got)-1].Version != want[len(want)-1].Version {
			t.Errorf("changelog.sh %s: got %+v, want %+v", build, got, want)
		}
		if _, err := exec.LookPath("dpkg-parsechangelog"); err != nil {
			continue
		}
		cmd := exec.Command("dpkg-parsechangelog", "-l", "-", "-S", "Version")
		cmd.Stdin = strings.NewReader(string(out))
		pv, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(pv)) != build+"-1" {
			t.Errorf("dpkg-parsechangelog on changelog.sh %s: %q, %v", build, pv, err)
		}
	}
}
