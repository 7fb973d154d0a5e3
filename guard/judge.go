package guard

import (
	"encoding/json"
	"fmt"

	"github.com/docker-liverestore/dlr/daemonjson"
)

// Candidate is what Judge needs to know of a file that is to replace the
// live daemon.json.
type Candidate struct {
	Doc *daemonjson.Doc
	// Dockerd's own verdict, where the installed dockerd can give one
	// (`dockerd --validate` with the unit's flags, Docker 23.0 and later):
	// Validated says it could; Refused that it refused; Output what it
	// said.
	Validated, Refused bool
	Output             string
	// NoDockerd: dockerd could not be run at all (Output says why), so its
	// version is unknown.
	NoDockerd bool
	// Flags are dockerd's command lines (for flag/file conflicts where
	// dockerd cannot check them itself).
	Flags []Flags
	// Managed: dlr manages live restore on this host, so the file must keep
	// "live-restore": true. ManagedUnknown says why that is not known.
	Managed        bool
	ManagedUnknown string
	// Base is what the running daemon uses (BaseName says which file that
	// is); restore-breaking changes are judged against it.
	Base     *daemonjson.Doc
	BaseName string
	// NftFound: the nft tool is installed where dockerd looks for it
	// (firewall-backend nftables needs it; see [NftTool]).
	NftFound bool
	// Running says how many containers run, asked only when a change
	// would break live restore; known is false when dlr cannot tell (why
	// says why).
	Running func() (n int, known bool, why string)
}

// Verdict is Judge's answer: findings (Fail: unsafe; Warn: dlr cannot
// tell; Note: worth saying), the changes against the running daemon's
// configuration, and whether dockerd itself would refuse the file (no
// --force can make that safe).
type Verdict struct {
	Findings []Finding
	Changes  []Change
	Invalid  bool
}

// Judge decides whether a candidate daemon.json can safely replace the
// live one:
//
//  1. dockerd would accept it: its own --validate where it has one;
//     otherwise the keys Docker 20.10 knows, and no key also given as a
//     flag.
//  2. It keeps "live-restore": true while dlr manages it.
//  3. It changes no restore-breaking key relative to what the running
//     daemon uses while containers run.
func Judge(c Candidate) Verdict {
	var v Verdict
	add := func(sev Severity, rule, subject, msg string) {
		v.Findings = append(v.Findings, Finding{Rule: rule, Severity: sev, Subject: subject, Message: msg})
	}
	switch {
	case c.Validated && c.Refused:
		v.Invalid = true
		add(Fail, "dockerd-validate", "", "dockerd --validate refuses it: "+c.Output)
	case c.Validated:
		add(Note, "dockerd-validate", "", "dockerd --validate: "+c.Output)
	case c.NoDockerd:
		add(Note, "rules", "", "dockerd could not be run here ("+c.Output+"): dlr applied the rules that hold for every Docker version it knows (option names, the types of the keys it knows, no key also given as a flag)")
		for _, f := range Shape(c.Doc) {
			v.Invalid = true
			add(Fail, f.Rule, f.Subject, f.Sentence())
		}
		for _, f := range FlagConflicts(c.Flags, c.Doc) {
			v.Invalid = true
			add(Fail, f.Rule, f.Subject, fmt.Sprintf("%s: also given as a dockerd flag; dockerd would refuse to start (\"specified both as a flag and in the configuration file\"). Set it in one place only", f.Subject))
		}
	default:
		add(Note, "rules", "", "this dockerd has no --validate (Docker 23.0 added it): dlr applied its own rules, those of Docker 20.10 (the keys it knows, their types, no key also given as a flag)")
		for _, f := range Shape(c.Doc) {
			v.Invalid = true
			add(Fail, f.Rule, f.Subject, f.Sentence())
		}
		if c.Doc.HasBOM() {
			// encoding/json refuses it; moby reads a BOM from 24.0 on
			// (moby commit d42495033e, "support alternate (common) unicode
			// encodings using a BOM").
			v.Invalid = true
			add(Fail, "bom", "", "the file starts with a UTF-8 byte order mark, which dockerd before 24.0 cannot read (\"invalid character 'ï' looking for beginning of value\"); it would refuse to start. Save the file without it")
		}
		for _, k := range c.Doc.Keys() {
			if optionName.MatchString(k) && !Known20(k) {
				v.Invalid = true
				add(Fail, "unknown-key", k, fmt.Sprintf("%s: not a key this dockerd knows; it would refuse to start (\"the following directives don't match any configuration option\"). Remove it", k))
			}
		}
		for _, f := range FlagConflicts(c.Flags, c.Doc) {
			v.Invalid = true
			add(Fail, f.Rule, f.Subject, fmt.Sprintf("%s: also given as a dockerd flag; dockerd would refuse to start (\"specified both as a flag and in the configuration file\"). Set it in one place only", f.Subject))
		}
	}
	if f := NftTool(stringMember(c.Doc, "firewall-backend"), c.NftFound); f.Severity == Fail {
		v.Invalid = true
		add(Fail, f.Rule, f.Subject, f.Sentence())
	}
	if c.ManagedUnknown != "" {
		add(Warn, "managed-live-restore", "live-restore", c.ManagedUnknown)
	}
	if c.Managed {
		if lr, _ := c.Doc.LiveRestore(); !lr {
			add(Fail, "managed-live-restore", "live-restore", `live-restore: the file drops "live-restore": true, which dlr manages on this host; keep it (or run 'dlr disable' first)`)
		}
	}
	v.Changes = Diff(c.Base, c.Doc)
	breaking := Breaking(v.Changes)
	if len(breaking) == 0 {
		return v
	}
	n, known, why := c.Running()
	for _, ch := range breaking {
		switch {
		case !known:
			add(Warn, "breaking-change", ch.Key, fmt.Sprintf("%s: %s -> %s would break live restore if containers are running (%s), and dlr cannot tell whether they are: %s", ch.Key, show(ch.Old), show(ch.New), ch.Why, why))
		case n > 0:
			add(Fail, "breaking-change", ch.Key, fmt.Sprintf("%s: %s -> %s (against %s) while %d containers run: %s. Stop the containers first, or make this change in a maintenance window with a full restart", ch.Key, show(ch.Old), show(ch.New), c.BaseName, n, ch.Why))
		default:
			add(Note, "breaking-change", ch.Key, fmt.Sprintf("%s changes (%s -> %s); no container is running, so a restart applies it cleanly", ch.Key, show(ch.Old), show(ch.New)))
		}
	}
	return v
}

// stringMember is a string member of the file ("" when absent or not a
// string).
func stringMember(d *daemonjson.Doc, key string) string {
	raw, ok := d.Lookup(key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
