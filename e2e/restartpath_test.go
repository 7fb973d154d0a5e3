//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// needrestartDebs are the packages a suite's minbase guest lacks for
// needrestart (found with apt-get -s install --no-install-recommends
// needrestart against the guest's dpkg status).
var needrestartDebs = map[string][]string{
	"bookworm": {"needrestart", "gettext-base", "xz-utils", "binutils", "binutils-common", "binutils-x86-64-linux-gnu",
		"libbinutils", "libctf-nobfd0", "libctf0", "libgprofng0", "libjansson4", "libintl-perl", "libmodule-find-perl",
		"libproc-processtable-perl", "libsort-naturally-perl", "libterm-readkey-perl"},
	"trixie": {"needrestart", "gettext-base", "perl-modules-5.40", "libgdbm6t64", "libgdbm-compat4t64", "libperl5.40", "perl",
		"xz-utils", "libintl-perl", "libmodule-find-perl", "libproc-processtable-perl", "libsort-naturally-perl", "libterm-readkey-perl"},
	"forky": {"needrestart", "gettext-base", "perl-modules-5.42", "libgdbm6t64", "libgdbm-compat4t64", "libperl5.42", "perl",
		"xz-utils", "libintl-perl", "libmodule-find-perl", "libproc-processtable-perl", "libsort-naturally-perl", "libterm-readkey-perl"},
}

type restartItem struct{ Result, Detail, Fix string }

