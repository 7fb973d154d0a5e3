//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
	"github.com/docker-liverestore/dlr/restore"
)

// nftDebs are forky's nftables and what it needs beyond the rootfs.
var nftDebs = []string{"nftables", "libnftables1", "libnftnl11", "libjansson4", "libxtables12", "libedit2", "libgmp10", "libmnl0", "libbsd0", "libmd0"}

// TestFirewallNftables (issue 19 item 3): upstream Docker 29.7.1 in a forky
// guest with live restore on.
//   - Without the nft tool, dlr validate and dlr set refuse
//     "firewall-backend": "nftables" (dockerd would not start again).
//   - With nftables installed (forky's packages, offline), the backend set
//     and docker restarted: GET /info says nftables, the rules are in table
//     ip docker-bridges, and dlr check PASSes firewall-rules while port
//     8080 answers from another network namespace (before this change: a
//     false FAIL, "iptables has no nat DOCKER chain at all").
//   - dlr drill's restore checks find the DNAT rule in nftables.
//   - `nft flush table ip docker-bridges` (what an nftables.service
//     restart or `nft flush ruleset` does to dockerd's rules): dlr check
//     FAILs (exit 3) with the fix; the fix, run, brings the rule back, the
//     port answers again, dlr check PASSes, the container keeps its PID.
//   - The same for table ip6 docker-bridges.
//
// iptables (forky's 28.5.2) stays covered by TestRestoreChecks'
// firewallFlushed.
func TestFirewallNftables(t *testing.T) {
	g := guest(t, "forky")
	for _, f := range debSet("forky", "nftables", nftDebs)(t) {
		g.CopyIn(t, f, "/root/nft/"+filepath.Base(f), 0o644)
	}
	writeGuest(t, g, "/etc/docker/daemon.json", "{\"live-restore\": true}\n")
	g.SwapDockerd(t, "29.7.1", false)
	if v := trimmed(t, g, "docker", "version", "-f", "{{.Server.Version}}"); v != "29.7.1" {
		t.Fatalf("dockerd %s, want 29.7.1", v)
	}
	writeGuest(t, g, "/root/nft.json", "{\"live-restore\": true, \"firewall-backend\": \"nftables\"}\n")

	t.Run("no-nft-refused", func(t *testing.T) {
		if g.Sh(t, "command -v nft || true") != "" {
			t.Fatalf("nft is already in the rootfs")
		}
		code, out, _ := dlr(t, g, "validate", "/root/nft.json")
		if code != 3 || !strings.Contains(out, "needs the nft tool") || !strings.Contains(out, "nftables package") {
			t.Errorf("dlr validate without nft: exit %d\n%s", code, out)
		}
		before := g.MustExec(t, "cat", "/etc/docker/daemon.json")
		code, out, errOut := dlr(t, g, "set", "firewall-backend=nftables")
		if code != 3 || !strings.Contains(out+errOut, "failed to find nft tool") {
			t.Errorf("dlr set without nft: exit %d\n%s%s", code, out, errOut)
		}
		if after := g.MustExec(t, "cat", "/etc/docker/daemon.json"); after != before {
			t.Errorf("the refused set changed daemon.json:\n%s", after)
		}
	})

	pkgMust(t, g, "apt-get install -y --no-install-recommends -o APT::Sandbox::User=root /root/nft/*.deb")
	if code, out, _ := dlr(t, g, "validate", "/root/nft.json"); code != 0 {
		t.Fatalf("dlr validate with nft installed: exit %d\n%s", code, out)
	}
	// Without docker-proxy, a port from another host is its DNAT rule
	// alone: a flushed rule is a dead port, not one the proxy answers.
	dlr(t, g, "set", "firewall-backend=nftables", "userland-proxy=false")
	g.MustExec(t, "systemctl", "reset-failed", "docker")
	g.MustExec(t, "systemctl", "restart", "docker")
	waitDocker(t, g)
	if d := trimmed(t, g, "docker", "info", "-f", "{{.FirewallBackend.Driver}}"); d != "nftables" {
		t.Fatalf("GET /info FirewallBackend.Driver = %q after setting nftables", d)
	}
	_, _, ipt, _ := g.Exec(context.Background(), "iptables", "-t", "nat", "-S", "DOCKER")
	t.Logf("FACT nftables backend: iptables -t nat -S DOCKER exits %d (1: no such chain)", ipt)
	g.MustExec(t, "docker", "run", "-d", "--name", "web", "-p", "8080:8080", "logger", "/app", "-listen", ":8080")
	web := containerPID(t, g, "web")
	fromExt := extNamespace(t, g)
	waitGuest(t, g, 10*time.Second, "a DNAT rule for 8080 in table ip docker-bridges", "sh", "-c", "nft list table ip docker-bridges | grep -q 'dport 8080 .*dnat'")
	// The iptables run before the switch left iptables' filter FORWARD
	// policy at DROP (dockerd sets it when it enables forwarding; nftables'
	// dockerd leaves it): a packet must pass every base chain at a hook, so
	// that policy drops the DNATed traffic of docker-bridges.
	_, _, code, _ := g.Exec(context.Background(), "sh", "-c", fromExt)
	t.Logf("FACT after the switch to nftables, iptables' FORWARD policy %s left by the iptables run: port 8080 from the ext namespace exits %d",
		strings.TrimSpace(g.Sh(t, "iptables -S FORWARD | head -1")), code)
	g.MustExec(t, "iptables", "-P", "FORWARD", "ACCEPT")
	waitGuest(t, g, 10*time.Second, "port 8080 from the ext namespace", "sh", "-c", fromExt)
	t.Logf("table ip docker-bridges:\n%s", g.Sh(t, "nft list table ip docker-bridges"))

	code, out, _ := dlr(t, g, "check", "--json")
	if it := checkItem(t, out, "firewall-rules"); it.Result != "PASS" || !strings.Contains(it.Detail, "nftables") {
		t.Fatalf("dlr check, nftables backend, rules there: exit %d, %+v", code, it)
	}

	t.Run("drill", func(t *testing.T) {
		code, out, _ := dlr(t, g, "drill", "--yes", "--seconds", "2", "--json")
		var dr struct {
			OK      bool            `json:"ok"`
			Restore *restore.Record `json:"restore"`
		}
		if err := json.Unmarshal([]byte(out), &dr); err != nil || dr.Restore == nil {
			t.Fatalf("drill: exit %d, %v: %s", code, err, out)
		}
		found := false
		for _, r := range dr.Restore.Results {
			for _, it := range r.Items {
				if it.Check == restore.Firewall {
					found = true
					if it.Result != restore.OK {
						t.Errorf("drill's firewall check for %s: %s %s", r.Name, it.Result, it.Detail)
					}
				}
			}
		}
		if !found {
			t.Errorf("drill: exit %d, no firewall item", code)
		}
		for _, r := range dr.Restore.Results {
			if !r.Kept {
				t.Errorf("drill: %s not kept", r.Name)
			}
			for _, it := range r.Items {
				t.Logf("drill %s: %s %s %s", r.Name, it.Check, it.Result, it.Detail)
			}
		}
		web = containerPID(t, g, "web")
	})

	for _, family := range []string{"ip", "ip6"} {
		t.Run("flushed-"+family, func(t *testing.T) {
			firewallNftFlushed(t, g, family, web, fromExt)
		})
	}
}

