//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// The upgrade matrix (issue 12): what a change of Docker's Debian packages,
// installed by the guest's own apt from the real archive's .debs, does to
// running containers, with live restore turned on by `dlr enable` and on a
// stock Docker. Each scenario boots a fresh guest per mode, starts the six
// matrixContainers, runs its steps one after the other and, after each,
// prints one line per container:
//
//	MATRIX scenario=S step=N mode=dlr|stock container=C pid=kept|new|stopped restarts=A->B
//	  log_gap=SECONDS|- port=yes|no|- health=yes|no|- containerd=kept|restarted dockerd=kept|restarted
//
// one line per step (MATRIX-STEP: what apt changed, how long it took, the
// running versions before and after, `dlr preflight`'s worst result on the
// step's packages, `dlr check`'s exit code and its version item) and, with
// live restore on, one FACT line per daemon restarted with a version skew
// (the evidence a `dlr check` table can be built from). $DLR_MATRIX selects
// the scenarios ("all", or names separated by commas; default
// matrixDefault); $DLR_MATRIX_OUT names a file for the Markdown table.
//
// Only what is established is asserted: with live restore on, containers
// keep their PIDs where the scenario says so (containerd's restarts, the
// 26.1 -> 28.5 restart, a same-version reinstall); with it off, a dockerd
// restart stops a container without a restart policy and brings back the
// one with `--restart unless-stopped`; the packages really were installed,
// and a restart runs the installed dockerd. And nothing dlr says is
// contradicted: a PASS of `dlr preflight` before a step, or of `dlr
// check`'s version item before the docker restart, means every container
// keeps its PID through it; the version item never FAILs a measured
// restart; with live restore off, preflight never PASSes a docker.io
// change (the pending restart stops the containers). The rest is recorded.
func TestUpgradeMatrix(t *testing.T) {
	want := os.Getenv("DLR_MATRIX")
	if want == "" {
		want = matrixDefault
	}
	var rows, steps, facts []string
	var mu sync.Mutex
	ran := 0
	for _, sc := range matrixScenarios {
		if want != "all" && !slices.Contains(strings.Split(want, ","), sc.name) {
			continue
		}
		ran++
		for _, mode := range []string{"dlr", "stock"} {
			t.Run(sc.name+"/"+mode, func(t *testing.T) {
				r, s, f := runScenario(t, sc, mode)
				mu.Lock()
				rows, steps, facts = append(rows, r...), append(steps, s...), append(facts, f...)
				mu.Unlock()
			})
		}
	}
	if ran == 0 {
		t.Fatalf("DLR_MATRIX=%q names no scenario", want)
	}
	table := matrixTable(rows)
	t.Logf("upgrade matrix (%s):\n%s\n%s\n%s", time.Now().UTC().Format("2006-01-02"),
		table, strings.Join(steps, "\n"), strings.Join(facts, "\n"))
	if p := os.Getenv("DLR_MATRIX_OUT"); p != "" {
		out := table + "\n" + strings.Join(steps, "\n") + "\n\n" + strings.Join(facts, "\n") + "\n"
		if err := os.WriteFile(p, []byte(out), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// matrixDefault is the scenarios `make test` runs (in both modes): a
// Debian upgrade and Docker CE's upgrade day.
const matrixDefault = "trixie-forky,ce-upgrade-day"

// A matrixScenario is a guest suite and the steps run on it in turn.
type matrixScenario struct {
	name  string
	suite string
	// ce, if set, is the docker-ce-like package release installed (with
	// the guest's apt, before any image or container exists) to start
	// from, in place of the suite's own.
	ce    string
	steps []matrixStep
	// more adds matrixMore to the containers: the upstream rows have them.
	more bool
}

// A matrixStep is one change: the packages of a set installed with the
// guest's apt, or a command.
type matrixStep struct {
	name string
	// debs returns the host's .deb files to install, for apt-get install
	// (reinstall: --reinstall, of the guest's own cached .debs).
	debs      func(t *testing.T) []string
	reinstall []string // packages to reinstall from the guest's /var/cache/apt/archives
	// again installs debs with --reinstall: the same version once more.
	again bool
	cmd   []string // else: a command run in the guest
	// keptWithLiveRestore says it is established that, with live restore
	// on, every running container keeps its PID across this step.
	keptWithLiveRestore bool
}

var (
	forkyDocker  = []string{"docker.io", "docker-cli", "containerd", "runc", "tini", "tini-static"}
	trixieDocker = []string{"docker.io", "docker-cli", "containerd", "runc", "tini",
		"libc6", "libc-bin", "libgcc-s1", "gcc-14-base", "libseccomp2", "base-files"}
)

// debSet returns a function giving the named set's .deb files of suite,
// restricted to only if given.
func debSet(suite, name string, pkgs []string, only ...string) func(t *testing.T) []string {
	return func(t *testing.T) []string {
		t.Helper()
		files, err := rig.Debs(t.Context(), suite, name, pkgs...)
		if err != nil {
			t.Fatal(err)
		}
		if len(only) == 0 {
			return files
		}
		var out []string
		for _, f := range files {
			if slices.Contains(only, strings.SplitN(filepath.Base(f), "_", 2)[0]) {
				out = append(out, f)
			}
		}
		return out
	}
}

var matrixScenarios = []matrixScenario{
	{name: "trixie-forky", suite: "trixie", steps: []matrixStep{
		{name: "apt-forky-docker", debs: debSet("forky", "docker", forkyDocker), keptWithLiveRestore: true},
		{name: "restart-docker", cmd: []string{"systemctl", "restart", "docker"}, keptWithLiveRestore: true},
	}},
	{name: "containerd", suite: "trixie", steps: []matrixStep{
		{name: "restart-containerd", cmd: []string{"systemctl", "restart", "containerd"}, keptWithLiveRestore: true},
		{name: "apt-forky-containerd", debs: debSet("forky", "docker", forkyDocker, "containerd"), keptWithLiveRestore: true},
	}},
	{name: "reinstall", suite: "trixie", steps: []matrixStep{
		{name: "apt-reinstall", reinstall: []string{"docker.io", "docker-cli", "containerd", "runc"}, keptWithLiveRestore: true},
		{name: "restart-docker", cmd: []string{"systemctl", "restart", "docker"}, keptWithLiveRestore: true},
	}},
	{name: "bookworm-trixie", suite: "bookworm", steps: []matrixStep{
		{name: "apt-trixie-docker", debs: debSet("trixie", "docker", trixieDocker)},
		{name: "restart-docker", cmd: []string{"systemctl", "restart", "docker"}},
	}},
	// Upstream Docker Engine as a docker-ce-like package (rig.CEPackage):
	// each apt step is the package's own restart of dockerd at configure
	// time, as Docker CE's .deb does it.
	{name: "ce-reinstall", suite: "upstream", more: true, steps: []matrixStep{
		{name: "apt-reinstall-docker-ce-29.7.1", debs: ceDeb("29.7.1"), again: true},
	}},
	// Docker CE's upgrade day: forky's 28.5.2 (packaged as docker-ce)
	// onto 29.6.0.
	{name: "ce-upgrade-day", suite: "upstream", ce: rig.ForkyDockerRelease, more: true, steps: []matrixStep{
		{name: "apt-docker-ce-29.6.0", debs: ceDeb("29.6.0")},
	}},
	{name: "ce-minor", suite: "upstream", ce: "29.6.0", more: true, steps: []matrixStep{
		{name: "apt-docker-ce-29.7.1", debs: ceDeb("29.7.1")},
	}},
	{name: "ce-downgrade", suite: "upstream", more: true, steps: []matrixStep{
		{name: "apt-docker-ce-29.6.0", debs: ceDeb("29.6.0")},
	}},
	{name: "ce-patch", suite: "upstream", ce: "29.7.0", more: true, steps: []matrixStep{
		{name: "apt-docker-ce-29.7.1", debs: ceDeb("29.7.1")},
	}},
}

// ceDeb returns a function giving the docker-ce-like package of release.
func ceDeb(release string) func(t *testing.T) []string {
	return func(t *testing.T) []string {
		t.Helper()
		f, err := rig.CEPackage(t.Context(), release)
		if err != nil {
			t.Fatal(err)
		}
		return []string{f}
	}
}

// matrixContainers are started in every guest: name and docker run
// arguments (after "docker run -d --name NAME").
var matrixContainers = []struct{ name, port string }{
	{"plain", ""}, {"logger", ""}, {"restart", ""}, {"port", "8080"}, {"health", ""}, {"net", "8081"},
}

// matrixMore are the upstream rows' further containers: a bind mount, a
// named volume, and `--restart always`.
var matrixMore = []struct{ name, port string }{
	{"bind", ""}, {"volume", ""}, {"always", ""},
}

// containersOf are the containers scenario sc starts.
func containersOf(sc matrixScenario) []struct{ name, port string } {
	if sc.more {
		return append(slices.Clone(matrixContainers), matrixMore...)
	}
	return matrixContainers
}

func matrixRunArgs(name string) []string {
	switch name {
	case "plain":
		return []string{"service", "/app"}
	case "logger":
		return []string{"logger", "/app", "-rate", "100000", "-line", "100"}
	case "restart":
		return []string{"--restart", "unless-stopped", "service", "/app"}
	case "port":
		return []string{"-p", "8080:8080", "service", "/app", "-listen", ":8080"}
	case "health":
		return []string{"service-hc", "/app"}
	case "net":
		return []string{"--network", "matrixnet", "service", "/app", "-listen", ":8081"}
	case "bind":
		return []string{"-v", "/srv/matrix-bind:/data", "service", "/app"}
	case "volume":
		return []string{"-v", "matrixvol:/data", "service", "/app"}
	case "always":
		return []string{"--restart", "always", "service", "/app"}
	}
	panic(name)
}

// ctrState is what is seen of a container at one moment.
type ctrState struct {
	running  bool
	pid      string
	restarts string
	ip       string // on its own network (bridge, or matrixnet)
}

// daemons is what is seen of the daemons at one moment.
type daemons struct {
	dockerdPID, containerdPID string
	dockerd, containerd       string // running versions
	installed                 string // dpkg's versions of the docker packages
}

func runScenario(t *testing.T, sc matrixScenario, mode string) (rows, steps, facts []string) {
	g := guest(t, sc.suite)
	if sc.ce != "" {
		ceInstall(t, g, sc.ce)
		// Again: 29.x keeps a fresh install's images in containerd's
		// store, which 28.5 (a graph driver) does not read.
		g.ImportImage(t, "logger", rig.BuildLogger(t))
	}
	svc := rig.BuildService(t)
	g.ImportImage(t, "service", svc)
	g.ImportImage(t, "service-hc", svc, `HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ["/app","-check"]`)
	switch mode {
	case "dlr":
		if code, _, _ := dlr(t, g, "enable"); code != 0 {
			t.Fatalf("dlr enable: exit %d", code)
		}
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Fatalf("LiveRestoreEnabled after dlr enable = %s", got)
		}
	case "stock":
		if got := liveRestoreEnabled(t, g); got != "false" {
			t.Fatalf("stock LiveRestoreEnabled = %s", got)
		}
	}
	g.MustExec(t, "docker", "network", "create", "matrixnet")
	containers := containersOf(sc)
	g.MustExec(t, "mkdir", "-p", "/srv/matrix-bind")
	for _, c := range containers {
		g.MustExec(t, append([]string{"docker", "run", "-d", "--name", c.name}, matrixRunArgs(c.name)...)...)
	}
	// Everything works before the first step: the ports answer and the
	// health check has run.
	waitFor(t, 20*time.Second, "the health check to pass", func() bool {
		return inspect(g, "health", "{{.State.Health.Status}}") == "healthy"
	})
	for _, c := range containers {
		if c.port == "" {
			continue
		}
		if ok, out := answers(g, containerAddr(t, g, c.name, c.port)); !ok {
			t.Fatalf("%s does not answer before any step: %s", c.name, out)
		}
	}
	if mode == "dlr" {
		// The record `dlr check` compares against.
		dlr(t, g, "check")
	}

	// promised: what dlr said before a step of the restart that step makes
	// ("" nothing; else the worst result and who said it), to hold the next
	// steps to it: nothing dlr says may be contradicted by what happens.
	promised := ""
	for _, st := range sc.steps {
		before := map[string]ctrState{}
		for _, c := range containers {
			before[c.name] = containerState(t, g, c.name)
		}
		d0 := daemonState(t, g)
		g.Exec(context.Background(), "systemctl", "reset-failed", "docker", "containerd")
		// dlr preflight on the step's packages, before apt sees them.
		pre := "-"
		if files := stepFiles(t, g, st); len(files) > 0 {
			_, out, _ := dlr(t, g, append([]string{"preflight", "--json"}, files...)...)
			pre = worstResult(t, out, "")
			if mode == "dlr" && pre == "PASS" {
				promised = "PASS (dlr preflight before " + st.name + ")"
			}
			if joined := strings.Join(files, " "); mode == "stock" && pre == "PASS" && (strings.Contains(joined, "/docker.io_") || strings.Contains(joined, "/docker-ce_")) {
				t.Errorf("live restore off: dlr preflight before %s says PASS, though the pending docker restart stops the containers", st.name)
			}
		}

		start := time.Now()
		out := runStep(t, g, st)
		readyIn := waitDocker(t, g)
		end := time.Now()
		took := end.Sub(start)
		time.Sleep(4 * time.Second) // health probes (1 s interval), logs drained

		d1 := daemonState(t, g)
		dockerdRestarted := d0.dockerdPID != d1.dockerdPID
		containerdRestarted := d0.containerdPID != d1.containerdPID
		label := map[bool]string{true: "restarted", false: "kept"}
		kept, total := 0, 0
		for _, c := range containers {
			b, a := before[c.name], containerState(t, g, c.name)
			pid := "stopped"
			switch {
			case a.running && a.pid == b.pid:
				pid = "kept"
			case a.running:
				pid = "new"
			}
			if b.running {
				total++
				if pid == "kept" {
					kept++
				}
			}
			gap := "-"
			if c.name == "logger" && a.running {
				gap = fmt.Sprintf("%.3f", logGap(t, g, "logger", start).Seconds())
			}
			port := "-"
			if c.port != "" {
				port = "no"
				if a.running {
					if ok, _ := answers(g, containerAddr(t, g, c.name, c.port)); ok {
						port = "yes"
					}
				}
			}
			health := "-"
			if c.name == "health" {
				health = "no"
				if a.running && probedAfter(t, g, "health", end) {
					health = "yes"
				}
			}
			row := fmt.Sprintf("MATRIX scenario=%s step=%s mode=%s container=%s pid=%s restarts=%s->%s log_gap=%s port=%s health=%s containerd=%s dockerd=%s",
				sc.name, st.name, mode, c.name, pid, b.restarts, a.restarts, gap, port, health,
				label[containerdRestarted], label[dockerdRestarted])
			t.Log(row)
			rows = append(rows, row)

			// What is established.
			if mode == "dlr" && st.keptWithLiveRestore && b.running && pid != "kept" {
				t.Errorf("live restore on, step %s: container %s was %s (PID %s before), want its PID kept", st.name, c.name, pid, b.pid)
			}
			if mode == "stock" && dockerdRestarted {
				if c.name == "plain" && pid == "kept" {
					t.Errorf("live restore off, dockerd restarted: container plain kept PID %s", b.pid)
				}
				if (c.name == "restart" || c.name == "always") && !a.running {
					t.Errorf("live restore off, dockerd restarted: container %s (%s) is not running", c.name, strings.Join(matrixRunArgs(c.name)[:2], " "))
				}
			}
		}

		check, version := "-", "-"
		if mode == "dlr" {
			code, out, _ := dlr(t, g, "check", "--json")
			check, version = strconv.Itoa(code), worstResult(t, out, "version")
			if promised != "" && kept != total {
				t.Errorf("dlr said %s, but step %s kept %d of %d containers", promised, st.name, kept, total)
			}
			promised = ""
			if version == "PASS" && d1.dockerd != installedDockerd(t, g) {
				promised = "PASS (dlr check's version item, of the pending docker restart)"
			}
			if version == "FAIL" {
				t.Errorf("after %s, dlr check's version item FAILs a restart the matrix measured", st.name)
			}
		}
		stepLine := fmt.Sprintf("MATRIX-STEP scenario=%s step=%s mode=%s took=%.1fs docker_ready_after=%.1fs containerd=%s(%s->%s) dockerd=%s(%s->%s) installed=%s kept=%d/%d dlr_preflight=%s dlr_check_exit=%s dlr_check_version=%s",
			sc.name, st.name, mode, took.Seconds(), readyIn.Seconds(),
			label[containerdRestarted], d0.containerd, d1.containerd,
			label[dockerdRestarted], d0.dockerd, d1.dockerd,
			installedDiff(d0.installed, d1.installed), kept, total, pre, check, version)
		t.Log(stepLine)
		if out != "" {
			t.Logf("output of step %s (restart-related lines):\n%s", st.name, restartLines(out))
		}
		steps = append(steps, stepLine)

		if mode == "dlr" {
			restored := "no"
			if kept == total {
				restored = "yes"
			}
			ev := fmt.Sprintf("%s/%s: %d/%d containers kept their PIDs", sc.name, st.name, kept, total)
			if dockerdRestarted {
				facts = append(facts, fmt.Sprintf("FACT component=dockerd from=%s to=%s restored=%s evidence=%q", d0.dockerd, d1.dockerd, restored, ev))
			}
			if containerdRestarted {
				facts = append(facts, fmt.Sprintf("FACT component=containerd from=%s to=%s restored=%s evidence=%q", d0.containerd, d1.containerd, restored, ev))
			}
		}

		// The step did what it says.
		if st.debs != nil {
			for _, f := range st.debs(t) {
				pkg, ver := debField(t, f, "Package"), debField(t, f, "Version")
				if got := trimmed(t, g, "dpkg-query", "-W", "-f", "${Version}", pkg); got != ver {
					t.Errorf("after %s, %s is at %s, want %s", st.name, pkg, got, ver)
				}
			}
		}
		if len(st.cmd) == 3 && st.cmd[2] == "docker" || strings.Contains(st.name, "docker-ce") {
			pkg := dockerPackage(t, g)
			pkgVer := trimmed(t, g, "dpkg-query", "-W", "-f", "${Version}", pkg)
			if !strings.HasPrefix(strings.TrimPrefix(pkgVer, "5:"), d1.dockerd) {
				t.Errorf("after %s the running dockerd is %s, the installed %s %s", st.name, d1.dockerd, pkg, pkgVer)
			}
		}
	}
	return rows, steps, facts
}

// runStep runs a step and returns what it printed.
func runStep(t *testing.T, g *rig.Guest, st matrixStep) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var args []string
	switch {
	case st.debs != nil:
		dir := "/root/debs/" + st.name
		var guestFiles []string
		for _, f := range st.debs(t) {
			g.CopyIn(t, f, dir+"/"+filepath.Base(f), 0o644)
			guestFiles = append(guestFiles, dir+"/"+filepath.Base(f))
		}
		args = []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
			"--no-install-recommends", "--allow-downgrades", "-o", "Dpkg::Options::=--force-confold"}
		if st.again {
			args = append(args, "--reinstall")
		}
		args = append(args, guestFiles...)
	case st.reinstall != nil:
		var files []string
		for _, p := range st.reinstall {
			files = append(files, strings.Fields(g.Sh(t, "ls /var/cache/apt/archives/"+p+"_*.deb"))...)
		}
		if len(files) != len(st.reinstall) {
			t.Fatalf("the guest's apt cache has %v for %v", files, st.reinstall)
		}
		args = append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
			"--reinstall", "--no-install-recommends"}, files...)
	default:
		args = st.cmd
	}
	out, errOut, code, err := g.Exec(ctx, args...)
	t.Logf("$ %s  (exit %d)", strings.Join(args, " "), code)
	if err != nil || code != 0 {
		t.Fatalf("step %s: %v exit %d\n%s\n%s", st.name, err, code, out, errOut)
	}
	return out + errOut
}

