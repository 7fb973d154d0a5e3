package guard

import (
	"strings"
	"testing"
)

func TestFirewallBackend(t *testing.T) {
	for _, tt := range []struct{ info, file, want string }{
		{"nftables", "", BackendNftables},           // GET /info wins
		{"iptables", "nftables", BackendIptables},   // the file changed, dockerd not restarted yet
		{"iptables+firewalld", "", BackendIptables}, // firewalld
		{"nftables+firewalld", "", BackendNftables}, // firewalld, nftables
		{"", "nftables", BackendNftables},           // before Docker 28.1, or dockerd down
		{"", "", BackendIptables},                   // the default
	} {
		if got := FirewallBackend(tt.info, tt.file); got != tt.want {
			t.Errorf("FirewallBackend(%q, %q) = %q, want %q", tt.info, tt.file, got, tt.want)
		}
	}
}

func TestNftTool(t *testing.T) {
	if f := NftTool("nftables", false); f.Severity != Fail || !strings.Contains(f.Message, "failed to find nft tool") || !strings.Contains(f.Fix, "nftables package") {
		t.Errorf("nftables without nft: %+v", f)
	}
	for _, tt := range []struct {
		backend string
		found   bool
	}{{"nftables", true}, {"iptables", false}, {"", false}} {
		if f := NftTool(tt.backend, tt.found); f.Severity != Pass {
			t.Errorf("NftTool(%q, %v) = %+v", tt.backend, tt.found, f)
		}
	}
}

// TestFirewallRulesNftables: the verdicts with Docker 29's nftables backend
// (tables ip and ip6 docker-bridges), as measured in e2e TestFirewallNftables.
func TestFirewallRulesNftables(t *testing.T) {
	ports := []PublishedPort{{"web", 8080, "tcp"}}
	nft := func(n NAT) NAT { n.Backend = BackendNftables; return n }
	for _, tt := range []struct {
		name     string
		nat      NAT
		sev      Severity
		msg, fix string
	}{
		{"rules there", nft(NAT{Ports: map[int]bool{8080: true}}), Pass, "table ip docker-bridges has a DNAT rule for each", ""},
		{"ip table flushed", nft(NAT{Ports: map[int]bool{}}), Fail, "nftables table ip docker-bridges has no DNAT rule for web 8080/tcp", "systemctl restart docker.service"},
		{"ip table deleted", nft(NAT{ChainMissing: true}), Fail, "nftables has no table ip docker-bridges at all", "systemctl restart docker.service"},
		{"ip6 table deleted", nft(NAT{Ports: map[int]bool{8080: true}, V6Missing: true}), Fail, "no table ip6 docker-bridges", "systemctl restart docker.service"},
		{"ip6 table flushed", nft(NAT{Ports: map[int]bool{8080: true}, V6Empty: true}), Fail, "table ip6 docker-bridges holds no rule", "reset-failed"},
		{"unreadable", nft(NAT{Err: "no nft command on $PATH"}), Skip, "no nft command", ""},
	} {
		f := FirewallRules(ports, tt.nat, true)
		if f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || !strings.Contains(f.Fix, tt.fix) || (tt.fix == "" && f.Fix != "") {
			t.Errorf("%s: %s %q fix %q", tt.name, f.Severity, f.Message, f.Fix)
		}
		if strings.Contains(f.Message, "iptables") {
			t.Errorf("%s: the nftables verdict speaks of iptables: %q", tt.name, f.Message)
		}
	}
}