// extNamespace makes a network namespace "ext" joined to the guest by a
// veth (10.99.0.1 <-> 10.99.0.2), as another host would reach it, and
// returns the command that connects from there to port 8080.
func extNamespace(t *testing.T, g *rig.Guest) string {
	t.Helper()
	g.Sh(t, `ip netns add ext && ip link add dlrv0 type veth peer name dlrv1 && ip link set dlrv1 netns ext &&
		ip addr add 10.99.0.1/24 dev dlrv0 && ip link set dlrv0 up &&
		ip netns exec ext ip addr add 10.99.0.2/24 dev dlrv1 && ip netns exec ext ip link set dlrv1 up && ip netns exec ext ip link set lo up`)
	return "ip netns exec ext timeout 3 bash -c 'exec 3<>/dev/tcp/10.99.0.1/8080'"
}

// firewallNftFlushed flushes dockerd's table FAMILY docker-bridges while it
// runs: dlr check FAILs with the fix; the fix brings the rules back and
// dlr check PASSes again, web keeping its PID.
func firewallNftFlushed(t *testing.T, g *rig.Guest, family, webPID, fromExt string) {
	t.Helper()
	rules := func() int {
		return strings.Count(g.Sh(t, "nft list table "+family+" docker-bridges"), "\n\t\t")
	}
	before := rules()
	g.MustExec(t, "nft", "flush", "table", family, "docker-bridges")
	t.Logf("table %s docker-bridges: %d lines of chains and rules before the flush, %d after", family, before, rules())
	code, out, _ := dlr(t, g, "check", "--json")
	it := checkItem(t, out, "firewall-rules")
	if code != 3 || it.Result != "FAIL" || !strings.Contains(it.Detail, "table "+family+" docker-bridges") || !strings.Contains(it.Fix, "systemctl restart docker.service") {
		t.Fatalf("dlr check after nft flush table %s docker-bridges: exit %d, %+v", family, code, it)
	}
	_, _, extCode, _ := g.Exec(context.Background(), "sh", "-c", fromExt)
	t.Logf("FACT table %s docker-bridges flushed (userland-proxy false): port 8080 from the ext namespace: exit %d (0: answered)", family, extCode)
	if family == "ip" && extCode == 0 {
		t.Errorf("port 8080 answered from the ext namespace with table ip docker-bridges flushed and no docker-proxy")
	}

	g.MustExec(t, "systemctl", "reset-failed", "docker.service")
	g.MustExec(t, "systemctl", "restart", "docker.service")
	waitDocker(t, g)
	waitGuest(t, g, 30*time.Second, "the DNAT rule for 8080 back", "sh", "-c", "nft list table ip docker-bridges | grep -q 'dport 8080 .*dnat'")
	code, out, _ = dlr(t, g, "check", "--json")
	if it := checkItem(t, out, "firewall-rules"); it.Result != "PASS" {
		t.Errorf("dlr check after the fix: exit %d, %+v", code, it)
	}
	waitGuest(t, g, 10*time.Second, "port 8080 from the ext namespace after the fix", "sh", "-c", fromExt)
	if got := containerPID(t, g, "web"); got != webPID {
		t.Errorf("web: PID %s -> %s through the fix", webPID, got)
	}
}
