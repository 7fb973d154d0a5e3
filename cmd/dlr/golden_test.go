package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// The output that is a contract (what status, check, enable and disable
// print, as text and as --json, the dry-run diffs, the bad-input messages)
// is checked against golden transcripts in testdata/golden, whole. After a
// deliberate change of the output, regenerate them and read the diff:
//
//	go test ./cmd/dlr -run TestGolden -update
var update = flag.Bool("update", false, "rewrite the golden transcripts in testdata/golden")

// goldenCase is a scenario: a host set up, then commands run in order.
type goldenCase struct {
	name  string
	setup func(e *testEnv)
	runs  [][]string
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{"enable-then-disable", nil, [][]string{
			{"status"}, {"enable", "--dry-run"}, {"enable"}, {"enable"}, {"status"}, {"status", "--json"},
			{"disable", "--dry-run"}, {"disable"}, {"status"},
		}},
		{"enable-json", nil, [][]string{{"enable", "--json"}, {"disable", "--json"}}},
		{"check", func(e *testEnv) {
			e.d.containers = []host.Container{{ID: "c1", Name: "web", PID: 10, RestartPolicy: "no", Published: true}}
		}, [][]string{{"check"}, {"enable"}, {"check", "--json"}}},
		// Issue 12: dlr preflight as apt's hook sees the trixie -> forky
		// upgrade, live restore on; then with docker.service bound to
		// containerd (a FAIL: exit 3, which STRICT=yes turns into apt's
		// refusal); then a transaction without Docker's packages (silent).
		{"preflight", func(e *testEnv) {
			e.write(daemonJSON, "{\"live-restore\": true}\n")
			e.d.liveRestore = true
			e.d.containers = []host.Container{{ID: "c1", Name: "web", PID: 10, RestartPolicy: "always"}, {ID: "c2", Name: "db", PID: 11, RestartPolicy: "always"}}
			e.h.Stdin = strings.NewReader(aptHookInput)
		}, [][]string{{"preflight", "--apt-hook"}}},
		{"preflight-bound", func(e *testEnv) {
			e.write(daemonJSON, "{\"live-restore\": true}\n")
			e.d.liveRestore = true
			e.d.containers = []host.Container{{ID: "c1", Name: "web", PID: 10, RestartPolicy: "always"}}
			e.d.svc.FragmentPath = "/lib/systemd/system/docker.service"
			e.d.svc.DropInPaths = []string{"/etc/systemd/system/docker.service.d/bind.conf"}
			e.d.svc.BindsTo = []string{"containerd.service"}
			e.write("etc/systemd/system/docker.service.d/bind.conf", "[Unit]\nBindsTo=containerd.service\n")
			e.h.Stdin = strings.NewReader(aptHookInput)
		}, [][]string{{"preflight", "--apt-hook"}}},
		// Issue 20: bookworm's Docker 20.10.24 with a --rm container and a
		// health-checked one: check says what a restart does to each (the
		// --rm one removed: FAIL; the probes frozen: WARN), preflight the
		// same for a same-version reinstall; then issue 21 item 5: docker-ce
		// 24.0.3 installed while docker.io is removed, the installed one
		// decides (24.0.3 panics on a bind mount).
		{"hazards", func(e *testEnv) {
			hazardHost(e)
			e.h.Stdin = strings.NewReader(hazardsHookInput)
		}, [][]string{{"check"}, {"preflight", "--apt-hook"}}},
		{"hazards-two-dockerds", func(e *testEnv) {
			hazardHost(e)
			e.h.Stdin = strings.NewReader(twoDockerdsHookInput)
		}, [][]string{{"preflight", "--apt-hook"}}},
		{"preflight-json", func(e *testEnv) {
			e.d.containers = []host.Container{{ID: "c1", Name: "web", PID: 10}}
			e.h.Stdin = strings.NewReader(aptHookInput)
		}, [][]string{{"preflight", "--apt-hook", "--json"}}},
		// Issue 21, item 2: a .deb path with spaces (apt writes it raw at
		// the end of the line), and a line dlr cannot read that names no
		// Docker package: a note, never fatal.
		{"preflight-apt-spaces", func(e *testEnv) {
			e.write(daemonJSON, "{\"live-restore\": true}\n")
			e.d.liveRestore = true
			e.h.Stdin = strings.NewReader("VERSION 3\nAPT::Architecture=amd64\n\n" +
				"docker.io 26.1.5+dfsg1-9+deb13u1+b1 amd64 none < 28.5.2+dfsg4-5 amd64 none /root/My Debs/docker.io_28.5.2_amd64.deb\n" +
				"something apt never wrote\n")
		}, [][]string{{"preflight", "--apt-hook"}}},
		// Issue 21, item 9: no "0 FAIL, 0 WARN" before the failure when the
		// running dockerd does not answer.
		{"preflight-no-info", func(e *testEnv) {
			e.d.infoErr = errors.New("GET /info: no answer after 5s")
			e.h.Stdin = strings.NewReader(aptHookInput)
		}, [][]string{{"preflight", "--apt-hook"}}},
		{"preflight-not-docker", func(e *testEnv) {
			e.h.Stdin = strings.NewReader("VERSION 3\nAPT::Architecture=amd64\n\ntini - - none < 0.19.0-6+b2 amd64 none /tmp/tini.deb\n")
		}, [][]string{{"preflight", "--apt-hook"}, {"preflight", "--apt-hook", "extra"}}},
		{"set-unset", nil, [][]string{
			{"set", "--dry-run", "debug=true", `labels=["a=b"]`}, {"set", "debug=true"}, {"unset", "--dry-run", "debug"}, {"unset", "debug"},
			{"set", "bip=10.9.0.1/24"},
		}},
		{"validate", func(e *testEnv) {
			e.write("candidate.json", "{\"live-restore\": true, \"bip\": \"10.1.0.1/24\", \"bogus-key\": 1}\n")
			e.write("ok.json", "{\"live-restore\": true, \"debug\": true}\n")
		}, [][]string{{"validate", "$ROOT/candidate.json"}, {"validate", "$ROOT/ok.json"}, {"validate", "--json", "$ROOT/ok.json"}}},
		// Issue 19: firewall-backend nftables needs the nft tool, or dockerd
		// does not start again: refused by validate and set alike without
		// it, accepted with it.
		{"validate-nft", func(e *testEnv) {
			e.d.validate = validateOK
			e.write("nft.json", "{\"live-restore\": true, \"firewall-backend\": \"nftables\"}\n")
		}, [][]string{{"validate", "$ROOT/nft.json"}, {"set", "firewall-backend=nftables"}}},
		{"validate-nft-installed", func(e *testEnv) {
			e.d.validate = validateOK
			e.write("nft.json", "{\"live-restore\": true, \"firewall-backend\": \"nftables\"}\n")
			e.write("usr/sbin/nft", "#!/bin/sh\n")
			if err := os.Chmod(filepath.Join(e.dir, "usr/sbin/nft"), 0o755); err != nil {
				e.t.Fatal(err)
			}
		}, [][]string{{"validate", "$ROOT/nft.json"}}},
		// Issue 14: without dlr's state, validate cannot tell whether dlr
		// manages live-restore: "cannot tell" (exit 1), never "safe".
		{"validate-no-state", func(e *testEnv) {
			e.write(daemonJSON, orig)
			e.write("ok.json", "{\"debug\": true}\n")
			e.write("var/lib/docker-liverestore/state.json", "{garbage")
		}, [][]string{{"validate", "$ROOT/ok.json"}, {"validate", "--if-unknown=pass", "$ROOT/ok.json"}}},
		{"bad-input", func(e *testEnv) {
			e.write(daemonJSON, "{\n  \"debug\": tru\n}\n")
		}, [][]string{{"enable"}, {"enable", "--json"}, {"status"}, {"set", "debug=false"}, {"enable", "--pipe-max-size", "3K"}, {"enable", "extra"}, {"frobnicate"},
			{"disable", "--lock-timeout", "0"}, {"set", "--lock-timeout", "-1s", "debug=true"},
			{"validate", "--help"}, {"status", "--json", "--frobnicate"}, {"validate", "--json"}}},
		// Issue 14: what Docker < 23 cannot check itself, dlr checks: the
		// types of the keys it knows, option names, numbers a float64
		// holds; a value the user gave is the user's to fix (exit 2 or 3).
		{"types", nil, [][]string{
			{"set", "debug=yes"}, {"set", "registry-mirrors=https://m"}, {"set", "max-concurrent-downloads=3.5"},
			{"set", `live-restore="true"`}, {"set", "mtu=1e999"}, {"set", "Debug=true"},
		}},
		{"bad-keys", func(e *testEnv) {
			e.write(daemonJSON, "{\"Live-Restore\": true}\n")
			e.write("empty-key.json", "{\"\": 1}\n")
			e.write("huge.json", "{\"x\": 1e999}\n")
		}, [][]string{{"enable"}, {"validate", "$ROOT/empty-key.json"}, {"validate", "$ROOT/huge.json"}, {"enable", "--config", "$ROOT/huge.json"}}},
		// Issue 14, item 12: --config is an absolute path to a file in a
		// directory that exists; a path with a blank works.
		{"config-flag", func(e *testEnv) {
			e.write(daemonJSON, orig)
			e.write("srv/my docker/daemon.json", orig)
		}, [][]string{
			{"enable", "--config", "relative.json"}, {"enable", "--config", ""}, {"enable", "--config", "$ROOT/etc/docker/"},
			{"enable", "--config", "$ROOT/missing/daemon.json"}, {"validate", "--if-unknown=maybe", "$ROOT/etc/docker/daemon.json"},
			{"enable", "--dry-run", "--config", "$ROOT/srv/my docker/daemon.json"},
		}},
		// Issue 14, item 4: dlr manages one daemon.json at a time.
		{"two-files", func(e *testEnv) {
			e.write(daemonJSON, orig)
			e.write("srv/b.json", "{}\n")
		}, [][]string{{"enable"}, {"enable", "--config", "$ROOT/srv/b.json"}, {"disable", "--config", "$ROOT/srv/b.json"}, {"disable"}}},
		// Issue 14, item 5: enable never writes a file dlr could not read
		// back.
		{"size-limit", func(e *testEnv) {
			e.write(daemonJSON, "{\"labels\": [\""+strings.Repeat("a", 4<<20-16)+"\"]}")
		}, [][]string{{"enable"}, {"status"}}},
		// Issue 14, item 13: without systemd, messages name dockerd by PID.
		{"no-systemd", func(e *testEnv) {
			e.write(daemonJSON, orig)
			os.RemoveAll(filepath.Join(e.dir, "run/systemd"))
			e.h.DialSystemd = nil
			e.write("var/run/docker.pid", "777\n")
			e.write("proc/777/comm", "dockerd\n")
			e.write("proc/777/cmdline", "/usr/bin/dockerd\x00--config-file\x00"+e.config+"\x00")
			e.h.Signal = func(pid int, sig syscall.Signal) error {
				return e.d.Reload(context.Background(), host.DockerService)
			}
		}, [][]string{{"enable", "--dry-run"}, {"enable"}, {"status"}}},
		{"flag-conflict", func(e *testEnv) {
			e.d.svc.ExecStart = [][]string{{"/usr/sbin/dockerd", "-H", "fd://", "--live-restore=false", "--debug"}}
			e.write(daemonJSON, "{\"debug\": true}\n")
		}, [][]string{{"enable"}, {"status"}, {"check"}}},
	}
}