// restartLines keeps the lines of apt's output about services and the
// docker packages: what dpkg did to containerd and dockerd.
func restartLines(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		ll := strings.ToLower(l)
		if strings.Contains(ll, "restart") || strings.Contains(ll, "setting up") ||
			strings.Contains(ll, "unpacking") || strings.Contains(ll, "warn") ||
			strings.Contains(ll, "stop") || strings.Contains(ll, "start") ||
			strings.Contains(ll, "upgraded") {
			keep = append(keep, "  "+l)
		}
	}
	return strings.Join(keep, "\n")
}

// waitDocker waits until dockerd answers (at most a minute) and returns how
// long that took; it fails the test if it does not.
func waitDocker(t *testing.T, g *rig.Guest) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < time.Minute {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, _, code, err := g.Exec(ctx, "docker", "version", "-f", "{{.Server.Version}}")
		cancel()
		if err == nil && code == 0 && strings.TrimSpace(out) != "" {
			return time.Since(start)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("dockerd does not answer a minute after the step; docker.service is %s", unitState(g, "docker"))
	return 0
}

func daemonState(t *testing.T, g *rig.Guest) daemons {
	t.Helper()
	ver := trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}")
	ctrd := "?"
	// containerd's running version, as dockerd sees it.
	for _, line := range strings.Split(g.Sh(t, "docker version -f '{{range .Server.Components}}{{.Name}} {{.Version}}\n{{end}}'"), "\n") {
		if v, ok := strings.CutPrefix(line, "containerd "); ok {
			ctrd = strings.TrimSpace(v)
		}
	}
	return daemons{
		dockerdPID:    gsh(t, g, "systemctl show -p MainPID --value docker.service"),
		containerdPID: gsh(t, g, "systemctl show -p MainPID --value containerd.service"),
		dockerd:       ver,
		containerd:    ctrd,
		installed:     gsh(t, g, "dpkg-query -W -f '${db:Status-Abbrev}|${Package}=${Version}\\n' docker.io docker-ce docker-cli containerd runc 2>/dev/null | sed -n 's/^ii *|//p' | tr '\\n' ' '; true"), // installed ones only: bookworm has no docker-cli, a guest docker.io or docker-ce
	}
}

