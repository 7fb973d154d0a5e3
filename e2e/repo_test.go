//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// The proofs of issue 15: `make repo` publishes the packages as a signed apt
// repository and a signed rpm repository. apt in booted guests installs and
// upgrades dlr by name from it with signature checks on, and refuses it
// tampered, unsigned or signed by another key; rpm -K, gpgv and Debian's
// dnf (on the host, into a scratch installroot, scriptlets off: no rpm
// distribution is reachable here) check the rpm side.

// guestRepo is where the guests find the repository (REPO_URL file:///srv/dlr).
const guestRepo = "/srv/dlr"

// repoFixture is what the repository tests share, built once per test
// binary under .cache/e2e-repo.
type repoFixture struct {
	Dir        string // .cache/e2e-repo
	GnuPGHome  string // the throwaway signing key's GnuPG home
	SecretKey  string // that key, exported (REPO_KEY_FILE)
	Fpr        string // its fingerprint
	Stranger   string // another key's public keyring, which must not verify the repository
	NextSecret string // that key's secret (REPO_KEY_FILE), the next key of a rotation
	NextPublic string // its public key, armored
	Cur, Newer string // package versions (without the -1 release)
	CurPkgs    string // make packages, both architectures, Cur
	V2Pkgs     string // CurPkgs plus Newer for the host's architecture
	V1, V2     string // make repo of CurPkgs and of V2Pkgs (REPO_URL file:///srv/dlr)
	RepoTime   time.Duration
}

var (
	repoOnce sync.Once
	repoFix  *repoFixture
	repoErr  error
)

// reposForTest builds the fixture: a throwaway RSA key, the packages of this
// checkout with its public key (PKG_KEYRING) for amd64 and arm64 and a newer
// build for the host's architecture, and two repositories: V1 with the
// first, V2 with both. V1 is signed with REPO_KEY_FILE, V2 with REPO_KEY
// from a GnuPG home, so that both ways of naming the key are used.
func reposForTest(t *testing.T) *repoFixture {
	t.Helper()
	repoOnce.Do(func() { repoFix, repoErr = buildRepos() })
	if repoErr != nil {
		t.Fatalf("building the repositories: %v", repoErr)
	}
	return repoFix
}

