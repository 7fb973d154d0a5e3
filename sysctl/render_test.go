package sysctl

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestRenderGolden(t *testing.T) {
	for _, tt := range []struct {
		n      uint64
		golden string
	}{
		{DefaultPipeMaxSize, "render-16MiB.conf"},
		{1 << 31, "render-2GiB.conf"},
	} {
		got := Render(tt.n)
		path := filepath.Join("testdata", tt.golden)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Render(%d) =\n%s\nwant (%s):\n%s", tt.n, got, path, want)
		}
	}
}

// TestRenderParses checks that systemd-sysctl would read exactly one
// assignment of Key = n from the drop-in, and that it names `dlr disable`.
func TestRenderParses(t *testing.T) {
	for _, n := range []uint64{4096, DefaultPipeMaxSize, 1 << 31} {
		data := Render(n)
		got := parseConf("drop-in", data)
		if len(got) != 1 {
			t.Fatalf("Render(%d) parses to %d settings; want 1: %v", n, len(got), got)
		}
		s := got[0]
		if normalizeKey(s.Key) != "fs/pipe-max-size" || s.IgnoreFailure || s.Exclude {
			t.Errorf("Render(%d) parses to %+v", n, s)
		}
		if v, ok := parseKernelValue(s.Value); !ok || v != n {
			t.Errorf("Render(%d) sets value %q", n, s.Value)
		}
		if !bytes.Contains(data, []byte("docker-liverestore/dlr")) || !bytes.Contains(data, []byte("dlr disable")) {
			t.Errorf("Render(%d) does not say who manages it and how to remove it:\n%s", n, data)
		}
		if !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("Render(%d) does not end in a newline", n)
		}
	}
}
