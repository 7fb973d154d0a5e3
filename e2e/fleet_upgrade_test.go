//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// The fleet (issue 22): three Docker hosts and a controller on a private
// network the test makes, Ansible reaching the hosts over SSH, a real
// Prometheus on the host scraping each host's node_exporter (dlr's
// textfile) with contrib/prometheus's rules.

// fleetHost is one Docker host of the fleet.
type fleetHost struct {
	name, addr string
	g          *rig.Guest
	pids       map[string]string // container name -> PID at the start
	dockerd    string            // dockerd's PID at the start
	seconds    string            // its upgrade's time, from its line in the play
}

// fleetContainers are the containers each host runs throughout.
var fleetContainers = [][]string{
	{"--name", "web", "--restart", "unless-stopped", "-p", "8080:8080", "logger", "/app", "-rate", "200", "-listen", ":8080"},
	{"--name", "worker", "--restart", "unless-stopped", "logger", "/app", "-rate", "500"},
}

// playLines returns the "dlr upgrade: HOST: ..." lines of the play's output.
var playLineRE = regexp.MustCompile(`"?(dlr upgrade: [^"\n]*)`)

func playLines(out string) []string {
	var ls []string
	for _, m := range playLineRE.FindAllStringSubmatch(out, -1) {
		ls = append(ls, strings.TrimSpace(m[1]))
	}
	return ls
}

