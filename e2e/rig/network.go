package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Network is a private IPv4 network of guests and the host: a Linux bridge
// on the host, holding the host's address, and one veth pair per attached
// guest. Its methods may be called from several goroutines.
type Network struct {
	prefix netip.Prefix // the network, masked
	bridge string       // dlrbr-<hex>
	host   netip.Addr   // the first address, on the bridge

	mu    sync.Mutex
	links []string              // the host ends of the veths made, in order
	addrs map[netip.Addr]string // addresses given out, to the guest's machine name
}

// GuestIface is the name of a guest's interface on a [Network].
const GuestIface = "fleet0"

// Names of the host links a Network makes; ifalias of each holds
// linkOwnerTag and the identity of the process that made it, so that a
// later [NewNetwork] can tell a killed run's leftovers from live ones.
const (
	bridgePrefix = "dlrbr-"
	vethPrefix   = "dlrve-"
	linkOwnerTag = "dlr-rig owner"
)

// NewNetwork makes a network on cidr (an IPv4 prefix such as
// "10.231.0.0/24", at most /30): a bridge named dlrbr-<random hex> on the
// host, up, with the first address of cidr (.1 of a /24, [Network.HostAddr])
// on it. Guests join it with [Network.Attach].
//
// It fails the test, changing nothing, if cidr overlaps an address of any
// host interface or any IPv4 route of any of the host's routing tables
// (the default route aside): it never shares or shadows a network the
// host already has. It first deletes the bridges and veths a killed
// earlier test binary left behind (those whose ifalias names a process that
// no longer runs).
//
// Traffic between guests crosses the host's bridge; where br_netfilter is
// active (net.bridge.bridge-nf-call-iptables=1) it also passes the host's
// iptables FORWARD chain, so a host whose FORWARD policy is DROP (a host
// running Docker) would drop it. NewNetwork changes no firewall; the hosts
// this was written on have br_netfilter built in but no iptables or
// nftables rules at all, and need nothing (docs/testing.md).
//
// A cleanup deletes the bridge and every veth made by Attach that still
// exists (a veth also disappears when its guest's network namespace
// ends), and fails the test if any of them is left.
func NewNetwork(t testing.TB, cidr string) *Network {
	t.Helper()
	ctx := t.Context()
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil || !prefix.Addr().Is4() || prefix.Bits() > 30 {
		t.Fatalf("rig: network %q: want an IPv4 prefix of at most /30, such as 10.231.0.0/24 (%v)", cidr, err)
	}
	prefix = prefix.Masked()
	sweepStaleLinks(t)

	used, err := hostPrefixes(ctx)
	if err != nil {
		t.Fatalf("rig: network %s: %v", prefix, err)
	}
	if err := overlapError(prefix, used); err != nil {
		t.Fatalf("rig: network %s: %v", prefix, err)
	}

	n := &Network{
		prefix: prefix,
		bridge: bridgePrefix + randomHex(4),
		host:   prefix.Addr().Next(),
		addrs:  map[netip.Addr]string{},
	}
	t.Cleanup(func() {
		if err := n.remove(); err != nil {
			t.Errorf("rig: removing network %s (%s): %v", n.prefix, n.bridge, err)
		}
	})
	alias, err := ownerAlias()
	if err != nil {
		t.Fatalf("rig: %v", err)
	}
	for _, args := range [][]string{
		{"link", "add", "name", n.bridge, "type", "bridge"},
		{"link", "set", "dev", n.bridge, "alias", alias},
		{"addr", "add", fmt.Sprintf("%s/%d", n.host, prefix.Bits()), "dev", n.bridge},
		{"link", "set", "dev", n.bridge, "up"},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			t.Fatalf("rig: network %s: %v", prefix, err)
		}
	}
	t.Logf("rig: network %s on bridge %s, host address %s", prefix, n.bridge, n.host)
	return n
}

