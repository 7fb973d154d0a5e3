// Package contrib holds configuration-management material for dlr (the
// Ansible role in ansible/) and the test of docs/fleet.md's snippets for
// Ansible, Puppet, Chef and Salt.
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
