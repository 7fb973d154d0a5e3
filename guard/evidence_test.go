package guard

import (
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	for in, want := range map[string]string{
		"26.1.5+dfsg1":                  "26.1.5",
		"26.1.5+dfsg1-9+deb13u1+b1":     "26.1.5",
		"5:28.5.2-1~debian.12~bookworm": "28.5.2",
		"2.1.9+unknown":                 "2.1.9",
		"1.7.24~ds1-6+deb13u1":          "1.7.24",
		"v1.7.0":                        "1.7.0",
		"28.5.2-1.fc41":                 "28.5.2",
		"":                              "",
		"dev":                           "",
	} {
		if got := Version(in); got != want {
			t.Errorf("Version(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRestoreVerdict(t *testing.T) {
	for _, tc := range []struct {
		comp, from, to string
		want           Severity
		says           string
	}{
		{"dockerd", "26.1.5+dfsg1", "28.5.2+dfsg4", Pass, "trixie-forky/restart-docker"},
		{"dockerd", "26.1.5", "5:28.5.2-1~debian.13~trixie", Pass, "upgrade matrix"},
		{"dockerd", "20.10.24+dfsg1", "26.1.5+dfsg1-9+deb13u1+b1", Pass, "bookworm-trixie"},
		{"dockerd", "24.0.2", "24.0.3", Fail, "moby/moby#45903"},
		{"dockerd", "24.0.3", "24.0.3", Fail, "bind mounts"},
		{"dockerd", "24.0.3", "24.0.4", Warn, "not proven"},
		{"dockerd", "26.1.4", "28.5.2", Warn, "not proven"},
		{"dockerd", "28.5.2", "26.1.5", Warn, "not proven"}, // a downgrade was never measured
		{"dockerd", "28.5.2+dfsg4", "5:29.6.0-1~debian.14~forky", Pass, "ce-upgrade-day"},
		{"dockerd", "29.6.0", "29.7.1", Pass, "ce-minor"},
		{"dockerd", "28.5.2", "29.7.1", Warn, "not proven"}, // skipping a release was not measured
		{"dockerd", "27.0.1", "27.0.1", Pass, "same release"},
		{"containerd", "1.7.24~ds1", "2.1.9+unknown", Pass, "apt-forky-containerd"},
		{"containerd", "1.6.20~ds1", "2.1.9", Warn, "not proven"},
		{"dockerd", "", "28.5.2", Warn, "(unknown) -> 28.5.2"},
		// An unstamped build of moby's module: no release to place.
		{"dockerd", "28.5.2", "library-import", Warn, `version "library-import", which names no release`},
		{"dockerd", "library-import", "library-import", Warn, "not proven"},
		{"dockerd", "library-import", "29.7.1", Warn, "cannot place it"},
	} {
		v := RestoreVerdict(tc.comp, tc.from, tc.to)
		if v.Severity != tc.want || !strings.Contains(v.Message, tc.says) {
			t.Errorf("%s %s -> %s: %v %q, want %v saying %q", tc.comp, tc.from, tc.to, v.Severity, v.Message, tc.want, tc.says)
		}
		if v.Severity != Pass && v.Fix == "" {
			t.Errorf("%s %s -> %s: no fix line", tc.comp, tc.from, tc.to)
		}
	}
}

// Every row of the table names its evidence, and no release is both
// measured as restored and listed as bad.
func TestMatrixRows(t *testing.T) {
	for _, m := range Matrix {
		if m.Evidence == "" || Version(m.From) != m.From || Version(m.To) != m.To {
			t.Errorf("row %+v: evidence and upstream releases needed", m)
		}
		for _, b := range Bad {
			if b.Component == m.Component && b.Version == m.To && m.Restored {
				t.Errorf("%s %s is both measured as restored and known bad", m.Component, m.To)
			}
		}
	}
}
