package host

import (
	"bufio"
	"bytes"
	"errors"
	"github.com/docker-liverestore/dlr/atomicfile"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// DependencyLines returns the lines of a unit file's [Unit] section that
// set Requires=, BindsTo=, PartOf= or Requisite= with target among their
// space-separated units. Comments (# and ;) and other sections are
// skipped; a key's case matters, as in systemd.
func DependencyLines(unitFile []byte, target string) []string {
	var out []string
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(unitFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
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

// ReadNeedrestart reads needrestart's configuration as far as the
// needrestart rule needs it: whether it is installed, then
// needrestart.conf and conf.d/*.conf in the order needrestart evaluates
// them (the main file, then conf.d sorted by name; a later assignment wins).
func (e *Env) ReadNeedrestart() guard.NeedrestartConf {
	var c guard.NeedrestartConf
	if _, err := os.Stat(e.Path(NeedrestartBin)); err != nil {
		return c
	}
	c.Installed = true
	files := []string{NeedrestartConf}
	matches, _ := filepath.Glob(filepath.Join(e.Path(NeedrestartConfDir), "*.conf"))
	slices.Sort(matches)
	for _, m := range matches {
		files = append(files, filepath.Join(NeedrestartConfDir, filepath.Base(m)))
	}
	for _, f := range files {
		b, err := atomicfile.ReadFile(e.Path(f), atomicfile.MaxRead)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				c.Errs = append(c.Errs, f+": "+err.Error())
			}
			continue
		}
		c.Files = append(c.Files, f)
		ParseNeedrestart(&c, b)
	}
	return c
}

var (
	// $nrconf{restart} = 'a';
	nrRestart = regexp.MustCompile(`\$nrconf\{\s*['"]?restart['"]?\s*\}\s*=\s*['"]([a-z])['"]\s*;`)
	// $nrconf{defno} = 1;
	nrDefno = regexp.MustCompile(`\$nrconf\{\s*['"]?defno['"]?\s*\}\s*=\s*['"]?(\d+)['"]?\s*;`)
	// $nrconf{override_rc} = { ... };
	nrOverrideHash = regexp.MustCompile(`(?s)\$nrconf\{\s*['"]?override_rc['"]?\s*\}\s*=\s*\{(.*?)\}\s*;`)
	// $nrconf{override_rc}{qr(^containerd)} = 0; (also ->{...})
	nrOverrideOne = regexp.MustCompile(`\$nrconf\{\s*['"]?override_rc['"]?\s*\}\s*(?:->\s*)?\{\s*(qr\(.*?\)|qr\{.*?\}|qr/.*?/|'[^']*'|"[^"]*"|q\(.*?\))\s*\}\s*=\s*(\d+)\s*;`)
	// qr(^docker) => 0, inside a hash
	nrEntry = regexp.MustCompile(`(qr\(.*?\)|qr\{.*?\}|qr/.*?/|'[^']*'|"[^"]*"|q\(.*?\))\s*(?:=>|,)\s*(\d+)`)
)

// ParseNeedrestart applies one needrestart configuration file (Perl) to c:
// only $nrconf{restart}, $nrconf{defno} and $nrconf{override_rc}, both as
// a whole hash (which replaces every earlier entry) and one key at a time.
// Statements apply in the order they appear. Comments are dropped (a # at
// the start of a line or after a blank). It evaluates no Perl: a value
// computed by code is not seen.
func ParseNeedrestart(c *guard.NeedrestartConf, conf []byte) {
	text := stripPerlComments(string(conf))
	type stmt struct {
		at    int
		apply func()
	}
	var stmts []stmt
	for _, m := range nrRestart.FindAllStringSubmatchIndex(text, -1) {
		v := text[m[2]:m[3]]
		stmts = append(stmts, stmt{m[0], func() { c.Mode = v }})
	}
	for _, m := range nrDefno.FindAllStringSubmatchIndex(text, -1) {
		v := text[m[2]:m[3]]
		stmts = append(stmts, stmt{m[0], func() { c.DefNo = v != "0" }})
	}
	for _, m := range nrOverrideHash.FindAllStringSubmatchIndex(text, -1) {
		body := text[m[2]:m[3]]
		stmts = append(stmts, stmt{m[0], func() {
			c.Overrides = nil
			for _, e := range nrEntry.FindAllStringSubmatch(body, -1) {
				setOverride(c, perlPattern(e[1]), e[2] != "0")
			}
		}})
	}
	for _, m := range nrOverrideOne.FindAllStringSubmatchIndex(text, -1) {
		key, v := text[m[2]:m[3]], text[m[4]:m[5]]
		stmts = append(stmts, stmt{m[0], func() { setOverride(c, perlPattern(key), v != "0") }})
	}
	slices.SortFunc(stmts, func(a, b stmt) int { return a.at - b.at })
	for _, s := range stmts {
		s.apply()
	}
}

// setOverride sets one hash key: a key already there is replaced, as in a
// Perl hash.
func setOverride(c *guard.NeedrestartConf, pattern string, restart bool) {
	for i, o := range c.Overrides {
		if o.Pattern == pattern {
			c.Overrides[i].Restart = restart
			return
		}
	}
	c.Overrides = append(c.Overrides, guard.NeedrestartOverride{Pattern: pattern, Restart: restart})
}

// perlPattern returns the regular expression of a qr(...), qr{...},
// qr/.../ or a quoted string.
func perlPattern(k string) string {
	switch {
	case strings.HasPrefix(k, "qr") || strings.HasPrefix(k, "q("):
		i := strings.IndexAny(k, "({/")
		return k[i+1 : len(k)-1]
	default:
		return k[1 : len(k)-1]
	}
}

// stripPerlComments drops # comments that start a line or follow a blank,
// which is how needrestart's files write them (a # inside a regex such as
// qr(a#b) is kept).
func stripPerlComments(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			if l[j] == '#' && (j == 0 || l[j-1] == ' ' || l[j-1] == '\t') {
				lines[i] = l[:j]
				break
			}
		}
	}
	return strings.Join(lines, "\n")
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