// installedDiff names the packages whose version changed, or "same".
func installedDiff(a, b string) string {
	old := map[string]string{}
	for _, f := range strings.Fields(a) {
		k, v, _ := strings.Cut(f, "=")
		old[k] = v
	}
	var ch []string
	for _, f := range strings.Fields(b) {
		k, v, _ := strings.Cut(f, "=")
		if old[k] != v {
			ch = append(ch, fmt.Sprintf("%s:%s->%s", k, old[k], v))
		}
	}
	if len(ch) == 0 {
		return "same"
	}
	return strings.Join(ch, ",")
}

func inspect(g *rig.Guest, name, format string) string {
	out, _, _, _ := g.Exec(context.Background(), "docker", "inspect", "-f", format, name)
	return strings.TrimSpace(out)
}

func containerState(t *testing.T, g *rig.Guest, name string) ctrState {
	t.Helper()
	f := strings.Fields(inspect(g, name, "{{.State.Running}} {{.State.Pid}} {{.RestartCount}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"))
	if len(f) < 3 {
		t.Fatalf("docker inspect %s: %q", name, f)
	}
	s := ctrState{running: f[0] == "true", pid: f[1], restarts: f[2]}
	if len(f) > 3 {
		s.ip = f[3]
	}
	return s
}

// containerAddr is where a container's service is reached from the guest:
// the published port on 127.0.0.1 for "port", the container's address on
// its network otherwise.
func containerAddr(t *testing.T, g *rig.Guest, name, port string) string {
	if name == "port" {
		return "127.0.0.1:" + port
	}
	return containerState(t, g, name).ip + ":" + port
}