// fleetRecapRE matches one host's PLAY RECAP line.
var fleetRecapRE = regexp.MustCompile(`(?m)^(h\d)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// fleetRecap returns each host's failed+unreachable count from the recap
// (hosts not in the recap were never reached).
func fleetRecap(out string) map[string]int {
	r := map[string]int{}
	for _, m := range fleetRecapRE.FindAllStringSubmatch(out, -1) {
		u, _ := strconv.Atoi(m[4])
		f, _ := strconv.Atoi(m[5])
		r[m[1]] = u + f
	}
	return r
}

// TestFleetUpgrade: a rolling upgrade of Docker from trixie's (26.1.5) to
// forky's (28.5.2) across three hosts with contrib/ansible's upgrade.yml,
// dlr as the gate, watched by a real Prometheus with contrib/prometheus's
// alerting rules.
//
// The hosts run two containers each before dlr is there; site.yml installs
// dlr from its signed apt repository (served over HTTP on the test's
// network) and enables live restore, over SSH from the controller. Host h2
// is then prepared to fail (a BindsTo=containerd.service drop-in on
// docker.service: containerd's upgrade would take dockerd down with it):
// the first rollout upgrades h1, stops at h2 before changing anything there
// (dlr preflight FAIL), leaves h3 untouched, and Prometheus fires the
// alert for h2. Fixed (the drop-in removed), the same play run again
// upgrades h2 and h3: every container kept its PID on every host,
// Prometheus shows each host's restore (2 containers, 2 kept), and no
// alert fires.
func TestFleetUpgrade(t *testing.T) {
	if _, err := exec.LookPath("prometheus"); err != nil {
		t.Skip("Debian's prometheus is not installed on the host (make deps installs it)")
	}
	keepHostPipeMaxSize(t)
	r := reposForTest(t)
	upgradeDebs := debSet("forky", "docker", forkyDocker)(t)
	// The host is .1 on the test's bridge, the controller .10, the Docker
	// hosts .11 to .13.
	nw := rig.NewNetwork(t, fleetCIDR)
	prefix := strings.TrimSuffix(nw.HostAddr(), "1")

	// The signed repository, over HTTP on the fleet's network only.
	repoURL := serveDir(t, nw.HostAddr(), r.V1)

	ctrl := rig.Boot(t, rig.FleetSuite)
	nw.Attach(t, ctrl, prefix+"10")
	var hosts []*fleetHost
	targets := map[string]*rig.Guest{}
	for i := 1; i <= 3; i++ {
		h := &fleetHost{name: fmt.Sprintf("h%d", i), addr: fmt.Sprintf("%s%d", prefix, 10+i)}
		h.g = rig.Boot(t, rig.FleetSuite)
		nw.Attach(t, h.g, h.addr)
		h.g.ImportImage(t, "logger", rig.BuildLogger(t))
		// No route out: apt must use only dlr's repository.
		pkgMust(t, h.g, "mkdir -p /root/apt-sources && for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do "+
			"if [ -e \"$f\" ]; then mv \"$f\" /root/apt-sources/; fi; done")
		// Debian's prometheus-node-exporter makes /var/lib/prometheus the
		// prometheus user's; dlr writes its textfile only under root's
		// directories (docs/fleet.md says so).
		pkgMust(t, h.g, "chown root:root /var/lib/prometheus")
		h.pids = map[string]string{}
		for _, c := range fleetContainers {
			h.g.MustExec(t, append([]string{"docker", "run", "-d"}, c...)...)
			h.pids[c[1]] = containerPID(t, h.g, c[1])
		}
		h.dockerd = mainPID(t, h.g)
		hosts = append(hosts, h)
		targets[h.addr] = h.g
	}
	sshTrust(t, ctrl, targets)

	// The controller: contrib/ansible, an inventory of the three by
	// address, the repository's key and the packages of the upgrade.
	copyTree(t, ctrl, "../contrib/ansible", "/root/ansible")
	var inv strings.Builder
	inv.WriteString("[docker]\n")
	for _, h := range hosts {
		fmt.Fprintf(&inv, "%s ansible_host=%s\n", h.name, h.addr)
	}
	inv.WriteString("[docker:vars]\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n" +
		"ansible_ssh_common_args='-o BatchMode=yes -o StrictHostKeyChecking=yes'\n")
	writeGuest(t, ctrl, "/root/ansible/inventory", inv.String())
	ctrl.CopyIn(t, filepath.Join(r.V1, "docker-liverestore-archive-keyring.asc"), "/root/ansible/dlr-key.asc", 0o644)
	var files []string
	for _, d := range upgradeDebs {
		ctrl.CopyIn(t, d, "/root/ansible/upgrade/"+filepath.Base(d), 0o644)
		files = append(files, "/root/ansible/upgrade/"+filepath.Base(d))
	}
	filesJSON, _ := json.Marshal(map[string]any{"dlr_upgrade_files": files})
	writeGuest(t, ctrl, "/root/ansible/upgrade-files.json", string(filesJSON))
	play := func(args string) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		out, errOut, _, err := ctrl.Exec(ctx, "bash", "-c", "cd /root/ansible && ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ansible-playbook -i inventory "+args)
		if err != nil {
			t.Fatalf("ansible-playbook %s: %v\n%s%s", args, err, out, errOut)
		}
		return out + errOut, time.Since(start)
	}

	// dlr on every host, from the signed repository, over SSH.
	out, d := play("site.yml -e dlr_repository_url=" + repoURL + " -e dlr_repository_key=/root/ansible/dlr-key.asc")
	if rc := fleetRecap(out); len(rc) != 3 || rc["h1"]+rc["h2"]+rc["h3"] != 0 {
		t.Fatalf("site.yml over SSH: recap %v\n%s", rc, out)
	}
	t.Logf("FIGURE fleet: site.yml (install from the signed repository over HTTP, enable) on 3 hosts over SSH in %s", d.Round(time.Second))
	for _, h := range hosts {
		if got := liveRestoreEnabled(t, h.g); got != "true" {
			t.Fatalf("%s: live restore %s after site.yml", h.name, got)
		}
		if got := gsh(t, h.g, "apt-cache policy docker-liverestore | grep -A1 '^ \\*\\*\\*' | tail -1"); !strings.Contains(got, repoURL) {
			t.Errorf("%s: docker-liverestore not from the repository at %s: %q", h.name, repoURL, got)
		}
		h.keptAll(t, "site.yml")
	}

	// A real Prometheus on the host, scraping node_exporter on each host.
	prom := startPrometheus(t, nw.HostAddr(), hosts)
	prom.waitFor(t, "every host's dlr_live_restore_configured is 1", 3*time.Minute, func() bool {
		return len(prom.series(t, `dlr_live_restore_configured == 1`)) == 3
	})

	if f := prom.firing(t, ""); len(f) > 0 {
		t.Errorf("alerts firing on the healthy fleet before the rollout: %v", f)
	}

	// h2 prepared to fail: docker.service bound to containerd.
	h2 := hosts[1]
	prepared := time.Now()
	writeGuest(t, h2.g, "/etc/systemd/system/docker.service.d/bind.conf", "[Unit]\nBindsTo=containerd.service\n")
	h2.g.MustExec(t, "systemctl", "daemon-reload")
	versions := func() []string {
		var vs []string
		for _, h := range hosts {
			vs = append(vs, gsh(t, h.g, "dpkg-query -W -f '${Version}' docker.io"))
		}
		return vs
	}
	before := versions()

	out, d = play("upgrade.yml -e @upgrade-files.json")
	lines := playLines(out)
	t.Logf("first rollout (%s):\n%s", d.Round(time.Second), strings.Join(lines, "\n"))
	rc := fleetRecap(out)
	if rc["h1"] != 0 || rc["h2"] == 0 {
		t.Errorf("first rollout: want h1 upgraded and h2 stopped, recap %v", rc)
	}
	if _, reached := rc["h3"]; reached {
		t.Errorf("first rollout: h3 was reached after h2 stopped (recap %v)", rc)
	}
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "dlr upgrade: h2: stopped before any package changed: dlr preflight") && strings.Contains(l, "BindsTo=containerd.service")
	}) {
		t.Errorf("first rollout: no line saying h2 stopped at dlr preflight for its BindsTo:\n%s", out)
	}
	after := versions()
	if after[0] == before[0] || after[1] != before[1] || after[2] != before[2] {
		t.Errorf("docker.io versions %v -> %v: want h1 upgraded, h2 and h3 not", before, after)
	}
	hosts[0].upgraded(t, lines, before[0])
	for _, h := range hosts[1:] {
		if got := mainPID(t, h.g); got != h.dockerd {
			t.Errorf("%s: dockerd PID %s -> %s: a stopped rollout touched it", h.name, h.dockerd, got)
		}
		h.keptAll(t, "the stopped rollout")
	}
	// h2 got the files dlr preflight judged; h3 nothing at all.
	if got := gsh(t, hosts[2].g, "test -e /var/cache/dlr-upgrade && echo present || echo absent"); got != "absent" {
		t.Errorf("h3: /var/cache/dlr-upgrade is %s: the rollout reached a host after the one that stopped", got)
	}
	waited := prom.waitFor(t, "an alert firing for h2", 3*time.Minute, func() bool {
		return slices.ContainsFunc(prom.firing(t, h2.addr), func(a string) bool { return strings.HasPrefix(a, "DlrCheckFailing{") })
	})
	t.Logf("FIGURE fleet: alerts firing for h2 %s after the stopped rollout ended (DlrCheckFailing active since %s after the drop-in was written: the watcher's textfile is rewritten every minute): %v; for h1: %v; for h3: %v",
		waited.Round(time.Second), prom.activeAt(t, "DlrCheckFailing", h2.addr).Sub(prepared).Round(time.Second),
		prom.firing(t, h2.addr), prom.firing(t, hosts[0].addr), prom.firing(t, hosts[2].addr))
	if f := prom.firing(t, hosts[0].addr); len(f) > 0 {
		t.Errorf("alerts firing for h1 after its clean upgrade: %v", f)
	}

	// Fixed: the rollout again.
	h2.g.MustExec(t, "rm", "/etc/systemd/system/docker.service.d/bind.conf")
	h2.g.MustExec(t, "systemctl", "daemon-reload")
	out, d = play("upgrade.yml -e @upgrade-files.json")
	lines = playLines(out)
	t.Logf("second rollout (%s):\n%s", d.Round(time.Second), strings.Join(lines, "\n"))
	if rc := fleetRecap(out); len(rc) != 3 || rc["h1"]+rc["h2"]+rc["h3"] != 0 {
		t.Fatalf("second rollout: recap %v\n%s", rc, out)
	}
	final := versions()
	for i, h := range hosts {
		if final[i] != after[0] {
			t.Errorf("%s: docker.io %s after the second rollout, want %s", h.name, final[i], after[0])
		}
		if i > 0 {
			h.upgraded(t, lines, before[i])
		}
		h.keptAll(t, "both rollouts")
	}
	prom.waitFor(t, "each host's restore in Prometheus and no alert firing", 4*time.Minute, func() bool {
		kept := prom.series(t, `dlr_last_restore_kept == 2 and dlr_last_restore_containers == 2`)
		return len(kept) == 3 && len(prom.firing(t, "")) == 0
	})
	t.Logf("FIGURE fleet: Prometheus: %d hosts with a last restore of 2 containers, 2 kept; alerts firing: %d",
		len(prom.series(t, `dlr_last_restore_kept == 2 and dlr_last_restore_containers == 2`)), len(prom.firing(t, "")))
	var per []string
	for _, h := range hosts {
		per = append(per, h.name+" "+h.seconds+" s")
	}
	t.Logf("FIGURE fleet: 3 hosts, %d containers, every one kept its PID through both rollouts; upgrade time per host (from the play's lines): %s",
		3*len(fleetContainers), strings.Join(per, ", "))
}

// keptAll checks every container of h runs with the PID it had at the start.
func (h *fleetHost) keptAll(t *testing.T, after string) {
	t.Helper()
	for name, pid := range h.pids {
		if got := containerPID(t, h.g, name); got != pid {
			t.Errorf("%s: container %s PID %s -> %s after %s", h.name, name, pid, got, after)
		}
	}
}

// upgraded checks h's line in the play and in dlr status after its upgrade.
func (h *fleetHost) upgraded(t *testing.T, lines []string, from string) {
	t.Helper()
	i := slices.IndexFunc(lines, func(l string) bool {
		return strings.HasPrefix(l, "dlr upgrade: "+h.name+": ") && strings.Contains(l, "docker.io ")
	})
	if i < 0 {
		t.Errorf("%s: no line for its upgrade in the play: %q", h.name, lines)
		return
	}
	l := lines[i]
	if !strings.Contains(l, "docker.io "+from+" -> ") || !strings.Contains(l, "restarted by this play") ||
		!strings.Contains(l, "2 containers, 2 kept, no problems") {
		t.Errorf("%s: its line: %s", h.name, l)
	}
	if m := regexp.MustCompile(`; (\d+) s on this host$`).FindStringSubmatch(l); m != nil {
		h.seconds = m[1]
	} else {
		t.Errorf("%s: its line gives no time: %s", h.name, l)
	}
	st := gsh(t, h.g, "dlr status | grep '^last restore:'")
	if !regexp.MustCompile(`\(watcher\): dockerd 26\.1\.5\S* -> 28\.5\.2\S*, 2 containers, 2 kept, no problems`).MatchString(st) {
		t.Errorf("%s: dlr status: %s", h.name, st)
	}
}

// serveDir serves dir over HTTP on addr (a random port) until the test
// ends, and returns its URL.
func serveDir(t *testing.T, addr, dir string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir)), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// prometheus is Debian's prometheus server run by the test on the host.
type prometheus struct {
	base string
	cmd  *exec.Cmd
}

// startPrometheus runs prometheus on 127.0.0.1 (a free port) with
// contrib/prometheus's rules, scraping node_exporter (port 9100) on each
// host every 2 s, evaluating every 2 s; it is killed when the test ends.
func startPrometheus(t *testing.T, hostAddr string, hosts []*fleetHost) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs("../contrib/prometheus/dlr-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, h := range hosts {
		targets = append(targets, strconv.Quote(h.addr+":9100"))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - %s
scrape_configs:
  - job_name: docker-hosts
    static_configs:
      - targets: [%s]
`, rules, strings.Join(targets, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	log, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prometheus", "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+listen)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &prometheus{base: "http://" + listen, cmd: cmd}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("prometheus's log (last lines):\n%s", tail(string(b), 20))
		}
	})
	// Ready (its TSDB open, the rules loaded) before it is asked anything.
	for start := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(p.base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("prometheus not ready on %s within a minute: %v", listen, err)
		}
	}
	p.waitFor(t, "prometheus scraping the 3 hosts", 2*time.Minute, func() bool {
		return len(p.series(t, `up{job="docker-hosts"} == 1`)) == 3
	})
	t.Logf("prometheus %s on %s scrapes %s", strings.Fields(hostMust(t, "prometheus", "--version"))[2], listen, strings.Join(targets, ", "))
	return p
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(ls[max(0, len(ls)-n):], "\n")
}

