package guard

import (
	"strings"
	"testing"
)

func TestFirewallRules(t *testing.T) {
	ports := []PublishedPort{{"web", 8080, "tcp"}, {"dns", 5353, "udp"}}
	tests := []struct {
		name     string
		ports    []PublishedPort
		nat      NAT
		lr       bool
		sev      Severity
		msg, fix string
	}{
		{"all there", ports, NAT{Ports: map[int]bool{8080: true, 5353: true}}, true, Pass, "", ""},
		{"none published", nil, NAT{}, true, Pass, "no published ports", ""},
		{"flushed", ports, NAT{Ports: map[int]bool{5353: true}}, true, Fail, "no DNAT rule for web 8080/tcp:", "systemctl restart docker.service (live restore is on"},
		{"flushed, live restore off", ports, NAT{Ports: map[int]bool{}}, false, Fail, "dns 5353/udp, web 8080/tcp", "that stops every container"},
		{"chain gone", ports, NAT{ChainMissing: true}, true, Fail, "no nat DOCKER chain at all", "reset-failed"},
		{"iptables off", ports, NAT{IptablesOff: true}, true, Skip, "\"iptables\": false", ""},
		{"unreadable", ports, NAT{Err: "no iptables command on $PATH"}, true, Skip, "no iptables command", ""},
	}
	for _, tt := range tests {
		f := FirewallRules(tt.ports, tt.nat, tt.lr)
		if f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || !strings.Contains(f.Fix, tt.fix) || (tt.fix == "" && f.Fix != "") {
			t.Errorf("%s: %s %q fix %q", tt.name, f.Severity, f.Message, f.Fix)
		}
	}
}

func TestLastRestore(t *testing.T) {
	if f := LastRestore("", 0, 0, nil, 0); f.Severity != Skip {
		t.Errorf("none: %v", f)
	}
	f := LastRestore("2026-12-01T15:00:00Z", 4, 4, map[string]int{"port": 0}, 1)
	if f.Severity != Pass || f.Message != "2026-12-01T15:00:00Z: 4 containers, 4 kept, 1 mended" {
		t.Errorf("clean: %s %q", f.Severity, f.Message)
	}
	f = LastRestore("2026-12-01T15:00:00Z", 4, 3, map[string]int{"port": 1, "lost": 1}, 0)
	if f.Severity != Warn || !strings.HasSuffix(f.Message, "problems: 1 lost, 1 port") || f.Fix == "" {
		t.Errorf("problems: %s %q", f.Severity, f.Message)
	}
}
