package unit

import (
	"fmt"
	"strings"
)

// StopHookDropIn is the file name of dlr's docker.service drop-in; it goes
// in /etc/systemd/system/docker.service.d/. Systemd applies drop-ins in
// name order, later ones overriding single-valued settings: "zz-" sorts
// after numbered files and after `systemctl edit`'s override.conf, so that
// dlr's KillMode=process (written only where the unit's effective KillMode
// is something else) is the one that counts. Its ExecStartPre= and
// ExecStop= lines add to the unit's lists wherever they sort.
const StopHookDropIn = "zz-docker-liverestore.conf"

// VendorUnitDir is where the packages install their copy of the drop-in
// (VendorUnitDir/docker.service.d/[StopHookDropIn]). A file of the same name
// in /etc/systemd/system/docker.service.d/ replaces it.
const VendorUnitDir = "/usr/lib/systemd/system"

// DropIn says what dlr's docker.service drop-in holds.
type DropIn struct {
	// DLR is the absolute path of the dlr binary (e.g. /usr/bin/dlr).
	DLR string
	// Config, when set, is the daemon.json path passed to the snapshot
	// hook, so that it needs no D-Bus call while docker.service starts.
	Config string
	// Snapshot adds ExecStartPre=-<dlr> snapshot: a copy of daemon.json as
	// dockerd is about to read it, so that dlr knows later what the
	// running daemon uses (restore-breaking drift).
	Snapshot bool
	// KillModeProcess adds KillMode=process, for a docker.service that
	// lacks it: without it, stopping docker kills the containers.
	KillModeProcess bool
	// Packaged renders the copy the packages install in [VendorUnitDir]:
	// only its header differs.
	Packaged bool
}

// RenderDropIn returns dlr's docker.service drop-in (see [StopHookDropIn]
// for its name).
//
// ExecStop=-<dlr> buffers --quiet: systemd runs ExecStop= commands before it
// sends dockerd SIGTERM, on every planned stop and restart (package upgrades
// included), so the log FIFOs are as large as they may be while dockerd is
// down. An ExecStop= line in a drop-in adds to the unit's ExecStop list
// (Debian's docker.service has none): dockerd is still stopped by KillMode's
// signal afterwards.
//
// The hooks can never fail or block a start or a stop: the "-" prefix makes
// systemd ignore their exit status; dlr buffers reads no D-Bus and no
// socket, opens FIFOs without blocking and gives up after 5 s on its own,
// well within docker.service's TimeoutStopSec (90 s by default); dlr
// snapshot only copies a file. Removing the drop-in restores the unit
// exactly.
func RenderDropIn(d DropIn) ([]byte, error) {
	dlr, err := ExecArg(d.DLR)
	if err != nil {
		return nil, err
	}
	config := ""
	if d.Config != "" {
		if config, err = ExecArg(d.Config); err != nil {
			return nil, err
		}
	}
	var b strings.Builder
	if d.Packaged {
		b.WriteString("# Installed by the docker-liverestore package, removed with it; dlr enable\n")
		b.WriteString("# writes a copy to /etc/systemd/system where a host needs another one.\n")
	} else {
		b.WriteString("# Written by dlr (docker-liverestore); `dlr disable` removes it.\n")
	}
	b.WriteString("# \"-\": a failure of these commands never fails a start or a stop.\n")
	b.WriteString("[Service]\n")
	if d.Snapshot {
		b.WriteString("# Record daemon.json as dockerd starts with it (dlr check, dlr validate).\n")
		if config != "" {
			fmt.Fprintf(&b, "ExecStartPre=-%s snapshot --config %s\n", dlr, config)
		} else {
			fmt.Fprintf(&b, "ExecStartPre=-%s snapshot\n", dlr)
		}
	}
	b.WriteString("# Before dockerd stops, grow the log FIFOs of running containers so that\n")
	b.WriteString("# they keep running, not blocked writing their logs, while it is down.\n")
	fmt.Fprintf(&b, "ExecStop=-%s buffers --quiet\n", dlr)
	if d.KillModeProcess {
		b.WriteString("# Stopping docker must not kill the containers.\n")
		b.WriteString("KillMode=process\n")
	}
	return []byte(b.String()), nil
}

// ExecArg writes an absolute path as one argument of an Exec*= line, the
// way systemd.service(5) reads it back: "%" as "%%" (specifiers) and "$"
// as "$$" (variables), and, where it holds a blank, a quote or a backslash,
// in double quotes with C-style escapes. A path with a control character
// (a newline would end the line) is refused.
func ExecArg(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path %q: want an absolute path", p)
	}
	for _, c := range p {
		if c < 0x20 || c == 0x7f {
			return "", fmt.Errorf("path %q: a control character cannot be written into a unit file", p)
		}
	}
	s := strings.NewReplacer("%", "%%", "$", "$$").Replace(p)
	if strings.ContainsAny(s, " \t\\\"'") {
		s = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s, nil
}

// RenderStopHook returns the drop-in with the stop hook alone:
// RenderDropIn(DropIn{DLR: dlr}).
func RenderStopHook(dlr string) ([]byte, error) {
	return RenderDropIn(DropIn{DLR: dlr})
}