// HostAddr returns the host's address on the network (no prefix length).
func (n *Network) HostAddr() string { return n.host.String() }

// Prefix returns the network's prefix, e.g. 10.231.0.0/24.
func (n *Network) Prefix() netip.Prefix { return n.prefix }

// Bridge returns the name of the host's bridge.
func (n *Network) Bridge() string { return n.bridge }

// Links returns the names of the host links the network made: the bridge
// and the host ends of the veths, whether or not they still exist.
func (n *Network) Links() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string{n.bridge}, n.links...)
}

// Attach connects g to the network at addr (an address of the network,
// without prefix length, other than the host's, the network's and the
// broadcast address): a veth pair whose host end (dlrve-<random hex>) is a
// port of the bridge and whose other end is made directly in the guest's
// network namespace (the guest runs with --private-network; the namespace
// of its systemd, [Guest.PID]) as [GuestIface], with addr and the
// network's prefix length, up. The guest then reaches the host at
// [Network.HostAddr] and the other guests at their addresses; it has no
// route anywhere else. It fails the test if addr is not usable or already
// taken.
func (n *Network) Attach(t testing.TB, g *Guest, addr string) {
	t.Helper()
	ctx := t.Context()
	a, err := netip.ParseAddr(addr)
	if err != nil || !n.prefix.Contains(a) || a == n.host || a == n.prefix.Addr() || a == lastAddr(n.prefix) {
		t.Fatalf("rig: attach %s to %s at %q: want an address of %s other than %s, the network's and the broadcast address",
			g.machine, n.prefix, addr, n.prefix, n.host)
	}
	alias, err := ownerAlias()
	if err != nil {
		t.Fatalf("rig: %v", err)
	}
	n.mu.Lock()
	if other, ok := n.addrs[a]; ok {
		n.mu.Unlock()
		t.Fatalf("rig: attach %s to %s: %s is already %s's", g.machine, n.prefix, a, other)
	}
	n.addrs[a] = g.machine
	veth := vethPrefix + randomHex(4)
	n.links = append(n.links, veth) // before it exists: the cleanup deletes what it finds
	n.mu.Unlock()

	for _, args := range [][]string{
		{"link", "add", "name", veth, "type", "veth", "peer", "name", GuestIface, "netns", strconv.Itoa(g.PID())},
		{"link", "set", "dev", veth, "alias", alias},
		{"link", "set", "dev", veth, "master", n.bridge},
		{"link", "set", "dev", veth, "up"},
	} {
		if err := ipCmd(ctx, args...); err != nil {
			t.Fatalf("rig: attach %s to %s: %v", g.machine, n.prefix, err)
		}
	}
	g.Sh(t, fmt.Sprintf("ip addr add %s/%d dev %s && ip link set dev %s up", a, n.prefix.Bits(), GuestIface, GuestIface))
	t.Logf("rig: guest %s is %s on %s (%s)", g.machine, a, n.bridge, veth)
}