// answers makes one HTTP request to addr from the guest (bash's /dev/tcp:
// the guests have no HTTP client) and reports whether the service answered.
func answers(g *rig.Guest, addr string) (bool, string) {
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	script := `exec 3<>/dev/tcp/$1/$2 && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && cat <&3`
	out, errOut, code, err := g.Exec(ctx, "timeout", "5", "bash", "-c", script, "bash", host, port)
	return err == nil && code == 0 && strings.Contains(out, "\r\n\r\nok "), out + errOut
}

// probedAfter reports whether the container's health log has a probe that
// started after t0.
func probedAfter(t *testing.T, g *rig.Guest, name string, t0 time.Time) bool {
	for _, s := range strings.Fields(inspect(g, name, "{{range .State.Health.Log}}{{.Start.UnixNano}} {{end}}")) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > t0.UnixNano() {
			return true
		}
	}
	return false
}

// logGap reads the logger's lines written from since on and returns the
// longest time between two consecutive ones, or from the last one to when
// the log was read (a logger blocked now shows as a gap up to now).
func logGap(t *testing.T, g *rig.Guest, name string, since time.Time) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	from := since.Add(-2 * time.Second)
	out, errOut, code, err := g.Exec(ctx, "docker", "logs", "--since", strconv.FormatInt(from.Unix(), 10), name)
	read := time.Now()
	if err != nil || code != 0 {
		t.Fatalf("docker logs %s: %v %d %s", name, err, code, errOut)
	}
	var prev, gap int64
	for _, l := range strings.Split(out, "\n") {
		f := strings.SplitN(l, " ", 3)
		if len(f) < 2 {
			continue
		}
		ts, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		if prev != 0 && ts >= since.UnixNano() && ts-prev > gap {
			gap = ts - prev
		}
		prev = ts
	}
	if prev == 0 {
		return read.Sub(from)
	}
	if tailGap := read.UnixNano() - prev; tailGap > gap {
		gap = tailGap
	}
	return time.Duration(gap)
}

