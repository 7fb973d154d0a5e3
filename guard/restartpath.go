package guard

import (
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Rules about the whole restart path: what else, besides an admin's
// `systemctl restart docker`, stops or restarts dockerd or containerd, and
// with them (without live restore) every container. `dlr check` lists them;
// `dlr preflight` asks ContainerdBond too.

// ContainerdService is the unit whose restart must leave dockerd running.
const ContainerdService = "containerd.service"

// ContainerdBond: docker.service must not have Requires=, BindsTo=,
// PartOf= or Requisite= on containerd.service, or a stop or restart of
// containerd (its package upgrade restarts it, needrestart may) stops or
// restarts dockerd too (docker/for-linux#1155, moby/moby#42622).
//
// requires, bindsTo, partOf and requisite are docker.service's forward
// dependency lists as systemd has them. sources are the lines that set
// them, "FILE: Line" with FILE the path on the host
// ("/etc/systemd/system/docker.service.d/bind.conf: BindsTo=containerd.service");
// nil when unknown. The fix names the file: a drop-in under /etc is edited
// in place, the vendor unit through `systemctl edit --full`, a vendor or
// runtime drop-in is overridden by one of the same name under /etc (a
// drop-in cannot remove a dependency). The result is Fail when any list
// names containerd.service, else Pass.
func ContainerdBond(requires, bindsTo, partOf, requisite []string, sources []string) Finding {
	f := Finding{Rule: "containerd-bond", Title: "containerd restarts leave dockerd running", Subject: "docker.service"}
	var kinds []string
	for _, d := range []struct {
		kind  string
		units []string
	}{{"Requires", requires}, {"BindsTo", bindsTo}, {"PartOf", partOf}, {"Requisite", requisite}} {
		if slices.Contains(d.units, ContainerdService) {
			kinds = append(kinds, d.kind+"="+ContainerdService)
		}
	}
	if len(kinds) == 0 {
		return f
	}
	f.Severity = Fail
	f.Message = "docker.service has " + strings.Join(kinds, ", ") + ": a stop or restart of containerd (its package upgrade, needrestart) stops or restarts dockerd too"
	if len(sources) > 0 {
		f.Where = strings.Join(sources, "; ")
		f.Message += " (" + f.Where + ")"
	}
	f.Fix = bondFix(kinds, sources)
	return f
}

// bondFix says, per file that sets a dependency, how to turn it into
// Wants=containerd.service.
func bondFix(kinds, sources []string) string {
	if len(sources) == 0 {
		return "find the " + strings.Join(kinds, "/") + " line (systemctl cat docker.service) and replace it with Wants=" + ContainerdService + ", then systemctl daemon-reload (a drop-in cannot remove a dependency)"
	}
	var fixes []string
	for _, s := range sources {
		file, line, _ := strings.Cut(s, ": ")
		var fix string
		switch {
		case strings.HasPrefix(file, "/etc/"):
			fix = "replace `" + line + "` with `Wants=" + ContainerdService + "` in " + file + ", then systemctl daemon-reload"
		case strings.Contains(file, ".d/"):
			fix = "copy " + file + " to /etc/systemd/system/docker.service.d/" + baseName(file) + " with `" + line + "` replaced by `Wants=" + ContainerdService + "` (a file of the same name under /etc overrides it), then systemctl daemon-reload"
		default:
			fix = "systemctl edit --full docker.service and replace `" + line + "` with `Wants=" + ContainerdService + "` (a drop-in cannot remove a dependency)"
		}
		if !slices.Contains(fixes, fix) {
			fixes = append(fixes, fix)
		}
	}
	return strings.Join(fixes, "; ")
}

func baseName(p string) string {
	return p[strings.LastIndex(p, "/")+1:]
}

// NeedrestartOverride is one $nrconf{override_rc} entry: a regular
// expression over unit names ("containerd.service") and whether
// needrestart restarts the units it matches.
type NeedrestartOverride struct {
	Pattern string
	Restart bool
}

// NeedrestartConf is needrestart's configuration as far as it decides
// whether a library update restarts containerd or docker.
type NeedrestartConf struct {
	// Installed: /usr/sbin/needrestart exists.
	Installed bool
	// Mode is $nrconf{restart}: "l" (list only), "i" (interactive: the
	// services are preselected, one Enter restarts them; it falls back to
	// "l" without a terminal), "a" (automatic). "" means needrestart's
	// default, "i".
	Mode string
	// DefNo is $nrconf{defno}: services not matched by an override are
	// not restarted (not preselected).
	DefNo bool
	// Overrides is $nrconf{override_rc} after every file.
	Overrides []NeedrestartOverride
	// Files are the files read, in order; Errs what could not be read or
	// understood (the verdict then rests on the rest).
	Files []string
	Errs  []string
	// Verdicts, where set, are needrestart's own decisions by unit, from
	// perl evaluating its configuration (host.ReadNeedrestart): they decide
	// Restarts instead of Overrides.
	Verdicts map[string]NeedrestartVerdict
	// Skip says why the configuration could not be judged (no perl, files
	// another user can change, a configuration that does not evaluate).
	Skip string
}

// NeedrestartVerdict is needrestart's decision for one unit: whether it
// restarts it, and the override_rc key (or "blacklist_rc") that decided
// ("" for the default).
type NeedrestartVerdict struct {
	Restart bool
	By      string
}

// Restarts reports whether needrestart would restart unit (a full name,
// "containerd.service": needrestart matches the names it takes from the
// cgroup, which end in .service) and the override that decides it ("" if
// none). Like needrestart, it tries the patterns in lexical order (Perl
// sorts the keys of the hash, the qr// stringifications, which share their
// "(?^:" prefix) and the first that matches decides; with none, a service
// is restarted unless DefNo. A pattern Go's regexp cannot compile is
// skipped.
func (c NeedrestartConf) Restarts(unit string) (bool, string) {
	if v, ok := c.Verdicts[unit]; ok {
		return v.Restart, v.By
	}
	ovs := append([]NeedrestartOverride{}, c.Overrides...)
	sort.SliceStable(ovs, func(i, j int) bool { return ovs[i].Pattern < ovs[j].Pattern })
	for _, o := range ovs {
		re, err := regexp.Compile(o.Pattern)
		if err != nil || !re.MatchString(unit) {
			continue
		}
		return o.Restart, o.Pattern
	}
	return !c.DefNo, ""
}

// NeedrestartFixFile is the conf.d file the fix writes.
const NeedrestartFixFile = "/etc/needrestart/conf.d/docker-liverestore.conf"

// Needrestart: after a library update needrestart restarts the services
// that use the old library: containerd (WARN: it keeps every container, as
// the upgrade matrix measured, but its log pipes stall up to ~0.8 s, and
// with containerd-bond it restarts dockerd) and docker (WARN; FAIL with
// live restore off: that restart stops every container). dlr's packages do
// not exempt containerd themselves: it would keep containerd on an old
// libc after a security update; the choice is the admin's.
func Needrestart(c NeedrestartConf, liveRestoreOn bool) Finding {
	f := Finding{Rule: "needrestart", Title: "needrestart spares containerd and docker"}
	if !c.Installed {
		f.Message = "not installed"
		return f
	}
	if c.Skip != "" {
		f.Severity = Skip
		f.Message = c.Skip
		return f
	}
	mode := c.Mode
	if mode == "" {
		mode = "i"
	}
	if mode == "l" {
		f.Message = "restart mode 'l': needrestart only lists services"
		return f
	}
	how := map[string]string{"i": "interactive: preselected, restarted on Enter", "a": "automatic"}[mode]
	if how == "" {
		how = "mode '" + mode + "'"
	}
	var restarted, fix []string
	if r, _ := c.Restarts(ContainerdService); r {
		restarted = append(restarted, ContainerdService)
		fix = append(fix, `$nrconf{override_rc}{qr(^containerd)} = 0;`)
	}
	if r, _ := c.Restarts("docker.service"); r {
		restarted = append(restarted, "docker.service")
		fix = append(fix, `$nrconf{override_rc}{qr(^docker)} = 0;`)
	}
	if len(restarted) == 0 {
		f.Message = "restart mode '" + mode + "'; containerd.service and docker.service are exempted (override_rc)"
		return f
	}
	f.Severity = Warn
	f.Message = "restart mode '" + mode + "' (" + how + ") restarts " + strings.Join(restarted, " and ") + " after a library update"
	if slices.Contains(restarted, ContainerdService) {
		f.Message += "; a containerd restart keeps the containers, but stalls their logs up to ~0.8 s, and restarts dockerd where containerd-bond fails"
	}
	if slices.Contains(restarted, "docker.service") {
		if liveRestoreOn {
			f.Message += "; a docker restart restores the containers (live restore is on)"
		} else {
			f.Severity = Fail
			f.Message += "; with live restore off, a docker restart stops every container"
		}
	}
	if len(c.Errs) > 0 {
		f.Message += " (" + strings.Join(c.Errs, "; ") + ")"
	}
	f.Fix = "printf '%s\\n' " + shellQuoteAll(fix) + " > " + NeedrestartFixFile
	return f
}

// shellQuoteAll quotes each string for a POSIX shell, space-separated.
func shellQuoteAll(ss []string) string {
	var q []string
	for _, s := range ss {
		q = append(q, "'"+strings.ReplaceAll(s, "'", `'\''`)+"'")
	}
	return strings.Join(q, " ")
}

// DebconfQuestion is one question of debconf's config.dat.
type DebconfQuestion struct {
	// FileFound: config.dat exists; Found: it has the question.
	FileFound, Found bool
	Value            string
	// Err: config.dat exists but could not be read.
	Err string
}

// DebconfRestart: Ubuntu's docker.io asks docker.io/restart (boolean);
// true makes every upgrade of the package restart dockerd: with live
// restore off that stops every container (FAIL), with it on dockerd is
// restarted into the new version, a restore across versions (WARN). Debian's
// docker.io has no such question and never restarts dockerd.
func DebconfRestart(q DebconfQuestion, liveRestoreOn bool) Finding {
	f := Finding{Rule: "debconf-restart", Title: "docker.io upgrades leave dockerd running", Subject: "docker.io/restart"}
	const fix = "echo 'docker.io docker.io/restart boolean false' | debconf-set-selections"
	switch {
	case q.Err != "":
		f.Severity, f.Message = Skip, q.Err
	case !q.FileFound:
		f.Severity, f.Message = Skip, "no debconf database (/var/cache/debconf/config.dat)"
	case !q.Found:
		f.Message = "docker.io has no docker.io/restart question (Debian's package never restarts dockerd)"
	case q.Value != "true":
		f.Message = "docker.io/restart is " + orNone(q.Value) + ": upgrades of docker.io leave dockerd running"
	case !liveRestoreOn:
		f.Severity, f.Message, f.Fix = Fail, "docker.io/restart is true and live restore is off: an upgrade of docker.io stops every container", fix
	default:
		f.Severity, f.Message, f.Fix = Warn, "docker.io/restart is true: every docker.io upgrade restarts dockerd into the new version, a restore across versions (see dlr preflight)", fix
	}
	return f
}

func orNone(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}