// makeEnv runs make in the repository's top directory with extra
// environment variables.
func makeEnv(env []string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "-C", ".."}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func buildRepos() (r *repoFixture, err error) {
	for _, target := range []string{"packaging-deps", "repo-deps"} {
		if out, err := makeIn(target); err != nil {
			return nil, fmt.Errorf("make %s: %w\n%s", target, err, out)
		}
	}
	dir, err := filepath.Abs(filepath.Join("..", ".cache", "e2e-repo"))
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	r = &repoFixture{Dir: dir, GnuPGHome: filepath.Join(dir, "gnupg")}
	if err := os.MkdirAll(r.GnuPGHome, 0o700); err != nil {
		return nil, err
	}
	gpg := func(home string, args ...string) ([]byte, error) {
		cmd := exec.Command("gpg", append([]string{"--homedir", home, "--batch"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("gpg %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out, nil
	}
	// The agents of the two throwaway homes are ours to stop.
	stranger := filepath.Join(dir, "stranger")
	defer exec.Command("gpgconf", "--homedir", r.GnuPGHome, "--kill", "gpg-agent").Run()
	defer exec.Command("gpgconf", "--homedir", stranger, "--kill", "gpg-agent").Run()
	if _, err := gpg(r.GnuPGHome, "--quiet", "--passphrase", "", "--quick-gen-key", "dlr e2e repository <e2e@dlr.invalid>", "rsa3072", "sign", "2d"); err != nil {
		return nil, err
	}
	list, err := gpg(r.GnuPGHome, "--with-colons", "--list-secret-keys")
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(string(list), "\n") {
		if f := strings.Split(l, ":"); f[0] == "fpr" && len(f) > 9 {
			r.Fpr = f[9]
			break
		}
	}
	secret, err := gpg(r.GnuPGHome, "--armor", "--export-secret-keys", r.Fpr)
	if err != nil {
		return nil, err
	}
	public, err := gpg(r.GnuPGHome, "--armor", "--export", r.Fpr)
	if err != nil {
		return nil, err
	}
	r.SecretKey = filepath.Join(dir, "secret.asc")
	publicKey := filepath.Join(dir, "public.asc")
	if err := os.WriteFile(r.SecretKey, secret, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(publicKey, public, 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stranger, 0o700); err != nil {
		return nil, err
	}
	if _, err := gpg(stranger, "--quiet", "--passphrase", "", "--quick-gen-key", "not dlr <stranger@dlr.invalid>", "rsa3072", "sign", "2d"); err != nil {
		return nil, err
	}
	r.Stranger, r.NextSecret, r.NextPublic = filepath.Join(dir, "stranger.gpg"), filepath.Join(dir, "next-secret.asc"), filepath.Join(dir, "next-public.asc")
	for _, e := range []struct {
		file string
		args []string
	}{{r.Stranger, []string{"--export"}}, {r.NextSecret, []string{"--armor", "--export-secret-keys"}}, {r.NextPublic, []string{"--armor", "--export"}}} {
		b, err := gpg(stranger, e.args...)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(e.file, b, 0o600); err != nil {
			return nil, err
		}
	}

	v, err := exec.Command("sh", "../packaging/version.sh").Output()
	if err != nil {
		return nil, err
	}
	r.Cur = strings.TrimSpace(string(v))
	r.Newer = r.Cur + ".1" // a longer version with the same prefix is newer
	r.CurPkgs, r.V2Pkgs = filepath.Join(dir, "pkgs-v1"), filepath.Join(dir, "pkgs-v2")
	newerPkgs := filepath.Join(dir, "pkgs-newer")
	for _, b := range []struct{ version, arches, dir string }{
		{r.Cur, "amd64 arm64", r.CurPkgs},
		{r.Newer, runtime.GOARCH, newerPkgs},
	} {
		if out, err := makeIn("packages", "PKG_ARCHES="+b.arches, "DIST_DIR="+b.dir,
			"PKG_VERSION="+b.version, "VERSION="+b.version, "PKG_KEYRING="+publicKey); err != nil {
			return nil, fmt.Errorf("make packages: %w\n%s", err, out)
		}
	}
	if err := os.MkdirAll(r.V2Pkgs, 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{r.CurPkgs, newerPkgs} {
		files, _ := filepath.Glob(filepath.Join(d, "*"))
		for _, f := range files {
			if err := os.Link(f, filepath.Join(r.V2Pkgs, filepath.Base(f))); err != nil {
				return nil, err
			}
		}
	}

	r.V1, r.V2 = filepath.Join(dir, "repo-v1"), filepath.Join(dir, "repo-v2")
	start := time.Now()
	if out, err := makeIn("repo", "REPO_PACKAGES="+r.CurPkgs, "REPO_DIR="+r.V1,
		"REPO_KEY_FILE="+r.SecretKey, "REPO_URL=file://"+guestRepo); err != nil {
		return nil, fmt.Errorf("make repo (v1): %w\n%s", err, out)
	}
	r.RepoTime = time.Since(start)
	if out, err := makeEnv([]string{"GNUPGHOME=" + r.GnuPGHome}, "repo", "REPO_PACKAGES="+r.V2Pkgs, "REPO_DIR="+r.V2,
		"REPO_KEY="+r.Fpr, "REPO_URL=file://"+guestRepo); err != nil {
		return nil, fmt.Errorf("make repo (v2): %w\n%s", err, out)
	}
	return r, nil
}

// hostRun runs a command on the host and returns its combined output and
// whether it exited 0; it fails the test only if it cannot be started.
func hostRun(t *testing.T, name string, args ...string) (string, bool) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("%s: %v", name, err)
	}
	return string(out), err == nil
}

// hostMust is hostRun that fails the test unless the command exits 0.
func hostMust(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, ok := hostRun(t, name, args...)
	if !ok {
		t.Fatalf("%s %s failed:\n%s", name, strings.Join(args, " "), out)
	}
	return out
}

// readFile reads a host file, failing the test on error.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// treeFiles maps every file under dir (slash-separated relative path) to its
// content.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = readFile(t, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// controlField returns the value of field in the first stanza of a Debian
// control-style text that has it.
func controlField(text, field string) string {
	for _, l := range strings.Split(text, "\n") {
		if v, ok := strings.CutPrefix(l, field+": "); ok {
			return v
		}
	}
	return ""
}

// TestRepoFiles checks the repositories on the host: the apt layout and
// the architectures, the Release file's date, the signatures (gpgv against
// the published keyring; rpm -K against the key imported into a scratch rpm
// database, and refused without it), the newer version replacing the older
// for its architecture only, make repo refusing packages that do not ship
// the key, and a second build of V1 identical to the first, byte for byte.
func TestRepoFiles(t *testing.T) {
	r := reposForTest(t)
	t.Logf("FIGURE make repo (2 .deb, 2 .rpm, RSA 3072 key): %s", r.RepoTime.Round(time.Millisecond))
	epoch := strings.TrimSpace(hostMust(t, "git", "log", "-1", "--format=%ct"))
	wantDate := strings.TrimSpace(hostMust(t, "date", "-u", "-d", "@"+epoch, "+%a, %d %b %Y %H:%M:%S UTC"))
	keyring := filepath.Join(r.V1, "docker-liverestore-archive-keyring.gpg")

	for _, repo := range []string{r.V1, r.V2} {
		rel := filepath.Join(repo, "apt", "dists", "stable")
		release := readFile(t, filepath.Join(rel, "Release"))
		if got := controlField(release, "Date"); got != wantDate {
			t.Errorf("%s: Release Date %q, want the last commit's time %q", repo, got, wantDate)
		}
		if got := controlField(release, "Architectures"); got != "amd64 arm64" {
			t.Errorf("%s: Release Architectures %q", repo, got)
		}
		for _, arch := range []string{"amd64", "arm64"} {
			p := readFile(t, filepath.Join(rel, "main", "binary-"+arch, "Packages"))
			if controlField(p, "Package") != "docker-liverestore" || controlField(p, "Architecture") != arch {
				t.Errorf("%s: binary-%s/Packages:\n%s", repo, arch, p)
			}
			wantContains(t, repo+" Release", release, "main/binary-"+arch+"/Packages\n", "main/binary-"+arch+"/Packages.gz\n")
		}
		// gpgv (apt's verifier on bookworm) against the published keyring.
		hostMust(t, "gpgv", "--keyring", keyring, filepath.Join(rel, "InRelease"))
		hostMust(t, "gpgv", "--keyring", keyring, filepath.Join(rel, "Release.gpg"), filepath.Join(rel, "Release"))
		hostMust(t, "gpgv", "--keyring", keyring, filepath.Join(repo, "rpm", "repodata", "repomd.xml.asc"), filepath.Join(repo, "rpm", "repodata", "repomd.xml"))
		if out, ok := hostRun(t, "gpgv", "--keyring", r.Stranger, filepath.Join(rel, "InRelease")); ok {
			t.Errorf("gpgv accepts InRelease with another key:\n%s", out)
		}

		// rpm -K: no key, no trust; with the published key, every package.
		rpms, _ := filepath.Glob(filepath.Join(repo, "rpm", "*.rpm"))
		db := t.TempDir()
		for _, f := range rpms {
			if out, _ := hostRun(t, "rpm", "--dbpath", db, "-K", f); !strings.Contains(out, "SIGNATURES NOT OK") {
				t.Errorf("rpm -K without the key:\n%s", out)
			}
		}
		hostMust(t, "rpmkeys", "--dbpath", db, "--import", filepath.Join(repo, "docker-liverestore-archive-keyring.asc"))
		for _, f := range rpms {
			if out := hostMust(t, "rpm", "--dbpath", db, "-K", f); !strings.HasSuffix(out, ": digests signatures OK\n") {
				t.Errorf("rpm -K with the key:\n%s", out)
			}
			out := hostMust(t, "rpm", "--dbpath", db, "-Kv", f)
			wantContains(t, "rpm -Kv", out, "Header V4 RSA/SHA512 Signature, key ID "+strings.ToLower(r.Fpr[len(r.Fpr)-8:])+": OK")
		}
		if n := len(rpms); (repo == r.V1 && n != 2) || (repo == r.V2 && n != 3) {
			t.Errorf("%s/rpm has %d packages: %v", repo, n, rpms)
		}
	}

	// The packages ship the key: the .deb as a binary keyring, the .rpm
	// that and an armored copy for dnf's gpgkey=file://.
	const keyringPath = "/usr/share/keyrings/docker-liverestore-archive-keyring.gpg"
	debs, _ := filepath.Glob(filepath.Join(r.CurPkgs, "*.deb"))
	rpmFiles, _ := filepath.Glob(filepath.Join(r.CurPkgs, "*.rpm"))
	for _, f := range debs {
		wantContains(t, "dpkg-deb -c "+f, hostMust(t, "dpkg-deb", "-c", f), "."+keyringPath+"\n")
	}
	for _, f := range rpmFiles {
		wantContains(t, "rpm -qlp "+f, hostMust(t, "rpm", "-qlp", f), keyringPath+"\n", "/etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore\n")
	}
	if len(debs) != 2 || len(rpmFiles) != 2 {
		t.Errorf("packages of both architectures: %v %v", debs, rpmFiles)
	}

	// The apt source and the dnf .repo make repo publishes are the ones
	// docs/repository.md shows.
	docs := readFile(t, "../docs/repository.md")
	for _, f := range []struct{ file, lang string }{{"docker-liverestore.sources", "deb822"}, {"docker-liverestore.repo", "ini"}} {
		want := strings.ReplaceAll(readFile(t, filepath.Join(r.V1, f.file)), "file://"+guestRepo, "https://packages.example.com/dlr")
		if !strings.Contains(docs, "```"+f.lang+"\n"+want+"```\n") {
			t.Errorf("docs/repository.md does not show %s as make repo writes it:\n%s", f.file, want)
		}
	}

	// V2: the newer version for the host's architecture, the other one kept.
	for _, arch := range []string{"amd64", "arm64"} {
		p := readFile(t, filepath.Join(r.V2, "apt", "dists", "stable", "main", "binary-"+arch, "Packages"))
		want := r.Cur + "-1"
		if arch == runtime.GOARCH {
			want = r.Newer + "-1"
		}
		if got := controlField(p, "Version"); got != want {
			t.Errorf("V2 binary-%s Version %q, want %q", arch, got, want)
		}
	}
	primary, _ := filepath.Glob(filepath.Join(r.V2, "rpm", "repodata", "*-primary.xml.gz"))
	if len(primary) != 1 {
		t.Fatalf("V2 primary.xml: %v", primary)
	}
	prim := hostMust(t, "zcat", primary[0])
	for _, v := range []string{r.Cur, r.Newer} {
		wantContains(t, "V2 primary.xml", prim, `ver="`+v+`" rel="1"`)
	}

	// Packages without the key are refused, with what to do.
	bare := filepath.Join(t.TempDir(), "pkgs")
	if out, err := makeIn("packages", "PKG_ARCHES="+runtime.GOARCH, "DIST_DIR="+bare,
		"PKG_VERSION="+r.Cur, "VERSION="+r.Cur); err != nil {
		t.Fatalf("make packages without PKG_KEYRING: %v\n%s", err, out)
	}
	out, err := makeIn("repo", "REPO_PACKAGES="+bare, "REPO_DIR="+filepath.Join(t.TempDir(), "repo"), "REPO_KEY_FILE="+r.SecretKey)
	if err == nil {
		t.Errorf("make repo accepted packages without the signing key:\n%s", out)
	}
	wantContains(t, "make repo of packages without the key", out, "does not ship the signing key "+r.Fpr, "make packages PKG_KEYRING=FILE")

	// Key rotation (docs/repository.md, "Keys"): packages that ship the
	// current and the next key, published with the current key, then with
	// the next one. A host that trusts only the old keyring refuses the
	// latter; one that trusts the keyring of those packages accepts both.
	both := filepath.Join(t.TempDir(), "both.asc")
	if err := os.WriteFile(both, []byte(readFile(t, filepath.Join(r.Dir, "public.asc"))+readFile(t, r.NextPublic)), 0o644); err != nil {
		t.Fatal(err)
	}
	rotating := filepath.Join(t.TempDir(), "pkgs")
	if out, err := makeIn("packages", "PKG_ARCHES="+runtime.GOARCH, "DIST_DIR="+rotating,
		"PKG_VERSION="+r.Newer, "VERSION="+r.Newer, "PKG_KEYRING="+both); err != nil {
		t.Fatalf("make packages with two keys: %v\n%s", err, out)
	}
	oldSigned, newSigned := filepath.Join(t.TempDir(), "repo"), filepath.Join(t.TempDir(), "repo")
	for _, b := range []struct{ key, dir string }{{r.SecretKey, oldSigned}, {r.NextSecret, newSigned}} {
		if out, err := makeIn("repo", "REPO_PACKAGES="+rotating, "REPO_DIR="+b.dir, "REPO_KEY_FILE="+b.key); err != nil {
			t.Fatalf("make repo of the packages with two keys: %v\n%s", err, out)
		}
	}
	shipped := filepath.Join(oldSigned, "docker-liverestore-archive-keyring.gpg")
	keys := 0
	for _, l := range strings.Split(hostMust(t, "gpg", "--homedir", t.TempDir(), "--batch", "--with-colons", "--show-keys", shipped), "\n") {
		if strings.HasPrefix(l, "pub:") {
			keys++
		}
	}
	if keys != 2 {
		t.Errorf("the published keyring of the packages with two keys holds %d keys", keys)
	}
	for _, repo := range []string{oldSigned, newSigned} {
		hostMust(t, "gpgv", "--keyring", shipped, filepath.Join(repo, "apt", "dists", "stable", "InRelease"))
	}
	hostMust(t, "gpgv", "--keyring", keyring, filepath.Join(oldSigned, "apt", "dists", "stable", "InRelease"))
	if out, ok := hostRun(t, "gpgv", "--keyring", keyring, filepath.Join(newSigned, "apt", "dists", "stable", "InRelease")); ok {
		t.Errorf("the old keyring accepts the repository signed with the next key:\n%s", out)
	}
	if out, err := makeIn("repo", "REPO_PACKAGES="+r.CurPkgs, "REPO_DIR="+filepath.Join(t.TempDir(), "repo"), "REPO_KEY_FILE="+r.NextSecret); err == nil {
		t.Errorf("make repo signed packages that do not ship the next key with it:\n%s", out)
	}

	// Reproducible: the same packages and key, the same files (the
	// packages named relative to the top directory, as users do).
	top, _ := filepath.Abs("..")
	relPkgs, err := filepath.Rel(top, r.CurPkgs)
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "repo")
	if out, err := makeIn("repo", "REPO_PACKAGES="+relPkgs, "REPO_DIR="+again,
		"REPO_KEY_FILE="+r.SecretKey, "REPO_URL=file://"+guestRepo); err != nil {
		t.Fatalf("second make repo: %v\n%s", err, out)
	}
	a, b := treeFiles(t, r.V1), treeFiles(t, again)
	for name, content := range a {
		if other, ok := b[name]; !ok {
			t.Errorf("second build lacks %s", name)
		} else if other != content {
			t.Errorf("%s differs between two builds", name)
		}
	}
	for name := range b {
		if _, ok := a[name]; !ok {
			t.Errorf("second build has %s, the first not", name)
		}
	}
	t.Logf("two builds of V1: %d files each, compared byte for byte", len(a))
}

// dnfRoot is a scratch dnf installroot on the host: dnf runs with
// tsflags=noscripts (the package's scriptlets would change the host's
// Docker) and writes nothing outside root.
type dnfRoot struct {
	t    *testing.T
	root string
}

func newDNFRoot(t *testing.T) *dnfRoot {
	t.Helper()
	if out, err := makeIn("repo-test-deps"); err != nil {
		t.Fatalf("make repo-test-deps: %v\n%s", err, out)
	}
	d := &dnfRoot{t: t, root: t.TempDir()}
	t.Cleanup(d.stopAgents)
	if err := os.MkdirAll(filepath.Join(d.root, "etc", "yum.repos.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// repoFile writes the .repo file make repo published in repo, with its
// file:///srv/dlr URLs pointing at repo on the host.
func (d *dnfRoot) repoFile(repo string) {
	d.t.Helper()
	s := strings.ReplaceAll(readFile(d.t, filepath.Join(repo, "docker-liverestore.repo")), "file://"+guestRepo, "file://"+repo)
	if err := os.WriteFile(filepath.Join(d.root, "etc", "yum.repos.d", "docker-liverestore.repo"), []byte(s), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// stopAgents stops the gpg-agents dnf started for its repositories'
// keyrings (librepo's GnuPG homes in the metadata cache).
func (d *dnfRoot) stopAgents() {
	homes, _ := filepath.Glob(filepath.Join(d.root, "var", "cache", "dnf", "*", "pubring"))
	for _, h := range homes {
		exec.Command("gpgconf", "--homedir", h, "--kill", "gpg-agent").Run()
	}
}

// dnf runs dnf in the installroot, with only its repository and a fresh
// metadata cache every time.
func (d *dnfRoot) dnf(args ...string) (string, bool) {
	d.t.Helper()
	d.stopAgents()
	os.RemoveAll(filepath.Join(d.root, "var", "cache", "dnf"))
	base := []string{"-y", "--installroot=" + d.root, "--releasever=1",
		"--setopt=reposdir=" + filepath.Join(d.root, "etc", "yum.repos.d"),
		"--setopt=install_weak_deps=False", "--setopt=tsflags=noscripts"}
	start := time.Now()
	out, ok := hostRun(d.t, "dnf", append(base, args...)...)
	d.t.Logf("$ dnf %s  (ok %v, %s)\n%s", strings.Join(args, " "), ok, time.Since(start).Round(time.Millisecond), out)
	return out, ok
}

// installed is `rpm -q docker-liverestore` in the installroot.
func (d *dnfRoot) installed() string {
	d.t.Helper()
	out, _ := hostRun(d.t, "rpm", "--root", d.root, "-q", "--qf", "%{VERSION}-%{RELEASE}", "docker-liverestore")
	return strings.TrimSpace(out)
}

// TestRepoDNF: Debian's dnf (4.x, on the host) against the rpm repository
// as a file:// repository with gpgcheck=1 and repo_gpgcheck=1, the .repo
// file make repo published: install by name, then upgrade once the newer
// version is published; a repomd.xml changed after signing, a repository
// without repomd.xml.asc, and an unsigned package are refused. Not
// exercised: a real Fedora/RHEL host (its dnf 4 or dnf5, its rpm policy),
// and the scriptlets (proven by TestRPMLifecycle with the rpm tool).
func TestRepoDNF(t *testing.T) {
	r := reposForTest(t)
	d := newDNFRoot(t)
	t.Logf("%s", strings.SplitN(hostMust(t, "dnf", "--version"), "\n", 2)[0])
	d.repoFile(r.V1)
	out, ok := d.dnf("install", "docker-liverestore")
	if !ok || d.installed() != r.Cur+"-1" {
		t.Fatalf("dnf install from the repository: installed %q, want %s-1\n%s", d.installed(), r.Cur, out)
	}
	wantContains(t, "dnf install", out, "Importing GPG key", r.Fpr[len(r.Fpr)-8:])

	// The newer version, published.
	d.repoFile(r.V2)
	if out, ok := d.dnf("upgrade", "docker-liverestore"); !ok || d.installed() != r.Newer+"-1" {
		t.Fatalf("dnf upgrade: installed %q, want %s-1\n%s", d.installed(), r.Newer, out)
	}

	// Refusals, each on a copy of V2 served from the host.
	refused := func(what string, spoil func(rpmDir string), want string) {
		t.Helper()
		repo := filepath.Join(t.TempDir(), "repo")
		hostMust(t, "cp", "-a", r.V2, repo)
		spoil(filepath.Join(repo, "rpm"))
		d.repoFile(repo)
		d.dnf("remove", "docker-liverestore")
		out, ok := d.dnf("install", "docker-liverestore")
		if ok || d.installed() == r.Newer+"-1" {
			t.Errorf("%s: dnf installed from it:\n%s", what, out)
		}
		wantContains(t, what, out, want)
	}
	refused("repomd.xml changed after signing", func(dir string) {
		md := filepath.Join(dir, "repodata", "repomd.xml")
		s := readFile(t, md)
		os.WriteFile(md, []byte(strings.Replace(s, "<revision>", "<revision>1", 1)), 0o644)
	}, "GPG signature verification error")
	refused("no repomd.xml.asc", func(dir string) {
		os.Remove(filepath.Join(dir, "repodata", "repomd.xml.asc"))
	}, "GPG verification is enabled, but GPG signature is not available")
	refused("an unsigned package", func(dir string) {
		// The build's own (unsigned) .rpm, indexed by createrepo_c, the
		// index signed again: only the package's signature is missing.
		name := "docker-liverestore_" + r.Newer + "_" + runtime.GOARCH + ".rpm"
		hostMust(t, "cp", filepath.Join(r.V2Pkgs, name), filepath.Join(dir, name))
		hostMust(t, "createrepo_c", "--quiet", "--no-database", dir)
		hostMust(t, "gpg", "--homedir", r.GnuPGHome, "--batch", "--yes", "--local-user", r.Fpr, "--detach-sign", "--armor",
			"--output", filepath.Join(dir, "repodata", "repomd.xml.asc"), filepath.Join(dir, "repodata", "repomd.xml"))
		t.Cleanup(func() { exec.Command("gpgconf", "--homedir", r.GnuPGHome, "--kill", "gpg-agent").Run() })
	}, "not signed")
}

// repoGuest boots suite with the logger image, its Debian sources set
// aside (the guest has no route out: apt reads only the repository under
// test), and keeps the host's fs.pipe-max-size as it was.
func repoGuest(t *testing.T, suite string) *rig.Guest {
	t.Helper()
	keepPipeMaxSize(t)
	g := rig.Boot(t, suite)
	g.ImportImage(t, "logger", rig.BuildLogger(t))
	pkgMust(t, g, "mkdir -p /root/apt-sources && for f in /etc/apt/sources.list /etc/apt/sources.list.d/*; do "+
		"if [ -e \"$f\" ]; then mv \"$f\" /root/apt-sources/; fi; done")
	return g
}

// publishRepo copies a repository built by make repo, without its rpm half,
// to dst in the guest, replacing what was there.
func publishRepo(t *testing.T, g *rig.Guest, repo, dst string) {
	t.Helper()
	pkgMust(t, g, "rm -rf "+dst)
	err := filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		if d.IsDir() {
			if rel == "rpm" {
				return filepath.SkipDir
			}
			return nil
		}
		g.CopyIn(t, p, filepath.Join(dst, rel), 0o644)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRepoApt proves the apt repository in booted bookworm, trixie (and
// every suite of rig.Suites), a container running throughout: the
// repository added as docs/repository.md says (the keyring and the deb822
// source make repo published, Signed-By on) -> apt-get update and apt-get
// install docker-liverestore by name: live restore on, dockerd and the
// container untouched, the package owning the bootstrap keyring; the newer
// version published -> apt-get upgrade runs it with nothing rewritten
// (daemon.json, the sysctl drop-in) and the PIDs kept. Then, each from
// empty apt lists so that apt fetches and checks every file: a Packages
// file changed after signing, a Release whose signed text was changed, a
// source whose Signed-By names another key, and a repository without
// InRelease and Release.gpg are all refused, and the good repository is
// accepted again. Last, the Ansible role installs the package by name from
// the repository (dlr_repository_url) and a second run changes nothing.
func TestRepoApt(t *testing.T) {
	r := reposForTest(t)
	forSuites(t, func(t *testing.T, suite string) {
		g := repoGuest(t, suite)
		publishRepo(t, g, r.V1, guestRepo)
		// Where apt's verifier (gpgv as root, or sqv as _apt) can read it.
		g.CopyIn(t, r.Stranger, "/etc/apt/keyrings/dlr-e2e-stranger.gpg", 0o644)
		before := startWithContainer(t, g)

		// Add the repository: its keyring and its source, as published.
		const keyring = "/usr/share/keyrings/docker-liverestore-archive-keyring.gpg"
		const source = "/etc/apt/sources.list.d/docker-liverestore.sources"
		pkgMust(t, g, "cp "+guestRepo+"/docker-liverestore-archive-keyring.gpg "+keyring+" && cp "+guestRepo+"/docker-liverestore.sources "+source)
		if got := readGuestFile(t, g, source); !strings.Contains(got, "Signed-By: "+keyring+"\n") || strings.Contains(got, "trusted") {
			t.Fatalf("the published source does not pin the key:\n%s", got)
		}
		out := pkgMust(t, g, "apt-get update")
		if strings.Contains(out, "W:") || strings.Contains(out, "E:") {
			t.Errorf("apt-get update warns:\n%s", out)
		}
		if got := gsh(t, g, "ls /var/lib/apt/lists/ | grep -c '_srv_dlr_apt_dists_stable_InRelease$' || true"); got != "1" {
			t.Errorf("apt kept no verified InRelease of the repository (%s)", got)
		}
		wantContains(t, "apt-cache policy", gsh(t, g, "apt-cache policy docker-liverestore"),
			"Candidate: "+r.Cur+"-1", "/srv/dlr/apt stable/main "+runtime.GOARCH+" Packages")

		start := time.Now()
		out = pkgMust(t, g, "apt-get install -y docker-liverestore")
		t.Logf("FIGURE %s: apt-get install docker-liverestore from the repository, a container running: %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "apt-get install", out, "running 'dlr enable' (install)")
		after := observeHost(t, g)
		if after.liveRestore != "true" || after.dockerd != before.dockerd || after.container != before.container {
			t.Errorf("after apt-get install: %+v, before %+v (want live restore on, same PIDs)", after, before)
		}
		g.MustExec(t, "dlr", "status", "--quiet")
		if got := gsh(t, g, "dpkg -S "+keyring); got != "docker-liverestore: "+keyring {
			t.Errorf("dpkg -S %s = %q: the package does not own the keyring", keyring, got)
		}
		if got, want := readGuestFile(t, g, keyring), readFile(t, filepath.Join(r.V1, "docker-liverestore-archive-keyring.gpg")); got != want {
			t.Errorf("the package's keyring differs from the repository's")
		}

		// A newer version published: apt-get upgrade.
		stamps := map[string]string{}
		for _, f := range []string{pkgDaemonJSON, pkgSysctlDropIn} {
			stamps[f] = fileStamp(t, g, f)
		}
		publishRepo(t, g, r.V2, guestRepo)
		start = time.Now()
		out = pkgMust(t, g, "apt-get update && apt-get upgrade -y")
		t.Logf("FIGURE %s: apt-get update && apt-get upgrade to the newer version: %s", suite, time.Since(start).Round(time.Millisecond))
		wantContains(t, "apt-get upgrade", out, "running 'dlr enable' (upgrade from "+r.Cur+"-1)")
		if got := gsh(t, g, "dlr version"); got != "dlr "+r.Newer {
			t.Errorf("dlr version after apt-get upgrade = %q, want %q", got, "dlr "+r.Newer)
		}
		for f, st := range stamps {
			if got := fileStamp(t, g, f); got != st {
				t.Errorf("%s rewritten by the upgrade: %s -> %s", f, st, got)
			}
		}
		if got := observeHost(t, g); got.procs() != after.procs() {
			t.Errorf("the upgrade changed the host: %+v -> %+v", after, got)
		}

		// Refusals. /srv/dlr.good is the untouched V2.
		pkgMust(t, g, "cp -a "+guestRepo+" /srv/dlr.good")
		packages := guestRepo + "/apt/dists/stable/main/binary-" + runtime.GOARCH + "/Packages"
		// A higher version of the same length: the file keeps its size.
		forged := "9" + r.Newer[1:]
		if r.Newer[0] == '9' {
			forged = "a" + r.Newer[1:]
		}
		// refused spoils a copy of the good repository, and wants apt-get
		// update to fail saying all of want and one of why (gpgv's and
		// sqv's words differ: bookworm and trixie).
		refused := func(what, spoil string, want []string, why ...string) {
			t.Helper()
			pkgMust(t, g, "rm -rf "+guestRepo+" && cp -a /srv/dlr.good "+guestRepo+" && "+spoil+" && rm -rf /var/lib/apt/lists/*_srv_dlr_*")
			out, code := pkgRun(t, g, "apt-get update")
			if code == 0 {
				t.Errorf("%s: apt-get update exits 0", what)
			}
			wantContains(t, what, out, want...)
			found := len(why) == 0
			for _, w := range why {
				found = found || strings.Contains(out, w)
			}
			if !found {
				t.Errorf("%s: apt-get update does not say why (one of %q):\n%s", what, why, out)
			}
			if p := gsh(t, g, "apt-cache policy docker-liverestore"); strings.Contains(p, "/srv/dlr") {
				t.Errorf("%s: apt uses the repository:\n%s", what, p)
			}
		}
		keyID := r.Fpr[len(r.Fpr)-16:] // in gpgv's NO_PUBKEY and sqv's full fingerprint
		refused("a Packages file changed after signing",
			"sed -i 's/^Version: .*/Version: "+forged+"-1/' "+packages+" && gzip -9nc "+packages+" > "+packages+".gz",
			[]string{"Failed to fetch file:/srv/dlr/apt/dists/stable/main/binary-" + runtime.GOARCH + "/Packages", "Hash Sum mismatch"})
		refused("a Release whose signed text was changed",
			"sed -i 's/^Suite: stable/Suite: stablE/' "+guestRepo+"/apt/dists/stable/InRelease "+guestRepo+"/apt/dists/stable/Release",
			[]string{"is not signed"}, "BADSIG", "Message has been manipulated")
		refused("a source whose Signed-By names another key",
			"cp "+source+" /root/good.sources && sed -i 's|^Signed-By: .*|Signed-By: /etc/apt/keyrings/dlr-e2e-stranger.gpg|' "+source,
			[]string{"is not signed", keyID}, "NO_PUBKEY", "Missing key")
		pkgMust(t, g, "mv /root/good.sources "+source)
		refused("a repository without InRelease and Release.gpg",
			"rm "+guestRepo+"/apt/dists/stable/InRelease "+guestRepo+"/apt/dists/stable/Release.gpg",
			[]string{"is not signed"})
		// The same steps with nothing spoilt: accepted again.
		pkgMust(t, g, "rm -rf "+guestRepo+" && cp -a /srv/dlr.good "+guestRepo+" && rm -rf /var/lib/apt/lists/*_srv_dlr_*")
		pkgMust(t, g, "apt-get update")
		wantContains(t, "apt-cache policy", gsh(t, g, "apt-cache policy docker-liverestore"), "/srv/dlr/apt stable/main")
		if got := observeHost(t, g); got.procs() != after.procs() {
			t.Errorf("the host changed: %+v -> %+v", after, got)
		}

		// The Ansible role, on the host without the package or the source.
		pkgMust(t, g, "apt-get purge -y docker-liverestore && rm "+source+" && rm -rf /var/lib/apt/lists/*_srv_dlr_*")
		copyTree(t, g, "../contrib/ansible", "/root/ansible")
		play := func() (recap, string) {
			t.Helper()
			out, _ := pkgRun(t, g, "cd /root/ansible && ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 "+
				"ansible-playbook -v -c local -i localhost, site.yml -e dlr_repository_url=file://"+guestRepo+
				" -e dlr_repository_key="+guestRepo+"/docker-liverestore-archive-keyring.asc")
			return parseRecap(t, out), out
		}
		rc, out := play()
		if rc.failed != 0 || !strings.Contains(out, "TASK [docker_liverestore : Add the docker-liverestore repository (apt)]") {
			t.Fatalf("the role with dlr_repository_url: %+v\n%s", rc, out)
		}
		if got := gsh(t, g, "dpkg-query -W -f '${Version}' docker-liverestore"); got != r.Newer+"-1" {
			t.Errorf("the role installed %q, want %s-1 from the repository", got, r.Newer)
		}
		wantContains(t, "the role's apt source", readGuestFile(t, g, source), "URIs: file:///srv/dlr/apt\n", "Signed-By: /etc/apt/keyrings/docker-liverestore.asc\n")
		for _, task := range []string{"Add the docker-liverestore repository's key (apt)", "Add the docker-liverestore repository (apt)", "Install docker-liverestore"} {
			if st, _ := taskJSON(t, out, task); st != "changed" {
				t.Errorf("first run: task %q %s, want changed", task, st)
			}
		}
		rc, out = play()
		if rc.failed != 0 {
			t.Fatalf("second run: %+v\n%s", rc, out)
		}
		for _, task := range []string{"Add the docker-liverestore repository's key (apt)", "Add the docker-liverestore repository (apt)", "Install docker-liverestore"} {
			if st, _ := taskJSON(t, out, task); st != "ok" {
				t.Errorf("second run: task %q %s, want ok", task, st)
			}
		}
		if got := observeHost(t, g); got.dockerd != before.dockerd || got.container != before.container || got.liveRestore != "true" {
			t.Errorf("after the role: %+v (dockerd and c1 as before: %+v)", got, before)
		}
	})
}

// TestRepoMirror follows docs/repository.md's reprepro mirroring recipe on
// the host: `reprepro update` from the repository with VerifyRelease set to
// the signing key mirrors both architectures, and with VerifyRelease set
// to another key (known to gpg) it refuses. (The aptly and Pulp recipes
// are not exercised.)
func TestRepoMirror(t *testing.T) {
	r := reposForTest(t)
	home := filepath.Join(t.TempDir(), "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run() })
	for _, k := range []string{filepath.Join(r.V2, "docker-liverestore-archive-keyring.gpg"), r.Stranger} {
		hostMust(t, "gpg", "--homedir", home, "--batch", "--quiet", "--import", k)
	}
	strangerID := ""
	for _, l := range strings.Split(hostMust(t, "gpg", "--homedir", home, "--batch", "--with-colons", "--show-keys", r.Stranger), "\n") {
		if f := strings.Split(l, ":"); f[0] == "pub" && len(f) > 4 {
			strangerID = f[4]
		}
	}
	mirror := func(keyID string) (string, bool) {
		t.Helper()
		dir := t.TempDir()
		conf := map[string]string{
			"distributions": "Codename: stable\nArchitectures: amd64 arm64\nComponents: main\nUpdate: dlr\n",
			"updates": "Name: dlr\nMethod: file:" + filepath.Join(r.V2, "apt") + "\nSuite: stable\nComponents: main\n" +
				"Architectures: amd64 arm64\nVerifyRelease: " + keyID + "\n",
		}
		for name, content := range conf {
			if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "conf", name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("reprepro", "--basedir", dir, "update")
		cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
		out, err := cmd.CombinedOutput()
		t.Logf("$ reprepro update (VerifyRelease: %s): %v\n%s", keyID, err, out)
		if err != nil {
			return string(out), false
		}
		list, _ := exec.Command("reprepro", "--basedir", dir, "list", "stable").CombinedOutput()
		return string(list), true
	}
	out, ok := mirror(r.Fpr[len(r.Fpr)-16:])
	if !ok {
		t.Fatalf("reprepro update with the repository's key failed:\n%s", out)
	}
	wantContains(t, "the mirror", out, "stable|main|amd64: docker-liverestore ", "stable|main|arm64: docker-liverestore ")
	if out, ok := mirror(strangerID); ok {
		t.Errorf("reprepro update with VerifyRelease naming another key mirrored:\n%s", out)
	}
}
