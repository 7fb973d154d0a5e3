package guard

import (
	"fmt"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/daemonjson"
)

func parse(t testing.TB, s string) *daemonjson.Doc {
	t.Helper()
	d, err := daemonjson.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// diffs is shared by TestDiff and FuzzDiff's seeds.
var diffs = []struct {
	name, old, new string
	want           map[string]Class
}{
	{"identical modulo layout", `{"a": {"x": 1, "y": [1,2]}}`, "{\n \"a\": {\"y\": [1, 2], \"x\": 1}\n}", map[string]Class{}},
	{"mirrors added", `{}`, `{"registry-mirrors": ["https://m"]}`, map[string]Class{"registry-mirrors": Reload}},
	{"bip changed", `{"bip": "10.1.0.1/24"}`, `{"bip": "10.2.0.1/24"}`, map[string]Class{"bip": Breaks}},
	{"bip removed", `{"bip": "10.1.0.1/24", "debug": true}`, `{"debug": false}`, map[string]Class{"bip": Breaks, "debug": Reload}},
	{"data-root", `{}`, `{"data-root": "/srv/docker"}`, map[string]Class{"data-root": Breaks}},
	{"log driver needs restart", `{"log-driver": "json-file"}`, `{"log-driver": "journald"}`, map[string]Class{"log-driver": Restart}},
	{"unknown key is restart", `{}`, `{"no-such-key": 1}`, map[string]Class{"no-such-key": Restart}},
	{"cgroup driver", `{"exec-opts": ["native.cgroupdriver=cgroupfs"]}`, `{"exec-opts": ["native.cgroupdriver=systemd"]}`, map[string]Class{"exec-opts": Breaks}},
	{"other exec-opt", `{"exec-opts": ["native.cgroupdriver=systemd"]}`, `{"exec-opts": ["native.cgroupdriver=systemd", "isolation=x"]}`, map[string]Class{"exec-opts": Restart}},
	{"live-restore", `{"live-restore": false}`, `{"live-restore": true}`, map[string]Class{"live-restore": Reload}},
	{"empty to pools", ``, `{"default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]}`, map[string]Class{"default-address-pools": Breaks}},
}

func TestDiff(t *testing.T) {
	for _, tc := range diffs {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(parse(t, tc.old), parse(t, tc.new))
			if len(got) != len(tc.want) {
				t.Fatalf("Diff = %v; want %v", got, tc.want)
			}
			for _, c := range got {
				if tc.want[c.Key] != c.Class {
					t.Errorf("%s: class %v, want %v", c.Key, c.Class, tc.want[c.Key])
				}
				if c.Why == "" {
					t.Errorf("%s: no reason", c.Key)
				}
			}
		})
	}
}

func TestEveryBreakingKeyHasAReason(t *testing.T) {
	for _, k := range Keys() {
		if k.Why == "" || k.Class == 0 {
			t.Errorf("%s: %+v", k.Name, k)
		}
	}
	if k, known := Lookup("definitely-not-a-key"); known || k.Class != Restart {
		t.Errorf("unknown key: %+v known=%v", k, known)
	}
}

// FuzzDiff: Diff never panics, a document never differs from itself, and
// Diff is symmetric in the keys it reports.
func FuzzDiff(f *testing.F) {
	for _, tc := range diffs {
		f.Add([]byte(tc.old), []byte(tc.new))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		da, err1 := daemonjson.Parse(a)
		db, err2 := daemonjson.Parse(b)
		if err1 != nil || err2 != nil {
			return
		}
		if d := Diff(da, da); len(d) != 0 {
			t.Fatalf("a document differs from itself: %v", d)
		}
		ab, ba := Diff(da, db), Diff(db, da)
		if len(ab) != len(ba) {
			t.Fatalf("asymmetric: %v vs %v", ab, ba)
		}
		for i := range ab {
			if ab[i].Key != ba[i].Key || ab[i].Class != ba[i].Class {
				t.Fatalf("asymmetric at %d: %v vs %v", i, ab[i], ba[i])
			}
		}
	})
}

func TestFlagKeys(t *testing.T) {
	got := FlagKeys([]string{"-H", "fd://", "--containerd=/run/containerd/containerd.sock", "--label", "a=b", "-D", "--live-restore"})
	want := []string{"hosts", "containerd", "labels", "debug", "live-restore"}
	if len(got) != len(want) {
		t.Fatalf("FlagKeys = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("FlagKeys[%d] = %s, want %s", i, got[i], want[i])
		}
	}
	if !Known20("live-restore") || Known20("no-such-option") || Known20("proxies") {
		t.Error("Known20 is wrong")
	}
}

// BenchmarkDiffKeys compares files of n keys (issue 14: a linear lookup per
// key made this quadratic, 6.9 s at 8k keys). Time per op should grow with
// n, not n²:
//
//	go test -run '^$' -bench DiffKeys ./guard
func BenchmarkDiffKeys(b *testing.B) {
	for _, n := range []int{1000, 8000, 64000} {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range n {
			if i > 0 {
				sb.WriteString(",")
			}
			fmt.Fprintf(&sb, "\"k%d\": %d", i, i)
		}
		sb.WriteString("}")
		d := parse(b, sb.String())
		empty := parse(b, "{}")
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				Diff(empty, d)
			}
		})
	}
}
