package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/docker-liverestore/dlr/guard"
)

// ParseAptHook reads what apt gives a DPkg::Pre-Install-Pkgs command with
// protocol version 2 or 3 (apt.conf(5)): a "VERSION n" line, the
// configuration ("key=value" lines) up to a blank line, then one line per
// package action. It returns the packages that will be unpacked or removed
// (a "**CONFIGURE**" line changes nothing new). keep selects the packages
// of interest; the others are skipped without being looked at further.
func ParseAptHook(r io.Reader, keep func(pkg string) bool) ([]guard.PkgChange, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return nil, fmt.Errorf("apt hook: no input (want apt's VERSION 2 or 3 protocol: DPkg::Tools::Options::...::Version \"3\")")
	}
	var version int
	if _, err := fmt.Sscanf(sc.Text(), "VERSION %d", &version); err != nil || version < 2 || version > 3 {
		return nil, fmt.Errorf("apt hook: first line %q: want \"VERSION 2\" or \"VERSION 3\" (set DPkg::Tools::Options::...::Version \"3\")", sc.Text())
	}
	for sc.Scan() && sc.Text() != "" { // the configuration
	}
	fields := 5
	if version == 3 {
		fields = 9
	}
	seen := map[string]int{}
	var out []guard.PkgChange
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != fields {
			return nil, fmt.Errorf("apt hook: package line %q: want %d fields for VERSION %d", sc.Text(), fields, version)
		}
		if !keep(f[0]) {
			continue
		}
		oldV, newV, action := f[1], f[3], f[4]
		if version == 3 {
			newV = f[5]
			action = f[8]
		}
		var c guard.PkgChange
		switch action {
		case "**CONFIGURE**":
			continue
		case "**REMOVE**":
			c = guard.PkgChange{Package: f[0], Old: dash(oldV), Remove: true}
		default:
			c = guard.PkgChange{Package: f[0], Old: dash(oldV), New: dash(newV)}
		}
		if i, ok := seen[c.Package]; ok { // multi-arch: one entry per package
			out[i] = c
			continue
		}
		seen[c.Package] = len(out)
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("apt hook: %w", err)
	}
	return out, nil
}

func dash(v string) string {
	if v == "-" {
		return ""
	}
	return v
}

// PackageFiles reads the name and version of .deb and .rpm files (with
// dpkg-deb and rpm) and the installed version of each package.
func (e *Env) PackageFiles(ctx context.Context, files []string) ([]guard.PkgChange, error) {
	var out []guard.PkgChange
	for _, file := range files {
		var name, version string
		switch filepath.Ext(file) {
		case ".deb":
			o, err := e.run(ctx, "dpkg-deb", "--showformat=${Package} ${Version}", "--show", file)
			if err != nil {
				return nil, err
			}
			name, version, _ = strings.Cut(strings.TrimSpace(o), " ")
		case ".rpm":
			o, err := e.run(ctx, "rpm", "-qp", "--nosignature", "--qf", "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}", file)
			if err != nil {
				return nil, err
			}
			name, version, _ = strings.Cut(strings.TrimSpace(o), " ")
		default:
			return nil, fmt.Errorf("%s: not a .deb or .rpm file", file)
		}
		if name == "" || version == "" {
			return nil, fmt.Errorf("%s: no package name and version in it", file)
		}
		out = append(out, guard.PkgChange{Package: name, Old: e.installedVersion(ctx, name, filepath.Ext(file) == ".rpm"), New: version})
	}
	return out, nil
}

// AptCandidates asks apt which of pkgs an upgrade would change: installed
// packages whose candidate differs (apt-cache policy).
func (e *Env) AptCandidates(ctx context.Context, pkgs []string) ([]guard.PkgChange, error) {
	o, err := e.run(ctx, "apt-cache", append([]string{"policy"}, pkgs...)...)
	if err != nil {
		return nil, fmt.Errorf("%v (on an rpm host, give the .rpm files: dlr preflight FILE.rpm...)", err)
	}
	return parsePolicy(o), nil
}

// parsePolicy reads apt-cache policy's "NAME:\n  Installed: V\n  Candidate: V"
// blocks and returns the installed packages whose candidate differs.
func parsePolicy(out string) []guard.PkgChange {
	var res []guard.PkgChange
	var cur *guard.PkgChange
	flush := func() {
		if cur != nil && cur.Old != "" && cur.New != "" && cur.Old != cur.New {
			res = append(res, *cur)
		}
		cur = nil
	}
	for _, line := range strings.Split(out, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case line != "" && line[0] != ' ' && strings.HasSuffix(line, ":"):
			flush()
			cur = &guard.PkgChange{Package: strings.TrimSuffix(line, ":")}
		case cur != nil && strings.HasPrefix(t, "Installed: "):
			cur.Old = none(strings.TrimPrefix(t, "Installed: "))
		case cur != nil && strings.HasPrefix(t, "Candidate: "):
			cur.New = none(strings.TrimPrefix(t, "Candidate: "))
		}
	}
	flush()
	sort.Slice(res, func(i, j int) bool { return res[i].Package < res[j].Package })
	return res
}

func none(v string) string {
	if v == "(none)" {
		return ""
	}
	return v
}

// installedVersion is a package's installed version, "" when it is not
// installed or the package manager cannot say.
func (e *Env) installedVersion(ctx context.Context, pkg string, rpm bool) string {
	var o string
	var err error
	if rpm {
		o, err = e.run(ctx, "rpm", "-q", "--qf", "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}", pkg)
	} else {
		o, err = e.run(ctx, "dpkg-query", "--showformat=${db:Status-Abbrev}${Version}", "--show", pkg)
		if err == nil {
			if !strings.HasPrefix(o, "ii") && !strings.HasPrefix(o, "hi") {
				return ""
			}
			o = strings.TrimSpace(o[3:])
		}
	}
	if err != nil {
		return ""
	}
	return strings.TrimSpace(o)
}

// run runs a package tool within the package-tool timeout.
func (e *Env) run(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Version)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).Output()
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return string(out), nil
}
