package guard

import (
	"sort"
	"strings"
)

// What a package's own maintainer scripts do to Docker's daemons when it
// is upgraded, read from the package being installed rather than from a
// list of names ([Roles]), so that a package dlr has never seen (a
// rebuilt docker-ce, a vendor's rename) still gets a true verdict.
//
// The patterns are those the packaging tools write:
//   - debhelper's dh_installsystemd (compat 10 and later): a postinst that
//     sets _dh_action=restart (or try-restart) when "$2" (the old version)
//     is set and runs `deb-systemd-invoke $_dh_action UNIT...`; with
//     --no-restart-after-upgrade it only starts, and its prerm stops the
//     unit only on "remove". Debian's containerd and Docker CE from 24.0.5
//     (compat 12, `dh_installsystemd --name=docker`; docker-ce-packaging
//     commit 5c01d5bcce) restart; Debian's docker.io only starts.
//   - older packages: `invoke-rc.d docker restart` in the postinst (Docker
//     CE before 24.0.5, compat 10 with an init script); with
//     --skip-systemd-native invoke-rc.d leaves a systemd host alone.
//   - an .rpm's %postun: `systemctl try-restart UNIT` (the expansion of
//     %systemd_postun_with_restart on older systemd) or
//     `systemd-update-helper mark-restart-system-units UNIT` (newer
//     systemd: the marked units restart at the end of the transaction),
//     both under `[ $1 -ge 1 ]`, i.e. on upgrade (systemd's
//     src/rpm/macros.systemd.in). Docker CE's and containerd.io's .rpm use
//     that macro.
//   - a stop on upgrade: a prerm (%preun) that stops the unit unless the
//     package is removed ("$1" = remove; rpm: $1 -eq 0).

// PkgScripts are a package's maintainer scripts as found: Format "deb"
// (by name: "postinst", "prerm") or "rpm" (by rpm's name: "postinstall",
// "preuninstall", "postuninstall", "posttrans"). On an upgrade the new
// package's postinst (%post, %posttrans) runs but the installed one's
// prerm (%preun, %postun): the caller puts each where it comes from.
type PkgScripts struct {
	Format  string
	Scripts map[string]string
}

// unitDaemons are the units (and init scripts) whose restart restarts a
// daemon dlr judges.
var unitDaemons = map[string]Daemon{
	"docker.service": Dockerd, "docker": Dockerd,
	"containerd.service": Containerd, "containerd": Containerd,
}

// ScriptRole reads a package's scripts: the daemon whose unit they start,
// stop or restart, and whether an upgrade restarts it (Restarts; Known
// says from which line). ok is false when the scripts name neither
// docker.service nor containerd.service: then only the package's name can
// tell ([Roles]).
func ScriptRole(s PkgScripts) (role Role, ok bool) {
	var seen []unitAction
	for _, name := range sortedKeys(s.Scripts) {
		seen = append(seen, scriptActions(name, s.Scripts[name])...)
	}
	if len(seen) == 0 {
		return Role{}, false
	}
	// One daemon per package: dockerd when the scripts touch docker's
	// units (a docker-ce also naming containerd.service restarts dockerd).
	d := Containerd
	for _, a := range seen {
		if a.daemon == Dockerd {
			d = Dockerd
		}
	}
	role = Role{Daemon: d}
	var starts []string
	for _, a := range seen {
		if a.daemon != d {
			continue
		}
		switch {
		case a.onUpgrade && (a.action == "restart" || a.action == "stop"):
			role.Restarts = true
			what := "restarts " + a.unit + " on upgrade"
			if a.action == "stop" {
				what = "stops " + a.unit + " on upgrade (it starts again at configure)"
			}
			role.Known = "read from the package: its " + a.script + " " + what + " (" + a.line + ")"
			return role, true
		case a.action == "start":
			starts = append(starts, a.script+": "+a.line)
		}
	}
	role.Known = "read from the package: its scripts never restart " + d.unitName() + " on upgrade"
	if len(starts) > 0 {
		role.Known += " (only a start, which leaves a running daemon as it is: " + starts[0] + ")"
	}
	return role, true
}

