//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestFIFOsOntoUpstream is issue 19 item 5, tried as a new user would:
// forky, dlr's own .deb (make packages), `dlr enable`, four containers (one
// with a 1 s health check), then upstream 29.7.1 put in place and docker
// restarted. It lists every FIFO under /run/docker/containerd with its size
// and whose it is (a container's own stream, or an exec session's, and then
// whether the exec is a health probe), and holds `dlr check`'s log-buffers
// item to it: every restored container's own streams are large (the FIFOs
// survive the restart: the new dockerd reopens the same files), and no
// health probe's exec FIFO makes dlr warn.
func TestFIFOsOntoUpstream(t *testing.T) {
	p := packagesForTest(t)
	g := pkgGuest(t, "forky", p)
	pkgMust(t, g, "apt-get install -y "+guestDeb(p.Cur))
	g.CopyIn(t, pipeszBinary(t), "/usr/local/bin/pipesz", 0o755)
	pin16M(t, g)
	if code, _, _ := dlr(t, g, "enable"); code != 0 {
		t.Fatalf("dlr enable: exit %d", code)
	}
	svc := rig.BuildService(t)
	g.ImportImage(t, "service", svc)
	g.ImportImage(t, "service-hc", svc, `HEALTHCHECK --interval=1s --timeout=3s --retries=3 CMD ["/app","-check"]`)
	g.MustExec(t, "docker", "run", "-d", "--name", "logger", "logger", "/app", "-rate", "2000", "-line", "40")
	g.MustExec(t, "docker", "run", "-d", "--name", "plain", "service", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "health", "service-hc", "/app")
	g.MustExec(t, "docker", "run", "-d", "--name", "port", "-p", "8080:8080", "service", "/app", "-listen", ":8080")
	waitFor(t, 20*time.Second, "the health check to pass", func() bool {
		return inspect(g, "health", "{{.State.Health.Status}}") == "healthy"
	})
	time.Sleep(3 * time.Second) // the watcher has grown the new FIFOs
	t.Logf("on %s:\n%s", trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"), fifoTable(t, g))
	if it := checkFull(t, g)["log-buffers"]; it.Result != "PASS" {
		t.Errorf("28.5.2, before the swap: log-buffers %+v", it)
	}

	pids := map[string]string{}
	for _, c := range []string{"logger", "plain", "health", "port"} {
		pids[c] = containerPID(t, g, c)
	}
	pin16M(t, g)
	g.SwapDockerd(t, "29.7.1", false)
	for c, pid := range pids {
		if got := containerPID(t, g, c); got != pid {
			t.Errorf("%s: PID %s -> %s across the restart onto 29.7.1", c, pid, got)
		}
	}
	// Several looks: a probe runs every second.
	var small []string
	for i := 0; i < 10; i++ {
		time.Sleep(700 * time.Millisecond)
		table := fifoTable(t, g)
		it := checkFull(t, g)["log-buffers"]
		t.Logf("look %d on 29.7.1: log-buffers %s %q\n%s", i, it.Result, it.Detail, table)
		for _, l := range strings.Split(table, "\n") {
			if strings.Contains(l, " own ") && strings.HasPrefix(l, "65536 ") {
				small = append(small, l)
			}
		}
		if it.Result != "PASS" {
			t.Errorf("look %d: log-buffers %s: %s", i, it.Result, it.Detail)
		}
	}
	if len(small) > 0 {
		t.Errorf("restored containers' own streams at 64K after the restart:\n%s", strings.Join(small, "\n"))
	}
}

// fifoTable lists every FIFO under /run/docker/containerd: its size, the
// container's name, whether it is the container's own stream ("own") or an
// exec session's ("exec", with the exec's command line from `docker
// inspect`-able state where dockerd still knows it), and the file name.
func fifoTable(t *testing.T, g *rig.Guest) string {
	t.Helper()
	names := map[string]string{}
	for _, l := range strings.Split(gsh(t, g, "docker ps -q --no-trunc | xargs -r docker inspect -f '{{.Id}} {{.Name}}'"), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 {
			names[f[0]] = strings.TrimPrefix(f[1], "/")
		}
	}
	var b strings.Builder
	for _, l := range strings.Split(gsh(t, g, "for d in /run/docker/containerd/*/; do pipesz \"$d\" | sed \"s|^|$(basename $d) |\"; done"), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		id, size, file := f[0], f[1], f[2]
		kind := "own"
		if !strings.HasPrefix(file, id+"-") && !strings.HasPrefix(file, "init-") {
			kind = "exec"
			execID := strings.TrimSuffix(strings.TrimSuffix(file, "-stdout"), "-stderr")
			// The exec's command, as the Engine API has it while it runs.
			if out, _, code, _ := g.Exec(t.Context(), "sh", "-c", "curl -s --unix-socket /run/docker.sock http://d/exec/"+execID+"/json 2>/dev/null | head -c 300; true"); code == 0 {
				kind += " " + strings.TrimSpace(out)
			}
			kind += " exec=" + execID[:12]
		}
		fmt.Fprintf(&b, "%s %s %s %s\n", size, names[id], kind, file)
	}
	return strings.TrimRight(b.String(), "\n")
}
