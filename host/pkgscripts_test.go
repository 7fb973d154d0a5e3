package host

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker-liverestore/dlr/guard"
)

// TestParseControlTar reads a control.tar as dpkg-deb --ctrl-tarfile
// writes it ("./" names), keeping the maintainer scripts only.
func TestParseControlTar(t *testing.T) {
	postinst, err := os.ReadFile("../guard/testdata/pkgscripts/debian-containerd-2.1.9.postinst")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"./control", "Package: containerd\n"}, {"./postinst", string(postinst)}, {"./prerm", "#!/bin/sh\n"}, {"./md5sums", "x\n"},
	} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	s, err := ParseControlTar(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Scripts) != 2 || s.Scripts["postinst"] != string(postinst) || s.Format != "deb" {
		t.Fatalf("ParseControlTar = %+v", s)
	}
	if r, ok := guard.ScriptRole(s); !ok || r.Daemon != guard.Containerd || !r.Restarts {
		t.Errorf("ScriptRole = %v %+v", ok, r)
	}
	if _, err := ParseControlTar(bytes.NewReader([]byte("not a tar"))); err == nil {
		t.Errorf("a broken control.tar read without an error")
	}
}

func TestAptArchive(t *testing.T) {
	e := &Env{Root: t.TempDir()}
	dir := filepath.Join(e.Root, AptArchives)
	os.MkdirAll(dir, 0o755)
	want := filepath.Join(dir, "docker-ce_5%3a29.7.1-1~debian.13~trixie_amd64.deb")
	os.WriteFile(want, nil, 0o644)
	os.WriteFile(filepath.Join(dir, "docker-ce-cli_5%3a29.7.1-1~debian.13~trixie_amd64.deb"), nil, 0o644)
	if got := e.AptArchive("docker-ce", "5:29.7.1-1~debian.13~trixie"); got != want {
		t.Errorf("AptArchive = %q, want %q", got, want)
	}
	if got := e.AptArchive("docker-ce", "5:29.7.0-1~debian.13~trixie"); got != "" {
		t.Errorf("another version: %q", got)
	}
}

func TestInstalledDebScript(t *testing.T) {
	e := &Env{Root: t.TempDir()}
	os.MkdirAll(filepath.Join(e.Root, DpkgInfo), 0o755)
	os.WriteFile(filepath.Join(e.Root, DpkgInfo, "containerd:amd64.prerm"), []byte("old prerm\n"), 0o755)
	if got, ok := e.installedDebScript("containerd", "prerm"); !ok || got != "old prerm\n" {
		t.Errorf("installedDebScript = %q %v", got, ok)
	}
}
