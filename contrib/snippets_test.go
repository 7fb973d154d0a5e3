// Package contrib holds configuration-management material for dlr (the
// Ansible role in ansible/; Puppet, Chef and Salt files in puppet/, chef/
// and salt/ that add dlr's package repository and install it by name),
// Prometheus alerting rules with their promtool tests in prometheus/, and
// the test of docs/fleet.md's snippets for Ansible, Puppet, Chef and Salt.
package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fleetDoc is the page whose snippets these tests check.
const fleetDoc = "../docs/fleet.md"

// fleetBlocks returns the fenced code blocks of docs/fleet.md (Fleet: config
// management) by language (puppet, ruby, yaml), in the page's order.
func fleetBlocks(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(fleetDoc)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if !strings.HasPrefix(s, "# Fleet: config management\n") {
		t.Fatalf("%s does not start with \"# Fleet: config management\"", fleetDoc)
	}
	out := map[string][]string{}
	for _, m := range regexp.MustCompile("(?s)\n```(\\w+)\n(.*?)\n```\n").FindAllStringSubmatch(s, -1) {
		out[m[1]] = append(out[m[1]], m[2]+"\n")
	}
	return out
}

// checkWith runs tool args... FILE on each block written to a file; a
// missing tool skips with what to install.
func checkWith(t *testing.T, blocks []string, ext, pkg string, tool string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s, or make fleet-deps)", tool, pkg)
	}
	for i, b := range blocks {
		f := filepath.Join(t.TempDir(), "snippet"+ext)
		os.WriteFile(f, []byte(b), 0o644)
		cmd := exec.Command(path, append(args, f)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("block %d: %s %v: %v\n%s\n%s", i, tool, args, err, out, b)
		}
	}
}

func wantIn(t *testing.T, what string, blocks []string, want ...string) {
	t.Helper()
	all := strings.Join(blocks, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("the %s snippet lacks %q", what, w)
		}
	}
}

func TestPuppetSnippet(t *testing.T) {
	bl := fleetBlocks(t)["puppet"]
	if len(bl) == 0 {
		t.Fatal("no puppet block")
	}
	wantIn(t, "Puppet", bl, "package { 'docker-liverestore'", "unless  => '/usr/bin/dlr status --quiet'", "validate_cmd => '/usr/bin/dlr validate %'")
	if _, err := exec.LookPath("puppet"); err != nil {
		if _, err := os.Stat("/opt/puppetlabs/bin/puppet"); err == nil {
			t.Setenv("PATH", os.Getenv("PATH")+":/opt/puppetlabs/bin")
		}
	}
	checkWith(t, bl, ".pp", "puppet", "puppet", "parser", "validate")
}

func TestChefSnippet(t *testing.T) {
	bl := fleetBlocks(t)["ruby"]
	if len(bl) == 0 {
		t.Fatal("no ruby (Chef) block")
	}
	wantIn(t, "Chef", bl, "package 'docker-liverestore'", "not_if '/usr/bin/dlr status --quiet'", "verify '/usr/bin/dlr validate %{path}'")
	checkWith(t, bl, ".rb", "ruby", "ruby", "-c")
}

// TestYAMLSnippets loads the Salt state and the Ansible task as YAML
// (python3-yaml: the module Salt and Ansible themselves use).
func TestYAMLSnippets(t *testing.T) {
	bl := fleetBlocks(t)["yaml"]
	if len(bl) != 2 {
		t.Fatalf("want 2 yaml blocks (Ansible, Salt), got %d", len(bl))
	}
	wantIn(t, "Salt", bl[1:], "pkg.installed", "- unless: /usr/bin/dlr status --quiet", "- check_cmd: /usr/bin/dlr validate")
	wantIn(t, "Ansible", bl[:1], "validate: dlr validate %s")
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		t.Skip("python3 not installed")
	}
	if exec.Command(py, "-c", "import yaml").Run() != nil {
		t.Skip("python3-yaml not installed (apt-get install python3-yaml, or make fleet-deps)")
	}
	checkWith(t, bl, ".yaml", "python3-yaml", py, "-c", `import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert isinstance(d, (dict, list)) and d, "empty document"`)
}

