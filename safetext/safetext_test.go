package safetext

import (
	"strings"
	"testing"
)

func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"web-1":                     "web-1",
		"web\nFAIL  injected":       `web\nFAIL  injected`,
		"\x1b[2J\x1b[31mred":        `\x1b[2J\x1b[31mred`,
		"tab\there":                 `tab\there`,
		"ok \"quoted\" \\ back":     "ok \"quoted\" \\ back",
		"bad \xff byte":             `bad \xff byte`,
		"rtl \u202egnp.exe":         `rtl \u202egnp.exe`,
		"c1 \u0085":                 `c1 \u0085`,
		"déjà vu":                   "déjà vu",
		"26.1.5+dfsg1-9+deb13u1+b1": "26.1.5+dfsg1-9+deb13u1+b1",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 1<<20)
	if got := Clean(long); len(got) > MaxField+40 || !strings.HasSuffix(got, "(1046528 bytes more)") {
		t.Errorf("Clean of 1 MiB: %d bytes, ending %q", len(got), got[len(got)-30:])
	}
}

func TestReport(t *testing.T) {
	type item struct{ Name, Msg string }
	type rep struct {
		Items    []item
		Notes    []string
		ByKind   map[string]int
		Ptr      *item
		internal string
	}
	r := &rep{Items: []item{{"a\nb", "ok"}}, Notes: []string{"\x1b[0m"}, ByKind: map[string]int{"k\n": 1}, Ptr: &item{Name: "\r"}, internal: "\n"}
	Report(r)
	if r.Items[0].Name != `a\nb` || r.Notes[0] != `\x1b[0m` || r.ByKind[`k\n`] != 1 || r.Ptr.Name != `\r` || r.internal != "\n" {
		t.Errorf("%+v %+v", r, r.Ptr)
	}
}