// get GETs path from the API and decodes its data member into v.
func (p *prometheus) get(t *testing.T, path string, v any) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Status != "success" {
		t.Fatalf("prometheus %s: %v %s: %s", path, err, env.Error, b)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatal(err)
	}
}

// series returns the instances of an instant query's result.
func (p *prometheus) series(t *testing.T, query string) []string {
	t.Helper()
	var d struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
		} `json:"result"`
	}
	p.get(t, "/api/v1/query?query="+url.QueryEscape(query), &d)
	var is []string
	for _, r := range d.Result {
		is = append(is, r.Metric["instance"])
	}
	return is
}

// firing returns the names of the alerts firing (/api/v1/alerts) for the
// instance at addr ("" for any).
func (p *prometheus) firing(t *testing.T, addr string) []string {
	t.Helper()
	var d struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", &d)
	var names []string
	for _, a := range d.Alerts {
		if a.State == "firing" && (addr == "" || strings.HasPrefix(a.Labels["instance"], addr+":")) {
			names = append(names, a.Labels["alertname"]+"{"+a.Labels["instance"]+"}")
		}
	}
	return names
}

// activeAt returns when the alert name for the instance at addr became
// active (zero if it is not).
func (p *prometheus) activeAt(t *testing.T, name, addr string) time.Time {
	t.Helper()
	var d struct {
		Alerts []struct {
			Labels   map[string]string `json:"labels"`
			ActiveAt time.Time         `json:"activeAt"`
		} `json:"alerts"`
	}
	p.get(t, "/api/v1/alerts", &d)
	for _, a := range d.Alerts {
		if a.Labels["alertname"] == name && strings.HasPrefix(a.Labels["instance"], addr+":") {
			return a.ActiveAt
		}
	}
	return time.Time{}
}

