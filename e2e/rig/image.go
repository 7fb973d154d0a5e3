package rig

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// LoggerPackage is the import path of the test program [BuildLogger]
// builds.
const LoggerPackage = "github.com/docker-liverestore/dlr/e2e/testimage/logger"

// BuildLogger builds the logger test program (e2e/testimage/logger) as a
// static binary (CGO_ENABLED=0) into t.TempDir() and returns its path. The
// test's working directory must be inside the dlr module (any package
// directory of it is). It fails the test if the build fails.
func BuildLogger(t testing.TB) string {
	t.Helper()
	return buildStatic(t, LoggerPackage, "logger")
}

// ServicePackage is the import path of the test program [BuildService]
// builds.
const ServicePackage = "github.com/docker-liverestore/dlr/e2e/testimage/service"

// BuildService builds the service test program (e2e/testimage/service: an
// HTTP answer on -listen, an exec-form health check with -check) like
// [BuildLogger].
func BuildService(t testing.TB) string {
	t.Helper()
	return buildStatic(t, ServicePackage, "service")
}

// buildStatic builds pkg with CGO_ENABLED=0 into t.TempDir()/name.
func buildStatic(t testing.TB, pkg, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("rig: building %s: no go command on $PATH: %v", pkg, err)
	}
	out := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rig: CGO_ENABLED=0 go build -o %s %s: %v\n%s", out, pkg, err, b)
	}
	return out
}

// ImportImage makes a Docker image called name (a tag of ":latest" is
// implied if name has none) in the guest whose only file is staticBinary,
// at /app, with CMD ["/app"]. It streams a tar of it to "docker import"
// inside the guest: no registry is reachable from the guest. Containers
// are then started with e.g. "docker run -d --name c1 NAME /app ARGS". The
// binary must be static (no /lib in the image). Each of changes is passed
// to "docker import" as a further --change (a Dockerfile instruction, e.g.
// `HEALTHCHECK --interval=1s CMD ["/app","-check"]`). It fails the test on
// error.
func (g *Guest) ImportImage(t testing.TB, name, staticBinary string, changes ...string) {
	t.Helper()
	bin, err := os.ReadFile(staticBinary)
	if err != nil {
		t.Fatalf("rig: import image %s: %v", name, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     "app",
		Mode:     0o755,
		Size:     int64(len(bin)),
		ModTime:  time.Unix(0, 0),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatalf("rig: import image %s: %v", name, err)
	}
	if _, err := tw.Write(bin); err != nil {
		t.Fatalf("rig: import image %s: %v", name, err)
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("rig: import image %s: %v", name, err)
	}
	args := []string{"docker", "import", "--change", `CMD ["/app"]`}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	out := g.mustRun(t, &buf, append(args, "-", name))
	t.Logf("rig: imported %s into %s as %s", filepath.Base(staticBinary), g.machine, strings.TrimSpace(out))
}