// checkFull runs dlr check --json and returns every item by id.
func checkFull(t *testing.T, g *rig.Guest) map[string]restartItem {
	t.Helper()
	_, out, _ := dlr(t, g, "check", "--json")
	var r struct {
		Check struct {
			Items []struct{ ID, Result, Detail, Fix string } `json:"items"`
		} `json:"check"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check --json: %v\n%s", err, out)
	}
	m := map[string]restartItem{}
	for _, it := range r.Check.Items {
		m[it.ID] = restartItem{it.Result, it.Detail, it.Fix}
	}
	return m
}

// restartContainerd restarts containerd.service and waits until docker
// answers again; it returns dockerd's MainPID before and after.
func restartContainerd(t *testing.T, g *rig.Guest) (before, after string) {
	t.Helper()
	before = mainPID(t, g)
	g.MustExec(t, "systemctl", "restart", "containerd.service")
	waitDocker(t, g)
	return before, mainPID(t, g)
}

// TestRestartPath is issue 12 item 5's proof: on a real systemd, dlr check
// flags each thing that restarts containerd or dockerd behind the admin's
// back (a bond of docker.service to containerd.service, needrestart,
// docker.io/restart), and its fix line makes it pass.
func TestRestartPath(t *testing.T) {
	forSuites(t, func(t *testing.T, suite string) {
		start := time.Now()
		g := rig.Boot(t, suite)
		g.CopyIn(t, dlrBinary(t), "/usr/bin/dlr", 0o755)

		// Nothing flagged on a stock guest.
		items := checkFull(t, g)
		for _, id := range []string{"containerd-bond", "needrestart", "debconf-restart"} {
			if items[id].Result != "PASS" {
				t.Errorf("stock guest: %s = %+v", id, items[id])
			}
		}

		t.Run("containerd-bond", func(t *testing.T) {
			// Stock: a containerd restart leaves dockerd alone.
			before, after := restartContainerd(t, g)
			t.Logf("stock: systemctl restart containerd: dockerd MainPID %s -> %s", before, after)
			if before != after {
				t.Errorf("stock: a containerd restart restarted dockerd (MainPID %s -> %s)", before, after)
			}

			const bind = "/etc/systemd/system/docker.service.d/bind.conf"
			writeGuest(t, g, bind, "[Unit]\nBindsTo=containerd.service\n")
			g.MustExec(t, "systemctl", "daemon-reload")
			items := checkFull(t, g)
			it := items["containerd-bond"]
			wantFix := "replace `BindsTo=containerd.service` with `Wants=containerd.service` in " + bind + ", then systemctl daemon-reload"
			if it.Result != "FAIL" || it.Fix != wantFix {
				t.Errorf("bound: %+v", it)
			}
			// The harm is real: the containerd restart restarts dockerd.
			before, after = restartContainerd(t, g)
			t.Logf("BindsTo: systemctl restart containerd: dockerd MainPID %s -> %s", before, after)
			if before == after {
				t.Errorf("BindsTo: dockerd kept MainPID %s through a containerd restart", before)
			}

			// The fix, as the line says.
			g.MustExec(t, "sed", "-i", "s/^BindsTo=containerd.service$/Wants=containerd.service/", bind)
			g.MustExec(t, "systemctl", "daemon-reload")
			g.MustExec(t, "systemctl", "reset-failed", "docker.service")
			if it := checkFull(t, g)["containerd-bond"]; it.Result != "PASS" {
				t.Errorf("fixed: %+v", it)
			}
			before, after = restartContainerd(t, g)
			t.Logf("Wants: systemctl restart containerd: dockerd MainPID %s -> %s", before, after)
			if before != after {
				t.Errorf("fixed: a containerd restart restarted dockerd (MainPID %s -> %s)", before, after)
			}
		})

		t.Run("needrestart", func(t *testing.T) {
			files, err := rig.Debs(t.Context(), rig.DebianSuite(suite), "needrestart", needrestartDebs[rig.DebianSuite(suite)]...)
			if err != nil {
				t.Fatal(err)
			}
			// The guest's apt with no package lists: where a .deb has the
			// version the guest's (offline) archive lists also have, apt
			// would fetch it from there instead of using the file.
			g.MustExec(t, "mkdir", "-p", "/root/debs/lists/partial")
			args := []string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o", "Dir::State::Lists=/root/debs/lists",
				"install", "-y", "--no-install-recommends"}
			for _, f := range files {
				p := "/root/debs/needrestart/" + filepath.Base(f)
				g.CopyIn(t, f, p, 0o644)
				args = append(args, p)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
			defer cancel()
			out, errOut, code, err := g.Exec(ctx, args...)
			if err != nil || code != 0 {
				t.Fatalf("apt-get install needrestart: %v exit %d\n%s\n%s", err, code, out, errOut)
			}
			t.Logf("installed needrestart %s", trimmed(t, g, "dpkg-query", "-W", "-f", "${Version}", "needrestart"))

			// Debian's needrestart.conf exempts docker, not containerd.
			it := checkFull(t, g)["needrestart"]
			if it.Result != "WARN" || !strings.Contains(it.Detail, "restarts containerd.service") || strings.Contains(it.Detail, "docker.service") {
				t.Errorf("debian's default: %+v", it)
			}
			g.MustExec(t, "sh", "-c", it.Fix)
			t.Logf("fix written: %s", trimmed(t, g, "cat", "/etc/needrestart/conf.d/docker-liverestore.conf"))
			if it := checkFull(t, g)["needrestart"]; it.Result != "PASS" {
				t.Errorf("fixed: %+v", it)
			}
			// needrestart itself reads the file without an error.
			out, errOut, code, err = g.Exec(t.Context(), "needrestart", "-b", "-r", "l")
			t.Logf("needrestart -b -r l: exit %d %v\n%s%s", code, err, out, errOut)
			if err != nil || code != 0 || strings.Contains(errOut, "Error parsing") {
				t.Errorf("needrestart rejects its configuration")
			}
		})

		t.Run("debconf-restart", func(t *testing.T) {
			out, errOut, code, err := g.Exec(t.Context(), "sh", "-c", "echo 'docker.io docker.io/restart boolean true' | debconf-set-selections")
			t.Logf("debconf-set-selections: exit %d %v\n%s%s", code, err, out, errOut)
			if err != nil || code != 0 {
				t.Fatal("debconf-set-selections failed")
			}
			stanza := g.Sh(t, "grep -A4 '^Name: docker.io/restart$' /var/cache/debconf/config.dat || true")
			t.Logf("config.dat:\n%s", stanza)
			it := checkFull(t, g)["debconf-restart"]
			if it.Result != "FAIL" || !strings.Contains(it.Detail, "stops every container") {
				t.Errorf("true, live restore off: %+v", it)
			}
			g.MustExec(t, "sh", "-c", it.Fix)
			if it := checkFull(t, g)["debconf-restart"]; it.Result != "PASS" {
				t.Errorf("fixed: %+v", it)
			}
		})
		t.Logf("%s: %.1f s", suite, time.Since(start).Seconds())
	})
}
