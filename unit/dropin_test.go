package unit

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata")

func TestRenderStopHook(t *testing.T) {
	got, err := RenderStopHook("/usr/bin/dlr")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", StopHookDropIn)
	if *updateGolden {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("RenderStopHook:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	for _, bad := range []string{"", "dlr", "/usr/bin/dlr\nExecStart=/bin/evil", "/a\x00b"} {
		if _, err := RenderStopHook(bad); err == nil {
			t.Errorf("RenderStopHook(%q) accepted", bad)
		}
	}
}

// Paths with blanks, quotes, specifiers and variables are written so that
// systemd reads them back as the one argument they are (systemd.service(5),
// "Command lines"; shown in the rig by TestConfigPathWithSpace).
func TestExecArg(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/dlr":               "/usr/bin/dlr",
		"/srv/my docker/daemon.json": `"/srv/my docker/daemon.json"`,
		"/srv/a%b":                   "/srv/a%%b",
		"/srv/$HOME":                 "/srv/$$HOME",
		`/srv/q"uo'te\x`:             `"/srv/q\"uo'te\\x"`,
		"/usr/bin/dlr;rm":            "/usr/bin/dlr;rm",
	} {
		if got, err := ExecArg(in); err != nil || got != want {
			t.Errorf("ExecArg(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestRenderDropIn(t *testing.T) {
	got, err := RenderDropIn(DropIn{DLR: "/usr/bin/dlr", Config: "/etc/docker/daemon.json", Snapshot: true, KillModeProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "full-"+StopHookDropIn)
	if *updateGolden {
		os.WriteFile(golden, got, 0o644)
	}
	want, _ := os.ReadFile(golden)
	if !bytes.Equal(got, want) {
		t.Errorf("RenderDropIn:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	if _, err := RenderDropIn(DropIn{DLR: "/usr/bin/dlr", Config: "relative.json"}); err == nil {
		t.Error("a relative config path was accepted")
	}
}

// TestRenderPackagedDropIn: the packages ship this file as
// /usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf
// (packaging/zz-docker-liverestore.conf); dlr enable compares that file with
// what it renders, so the two must stay byte for byte the same.
func TestRenderPackagedDropIn(t *testing.T) {
	got, err := RenderDropIn(DropIn{DLR: "/usr/bin/dlr", Config: "/etc/docker/daemon.json", Snapshot: true, Packaged: true})
	if err != nil {
		t.Fatal(err)
	}
	shipped := filepath.Join("..", "packaging", StopHookDropIn)
	if *updateGolden {
		os.WriteFile(shipped, got, 0o644)
	}
	want, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("RenderDropIn(Packaged):\n%s\nwant (%s, shipped by the packages):\n%s", got, shipped, want)
	}
	if bytes.HasPrefix(got, []byte("# Written by dlr")) {
		t.Error("the packaged drop-in has the header dlr disable removes files by")
	}
}
