package rig

import (
	"strings"
	"testing"
)

// SSHHostKey gives g host keys of its own and returns the public ed25519
// one as "ssh-ed25519 <base64>", the key part of a known_hosts line
// ("ADDR ssh-ed25519 <base64>"). Every guest of a suite boots with the same
// host keys, those made when openssh-server was configured in the cached
// rootfs, so the first call replaces them in the guest:
//
//	rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub && ssh-keygen -A && systemctl restart ssh
//
// Later calls return the same key without touching the guest. It fails the
// test if the guest has no sshd (use [FleetSuite]) or the key cannot be read.
func (g *Guest) SSHHostKey(t testing.TB) string {
	t.Helper()
	g.hostKeyMu.Lock()
	defer g.hostKeyMu.Unlock()
	if g.hostKey != "" {
		return g.hostKey
	}
	out := g.Sh(t, "rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub && ssh-keygen -A >/dev/null && "+
		"systemctl restart ssh && cat /etc/ssh/ssh_host_ed25519_key.pub")
	f := strings.Fields(out)
	if len(f) < 2 || f[0] != "ssh-ed25519" {
		t.Fatalf("rig: ssh host key of %s: unexpected %s", g.machine, out)
	}
	g.hostKey = f[0] + " " + f[1]
	return g.hostKey
}