// TestAnsibleRoleFiles loads every YAML file of the role.
func TestAnsibleRoleFiles(t *testing.T) {
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", "import yaml").Run() != nil {
		t.Skip("python3-yaml not installed (apt-get install python3-yaml, or make fleet-deps)")
	}
	var files []string
	filepath.WalkDir("ansible", func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) < 5 {
		t.Fatalf("role files: %v", files)
	}
	for _, f := range files {
		if out, err := exec.Command(py, "-c", "import sys, yaml; yaml.safe_load(open(sys.argv[1]))", f).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
	b, _ := os.ReadFile("ansible/roles/docker_liverestore/tasks/main.yml")
	for _, w := range []string{"changed_when: (dlr_enable.stdout | from_json).changed", "validate: dlr validate %s", "'--dry-run'"} {
		if !strings.Contains(string(b), w) {
			t.Errorf("tasks/main.yml lacks %q", w)
		}
	}
}

// repositorySnippets returns the contents of contrib's files that install
// dlr by name from its package repository, by glob.
func repositorySnippets(t *testing.T, glob string) []string {
	t.Helper()
	files, _ := filepath.Glob(glob)
	if len(files) == 0 {
		t.Fatalf("no %s", glob)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

// wantEach fails unless every block contains every string of want.
func wantEach(t *testing.T, what string, blocks []string, want ...string) {
	t.Helper()
	for i, b := range blocks {
		for _, w := range want {
			if !strings.Contains(b, w) {
				t.Errorf("%s %d lacks %q", what, i, w)
			}
		}
		if strings.Contains(strings.ToLower(b), "trusted=yes") || strings.Contains(b, "gpgcheck => '0'") || strings.Contains(b, "gpgcheck: 0") {
			t.Errorf("%s %d turns signature checks off", what, i)
		}
	}
}

// The apt source of contrib's snippets is the one make repo publishes
// (packaging/repo.sh), with the key the configuration manager keeps.
var aptSource = []string{"/apt", "Suites: stable", "Components: main", "Signed-By: /etc/apt/keyrings/docker-liverestore.asc", "/etc/apt/sources.list.d/docker-liverestore.sources"}

// TestRepositorySnippets parses contrib's Puppet, Chef and Salt files that
// add the package repository and install dlr by name (puppet parser
// validate, ruby -c, a YAML load), and checks they keep signature checks
// on and guard dlr enable.
func TestRepositorySnippets(t *testing.T) {
	t.Run("puppet", func(t *testing.T) {
		bl := repositorySnippets(t, "puppet/*.pp")
		wantEach(t, "puppet", bl, append(aptSource, "package { 'docker-liverestore'", "unless  => '/usr/bin/dlr status --quiet'",
			"yumrepo { 'docker-liverestore'", "repo_gpgcheck => '1'", "gpgcheck      => '1'")...)
		if _, err := exec.LookPath("puppet"); err != nil {
			if _, err := os.Stat("/opt/puppetlabs/bin/puppet"); err == nil {
				t.Setenv("PATH", os.Getenv("PATH")+":/opt/puppetlabs/bin")
			}
		}
		checkWith(t, bl, ".pp", "puppet", "puppet", "parser", "validate")
	})
	t.Run("chef", func(t *testing.T) {
		bl := repositorySnippets(t, "chef/*.rb")
		wantEach(t, "chef", bl, append(aptSource, "package 'docker-liverestore'", "not_if '/usr/bin/dlr status --quiet'",
			"yum_repository 'docker-liverestore'", "repo_gpgcheck true", "gpgcheck true")...)
		checkWith(t, bl, ".rb", "ruby", "ruby", "-c")
	})
	t.Run("salt", func(t *testing.T) {
		apt := repositorySnippets(t, "salt/*-apt.sls")
		dnf := repositorySnippets(t, "salt/*-dnf.sls")
		wantEach(t, "salt apt", apt, aptSource...)
		wantEach(t, "salt dnf", dnf, "pkgrepo.managed", "/rpm", "- gpgcheck: 1", "- repo_gpgcheck: 1")
		all := append(apt, dnf...)
		wantEach(t, "salt", all, "pkg.installed", "- unless: /usr/bin/dlr status --quiet")
		py := "/usr/bin/python3"
		if exec.Command(py, "-c", "import yaml").Run() != nil {
			t.Skip("python3-yaml not installed (apt-get install python3-yaml, or make fleet-deps)")
		}
		checkWith(t, all, ".sls", "python3-yaml", py, "-c", `import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert isinstance(d, dict) and d, "empty document"`)
	})
}
