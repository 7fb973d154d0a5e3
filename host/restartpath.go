package host

import (
	"errors"
	"github.com/docker-liverestore/dlr/atomicfile"
	"io/fs"
	"slices"
	"strings"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/unit"
)

// What the restart-path rules of `dlr check` read (see guard's
// ContainerdBond, Needrestart, DebconfRestart). Every path is read under
// [Env.Root] and reported as on the host.

// Paths of the restart path's facts.
const (
	NeedrestartBin     = "/usr/sbin/needrestart"
	NeedrestartConf    = "/etc/needrestart/needrestart.conf"
	NeedrestartConfDir = "/etc/needrestart/conf.d"
	DebconfConfig      = "/var/cache/debconf/config.dat"
)

// DependencySources returns the lines of u's unit file and drop-ins
// (FragmentPath, then DropInPaths in order) whose [Unit] section has
// Requires=, BindsTo=, PartOf= or Requisite= naming target, as
// "FILE: Line" (FILE as on the host, the line trimmed). A file that cannot
// be read is skipped: the rule then says less about where, not less about
// what (systemd's own lists decide that).
func (e *Env) DependencySources(u *unit.Unit, target string) []string {
	if u == nil {
		return nil
	}
	var out []string
	for _, file := range append([]string{u.FragmentPath}, u.DropInPaths...) {
		if file == "" || file == "/dev/null" {
			continue
		}
		b, err := atomicfile.ReadFile(e.Path(file), atomicfile.MaxRead)
		if err != nil {
			continue
		}
		for _, line := range DependencyLines(b, target) {
			out = append(out, file+": "+line)
		}
	}
	return out
}

// unitLines splits a unit file into its logical lines as systemd reads
// them: a line ending in a backslash continues on the next (joined with a
// blank), comment lines inside a continuation are dropped, and a line may
// be of any length (the file itself is bounded by its reader). Lines are
// trimmed.
func unitLines(b []byte) []string {
	var out []string
	var cont strings.Builder
	continuing := false
	for _, raw := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if continuing && (strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";")) {
			continue
		}
		if strings.HasSuffix(l, "\\") && !(!continuing && (strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";"))) {
			cont.WriteString(strings.TrimSuffix(l, "\\"))
			cont.WriteString(" ")
			continuing = true
			continue
		}
		if continuing {
			cont.WriteString(l)
			l = strings.TrimSpace(cont.String())
			cont.Reset()
			continuing = false
		}
		out = append(out, l)
	}
	if continuing {
		out = append(out, strings.TrimSpace(cont.String()))
	}
	return out
}

// DependencyLines returns the lines of a unit file's [Unit] section that
// set Requires=, BindsTo=, PartOf= or Requisite= with target among their
// space-separated units. Comments (# and ;) and other sections are
// skipped; a key's case matters, as in systemd.
func DependencyLines(unitFile []byte, target string) []string {
	var out []string
	section := ""
	for _, line := range unitLines(unitFile) {
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[':
			section = line
			continue
		case section != "[Unit]":
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(key) {
		case "Requires", "BindsTo", "PartOf", "Requisite":
			if slices.Contains(strings.Fields(value), target) {
				out = append(out, line)
			}
		}
	}
	return out
}

// ReadDebconfQuestion reads one question's value from debconf's
// config.dat directly: no debconf tool is run and debconf's lock is not
// taken (a reader sees the file debconf last wrote in full: it replaces
// config.dat by a rename).
func (e *Env) ReadDebconfQuestion(name string) guard.DebconfQuestion {
	b, err := atomicfile.ReadFile(e.Path(DebconfConfig), atomicfile.MaxRead)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return guard.DebconfQuestion{}
	case err != nil:
		return guard.DebconfQuestion{FileFound: true, Err: err.Error()}
	}
	q := ParseDebconfQuestion(b, name)
	q.FileFound = true
	return q
}

// ParseDebconfQuestion finds the stanza "Name: name" in a debconf
// database file (RFC 822-like stanzas separated by blank lines) and
// returns its Value (Found false when there is no such stanza).
func ParseDebconfQuestion(db []byte, name string) guard.DebconfQuestion {
	var q guard.DebconfQuestion
	for _, stanza := range strings.Split(strings.ReplaceAll(string(db), "\r\n", "\n"), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && line != "" && line[0] != ' ' && line[0] != '\t' {
				fields[k] = strings.TrimSpace(v)
			}
		}
		if fields["Name"] == name {
			q.Found, q.Value = true, fields["Value"]
			return q
		}
	}
	return q
}
