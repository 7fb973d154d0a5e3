package guard

import "strings"

// The firewall backends dockerd writes its port rules with. Docker 29 added
// nftables (daemon.json "firewall-backend": "nftables", experimental);
// iptables is the default and the only one before.
const (
	BackendIptables = "iptables"
	BackendNftables = "nftables"
)

// FirewallBackend is the backend dockerd writes its rules with: what the
// running daemon reports in GET /info (FirewallBackend.Driver, API 1.49 /
// Docker 28.1 and later: "iptables" or "nftables", with "+firewalld" when
// firewalld runs; moby daemon/libnetwork/controller_linux.go), else the
// daemon.json "firewall-backend" (file), else iptables, dockerd's default.
func FirewallBackend(infoDriver, file string) string {
	switch {
	case strings.HasPrefix(infoDriver, BackendNftables):
		return BackendNftables
	case strings.HasPrefix(infoDriver, BackendIptables):
		return BackendIptables
	case file == BackendNftables:
		return BackendNftables
	}
	return BackendIptables
}

// NftTool judges a daemon.json's "firewall-backend" against the host: with
// "nftables", dockerd runs the nft tool for every rule and refuses to start
// without it ("failed to start daemon: ... firewall-backend is set to
// nftables: failed to find nft tool"; moby
// daemon/libnetwork/internal/nftables, measured with 29.7.1). backend is
// the file's value, nftFound whether nft is on dockerd's $PATH. A Pass
// finding when nothing is wrong.
func NftTool(backend string, nftFound bool) Finding {
	f := Finding{Rule: "nft-tool", Subject: "firewall-backend", Title: "the nft tool for firewall-backend nftables"}
	if backend != BackendNftables || nftFound {
		return f
	}
	f.Severity = Fail
	f.Message = `firewall-backend: "nftables" needs the nft tool, and no nft is installed (looked in /usr/sbin, /usr/bin, /sbin, /bin): dockerd would refuse to start ("firewall-backend is set to nftables: failed to find nft tool")`
	f.Fix = "install the nftables package first (apt-get install nftables; dnf install nftables), or leave firewall-backend out"
	return f
}
