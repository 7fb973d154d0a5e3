package sysctl

import (
	"reflect"
	"strings"
	"testing"
)

var parseConfTests = []struct {
	name string
	in   string
	want []Setting
}{
	{"empty", "", nil},
	{"comments and blanks", "# fs.pipe-max-size = 1\n; fs.pipe-max-size = 2\n\n   \n\t# indented comment\n", nil},
	{"plain", "fs.pipe-max-size = 16777216\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "16777216"}}},
	{"no blanks", "fs.pipe-max-size=16777216", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "16777216"}}},
	{"many blanks", "  \tfs.pipe-max-size \t=\t 16777216  \r\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "16777216"}}},
	{"slashes", "fs/pipe-max-size = 4096\n", []Setting{{Line: 1, Key: "fs/pipe-max-size", Value: "4096"}}},
	{"ignore failure", "-fs.pipe-max-size = 4096\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "4096", IgnoreFailure: true}}},
	{"ignore failure, blank after dash", "- fs.pipe-max-size = 4096\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "4096", IgnoreFailure: true}}},
	{"exclusion", "-fs.pipe-max-size\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Exclude: true}}},
	{"not an assignment", "fs.pipe-max-size\n", nil},
	{"empty value", "fs.pipe-max-size =\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: ""}}},
	{"empty key", " = 5\n-\n", nil},
	{"value with equals", "kernel.core_pattern = |/bin/x a=b\n", []Setting{{Line: 1, Key: "kernel.core_pattern", Value: "|/bin/x a=b"}}},
	{"comment mark after value is part of it", "fs.pipe-max-size = 4096 # four K\n", []Setting{{Line: 1, Key: "fs.pipe-max-size", Value: "4096 # four K"}}},
	{"line numbers", "# header\n\nnet.ipv4.ip_forward = 1\nbogus line\nfs.pipe-max-size = 8192\n", []Setting{
		{Line: 3, Key: "net.ipv4.ip_forward", Value: "1"},
		{Line: 5, Key: "fs.pipe-max-size", Value: "8192"},
	}},
}

func TestParseConf(t *testing.T) {
	for _, tt := range parseConfTests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseConf("f.conf", []byte(tt.in))
			for i := range tt.want {
				tt.want[i].File = "f.conf"
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConf(%q) =\n%+v\nwant\n%+v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseConf(f *testing.F) {
	for _, tt := range parseConfTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Count(in, "\n") + 1
		for _, s := range parseConf("f", []byte(in)) {
			if s.Line < 1 || s.Line > lines {
				t.Errorf("line %d out of range 1..%d", s.Line, lines)
			}
			if s.Key == "" || s.Key != trimBlanks(s.Key) || s.Value != trimBlanks(s.Value) {
				t.Errorf("untrimmed or empty key/value: %+v", s)
			}
			if s.Exclude && (s.Value != "" || s.IgnoreFailure) {
				t.Errorf("exclusion with a value: %+v", s)
			}
		}
	})
}

func TestNormalizeKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"fs.pipe-max-size", "fs/pipe-max-size"},
		{"fs/pipe-max-size", "fs/pipe-max-size"},
		{"/fs/pipe-max-size", "fs/pipe-max-size"},
		{"fs//pipe-max-size", "fs/pipe-max-size"},
		{"fs..pipe-max-size", "fs/pipe-max-size"},
		{"net.ipv4.conf.enp3s0/200.forwarding", "net/ipv4/conf/enp3s0.200/forwarding"},
		{"net/ipv4/conf/enp3s0.200/forwarding", "net/ipv4/conf/enp3s0.200/forwarding"},
		{"fs.*", "fs/*"},
		{"kernel", "kernel"},
		{"", ""},
		{"./", ""},
	}
	for _, tt := range tests {
		if got := normalizeKey(tt.in); got != tt.want {
			t.Errorf("normalizeKey(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// set builds a setting for tables; value "-" makes an exclusion.
func set(file string, line int, key, value string) Setting {
	if value == "-" {
		return Setting{File: file, Line: line, Key: key, Exclude: true}
	}
	return Setting{File: file, Line: line, Key: key, Value: value}
}

func TestEffective(t *testing.T) {
	a1 := set("a", 1, "fs.pipe-max-size", "1")
	a2 := set("a", 2, "fs/pipe-max-size", "2")
	b1 := set("b", 1, "fs.pipe-max-size", "1")
	excl := set("c", 1, "fs.pipe-max-size", "-")
	g1 := set("g", 1, "fs.*", "10")
	g2 := set("g", 2, "fs.pipe-*", "20")
	g1again := set("h", 1, "fs.*", "30")
	gexcl := set("h", 2, "fs.*", "-")
	other := set("o", 1, "fs.file-max", "5")
	none := Setting{}
	tests := []struct {
		name string
		in   []Setting
		want Setting // the deciding line; an exclusion means nothing is set
	}{
		{"nothing", nil, none},
		{"unrelated key", []Setting{other}, none},
		{"one", []Setting{a1}, a1},
		{"later wins, either separator", []Setting{a1, a2}, a2},
		{"same value keeps the earlier line", []Setting{a1, b1}, a1},
		{"exclusion cancels an earlier assignment", []Setting{a1, excl}, excl},
		{"assignment after an exclusion", []Setting{excl, a2}, a2},
		{"glob applies", []Setting{g1}, g1},
		{"explicit beats a later glob", []Setting{a1, g1}, a1},
		{"explicit beats an earlier glob", []Setting{g1, a2}, a2},
		{"exclusion keeps globs off", []Setting{g1, excl}, excl},
		{"last glob in map order wins", []Setting{g1, g2}, g2},
		{"reassigned glob moves to the end", []Setting{g1, g2, g1again}, g1again},
		{"glob exclusion cancels that glob only", []Setting{g2, g1, gexcl}, g2},
		{"glob not matching across slash", []Setting{set("g", 3, "*", "1")}, none},
	}
	for _, tt := range tests {
		got, ok := effective(tt.in, "fs/pipe-max-size")
		if got != tt.want || ok != (tt.want != none && !tt.want.Exclude) {
			t.Errorf("%s: effective = %+v, %v; want %+v", tt.name, got, ok, tt.want)
		}
	}
}

func TestSettingString(t *testing.T) {
	if got, want := set("/etc/sysctl.d/a.conf", 3, "fs.pipe-max-size", "4096").String(), "/etc/sysctl.d/a.conf line 3: fs.pipe-max-size = 4096"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
	if got, want := set("/etc/sysctl.d/a.conf", 4, "fs.pipe-max-size", "-").String(), "/etc/sysctl.d/a.conf line 4: -fs.pipe-max-size"; got != want {
		t.Errorf("String() = %q; want %q", got, want)
	}
}
