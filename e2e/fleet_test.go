//go:build e2e

package e2e

import (
	"encoding/json"
	"io/fs"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// recap is the PLAY RECAP line of one ansible-playbook run.
type recap struct{ ok, changed, failed int }

var recapRE = regexp.MustCompile(`localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)`)

func parseRecap(t *testing.T, out string) recap {
	t.Helper()
	m := recapRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no PLAY RECAP in:\n%s", out)
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	return recap{n(m[1]), n(m[2]), n(m[3])}
}

// enableChanged matches the role's dlr enable task reporting changed.
var enableChanged = regexp.MustCompile(`TASK \[docker_liverestore : Turn live restore on \(dlr enable\)\][^\n]*\nchanged: \[localhost\]`)

// taskJSON returns the result of a task of the role as ansible-playbook -v
// prints it ("changed: [localhost] => {...}"), and dlr's JSON report from
// its stdout, if any.
func taskJSON(t *testing.T, out, task string) (status string, report map[string]any) {
	t.Helper()
	i := strings.Index(out, "TASK [docker_liverestore : "+task+"]")
	if i < 0 {
		return "", nil
	}
	m := regexp.MustCompile(`(?m)^\s*(ok|changed|skipping|fatal): \[localhost\](?:: [A-Z!]+)? => (\{.*\})$`).FindStringSubmatch(out[i:])
	if m == nil {
		return "", nil
	}
	var res struct {
		Stdout string `json:"stdout"`
	}
	json.Unmarshal([]byte(m[2]), &res)
	json.Unmarshal([]byte(res.Stdout), &report)
	return m[1], report
}

// onlyPipeMax reports whether dlr's report changed nothing but the running
// fs.pipe-max-size. That sysctl is not namespaced: concurrent rig tests
// that put the host's value back lower it under this guest, and dlr enable
// then rightly raises it again.
func onlyPipeMax(report map[string]any) bool {
	acts, _ := report["actions"].([]any)
	if len(acts) == 0 {
		return false
	}
	for _, a := range acts {
		if s, _ := a.(string); !strings.Contains(s, "fs.pipe-max-size") || strings.Contains(s, "wrote") {
			return false
		}
	}
	return true
}

// copyTree copies the host directory src into the guest at dst.
func copyTree(t *testing.T, g *rig.Guest, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		g.CopyIn(t, p, filepath.Join(dst, rel), 0o644)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestAnsibleRole proves contrib/ansible with Debian's ansible-core in the
// guest (ansible-playbook -c local, offline), a container running
// throughout: check mode on a new host installs nothing; the first run
// installs the .deb and enables live restore (changed), the second is
// changed=0, check mode changes nothing (and says changed when live restore
// is off); a daemon.json template that changes bip while the container runs
// is refused by `validate: dlr validate %s` and the file is untouched; a
// registry-mirrors template is written and dockerd reloaded, not restarted.
func TestAnsibleRole(t *testing.T) {
	p := packagesForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := pkgGuest(t, suite, p)
		copyTree(t, g, "../contrib/ansible", "/root/ansible")
		t.Logf("%s: %s", suite, strings.SplitN(gsh(t, g, "ansible-playbook --version"), "\n", 2)[0])
		g.MustExec(t, "docker", "run", "-d", "--name", "c1", "logger", "/app")
		cpid, dpid := containerPID(t, g, "c1"), mainPID(t, g)
		const cfg = "/etc/docker/daemon.json"

		play := func(args string) (recap, string) {
			t.Helper()
			out, _ := pkgRun(t, g, "cd /root/ansible && ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 "+
				"ansible-playbook -v -c local -i localhost, site.yml -e dlr_package_path="+guestDeb(p.Cur)+" "+args)
			return parseRecap(t, out), out
		}

		// Check mode on a host without dlr: nothing installed, nothing written.
		if r, out := play("--check"); r.failed != 0 || r.changed != 1 {
			t.Fatalf("check mode on a new host: %+v\n%s", r, out)
		}
		if _, code := pkgRun(t, g, "dpkg -s docker-liverestore >/dev/null 2>&1"); code == 0 {
			t.Fatal("check mode installed the package")
		}
		if st := fileStamp(t, g, cfg); st != "absent" {
			t.Fatalf("check mode wrote %s: %s", cfg, st)
		}

		// First run: installed and enabled.
		r, out := play("")
		if r.failed != 0 || r.changed != 2 || !enableChanged.MatchString(out) {
			t.Fatalf("first run: %+v\n%s", r, out)
		}
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Fatalf("after the first run LiveRestoreEnabled = %s", got)
		}
		// The package brought the generated completions and manual page.
		if got := gsh(t, g, `bash -c '. /usr/share/bash-completion/completions/dlr; COMP_WORDS=(dlr dri); COMP_CWORD=1; _dlr; echo "${COMPREPLY[*]}"'`); got != "drill" {
			t.Errorf("installed bash completion completes dlr dri to %q", got)
		}
		if got := gsh(t, g, "zcat /usr/share/man/man8/dlr.8.gz | grep -c '^.SS dlr drill'; test -s /usr/share/zsh/vendor-completions/_dlr; test -s /usr/share/fish/vendor_completions.d/dlr.fish"); got != "1" {
			t.Errorf("installed manual page or zsh/fish completions: %q", got)
		}
		rpmList, err := exec.Command("rpm", "-qlp", p.Cur.RPM).CombinedOutput()
		for _, f := range []string{"/usr/share/bash-completion/completions/dlr", "/usr/share/zsh/vendor-completions/_dlr", "/usr/share/fish/vendor_completions.d/dlr.fish", "/usr/share/man/man8/dlr.8.gz"} {
			if err != nil || !strings.Contains(string(rpmList), f+"\n") {
				t.Errorf("the .rpm lacks %s: %v\n%s", f, err, rpmList)
			}
		}

		// Second run: nothing to do (but see onlyPipeMax).
		unchanged := func(what, task string, r recap, out string) {
			t.Helper()
			if r.failed != 0 || r.changed > 1 {
				t.Fatalf("%s: %+v\n%s", what, r, out)
			}
			if r.changed == 1 {
				st, rep := taskJSON(t, out, task)
				if st != "changed" || !onlyPipeMax(rep) {
					t.Fatalf("%s: %+v (%s: %v)\n%s", what, r, task, rep["actions"], out)
				}
				t.Logf("%s: changed only because a concurrent test lowered the host's fs.pipe-max-size: %v", what, rep["actions"])
			}
		}
		r, out = play("")
		unchanged("second run", "Turn live restore on (dlr enable)", r, out)
		// Check mode: nothing to do, nothing touched.
		before := fileStamp(t, g, cfg)
		r, out = play("--check")
		unchanged("check mode when enabled", "Would dlr enable change anything (check mode, dlr enable --dry-run)", r, out)
		if after := fileStamp(t, g, cfg); after != before {
			t.Fatalf("check mode changed %s: %s -> %s", cfg, before, after)
		}
		// Check mode with live restore off says changed and changes nothing.
		if code, _, errOut := dlr(t, g, "disable"); code != 0 {
			t.Fatalf("dlr disable: %s", errOut)
		}
		before = fileStamp(t, g, cfg)
		if r, out := play("--check"); r.failed != 0 || r.changed != 1 {
			t.Fatalf("check mode when disabled: %+v\n%s", r, out)
		}
		if after := fileStamp(t, g, cfg); after != before || liveRestoreEnabled(t, g) != "false" {
			t.Fatalf("check mode changed the host: %s -> %s", before, after)
		}
		if r, out := play(""); r.failed != 0 || r.changed != 1 {
			t.Fatalf("re-enable: %+v\n%s", r, out)
		}

		// An unsafe template (bip while a container runs): refused, untouched.
		before = fileStamp(t, g, cfg)
		r, out = play("-e dlr_daemon_json_template=daemon.json.j2 -e docker_bip=10.99.0.1/24")
		if r.failed != 1 || !strings.Contains(out, "failed to validate") {
			t.Fatalf("unsafe template: %+v\n%s", r, out)
		}
		if after := fileStamp(t, g, cfg); after != before {
			t.Fatalf("the refused template changed %s: %s -> %s", cfg, before, after)
		}
		// A safe one (registry-mirrors): written, dockerd reloaded.
		r, out = play(`-e dlr_daemon_json_template=daemon.json.j2 -e '{"docker_registry_mirrors": ["https://mirror.invalid"]}'`)
		if r.failed != 0 || r.changed < 1 {
			t.Fatalf("safe template: %+v\n%s", r, out)
		}
		if m := trimmed(t, g, "docker", "info", "-f", "{{.RegistryConfig.Mirrors}}"); !strings.Contains(m, "mirror.invalid") {
			t.Errorf("dockerd's mirrors after the safe template: %s\n%s", m, readGuestFile(t, g, cfg))
		}
		if got := liveRestoreEnabled(t, g); got != "true" {
			t.Errorf("LiveRestoreEnabled %s after the safe template", got)
		}
		if got := containerPID(t, g, "c1"); got != cpid {
			t.Errorf("container PID %s -> %s", cpid, got)
		}
		if got := mainPID(t, g); got != dpid {
			t.Errorf("dockerd restarted: MainPID %s -> %s", dpid, got)
		}
	})
}
