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
	"github.com/docker-liverestore/dlr/safetext"
)

// ParseAptHook reads what apt gives a DPkg::Pre-Install-Pkgs command with
// protocol version 2 or 3 (apt.conf(5)): a "VERSION n" line, the
// configuration ("key=value" lines) up to a blank line, then one line per
// package action. It returns the packages that will be unpacked or removed
// (a "**CONFIGURE**" line changes nothing new). keep selects the packages
// of interest; the others are skipped without being looked at further.
//
// A package line is read as apt writes it (apt-pkg/deb/dpkgpm.cc): the
// fixed fields (4 for VERSION 2, 8 for VERSION 3) each followed by one
// space, then the rest of the line is the action or the .deb's file name,
// which may hold spaces ("./My Debs/docker.io_28.5.2_amd64.deb"). A line
// dlr cannot read is an error only when it names a package keep selects;
// any other is skipped, with a note (notes) saying so.
func ParseAptHook(r io.Reader, keep func(pkg string) bool) (changes []guard.PkgChange, notes []string, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	first, _, ok, err := aptLine(br)
	if err != nil {
		return nil, nil, fmt.Errorf("apt hook: %w", err)
	}
	if !ok {
		return nil, nil, fmt.Errorf("apt hook: no input (want apt's VERSION 2 or 3 protocol: DPkg::Tools::Options::...::Version \"3\")")
	}
	var version int
	switch first {
	case "VERSION 2":
		version = 2
	case "VERSION 3":
		version = 3
	default:
		return nil, nil, fmt.Errorf("apt hook: first line %s: want \"VERSION 2\" or \"VERSION 3\" (set DPkg::Tools::Options::...::Version \"3\")", safetext.Quote(first))
	}
	for { // the configuration, up to a blank line
		l, _, ok, err := aptLine(br)
		if err != nil {
			return nil, nil, fmt.Errorf("apt hook: %w", err)
		}
		if !ok || l == "" {
			break
		}
	}
	fixed := 4
	if version == 3 {
		fixed = 8
	}
	seen := map[string]int{}
	for n := 1; ; n++ {
		l, cut, ok, err := aptLine(br)
		if err != nil {
			return nil, nil, fmt.Errorf("apt hook: %w", err)
		}
		if !ok {
			break
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		f, rest, good := aptFields(l, fixed)
		if !keep(f[0]) {
			if !good || cut {
				notes = append(notes, fmt.Sprintf("apt hook: package line %d (%s) skipped: not in apt's VERSION %d form, and it names no Docker package", n, safetext.Quote(l), version))
			}
			continue
		}
		if !good || cut {
			return nil, nil, fmt.Errorf("apt hook: package line %s: want %d fields and a file name or action for VERSION %d", safetext.Quote(l), fixed, version)
		}
		oldV, newV := f[1], f[3]
		if version == 3 {
			newV = f[5]
		}
		var c guard.PkgChange
		switch rest {
		case "**CONFIGURE**":
			continue
		case "**REMOVE**":
			c = guard.PkgChange{Package: f[0], Old: dash(oldV), Remove: true}
		default:
			c = guard.PkgChange{Package: f[0], Old: dash(oldV), New: dash(newV)}
		}
		if i, ok := seen[c.Package]; ok { // multi-arch: one entry per package
			changes[i] = c
			continue
		}
		seen[c.Package] = len(changes)
		changes = append(changes, c)
	}
	return changes, notes, nil
}

// maxAptLine bounds one line of apt's hook input; apt's longest are a
// file name (PATH_MAX) and a configuration value.
const maxAptLine = 1 << 20

// aptLine reads one line without its newline; a line longer than
// maxAptLine is cut there (cut) and the rest of it dropped. ok is false at
// the end of the input.
func aptLine(br *bufio.Reader) (line string, cut, ok bool, err error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b) < maxAptLine {
			b = append(b, chunk[:min(len(chunk), maxAptLine-len(b))]...)
		} else if len(chunk) > 0 {
			cut = true
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF:
			if len(b) == 0 && !cut {
				return "", false, false, nil
			}
			return string(b), cut, true, nil
		case err != nil:
			return "", false, false, err
		}
		if len(b) == maxAptLine && b[len(b)-1] != '\n' {
			cut = true
		}
		return strings.TrimSuffix(string(b), "\n"), cut, true, nil
	}
}

// aptFields splits a package line into its fixed fields (each ended by
// one space, none empty) and the rest. good is false when the line does
// not have that form; f[0] is then still the line's first word.
func aptFields(l string, fixed int) (f []string, rest string, good bool) {
	rest = l
	for range fixed {
		field, r, found := strings.Cut(rest, " ")
		if !found || field == "" {
			if len(f) == 0 {
				f = append(f, field)
			}
			return f, "", false
		}
		f = append(f, field)
		rest = r
	}
	return f, rest, rest != ""
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
	seen := map[string]bool{}
	for _, file := range files {
		if seen[file] { // the same file named twice is one change
			continue
		}
		seen[file] = true
		var name, version string
		switch strings.ToLower(filepath.Ext(file)) { // FOO.DEB is a .deb
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
		out = append(out, guard.PkgChange{Package: name, Old: e.installedVersion(ctx, name, strings.EqualFold(filepath.Ext(file), ".rpm")), New: version})
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
	out, err := Output(ctx, 4<<20, name, args...)
	if err != nil {
		msg := err.Error()
		if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
			msg = strings.TrimSpace(string(ee.Stderr))
		}
		return "", fmt.Errorf("%s %s: %s", name, strings.Join(args, " "), msg)
	}
	return string(out), nil
}
