//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// TestSpeed prints the speed figures of issue 7 (make bench; a measurement,
// not a pass/fail test: it fails only when it cannot measure). Set
// DLR_SPEED=1 to run it; DLR_SPEED_RUNS (default 51) and
// DLR_SPEED_ROUNDS (default 7) change the sample sizes. Each figure is
// printed on a line starting with "FIGURE".
func TestSpeed(t *testing.T) {
	if os.Getenv("DLR_SPEED") == "" {
		t.Skip("a measurement: run it with make bench (DLR_SPEED=1)")
	}
	runs := envInt("DLR_SPEED_RUNS", 51)
	rounds := envInt("DLR_SPEED_ROUNDS", 7)
	bin := dlrBinary(t)
	if p := os.Getenv("DLR_SPEED_BIN"); p != "" {
		bin = p
	}

	t.Run("host", func(t *testing.T) { speedHost(t, bin, runs) })
	forSuites(t, func(t *testing.T, suite string) { speedGuest(t, suite, bin, runs, rounds) })
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func median(xs []time.Duration) time.Duration {
	s := append([]time.Duration(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// scratchHost lays out a host under a temporary directory for dlr's hidden
// path flags: no systemd (a missing /run/systemd/system), no dockerd,
// /proc/1/root pointing at /, and fs.pipe-max-size already 16M.
func scratchHost(t *testing.T) (dir string, flags []string) {
	dir = t.TempDir()
	for _, d := range []string{"etc/docker", "etc/sysctl.d", "proc/sys/fs", "proc/1", "run/lock", "var/lib"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	os.Symlink("/", filepath.Join(dir, "proc/1/root"))
	os.WriteFile(filepath.Join(dir, "proc/sys/fs/pipe-max-size"), []byte("16777216\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/docker/daemon.json"), []byte("{\n  \"log-level\": \"info\"\n}\n"), 0o644)
	return dir, []string{
		"--config", filepath.Join(dir, "etc/docker/daemon.json"),
		"--root", dir,
		"--docker-socket", filepath.Join(dir, "run/docker.sock"),
	}
}

// timeRun runs a command and returns its wall time.
func timeRun(t *testing.T, name string, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	out, err := exec.Command(name, args...).CombinedOutput()
	d := time.Since(start)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return d
}

var maxRSS = regexp.MustCompile(`Maximum resident set size \(kbytes\): (\d+)`)

func speedHost(t *testing.T, bin string, runs int) {
	dir, flags := scratchHost(t)
	enable := append([]string{"enable", "--json"}, flags...)
	if out, err := exec.Command(bin, enable...).CombinedOutput(); err != nil || !bytes.Contains(out, []byte(`"changed": true`)) {
		t.Fatalf("first dlr enable: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, enable...).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte(`"changed": false`)) {
		t.Fatalf("second dlr enable changed something: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "etc/docker/daemon.json")
	dropIn := filepath.Join(dir, "etc/sysctl.d/60-docker-liverestore.conf")
	want := filepath.Join(dir, "want.conf")
	b, _ := os.ReadFile(dropIn)
	os.WriteFile(want, b, 0o644)
	script := fmt.Sprintf(`jq -e '."live-restore" == true' %s >/dev/null && cmp -s %s %s`, cfg, want, dropIn)

	var dlrT, shT []time.Duration
	for i := 0; i < runs; i++ {
		dlrT = append(dlrT, timeRun(t, bin, append([]string{"enable"}, flags...)...))
		shT = append(shT, timeRun(t, "sh", "-c", script))
	}
	t.Logf("FIGURE host, scratch paths: dlr enable when already enabled: median %s of %d runs; shell pipeline (jq -e + cmp): median %s",
		ms(median(dlrT)), runs, ms(median(shT)))
	t.Logf("  dlr:   %s %s", bin, strings.Join(append([]string{"enable"}, flags...), " "))
	t.Logf("  shell: sh -c %q", script)

	timeBin := "/usr/bin/time"
	if _, err := os.Stat(timeBin); err != nil {
		t.Fatalf("%s missing (make bench installs the time package)", timeBin)
	}
	for _, cmd := range [][]string{append([]string{"enable"}, flags...), append([]string{"status"}, flags...)} {
		var peak int
		for i := 0; i < 5; i++ {
			out, err := exec.Command(timeBin, append([]string{"-v", bin}, cmd...)...).CombinedOutput()
			m := maxRSS.FindSubmatch(out)
			if m == nil {
				t.Fatalf("/usr/bin/time -v dlr %s: %v\n%s", cmd[0], err, out)
			}
			kb, _ := strconv.Atoi(string(m[1]))
			peak = max(peak, kb)
		}
		t.Logf("FIGURE host: peak RSS of dlr %s (max of 5, /usr/bin/time -v): %d KiB (%.1f MB)", cmd[0], peak, float64(peak)/1024)
	}
}

// guestTimes runs a bash loop in the guest that prints "LABEL microseconds"
// per run, and returns the durations by label.
func guestTimes(t *testing.T, g *rig.Guest, script string) map[string][]time.Duration {
	t.Helper()
	// bash's $EPOCHREALTIME (bash 5, both suites): no process per reading.
	out := g.MustExec(t, "bash", "-c", "set -e\nus() { local n=${EPOCHREALTIME/./}; echo $((10#$n)); }\n"+script)
	res := map[string][]time.Duration{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("bad timing line %q", l)
		}
		res[f[0]] = append(res[f[0]], time.Duration(n)*time.Microsecond)
	}
	return res
}

func speedGuest(t *testing.T, suite, bin string, runs, rounds int) {
	keepHostPipeMaxSize(t)
	g := rig.Boot(t, suite)
	g.CopyIn(t, "/usr/bin/time", "/usr/local/bin/time", 0o755)
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
	if deb := os.Getenv("DLR_SPEED_DEB"); deb != "" {
		// As users get it: the package (its docker.service drop-in and the
		// watcher), installed with a container running; its postinst runs
		// dlr enable.
		g.CopyIn(t, deb, "/root/dlr.deb", 0o644)
		g.MustExec(t, "sh", "-c", "DEBIAN_FRONTEND=noninteractive dpkg -i /root/dlr.deb")
		t.Logf("installed %s", filepath.Base(deb))
	} else {
		g.CopyIn(t, bin, "/usr/bin/dlr", 0o755)
	}
	g.MustExec(t, "dlr", "enable")
	// The path measured below: answered from the record of a full check.
	if out := g.MustExec(t, "dlr", "enable"); !strings.Contains(out, "nothing has changed since") {
		t.Logf("note: dlr enable does not take its fast path here (no watcher running?):\n%s", out)
	}

	// Already enabled: dlr vs jq + cmp, interleaved.
	times := guestTimes(t, g, fmt.Sprintf(`
cp /etc/sysctl.d/60-docker-liverestore.conf /root/want.conf
for i in $(seq %d); do
  a=$(us); dlr enable >/dev/null; b=$(us); echo "dlr $((b-a))"
  a=$(us); jq -e '."live-restore" == true' /etc/docker/daemon.json >/dev/null && cmp -s /root/want.conf /etc/sysctl.d/60-docker-liverestore.conf; b=$(us); echo "sh $((b-a))"
  a=$(us); /bin/true; b=$(us); echo "clock $((b-a))"
done`, runs))
	clock := median(times["clock"])
	t.Logf("FIGURE %s guest (real systemd, D-Bus, dockerd %s): dlr enable when already enabled: median %s of %d runs; jq -e + cmp: median %s (running /bin/true: %s, included in both)",
		suite, trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"), ms(median(times["dlr"])), runs, ms(median(times["sh"])), ms(clock))
	// fs.pipe-max-size is the host's: a concurrent rig test that puts it
	// back makes a run raise it again, which is a change; anything else is not.
	if st := g.MustExec(t, "sh", "-c", "dlr enable --json | jq -c '[.changed, .actions]'"); !strings.HasPrefix(st, "[false,") {
		if strings.Contains(st, "wrote") || !strings.Contains(st, "fs.pipe-max-size") {
			t.Fatalf("dlr enable changed something on an enabled host: %s", st)
		}
		t.Logf("a run raised fs.pipe-max-size again (lowered by a concurrent test): %s", st)
	}

	// Off to verified on: dlr enable vs systemctl reload + polling docker info.
	times = guestTimes(t, g, fmt.Sprintf(`
dlr disable >/dev/null
[ ! -e /etc/docker/daemon.json ]
for i in $(seq %d); do
  echo '{"live-restore": true}' > /etc/docker/daemon.json
  a=$(us); systemctl reload docker; until [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = true ]; do :; done; b=$(us); echo "bare $((b-a))"
  echo '{"live-restore": false}' > /etc/docker/daemon.json; systemctl reload docker
  until [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = false ]; do sleep 0.05; done
  rm /etc/docker/daemon.json
  a=$(us); dlr enable >/dev/null; b=$(us); echo "dlr $((b-a))"
  [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = true ]
  dlr disable >/dev/null
  [ "$(docker info -f '{{.LiveRestoreEnabled}}')" = false ]
done`, rounds))
	d, b := median(times["dlr"]), median(times["bare"])
	t.Logf("FIGURE %s guest: off to verified on: dlr enable median %s vs systemctl reload docker + polling docker info median %s (%d rounds): ratio %.2f",
		suite, ms(d), ms(b), rounds, float64(d)/float64(b))

	// Peak RSS in the guest, against the real systemd and dockerd.
	for _, cmd := range []string{"enable", "status"} {
		out := g.Sh(t, "for i in 1 2 3 4 5; do /usr/local/bin/time -v dlr "+cmd+" 2>&1 >/dev/null | grep 'Maximum resident'; done")
		peak := 0
		for _, m := range maxRSS.FindAllStringSubmatch(out, -1) {
			kb, _ := strconv.Atoi(m[1])
			peak = max(peak, kb)
		}
		t.Logf("FIGURE %s guest: peak RSS of dlr %s (max of 5, /usr/bin/time -v): %d KiB (%.1f MB)", suite, cmd, peak, float64(peak)/1024)
	}
	if got := containerPID(t, g, "c1"); got == "" || got == "0" {
		t.Errorf("the container is not running after the measurements")
	}
}
