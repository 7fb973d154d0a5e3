package unit

import (
	"fmt"
	"strings"
)

// StopHookDropIn is the file name of the docker.service drop-in that grows
// the containers' log FIFOs before dockerd stops; it goes in
// /etc/systemd/system/docker.service.d/.
const StopHookDropIn = "60-docker-liverestore.conf"

// RenderStopHook returns the docker.service drop-in that runs
// "<dlr> buffers --quiet" as an ExecStop= command, dlr being the absolute
// path of the dlr binary (e.g. /usr/bin/dlr).
//
// Systemd runs ExecStop= commands before it sends dockerd SIGTERM, on every
// planned stop and restart (package upgrades included), so the FIFOs are
// as large as they may be while dockerd is down. An ExecStop= line in a
// drop-in adds to the unit's ExecStop list (Debian's docker.service has
// none): dockerd is still stopped by KillMode's signal afterwards.
//
// The hook can never fail or block a stop: the "-" prefix makes systemd
// ignore its exit status, and dlr buffers reads no D-Bus and no socket,
// opens FIFOs without blocking and gives up after 5 s on its own, well
// within docker.service's TimeoutStopSec (90 s by default; the hook's
// time counts against it). The drop-in sets nothing else, so removing it
// restores the unit exactly.
func RenderStopHook(dlr string) ([]byte, error) {
	if !strings.HasPrefix(dlr, "/") || strings.ContainsAny(dlr, " \t\n\\\"'%$;") {
		return nil, fmt.Errorf("dlr path %q: want an absolute path without blanks, quotes, %%, $ or backslashes", dlr)
	}
	var b strings.Builder
	b.WriteString("# Written by dlr (docker-liverestore); `dlr disable` removes it.\n")
	b.WriteString("# Before dockerd stops, grow the log FIFOs of running containers so that\n")
	b.WriteString("# they keep running, not blocked writing their logs, while it is down.\n")
	b.WriteString("# \"-\": a failure of this command never fails the stop.\n")
	b.WriteString("[Service]\n")
	fmt.Fprintf(&b, "ExecStop=-%s buffers --quiet\n", dlr)
	return []byte(b.String()), nil
}