// remove deletes the veths and the bridge, and returns an error naming
// any that is still there afterwards.
func (n *Network) remove() error {
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	var errs []error
	links := n.Links()
	// Veths first: deleting the host end deletes the guest's end too.
	for i := len(links) - 1; i >= 0; i-- {
		if err := deleteLink(ctx, links[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for _, l := range links {
		if linkExists(l) {
			errs = append(errs, fmt.Errorf("link %s still exists", l))
		}
	}
	return errors.Join(errs...)
}

// deleteLink deletes the host link name if it exists.
func deleteLink(ctx context.Context, name string) error {
	if !linkExists(name) {
		return nil
	}
	err := ipCmd(ctx, "link", "del", "dev", name)
	if err != nil && !linkExists(name) {
		return nil // gone meanwhile: its guest's namespace ended
	}
	return err
}

// linkExists reports whether the host has a network interface name.
func linkExists(name string) bool {
	_, err := os.Lstat("/sys/class/net/" + name)
	return err == nil
}

// ipCmd runs the host's "ip ARGS".
func ipCmd(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// ownerAlias returns the ifalias given to the links this process makes.
func ownerAlias() (string, error) {
	p, err := procOf(os.Getpid())
	if err != nil {
		return "", err
	}
	return linkOwnerTag + " " + p.String(), nil
}

// parseOwnerAlias returns the process named by an ifalias ownerAlias
// wrote, and whether it is one.
func parseOwnerAlias(alias string) (proc, bool) {
	rest, ok := strings.CutPrefix(alias, linkOwnerTag+" ")
	if !ok {
		return proc{}, false
	}
	f := strings.Fields(rest)
	if len(f) != 2 {
		return proc{}, false
	}
	pid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, start: start}, true
}

// sweepStaleLinks deletes the bridges and veths of networks whose test
// binary was killed: links named dlrbr-* or dlrve-* whose ifalias names a
// process that no longer runs. Links without such an alias are left alone.
func sweepStaleLinks(t testing.TB) {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Logf("rig: listing host links: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), killTimeout)
	defer cancel()
	// Veths before bridges, as remove does.
	for _, prefix := range []string{vethPrefix, bridgePrefix} {
		for _, ifc := range ifaces {
			if !strings.HasPrefix(ifc.Name, prefix) {
				continue
			}
			b, err := os.ReadFile("/sys/class/net/" + ifc.Name + "/ifalias")
			if err != nil {
				continue
			}
			owner, ok := parseOwnerAlias(strings.TrimSpace(string(b)))
			if !ok || owner.alive() {
				continue
			}
			if err := deleteLink(ctx, ifc.Name); err != nil {
				t.Logf("rig: removing leftover link %s: %v", ifc.Name, err)
			} else {
				t.Logf("rig: removed leftover link %s", ifc.Name)
			}
		}
	}
}

// hostPrefixes returns the IPv4 prefixes the host uses: the address of
// each interface (with its prefix length) and the destination of each
// route in every routing table, as "ip -j -4 route show table all" lists
// them, except default routes.
func hostPrefixes(ctx context.Context) ([]netip.Prefix, error) {
	var used []netip.Prefix
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing host interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil {
				continue
			}
			ones, _ := ipn.Mask.Size()
			ip, _ := netip.AddrFromSlice(ipn.IP.To4())
			used = append(used, netip.PrefixFrom(ip, ones))
		}
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "-j", "-4", "route", "show", "table", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("ip -j -4 route show table all: %w", err)
	}
	routes, err := parseRouteDsts(out)
	if err != nil {
		return nil, err
	}
	return append(used, routes...), nil
}

// parseRouteDsts returns the destinations of the routes in the output of
// "ip -j -4 route show": "a.b.c.d/n", or a bare address (a /32); the
// default route ("default", or a /0) is left out.
func parseRouteDsts(j []byte) ([]netip.Prefix, error) {
	var routes []struct {
		Dst string `json:"dst"`
	}
	if err := json.Unmarshal(j, &routes); err != nil {
		return nil, fmt.Errorf("parsing ip -j route: %w", err)
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == "default" || r.Dst == "" {
			continue
		}
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil {
			a, aerr := netip.ParseAddr(r.Dst)
			if aerr != nil {
				return nil, fmt.Errorf("parsing ip -j route: destination %q: %w", r.Dst, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Bits() == 0 {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// overlapError returns an error naming every prefix of used that overlaps
// p, or nil.
func overlapError(p netip.Prefix, used []netip.Prefix) error {
	var hits []string
	for _, u := range used {
		if u.Overlaps(p) {
			hits = append(hits, u.String())
		}
	}
	if len(hits) == 0 {
		return nil
	}
	return fmt.Errorf("overlaps the host's %s (addresses and routes): choose a prefix the host does not use",
		strings.Join(hits, ", "))
}

// lastAddr returns the last address of p (its broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
