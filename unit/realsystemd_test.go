//go:build realsystemd && linux

// These tests run against the real systemd of the machine they run on, and
// change it: they install, start, reload and stop units under
// /run/systemd/system and reload docker.service. Run them only in a
// disposable machine (e.g. a systemd-nspawn guest), as root:
//
//	CGO_ENABLED=0 go test -c -tags realsystemd -o unit.test ./unit/
//	# copy unit.test into the guest, then inside it:
//	./unit.test -test.v -test.run Real
//	setpriv --reuid=65534 --regid=65534 --clear-groups ./unit.test -test.v -test.run RealAccessDenied

package unit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func realConn(t *testing.T) *Conn {
	t.Helper()
	c, err := Dial(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestRealDockerUnit(t *testing.T) {
	c := realConn(t)
	u, err := c.Unit(ctxTimeout(t, 10*time.Second), "docker.service")
	if err != nil {
		t.Fatalf("Unit: %v", err)
	}
	t.Logf("%#v", u)
	if u.LoadState != "loaded" || len(u.ExecStart) != 1 || !strings.HasSuffix(u.ExecStart[0][0], "dockerd") {
		t.Errorf("unexpected docker.service: %#v", u)
	}
	if u.ActiveState != "active" {
		t.Skipf("docker.service is %s, not reloading it", u.ActiveState)
	}
	before := u.MainPID
	if err := c.Reload(ctxTimeout(t, 30*time.Second), "docker.service"); err != nil {
		t.Fatalf("Reload docker.service: %v", err)
	}
	u, err = c.Unit(ctxTimeout(t, 10*time.Second), "docker.service")
	if err != nil || u.MainPID != before || u.ActiveState != "active" {
		t.Errorf("after reload: %+v, %v; want the same MainPID %d, active", u, err, before)
	}

	s, err := c.Unit(ctxTimeout(t, 10*time.Second), "docker.socket")
	t.Logf("docker.socket: %#v, %v", s, err)
}

func TestRealUnitNames(t *testing.T) {
	c := realConn(t)
	u, err := c.Unit(ctxTimeout(t, 10*time.Second), "dlr-no-such-unit.service")
	if err != nil || u.LoadState != "not-found" {
		t.Errorf("Unit(dlr-no-such-unit.service) = %#v, %v; want LoadState not-found", u, err)
	}
	_, err = c.Unit(ctxTimeout(t, 10*time.Second), "docker")
	t.Logf("Unit(docker): %v", err)
	if !errors.Is(err, ErrNoSuchUnit) {
		t.Errorf("Unit(docker) = %v, want ErrNoSuchUnit", err)
	}
	err = c.Start(ctxTimeout(t, 10*time.Second), "dlr-no-such-unit.service")
	t.Logf("Start(dlr-no-such-unit.service): %v", err)
	if !errors.Is(err, ErrNoSuchUnit) {
		t.Errorf("Start(dlr-no-such-unit.service) = %v, want ErrNoSuchUnit", err)
	}
	err = c.Stop(ctxTimeout(t, 10*time.Second), "dlr-no-such-unit.service")
	t.Logf("Stop(dlr-no-such-unit.service): %v", err)
}

func TestRealJobs(t *testing.T) {
	c := realConn(t)
	ctx := func() context.Context { return ctxTimeout(t, 30*time.Second) }
	units := map[string]string{
		"dlr-unit-test.service": `[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/true
EnvironmentFile=-/etc/default/dlr-unit-test
EnvironmentFile=/etc/dlr-unit-test.env
Environment="A=1 2" B=3
KillMode=process
`,
		"dlr-unit-test-badreload.service": `[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/false
`,
		"dlr-unit-test-noreload.service": `[Service]
ExecStart=/bin/sleep infinity
`,
		"dlr-unit-test-slowreload.service": `[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/sleep 3
`,
	}
	for name, text := range units {
		p := filepath.Join("/run/systemd/system", name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			c.Stop(ctxTimeout(t, 30*time.Second), name)
			os.Remove(p)
			c.DaemonReload(ctxTimeout(t, 30*time.Second))
		})
	}
	if err := os.WriteFile("/etc/dlr-unit-test.env", []byte("X=1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove("/etc/dlr-unit-test.env") })
	if err := c.DaemonReload(ctx()); err != nil {
		t.Fatalf("DaemonReload: %v", err)
	}

	const name = "dlr-unit-test.service"
	err := c.Reload(ctx(), name)
	t.Logf("Reload of the inactive unit: %v", err)
	if err == nil {
		t.Errorf("Reload of an inactive unit succeeded")
	}

	for n := range units {
		if err := c.Start(ctx(), n); err != nil {
			t.Fatalf("Start %s: %v", n, err)
		}
	}
	u, err := c.Unit(ctx(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%#v", u)
	want := Unit{
		Name: name, LoadState: "loaded", ActiveState: "active", SubState: "running",
		MainPID: u.MainPID, KillMode: "process",
		FragmentPath:     "/run/systemd/system/" + name,
		ExecStart:        [][]string{{"/bin/sleep", "infinity"}},
		ExecReload:       [][]string{{"/bin/true"}},
		EnvironmentFiles: []EnvFile{{Path: "/etc/default/dlr-unit-test", Optional: true}, {Path: "/etc/dlr-unit-test.env"}},
		Environment:      []string{"A=1 2", "B=3"},
	}
	if u.MainPID == 0 || !equalUnit(u, want) {
		t.Errorf("Unit(%s)\n got %#v\nwant %#v", name, u, want)
	}

	if err := c.Reload(ctx(), name); err != nil {
		t.Errorf("Reload %s: %v", name, err)
	}
	err = c.Reload(ctx(), "dlr-unit-test-badreload.service")
	var je *JobError
	t.Logf("Reload with ExecReload=/bin/false: %v", err)
	if !errors.As(err, &je) || je.Result != "failed" {
		t.Errorf("Reload with ExecReload=/bin/false = %v, want result failed", err)
	}
	err = c.Reload(ctx(), "dlr-unit-test-noreload.service")
	t.Logf("Reload without ExecReload: %v", err)
	if err == nil {
		t.Errorf("Reload without ExecReload succeeded")
	}

	start := time.Now()
	err = c.Reload(ctxTimeout(t, 500*time.Millisecond), "dlr-unit-test-slowreload.service")
	t.Logf("Reload with ExecReload=/bin/sleep 3 and a 500ms deadline: %v (after %v)", err, time.Since(start))
	if !errors.Is(err, ErrTimeout) || time.Since(start) > 2*time.Second {
		t.Errorf("slow reload = %v, want ErrTimeout at the deadline", err)
	}
	if err := c.Reload(ctx(), "dlr-unit-test-slowreload.service"); err != nil {
		t.Errorf("second slow reload: %v", err)
	}

	if err := c.Stop(ctx(), name); err != nil {
		t.Errorf("Stop %s: %v", name, err)
	}
	u, _ = c.Unit(ctx(), name)
	if u.ActiveState != "inactive" {
		t.Errorf("after Stop: %s", u.ActiveState)
	}
}

func equalUnit(a, b Unit) bool {
	return strings.EqualFold(a.Name, b.Name) && a.LoadState == b.LoadState && a.ActiveState == b.ActiveState &&
		a.SubState == b.SubState && a.MainPID == b.MainPID && a.KillMode == b.KillMode &&
		a.FragmentPath == b.FragmentPath && len(a.DropInPaths) == 0 &&
		sameArgvs(a.ExecStart, b.ExecStart) && sameArgvs(a.ExecReload, b.ExecReload) &&
		len(a.EnvironmentFiles) == len(b.EnvironmentFiles) &&
		strings.Join(a.Environment, "\n") == strings.Join(b.Environment, "\n") &&
		(len(a.EnvironmentFiles) == 0 || a.EnvironmentFiles[0] == b.EnvironmentFiles[0] && a.EnvironmentFiles[1] == b.EnvironmentFiles[1])
}

func sameArgvs(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.Join(a[i], "\x00") != strings.Join(b[i], "\x00") {
			return false
		}
	}
	return true
}

func TestRealAccessDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("run as a user other than root")
	}
	c := realConn(t)
	u, err := c.Unit(ctxTimeout(t, 10*time.Second), "docker.service")
	t.Logf("Unit as uid %d: %s %s, %v", os.Geteuid(), u.LoadState, u.ActiveState, err)
	err = c.Reload(ctxTimeout(t, 30*time.Second), "docker.service")
	t.Logf("Reload as uid %d: %v", os.Geteuid(), err)
	if !errors.Is(err, ErrAccessDenied) {
		t.Errorf("Reload as uid %d = %v, want ErrAccessDenied", os.Geteuid(), err)
	}
	err = c.DaemonReload(ctxTimeout(t, 30*time.Second))
	t.Logf("DaemonReload as uid %d: %v", os.Geteuid(), err)
	if !errors.Is(err, ErrAccessDenied) {
		t.Errorf("DaemonReload as uid %d = %v, want ErrAccessDenied", os.Geteuid(), err)
	}
}

// TestRealExpansion has systemd run a command with a tricky EnvironmentFile
// and compares its argv with what ParseEnvironmentFile, MergeEnvironment and
// ExpandArgv predict.
func TestRealExpansion(t *testing.T) {
	c := realConn(t)
	ctx := func() context.Context { return ctxTimeout(t, 30*time.Second) }
	const envFile = `# a comment
; another
V1="double \"quoted\" \$x \q \\ end"
V2='single  "q"  \n $y'
V3=  unquoted  with   spaces  \
continued
export V4=ignored
 V5 = spaced key
V6="multi
line"
V7=a"b c"d 'e f'
V8="x" y ` + "`z`" + `
V9=it's
V10=a\ b\\c
DOCKER_OPTS="--dns 8.8.8.8 --label 'a b' --label=\"c d\" e\\ f"
V11=
1BAD=x
V12=trailing\
`
	const unitText = `[Service]
Type=oneshot
EnvironmentFile=/etc/dlr-expand.env
Environment="E1=env one" 'E2=two' "V5=overridden by the file"
ExecStart=/usr/bin/printf <%%s> $V1 ${V1} $V2 ${V2} $V3 ${V3} $V4 ${V4} $V5 $V6 ${V6} $V7 ${V7} $V8 $V9 $V10 ${V10} $DOCKER_OPTS ${DOCKER_OPTS} $V11 ${V11} $1BAD ${1BAD} $V12 $E1 ${E1} $E2 pre${E1}post $$ a$$b $$E1 $UNSET ${UNSET} x$E1 ${E1:-d} $E1.x
StandardOutput=file:/run/dlr-expand.out
`
	files := map[string]string{
		"/etc/dlr-expand.env":                    envFile,
		"/run/systemd/system/dlr-expand.service": unitText,
	}
	for p, text := range files {
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
	t.Cleanup(func() { os.Remove("/run/dlr-expand.out"); c.DaemonReload(ctxTimeout(t, 30*time.Second)) })
	if err := c.DaemonReload(ctx()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx(), "dlr-expand.service"); err != nil {
		t.Fatalf("Start: %v", err)
	}
	out, err := os.ReadFile("/run/dlr-expand.out")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, part := range strings.Split(string(out), ">")[:strings.Count(string(out), ">")] {
		got = append(got, strings.TrimPrefix(part, "<"))
	}

	u, err := c.Unit(ctx(), "dlr-expand.service")
	if err != nil {
		t.Fatal(err)
	}
	fileEnv, err := ParseEnvironmentFile([]byte(envFile))
	if err != nil {
		t.Fatal(err)
	}
	want := ExpandArgv(u.ExecStart[0], MergeEnvironment(u.Environment, fileEnv))[2:] // drop printf and its format
	t.Logf("systemd ran: %q", got)
	if strings.Join(got, "\x00") != strings.Join(want, "\x00") {
		t.Errorf("argv mismatch\nsystemd: %q\npredicted: %q", got, want)
	}
}