// normalise replaces what changes from run to run: the temporary root,
// backup time stamps, the time of a recorded check.
func normalise(s, root string) string {
	s = strings.ReplaceAll(s, root, "$ROOT")
	s = regexp.MustCompile(`daemon\.json\.\d{8}T\d{6}\.\d+Z`).ReplaceAllString(s, "daemon.json.<time>")
	s = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [A-Z]+`).ReplaceAllString(s, "<time>")
	s = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`).ReplaceAllString(s, "<time>")
	return s
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases() {
		t.Run(gc.name, func(t *testing.T) {
			e := newTestEnv(t)
			e.write("proc/meminfo", "MemTotal:        1048576 kB\n")
			if gc.setup == nil {
				e.write(daemonJSON, orig)
			} else {
				gc.setup(e)
			}
			var b strings.Builder
			for _, args := range gc.runs {
				for i := range args {
					args[i] = strings.ReplaceAll(args[i], "$ROOT", e.dir)
				}
				code, out, errOut := e.run(args...)
				fmt.Fprintf(&b, "$ dlr %s\n%s", strings.Join(args, " "), out)
				if errOut != "" {
					fmt.Fprintf(&b, "[stderr]\n%s", errOut)
				}
				fmt.Fprintf(&b, "[exit %d]\n\n", code)
			}
			got := normalise(b.String(), e.dir)
			path := filepath.Join("testdata", "golden", gc.name+".txt")
			if *update {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the transcript (go test ./cmd/dlr -run TestGolden -update, then read the diff):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

// lineDiff shows the first lines where two transcripts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, a, b)
		}
	}
	return ""
}

// aptHookInput is the trixie -> forky upgrade as apt gives it to a
// DPkg::Pre-Install-Pkgs hook with protocol version 3.
// hazardHost is bookworm's Docker 20.10.24, live restore on, with a --rm
// container and a health-checked one with a bind mount.
func hazardHost(e *testEnv) {
	e.write(daemonJSON, "{\"live-restore\": true}\n")
	e.d.liveRestore = true
	e.d.version = "20.10.24+dfsg1"
	e.h.DockerdVersion = func(context.Context, string) (string, error) { return "20.10.24+dfsg1", nil }
	e.d.containers = []host.Container{
		{ID: "c1", Name: "rmme", PID: 10, Props: guard.Props{AutoRemove: true, NetworkMode: "default"}},
		{ID: "c2", Name: "hc", PID: 11, RestartPolicy: "unless-stopped", Props: guard.Props{Health: true, RestartPolicy: "unless-stopped", NetworkMode: "default",
			Mounts: []guard.Mount{{Type: "bind"}}}},
	}
}

// hazardsHookInput: a same-version reinstall of bookworm's docker.io, then
// docker-ce 24.0.3 replacing it (one transaction each, read in turn).
const hazardsHookInput = `VERSION 3
APT::Architecture=amd64

docker.io 20.10.24+dfsg1-1+deb12u1 amd64 none = 20.10.24+dfsg1-1+deb12u1 amd64 none /var/cache/apt/archives/docker.io_20.10.24+dfsg1-1+deb12u1_amd64.deb
`

const twoDockerdsHookInput = `VERSION 3
APT::Architecture=amd64

docker-ce - - none < 5:24.0.3-1~debian.12~bookworm amd64 none /tmp/debs/docker-ce_24.0.3-1~debian.12~bookworm_amd64.deb
docker.io 20.10.24+dfsg1-1+deb12u1 amd64 none > - - none **REMOVE**
`

const aptHookInput = `VERSION 3
APT::Architecture=amd64

containerd 1.7.24~ds1-6+deb13u1 amd64 none < 2.1.9+ds1-5 amd64 none /tmp/debs/containerd_2.1.9+ds1-5_amd64.deb
docker-cli 26.1.5+dfsg1-9+deb13u1+b1 amd64 none < 28.5.2+dfsg4-5 amd64 none /tmp/debs/docker-cli_28.5.2+dfsg4-5_amd64.deb
docker.io 26.1.5+dfsg1-9+deb13u1+b1 amd64 none < 28.5.2+dfsg4-5 amd64 none /tmp/debs/docker.io_28.5.2+dfsg4-5_amd64.deb
runc 1.1.15+ds1-2+b4 amd64 none < 1.3.6+ds1-1 amd64 none /tmp/debs/runc_1.3.6+ds1-1_amd64.deb
`

// validateOK is dockerd --validate (Docker 23.0 and later) accepting the
// file: it checks the file, not what dockerd needs to start.
func validateOK([]byte) (string, bool, error) { return "configuration OK", true, nil }