// debField is a field of a .deb's control file.
func debField(t *testing.T, file, field string) string {
	t.Helper()
	out, err := exec.Command("dpkg-deb", "-f", file, field).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f %s %s: %v", file, field, err)
	}
	return strings.TrimSpace(string(out))
}

// matrixTable renders MATRIX rows as a Markdown table.
func matrixTable(rows []string) string {
	cols := []string{"scenario", "step", "mode", "container", "pid", "restarts", "log_gap", "port", "health", "containerd", "dockerd"}
	var b strings.Builder
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		kv := map[string]string{}
		for _, f := range strings.Fields(strings.TrimPrefix(r, "MATRIX ")) {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		var cells []string
		for _, c := range cols {
			cells = append(cells, kv[c])
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// stepFiles copies a step's packages into the guest (as runStep will) and
// returns their guest paths: the .debs of an apt step, the guest's cached
// .debs of a reinstall; none for a command.
func stepFiles(t *testing.T, g *rig.Guest, st matrixStep) []string {
	t.Helper()
	switch {
	case st.debs != nil:
		var files []string
		for _, f := range st.debs(t) {
			gp := "/root/debs/" + st.name + "/" + filepath.Base(f)
			g.CopyIn(t, f, gp, 0o644)
			files = append(files, gp)
		}
		return files
	case st.reinstall != nil:
		var files []string
		for _, p := range st.reinstall {
			files = append(files, strings.Fields(g.Sh(t, "ls /var/cache/apt/archives/"+p+"_*.deb"))...)
		}
		return files
	}
	return nil
}

// worstResult reads a dlr --json report (check or preflight) and returns
// its worst item result (FAIL, WARN, PASS), or the result of item id.
func worstResult(t *testing.T, out, id string) string {
	t.Helper()
	var r struct {
		Check, Preflight *struct {
			Items []struct{ ID, Result string }
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Errorf("dlr --json: %v\n%s", err, out)
		return "?"
	}
	items := r.Check
	if items == nil {
		items = r.Preflight
	}
	if items == nil {
		return "-"
	}
	rank := map[string]int{"SKIP": 0, "PASS": 1, "WARN": 2, "FAIL": 3}
	worst := "-"
	for _, it := range items.Items {
		if id != "" {
			if it.ID == id {
				return it.Result
			}
			continue
		}
		if worst == "-" || rank[it.Result] > rank[worst] {
			worst = it.Result
		}
	}
	return worst
}

// installedDockerd is the installed dockerd's version (dockerd --version).
func installedDockerd(t *testing.T, g *rig.Guest) string {
	t.Helper()
	f := strings.Fields(g.Sh(t, "dockerd --version"))
	if len(f) < 3 {
		t.Fatalf("dockerd --version: %v", f)
	}
	return strings.TrimSuffix(f[2], ",")
}

// dockerPackage is the installed package of dockerd: docker-ce if the
// guest has it, else docker.io.
func dockerPackage(t *testing.T, g *rig.Guest) string {
	t.Helper()
	if out, _, code, _ := g.Exec(context.Background(), "dpkg-query", "-W", "-f", "${db:Status-Abbrev}", "docker-ce"); code == 0 && strings.HasPrefix(out, "ii") {
		return "docker-ce"
	}
	return "docker.io"
}

// ceInstall installs the docker-ce-like package of release with the
// guest's apt (replacing what provides dockerd; a downgrade if need be)
// and waits for the dockerd it starts: the state a scenario starts from.
func ceInstall(t *testing.T, g *rig.Guest, release string) {
	t.Helper()
	f := ceDeb(release)(t)[0]
	p := "/root/debs/setup/" + filepath.Base(f)
	g.CopyIn(t, f, p, 0o644)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	out, errOut, code, err := g.Exec(ctx, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
		"--no-install-recommends", "--allow-downgrades", p)
	if err != nil || code != 0 {
		t.Fatalf("installing docker-ce %s: %v exit %d\n%s\n%s", release, err, code, out, errOut)
	}
	waitDocker(t, g)
	// forky's dockerd says "28.5.2+dfsg4".
	if got := trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"); got != release && !strings.HasPrefix(got, release+"+") {
		t.Fatalf("after installing docker-ce %s, dockerd %s runs", release, got)
	}
}