// waitFor polls cond every 2 s for at most d.
func (p *prometheus) waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("waited %s for %s (alerts firing: %v)", d, what, p.firing(t, ""))
		}
		time.Sleep(2 * time.Second)
	}
	return time.Since(start)
}

// TestUpgradePlayCE runs upgrade.yml (ansible-playbook -c local) where
// Docker CE's package restarts dockerd itself: the upstream suite (forky
// with the docker-ce-like package of upstream 29.7.1), dlr installed and
// enabled, two containers; the play installs docker-ce 29.8.1 from a file.
// The package's postinst restarts docker.service, so the play must not
// restart it again: its line says "restarted by the package", it waits
// for the watcher's record of that restart, and both containers keep
// their PIDs.
func TestUpgradePlayCE(t *testing.T) {
	p := packagesForTest(t)
	deb, err := rig.CEPackage(t.Context(), "29.8.1")
	if err != nil {
		t.Fatal(err)
	}
	g := pkgGuest(t, "upstream", p)
	pkgMust(t, g, "DEBIAN_FRONTEND=noninteractive apt-get install -y "+guestDeb(p.Cur))
	h := &fleetHost{name: "localhost", g: g, pids: map[string]string{}}
	for _, c := range fleetContainers {
		g.MustExec(t, append([]string{"docker", "run", "-d"}, c...)...)
		h.pids[c[1]] = containerPID(t, g, c[1])
	}
	if got := liveRestoreEnabled(t, g); got != "true" {
		t.Fatalf("live restore %s after the package's install", got)
	}
	from := gsh(t, g, "dpkg-query -W -f '${Version}' docker-ce")
	copyTree(t, g, "../contrib/ansible", "/root/ansible")
	g.CopyIn(t, deb, "/root/ansible/upgrade/"+filepath.Base(deb), 0o644)
	writeGuest(t, g, "/root/ansible/files.json", `{"dlr_upgrade_files": ["/root/ansible/upgrade/`+filepath.Base(deb)+`"]}`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out, errOut, code, err := g.Exec(ctx, "bash", "-c", "cd /root/ansible && ANSIBLE_NOCOLOR=1 ansible-playbook -c local -i localhost, upgrade.yml -e @files.json")
	if err != nil || code != 0 {
		t.Fatalf("upgrade.yml: exit %d %v\n%s%s", code, err, out, errOut)
	}
	lines := playLines(out)
	t.Logf("%s", strings.Join(lines, "\n"))
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "dlr upgrade: localhost: docker-ce "+from+" -> ") })
	if i < 0 || !strings.Contains(lines[i], "restarted by the package") || !strings.Contains(lines[i], "2 containers, 2 kept, no problems") {
		t.Errorf("the play's line for a package that restarts dockerd: %q\n%s", lines, out)
	}
	if m := regexp.MustCompile(`TASK \[docker_upgrade : Restart dockerd \(its package did not\)\][^\n]*\n(\w+)`).FindStringSubmatch(out); m == nil || m[1] != "skipping" {
		t.Errorf("the play's restart task after the package had restarted dockerd: %q, want skipping\n%s", m, out)
	}
	if got := gsh(t, g, "dpkg-query -W -f '${Version}' docker-ce"); !strings.HasPrefix(got, "5:29.8.1-") {
		t.Errorf("docker-ce %s after the play, want 29.8.1", got)
	}
	h.keptAll(t, "the play")
	if st := gsh(t, g, "dlr status | grep '^last restore:'"); !strings.Contains(st, "dockerd 29.7.1 -> 29.8.1, 2 containers, 2 kept, no problems") {
		t.Errorf("dlr status: %s", st)
	}
}
