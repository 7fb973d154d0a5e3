//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/e2e/rig"
)

// sshTrust lets controller reach every guest of targets (address on a
// [rig.Network] -> guest) as root over SSH, non-interactively and checking
// host keys:
//
//   - controller gets a client key, /root/.ssh/id_ed25519 (made with
//     ssh-keygen unless it is there already), and returns its public line;
//   - each target gets that public key appended to
//     /root/.ssh/authorized_keys (directory 0700, file 0600);
//   - each target gets host keys of its own ([rig.Guest.SSHHostKey]), and
//     controller's /root/.ssh/known_hosts gets the line "ADDR ssh-ed25519 KEY"
//     of each (appended, so several calls add up).
//
// Afterwards, in controller,
//
//	ssh -o BatchMode=yes -o StrictHostKeyChecking=yes root@ADDR CMD
//
// runs CMD in the target at ADDR, and Ansible with an inventory of those
// addresses (ansible_user=root) reaches them with its default settings.
// It fails the test on any error.
func sshTrust(t *testing.T, controller *rig.Guest, targets map[string]*rig.Guest) string {
	t.Helper()
	pub := strings.TrimSpace(controller.Sh(t,
		"install -d -m 700 /root/.ssh && "+
			"{ test -f /root/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; } && "+
			"cat /root/.ssh/id_ed25519.pub"))
	if !strings.HasPrefix(pub, "ssh-ed25519 ") || strings.ContainsAny(pub, "'\n") {
		t.Fatalf("client key of %s: unexpected %q", controller.Machine(), pub)
	}
	addrs := make([]string, 0, len(targets))
	for a := range targets {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	var known strings.Builder
	for _, addr := range addrs {
		if net.ParseIP(addr) == nil {
			t.Fatalf("sshTrust: target %q is not an IP address", addr)
		}
		g := targets[addr]
		g.Sh(t, "install -d -m 700 /root/.ssh && printf '%s\\n' '"+pub+"' >> /root/.ssh/authorized_keys && "+
			"chmod 600 /root/.ssh/authorized_keys")
		fmt.Fprintf(&known, "%s %s\n", addr, g.SSHHostKey(t))
	}
	controller.Sh(t, "printf '%s' '"+known.String()+"' >> /root/.ssh/known_hosts && chmod 600 /root/.ssh/known_hosts")
	return pub
}

// fleetCIDR is the private network of the fleet tests.
const fleetCIDR = "10.231.0.0/24"

// TestFleetNetwork checks what the fleet tests build on: two fleet guests
// on a network the test makes reach one another and the host. Guest A
// reaches guest B's sshd with a key made in A and B's own host key in A's
// known_hosts, and is refused with a wrong or unknown host key; the host
// scrapes B's node_exporter, textfile collector included; B reaches an
// HTTP server of the test on the host's address. When the guests have
// ended, the bridge and every veth are gone from the host.
func TestFleetNetwork(t *testing.T) {
	var links []string
	t.Run("fleet", func(t *testing.T) {
		n := rig.NewNetwork(t, fleetCIDR)
		defer func() { links = n.Links() }() // before the cleanups remove them
		// A second network overlapping the first (its bridge's address and
		// route) is refused.
		if msg := fatalOf(t, func(tb testing.TB) { rig.NewNetwork(tb, "10.231.0.128/25") }); !strings.Contains(msg, "overlaps the host's 10.231.0.1/24") {
			t.Errorf("an overlapping network: %q, want it refused", msg)
		}
		a, b := rig.Boot(t, rig.FleetSuite), rig.Boot(t, rig.FleetSuite)
		const addrA, addrB = "10.231.0.2", "10.231.0.3"
		n.Attach(t, a, addrA)
		n.Attach(t, b, addrB)

		for _, g := range []*rig.Guest{a, b} {
			for _, unit := range []string{"ssh", "prometheus-node-exporter"} {
				if s := unitState(g, unit); s != "active" {
					t.Errorf("%s in %s is %s, want active", unit, g.Machine(), s)
				}
			}
		}

		// Each guest has host keys of its own, none of them the rootfs's.
		dir, err := rig.Rootfs(t.Context(), rig.FleetSuite)
		if err != nil {
			t.Fatal(err)
		}
		shared, err := os.ReadFile(filepath.Join(dir, "etc/ssh/ssh_host_ed25519_key.pub"))
		if err != nil {
			t.Fatal(err)
		}
		keyA, keyB := a.SSHHostKey(t), b.SSHHostKey(t)
		if keyA == keyB || strings.Contains(string(shared), keyA) || strings.Contains(string(shared), keyB) {
			t.Errorf("host keys not regenerated: A %s, B %s, rootfs %s", keyA, keyB, shared)
		}
		if again := b.SSHHostKey(t); again != keyB {
			t.Errorf("SSHHostKey changed on the second call: %s, then %s", keyB, again)
		}

		sshTrust(t, a, map[string]*rig.Guest{addrB: b})
		ssh := "ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 "
		start := time.Now()
		if got := strings.TrimSpace(a.Sh(t, ssh+"root@"+addrB+" hostname")); got != b.Machine() {
			t.Errorf("ssh from A to %s ran in %q, want %s", addrB, got, b.Machine())
		}
		t.Logf("ssh A -> B: %s", time.Since(start).Round(time.Millisecond))

		// A wrong host key (A's own) and no known key at all are refused.
		a.Sh(t, fmt.Sprintf("printf '%%s\\n' '%s %s' > /root/wrong_known_hosts && : > /root/empty_known_hosts", addrB, keyA))
		for _, kh := range []string{"/root/wrong_known_hosts", "/root/empty_known_hosts"} {
			out, errOut, code, err := a.Exec(t.Context(), "sh", "-c",
				ssh+"-o UserKnownHostsFile="+kh+" root@"+addrB+" true")
			if err != nil || code != 255 || !strings.Contains(errOut, "Host key verification failed") {
				t.Errorf("ssh with %s: exit %d, err %v, stdout %q, stderr %q; want exit 255, host key verification failed",
					kh, code, err, out, errOut)
			}
		}

		// The host scrapes B's node_exporter over the network.
		client := &http.Client{Timeout: 10 * time.Second}
		resp, err := client.Get("http://" + addrB + ":9100/metrics")
		if err != nil {
			t.Fatalf("scraping B's node_exporter: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("scraping B's node_exporter: %s, %v", resp.Status, err)
		}
		if !strings.Contains(string(body), "\nnode_textfile_scrape_error 0\n") {
			t.Errorf("B's metrics lack node_textfile_scrape_error 0:\n%s", grepLines(string(body), "textfile"))
		}
		if want := fmt.Sprintf("nodename=%q", b.Machine()); !strings.Contains(string(body), want) {
			t.Errorf("B's metrics lack node_uname_info{%s}: scraped another host?", want)
		}
		t.Logf("node_exporter's textfile directory in B: %s",
			strings.TrimSpace(b.Sh(t, "stat -c '%n %U:%G %a' /var/lib/prometheus /var/lib/prometheus/node-exporter")))

		// B reaches the host.
		ln, err := net.Listen("tcp", n.HostAddr()+":0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "host saw %s", r.RemoteAddr)
		})}
		go srv.Serve(ln)
		defer srv.Shutdown(context.Background())
		got := b.MustExec(t, "curl", "-sS", "--max-time", "10", "http://"+ln.Addr().String()+"/")
		if !strings.HasPrefix(got, "host saw "+addrB+":") {
			t.Errorf("B -> host: %q, want the host to see %s", got, addrB)
		}
	})
	if len(links) == 0 {
		return // the subtest failed before the network was up
	}
	out, err := exec.Command("ip", "-br", "link").CombinedOutput()
	if err != nil {
		t.Fatalf("ip -br link: %v\n%s", err, out)
	}
	for _, l := range links {
		if strings.Contains(string(out), l) {
			t.Errorf("link %s is still there after the guests ended:\n%s", l, out)
		}
	}
	t.Logf("links %v gone", links)
}

// fatalOf runs f with a testing.TB that passes everything on to t but
// Fatalf (and Fatal), which it records and ends f with; it returns the
// message, or "" if f returned.
func fatalOf(t *testing.T, f func(testing.TB)) string {
	tb := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(tb)
	}()
	<-done
	return tb.msg
}

type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
