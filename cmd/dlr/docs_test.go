package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The completions and the manual page are generated from the commands and
// their FlagSets; these tests check that every command and every flag of
// --help is in each, and that each is well-formed for its shell or for
// groff. A missing shell or groff skips that check with the package to
// install (make docs-deps installs them).

func docsOutput(t *testing.T, args ...string) string {
	t.Helper()
	e := newTestEnv(t)
	code, out, errOut := e.run(args...)
	if code != exitOK {
		t.Fatalf("dlr %v: exit %d: %s", args, code, errOut)
	}
	return out
}

// helpFlags returns the flags that `dlr CMD --help` shows.
func helpFlags(t *testing.T, cmd string) []string {
	t.Helper()
	e := newTestEnv(t)
	code, out, errOut := e.run(cmd, "--help")
	if code != exitOK || errOut != "" {
		t.Fatalf("dlr %s --help: exit %d: %s", cmd, code, errOut)
	}
	if !strings.HasPrefix(out, "Usage: dlr "+cmd+" [flags]") {
		t.Errorf("dlr %s --help (on stdout) does not start with its usage line:\n%s", cmd, out)
	}
	return regexp.MustCompile(`(?m)^\s+(?:-\w, )?(--[a-z-]+)`).FindAllString(out, -1)
}

func TestDocsCoverCommands(t *testing.T) {
	inUsage := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^  dlr (\w+)`).FindAllStringSubmatch(usageText, -1) {
		inUsage[m[1]] = true
	}
	documented := map[string]bool{}
	for _, c := range commandDocs {
		documented[c.name] = true
		if !inUsage[c.name] {
			t.Errorf("command %q is documented but not in dlr help", c.name)
		}
	}
	for c := range inUsage {
		if !documented[c] {
			t.Errorf("command %q of dlr help is missing from commandDocs (docs.go)", c)
		}
	}
}

func TestDocsHaveEveryFlag(t *testing.T) {
	bash := docsOutput(t, "completion", "bash")
	zsh := docsOutput(t, "completion", "zsh")
	fish := docsOutput(t, "completion", "fish")
	man := docsOutput(t, "man")
	for _, c := range commandDocs {
		if !strings.Contains(bash, " "+c.name+") opts=") || !strings.Contains(zsh, "'"+c.name+":") ||
			!strings.Contains(fish, "-a "+c.name+" ") || !strings.Contains(man, ".SS dlr "+c.name) {
			t.Errorf("command %s missing from a completion or the manual", c.name)
		}
		if c.name == "version" {
			continue
		}
		flags := helpFlags(t, c.name)
		if len(flags) < 2 {
			t.Fatalf("dlr %s --help shows %d flags", c.name, len(flags))
		}
		for _, f := range flags {
			f = strings.TrimSpace(f)
			name := strings.TrimPrefix(f, "--")
			if !strings.Contains(bash, f) {
				t.Errorf("bash completion lacks %s %s", c.name, f)
			}
			if !strings.Contains(zsh, "'"+f+"[") {
				t.Errorf("zsh completion lacks %s %s", c.name, f)
			}
			if !strings.Contains(fish, "__fish_seen_subcommand_from "+c.name+"' -l "+name+" ") {
				t.Errorf("fish completion lacks %s %s", c.name, f)
			}
			if !strings.Contains(man, roff(f)) {
				t.Errorf("manual lacks %s %s", c.name, f)
			}
		}
	}
	for _, hidden := range []string{"--root", "--docker-socket"} {
		if strings.Contains(bash+zsh+fish+man, hidden) || strings.Contains(man, roff(hidden)) {
			t.Errorf("hidden flag %s in the docs", hidden)
		}
	}
}

// shellCheck runs a shell's syntax check on script.
func shellCheck(t *testing.T, shell, pkg, script string, args ...string) {
	t.Helper()
	path, err := exec.LookPath(shell)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s, or make docs-deps)", shell, pkg)
	}
	f := filepath.Join(t.TempDir(), "dlr."+shell)
	os.WriteFile(f, []byte(script), 0o644)
	out, err := exec.Command(path, append(args, f)...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("%s %v: %v\n%s", shell, args, err, out)
	}
}

func TestCompletionBashSyntax(t *testing.T) {
	script := docsOutput(t, "completion", "bash")
	shellCheck(t, "bash", "bash", script, "-n")
	// And it completes: source it and ask for `dlr dri<TAB>` and
	// `dlr drill --se<TAB>`.
	f := filepath.Join(t.TempDir(), "dlr.bash")
	os.WriteFile(f, []byte(script), 0o644)
	probe := `. "$1"
COMP_WORDS=(dlr dri); COMP_CWORD=1; _dlr; echo "${COMPREPLY[*]}"
COMP_WORDS=(dlr drill --se); COMP_CWORD=2; _dlr; echo "${COMPREPLY[*]}"
COMP_WORDS=(dlr validate --if-unknown p); COMP_CWORD=3; _dlr; echo "${COMPREPLY[*]}"`
	out, err := exec.Command("bash", "-c", probe, "bash", f).CombinedOutput()
	if err != nil || string(out) != "drill\n--seconds\npass\n" {
		t.Fatalf("bash completion: %v\n%q", err, out)
	}
}

func TestCompletionZshSyntax(t *testing.T) {
	shellCheck(t, "zsh", "zsh", docsOutput(t, "completion", "zsh"), "-n")
}

func TestCompletionFishSyntax(t *testing.T) {
	shellCheck(t, "fish", "fish", docsOutput(t, "completion", "fish"), "--no-execute")
}

// TestManRenders renders dlr(8) with groff (as man does) and fails on any
// warning.
func TestManRenders(t *testing.T) {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip("groff not installed (apt-get install groff-base, or make docs-deps)")
	}
	page := docsOutput(t, "man")
	cmd := exec.Command("groff", "-man", "-Tutf8", "-ww", "-b")
	cmd.Stdin = strings.NewReader(page)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("groff: %v\n%s", err, stderr.String())
	}
	text := stdout.String()
	for _, s := range []string{"dlr drill", "--seconds", "EXIT STATUS", "NO_COLOR"} {
		if !strings.Contains(stripOverstrike(text), s) {
			t.Errorf("rendered page lacks %q", s)
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		f := filepath.Join(t.TempDir(), "dlr.8")
		os.WriteFile(f, []byte(page), 0o644)
		cmd := exec.Command("man", "--warnings", "-l", f)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "LC_ALL=C.UTF-8", "MANWIDTH=80")
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "warning") {
			t.Fatalf("man -l: %v\n%s", err, out)
		}
	}
}

// stripOverstrike removes grotty's bold and underline (x\bx, _\bx).
func stripOverstrike(s string) string {
	return regexp.MustCompile(".\b").ReplaceAllString(s, "")
}

func TestDocsUsage(t *testing.T) {
	e := newTestEnv(t)
	if code, _, _ := e.run("completion", "tcsh"); code != exitUsage {
		t.Errorf("completion tcsh: exit %d", code)
	}
	if code, _, _ := e.run("man", "x"); code != exitUsage {
		t.Errorf("man x: exit %d", code)
	}
}