// unitName is the daemon's systemd unit.
func (d Daemon) unitName() string {
	if d == Dockerd {
		return "docker.service"
	}
	return d.String() + ".service"
}

// unitAction is one line of a script that acts on a daemon's unit.
type unitAction struct {
	script, unit, line string
	daemon             Daemon
	action             string // "start", "stop" or "restart"
	onUpgrade          bool   // the line runs when the package is upgraded
}

// scriptActions finds the lines of one script that start, stop or restart
// docker's or containerd's unit, and whether each runs on upgrade: not
// inside a block that only a removal (or, in a postinst, only a first
// install) enters.
func scriptActions(script, text string) []unitAction {
	lines := strings.Split(text, "\n")
	// _dh_action: dh_installsystemd's postinst picks restart (or
	// try-restart) when upgrading, start on a first install.
	dhAction := "start"
	for _, l := range lines {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "_dh_action="); ok {
			if v = strings.Trim(v, `"'`); v == "restart" || v == "try-restart" {
				dhAction = "restart"
			}
		}
	}
	var out []unitAction
	var removeOnly []bool // per open if/case: entered only on removal
	inRemoveArm := false
	for _, raw := range lines {
		l := strings.TrimSpace(raw)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		oneLine := false // `if ...; then ...; fi` on one line
		switch {
		case strings.HasPrefix(l, "if ") && (strings.HasSuffix(l, " fi") || strings.HasSuffix(l, ";fi")):
			oneLine = removalTest(l)
		case strings.HasPrefix(l, "if ") || strings.HasPrefix(l, "case "):
			removeOnly = append(removeOnly, removalTest(l))
		case l == "fi" || l == "esac" || strings.HasPrefix(l, "fi ") || strings.HasPrefix(l, "fi;"):
			if len(removeOnly) > 0 {
				removeOnly = removeOnly[:len(removeOnly)-1]
			}
			inRemoveArm = false
		case strings.HasSuffix(l, ")") && !strings.Contains(l, "(") && !strings.Contains(l, " "):
			arm := strings.Trim(strings.TrimSuffix(l, ")"), `"'`)
			inRemoveArm = arm == "remove" || arm == "purge" || arm == "0"
		case l == ";;":
			inRemoveArm = false
		}
		onUpgrade := !inRemoveArm && !oneLine
		for _, r := range removeOnly {
			if r {
				onUpgrade = false
			}
		}
		for _, u := range commandsOf(l, dhAction) {
			d, ok := unitDaemons[u.unit]
			if !ok {
				continue
			}
			out = append(out, unitAction{script: script, unit: unitOf(u.unit), line: shownLine(l), daemon: d, action: u.action, onUpgrade: onUpgrade})
		}
	}
	return out
}

type unitVerb struct{ unit, action string }

// shownLine is a script line as a finding quotes it: without its
// redirections and "|| true" tail.
func shownLine(l string) string {
	for _, cut := range []string{" >", " 2>", " ||"} {
		if i := strings.Index(l, cut); i > 0 {
			l = l[:i]
		}
	}
	return strings.TrimSpace(l)
}

// commandsOf reads every command of a line (split at ;, && and ||) with
// [unitCommand].
func commandsOf(l, dhAction string) []unitVerb {
	var out []unitVerb
	l = strings.NewReplacer("&&", ";", "||", ";").Replace(l)
	for _, c := range strings.Split(l, ";") {
		c = strings.TrimSpace(c)
		for _, kw := range []string{"then ", "else ", "do "} {
			c = strings.TrimPrefix(c, kw)
		}
		action, units := unitCommand(c, dhAction)
		for _, u := range units {
			if action != "" {
				out = append(out, unitVerb{u, action})
			}
		}
	}
	return out
}

// removalTest reports whether an if or case line only lets a removal in:
// `[ "$1" = remove ]` (deb prerm/postrm), `[ $1 -eq 0 ]` (rpm %preun,
// %postun: no package left).
func removalTest(l string) bool {
	n := strings.NewReplacer(`"`, "", `'`, "").Replace(l)
	return strings.Contains(n, "$1 = remove") || strings.Contains(n, "$1 = purge") || strings.Contains(n, "$1 -eq 0") || strings.Contains(n, "$1 == 0")
}

