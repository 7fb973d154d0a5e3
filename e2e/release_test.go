//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/restore"
	"github.com/docker-liverestore/dlr/state"
)

// The proof of issue 23 item 4: dlr upgraded across its own releases,
// through the signed repository, the way users get it.

// previousRelease is what users have installed before 0.1.0: the packages
// of the last commit before the version file (docker-liverestore
// 0.0.0+git254.gbc87f68d6a39), whose state files carry no format version.
const previousRelease = "bc87f68d6a39"

// releaseFixture is the previous release's packages and this checkout's,
// both shipping one throwaway key's public half, and two repositories
// signed with it: Old with the previous release only, New with both.
type releaseFixture struct {
	PrevVersion, CurVersion string
	Old, New                string // make repo output (REPO_URL file:///srv/dlr)
}

// releasePackages builds the fixture under .cache/e2e-release. The key
// and the previous release's packages are kept there per commit (the
// packages built in a detached worktree of that commit with its own make
// packages); this checkout's packages and the repositories are built anew.
func releasePackages(t *testing.T) *releaseFixture {
	t.Helper()
	for _, target := range []string{"packaging-deps", "repo-deps"} {
		if out, err := makeIn(target); err != nil {
			t.Fatalf("make %s: %v\n%s", target, err, out)
		}
	}
	top, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(top, ".cache", "e2e-release", previousRelease)
	key, public := filepath.Join(cache, "secret.asc"), filepath.Join(cache, "public.asc")
	if _, err := os.Stat(public); err != nil {
		home := filepath.Join(cache, "gnupg")
		if err := os.MkdirAll(home, 0o700); err != nil {
			t.Fatal(err)
		}
		defer exec.Command("gpgconf", "--homedir", home, "--kill", "gpg-agent").Run()
		hostMust(t, "gpg", "--homedir", home, "--batch", "--quiet", "--passphrase", "", "--quick-gen-key",
			"dlr e2e release <e2e-release@dlr.invalid>", "rsa3072", "sign", "0")
		hostWrite(t, key, hostMust(t, "gpg", "--homedir", home, "--batch", "--armor", "--export-secret-keys"))
		hostWrite(t, public+".tmp", hostMust(t, "gpg", "--homedir", home, "--batch", "--armor", "--export"))
		if err := os.Rename(public+".tmp", public); err != nil {
			t.Fatal(err)
		}
	}

	f := &releaseFixture{}
	prev := filepath.Join(cache, "pkgs")
	debs, _ := filepath.Glob(filepath.Join(prev, "*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		start := time.Now()
		src := filepath.Join(cache, "src")
		exec.Command("git", "-C", top, "worktree", "remove", "--force", src).Run()
		os.RemoveAll(src)
		hostMust(t, "git", "-C", top, "worktree", "add", "--detach", src, previousRelease)
		defer exec.Command("git", "-C", top, "worktree", "remove", "--force", src).Run()
		// Its make packages would install the same nfpm again.
		if err := os.MkdirAll(filepath.Join(src, ".cache", "bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		hostMust(t, "cp", filepath.Join(top, ".cache", "bin", "nfpm"), filepath.Join(src, ".cache", "bin", "nfpm"))
		os.RemoveAll(prev)
		if out, err := exec.Command("make", "--no-print-directory", "-C", src, "packages", "PKG_ARCHES="+runtime.GOARCH,
			"DIST_DIR="+prev, "PKG_KEYRING="+public).CombinedOutput(); err != nil {
			t.Fatalf("make packages at %s: %v\n%s", previousRelease, err, out)
		}
		t.Logf("FIGURE: the previous release's packages built at %s in %s", previousRelease, time.Since(start).Round(time.Second))
		debs, _ = filepath.Glob(filepath.Join(prev, "*_"+runtime.GOARCH+".deb"))
		if len(debs) != 1 {
			t.Fatalf("make packages at %s left %v", previousRelease, debs)
		}
	}
	f.PrevVersion = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(debs[0]), "docker-liverestore_"), "_"+runtime.GOARCH+".deb")

	work := filepath.Join(top, ".cache", "e2e-release", "work")
	os.RemoveAll(work)
	cur, both := filepath.Join(work, "pkgs-cur"), filepath.Join(work, "pkgs-both")
	if out, err := makeIn("packages", "PKG_ARCHES="+runtime.GOARCH, "DIST_DIR="+cur, "PKG_KEYRING="+public); err != nil {
		t.Fatalf("make packages: %v\n%s", err, out)
	}
	// The version as make packages stamped it (packaging/version.sh).
	debs, _ = filepath.Glob(filepath.Join(cur, "*_"+runtime.GOARCH+".deb"))
	if len(debs) != 1 {
		t.Fatalf("make packages left %v", debs)
	}
	f.CurVersion = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(debs[0]), "docker-liverestore_"), "_"+runtime.GOARCH+".deb")
	if err := os.MkdirAll(both, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{prev, cur} {
		files, _ := filepath.Glob(filepath.Join(d, "*"))
		for _, p := range files {
			if err := os.Link(p, filepath.Join(both, filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Old, f.New = filepath.Join(work, "repo-old"), filepath.Join(work, "repo-new")
	for _, r := range [][2]string{{prev, f.Old}, {both, f.New}} {
		if out, err := makeIn("repo", "REPO_PACKAGES="+r[0], "REPO_DIR="+r[1], "PKG_ARCHES="+runtime.GOARCH,
			"REPO_KEY_FILE="+key, "REPO_URL=file://"+guestRepo); err != nil {
			t.Fatalf("make repo %s: %v\n%s", r[1], err, out)
		}
	}
	return f
}

func hostWrite(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// releaseStatus is what the test reads of dlr status --json.
type releaseStatus struct {
	Managed  bool             `json:"managed"`
	Restores []restore.Record `json:"restores"`
	Unknown  []string         `json:"unknown"`
}

// TestReleaseUpgrade upgrades dlr from the previous release to this build
// through the signed apt repository, in a trixie guest with live restore
// on and containers running: the previous release installed by name from
// the repository (dlr enable), docker restarted once under it so that it
// writes every state file in its format (state.json, started-with.json,
// restore-view.json, and restores.json with the restore it checked); then
// this build published and `apt-get install --only-upgrade
// docker-liverestore`: the containers keep their PIDs, dockerd its
// MainPID, live restore stays on, and the new dlr status and check read
// the old files (managed, the old restore, the drift against the file
// dockerd started with). A restart afterwards: the new dlr adds its record
// to the old history and writes its own formats.
func TestReleaseUpgrade(t *testing.T) {
	f := releasePackages(t)
	const dir = "/var/lib/docker-liverestore"
	g := repoGuest(t, "trixie")
	publishRepo(t, g, f.Old, guestRepo)
	before := startWithContainer(t, g)
	g.MustExec(t, "docker", "run", "-d", "--name", "c2", "logger", "/app")
	pkgMust(t, g, "cp "+guestRepo+"/docker-liverestore-archive-keyring.gpg /usr/share/keyrings/ && cp "+guestRepo+"/docker-liverestore.sources /etc/apt/sources.list.d/")
	pkgMust(t, g, "apt-get update && apt-get install -y docker-liverestore")
	if got := gsh(t, g, "dpkg-query -W -f '${Version}' docker-liverestore"); got != f.PrevVersion+"-1" {
		t.Fatalf("installed %q, want the previous release %s-1", got, f.PrevVersion)
	}
	on := observeHost(t, g)
	if on.liveRestore != "true" || on.container != before.container || on.dockerd != before.dockerd {
		t.Fatalf("the previous release's install: %+v, before %+v", on, before)
	}

	// A restart under the previous release: its snapshot hook, its
	// watcher's view and its record of the restore.
	g.MustExec(t, "systemctl", "restart", "docker")
	waitFor(t, 90*time.Second, "the previous release's restore record", func() bool {
		rs, err := restore.Store{Dir: g.Path(dir)}.Records()
		return err == nil && len(rs) == 1
	})
	old := map[string]string{}
	for _, name := range []string{"state.json", "started-with.json", restore.ViewFile, restore.RecordsFile} {
		old[name] = readGuestFile(t, g, dir+"/"+name)
	}
	// Their format 1: what this build must read.
	if !strings.HasPrefix(strings.TrimSpace(old[restore.RecordsFile]), "[") || strings.Contains(old[restore.ViewFile], `"version"`) ||
		strings.HasPrefix(old["started-with.json"], state.StartedWithHeader) || !strings.Contains(old["started-with.json"], `"live-restore": true`) {
		t.Fatalf("the previous release's files are not format 1:\n%v", old)
	}
	pids := gsh(t, g, "docker inspect -f '{{.Name}} {{.State.Pid}}' c1 c2")
	dockerd := gsh(t, g, "systemctl show -p MainPID --value docker.service")

	// The upgrade, from the repository.
	publishRepo(t, g, f.New, guestRepo)
	start := time.Now()
	upgrade := pkgMust(t, g, "apt-get update && apt-get install -y --only-upgrade docker-liverestore")
	t.Logf("FIGURE: apt-get install --only-upgrade %s -> %s: %s", f.PrevVersion, f.CurVersion, time.Since(start).Round(time.Millisecond))
	wantContains(t, "apt-get install --only-upgrade", upgrade, "Unpacking docker-liverestore ("+f.CurVersion+"-1) over ("+f.PrevVersion+"-1)")
	if got := gsh(t, g, "dlr version"); got != "dlr "+f.CurVersion {
		t.Errorf("dlr version after the upgrade = %q, want %q", got, "dlr "+f.CurVersion)
	}
	if got := gsh(t, g, "docker inspect -f '{{.Name}} {{.State.Pid}}' c1 c2"); got != pids {
		t.Errorf("the containers' PIDs changed: %q -> %q", pids, got)
	}
	if got := gsh(t, g, "systemctl show -p MainPID --value docker.service"); got != dockerd {
		t.Errorf("dockerd's MainPID changed: %s -> %s", dockerd, got)
	}
	if got := gsh(t, g, "docker info -f '{{.LiveRestoreEnabled}}'"); got != "true" {
		t.Errorf("live restore after the upgrade: %s", got)
	}
	for _, name := range []string{"started-with.json", restore.RecordsFile} {
		if got := readGuestFile(t, g, dir+"/"+name); got != old[name] {
			t.Errorf("the upgrade rewrote %s:\n%s", name, got)
		}
	}

	// This build reads the previous release's files.
	code, out, _ := dlr(t, g, "status", "--json")
	var r struct {
		Status releaseStatus `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || code != 0 {
		t.Fatalf("dlr status --json: exit %d, %v", code, err)
	}
	st := r.Status
	if !st.Managed || len(st.Restores) != 1 || st.Restores[0].Containers != 2 || st.Restores[0].Kept != 2 {
		t.Errorf("dlr status after the upgrade: managed %v, restores %+v", st.Managed, st.Restores)
	}
	for _, u := range st.Unknown {
		if strings.Contains(u, "state") || strings.Contains(u, "restores") || strings.Contains(u, "format") {
			t.Errorf("dlr status could not read an old file: %s", u)
		}
	}
	_, out, _ = dlr(t, g, "check", "--json")
	for id, want := range map[string]string{"drift": "PASS", "live-restore": "PASS"} {
		if it := checkItem(t, out, id); it.Result != want {
			t.Errorf("dlr check %s: %+v, want %s", id, it, want)
		}
	}
	// SKIP would mean the record could not be read; its verdict is the
	// previous release's restore's.
	if it := checkItem(t, out, "last-restore"); it.Result == "SKIP" || !strings.Contains(it.Detail, "2 containers, 2 kept") {
		t.Errorf("dlr check last-restore did not read the previous release's record: %+v", it)
	}
	if d := checkItem(t, out, "drift").Detail; !strings.Contains(d, "the file dockerd started with") {
		t.Errorf("dlr check's drift did not read the previous release's started-with.json: %q", d)
	}

	// A restart under this build: the old history kept, the new formats.
	// (The third start of docker.service within a minute: clear systemd's
	// start limit first.)
	g.MustExec(t, "sh", "-c", "systemctl reset-failed docker.service; systemctl restart docker")
	var rs []restore.Record
	waitFor(t, 90*time.Second, "this build's restore record", func() bool {
		var err error
		rs, err = restore.Store{Dir: g.Path(dir)}.Records()
		return err == nil && len(rs) == 2
	})
	if rs[0].BackAt != st.Restores[0].BackAt || rs[1].Kept != 2 {
		t.Errorf("the records after this build's restore: %+v", rs)
	}
	recs, sw := readGuestFile(t, g, dir+"/"+restore.RecordsFile), readGuestFile(t, g, dir+"/started-with.json")
	if !strings.HasPrefix(recs, "{\n  \"version\": 2,") || !strings.HasPrefix(sw, state.StartedWithHeader+"2\n") {
		t.Errorf("this build's formats: restores.json %.40q, started-with.json %.60q", recs, sw)
	}
	if got := gsh(t, g, "docker inspect -f '{{.Name}} {{.State.Pid}}' c1 c2"); got != pids {
		t.Errorf("the containers' PIDs changed across the restart: %q -> %q", pids, got)
	}
}