// unitCommand reads a command that acts on units: deb-systemd-invoke,
// invoke-rc.d (unless --skip-systemd-native, which leaves systemd's units
// to deb-systemd-invoke), systemctl, service, and systemd-update-helper's
// mark-restart (an rpm transaction's deferred restart). It returns
// "start", "stop" or "restart" and the units named.
func unitCommand(l, dhAction string) (action string, units []string) {
	f := strings.Fields(l)
	// one command: up to the first ;, && or ||
	for i, w := range f {
		if w == "||" || w == "&&" || strings.HasPrefix(w, ";") {
			f = f[:i]
			break
		}
		if strings.HasSuffix(w, ";") {
			f[i] = strings.TrimSuffix(w, ";")
			f = f[:i+1]
			break
		}
	}
	dh := func(verb string) string {
		if verb == "$_dh_action" || verb == "${_dh_action}" {
			return dhAction
		}
		return verb
	}
	for i, w := range f {
		w = w[strings.LastIndex(w, "/")+1:]
		rest := f[i+1:]
		switch w {
		case "deb-systemd-invoke", "systemctl", "service":
			var args []string
			for _, a := range rest {
				if a == "||" || a == "&&" || a == ";" || strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") {
					break
				}
				if !strings.HasPrefix(a, "-") {
					args = append(args, strings.Trim(a, `"'`))
				}
			}
			if len(args) < 2 {
				return "", nil
			}
			verb, names := args[0], args[1:]
			if w == "service" { // service NAME ACTION
				verb, names = args[1], args[:1]
			}
			return verbAction(dh(verb)), names
		case "invoke-rc.d":
			var args []string
			for _, a := range rest {
				if a == "--skip-systemd-native" {
					return "", nil
				}
				if a == "||" || a == "&&" || a == ";" || strings.HasPrefix(a, ">") {
					break
				}
				if !strings.HasPrefix(a, "-") {
					args = append(args, strings.Trim(a, `"'`))
				}
			}
			if len(args) < 2 {
				return "", nil
			}
			return verbAction(dh(args[1])), args[:1]
		case "systemd-update-helper":
			if len(rest) > 1 && strings.HasPrefix(rest[0], "mark-restart") {
				var names []string
				for _, a := range rest[1:] {
					if a == "||" || a == ";" {
						break
					}
					names = append(names, strings.Trim(a, `"'`))
				}
				return "restart", names
			}
		}
	}
	return "", nil
}

// verbAction maps a systemctl / invoke-rc.d verb to what it does to a
// running daemon.
func verbAction(verb string) string {
	switch verb {
	case "start":
		return "start"
	case "stop":
		return "stop"
	case "restart", "try-restart", "reload-or-restart", "try-reload-or-restart", "force-reload", "condrestart":
		return "restart"
	}
	return ""
}

// unitOf names an init script's unit ("docker" -> "docker.service").
func unitOf(u string) string {
	if strings.Contains(u, ".") {
		return u
	}
	return u + ".service"
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ParseRPMScripts splits what `rpm -q --scripts` prints into its
// scriptlets, by rpm's name ("postinstall", "preuninstall",
// "postuninstall", "posttrans", ...): each begins with a line
// "NAME scriptlet (using /bin/sh):" (or "NAME program: ...").
func ParseRPMScripts(out string) PkgScripts {
	s := PkgScripts{Format: "rpm", Scripts: map[string]string{}}
	cur := ""
	var b strings.Builder
	flush := func() {
		if cur != "" {
			s.Scripts[cur] += b.String()
		}
		b.Reset()
	}
	for _, l := range strings.Split(out, "\n") {
		if name, rest, ok := strings.Cut(l, " scriptlet"); ok && !strings.ContainsAny(name, " \t") && name != "" && strings.HasSuffix(strings.TrimSpace(rest), ":") {
			flush()
			cur = name
			continue
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	flush()
	return s
}
