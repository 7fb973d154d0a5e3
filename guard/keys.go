// Package guard knows what a change to each daemon.json key does to a running
// dockerd and to live restore, and compares two configurations by that
// measure. It is pure: documents in, verdicts out.
//
// Live restore only holds while dockerd comes back with the configuration
// its running containers were set up with. Seen in the rig (Docker 20.10 and
// 26.1): with containers running, a "bip" change plus a restart leaves the
// bridge on the old subnet while daemon.json claims the new one, silently.
package guard

import (
	"sort"
	"strings"
)

// Class is what changing a key does.
type Class int

const (
	// Reload: dockerd applies the key on SIGHUP (`systemctl reload
	// docker`), without a restart (moby daemon/reload.go and
	// reload_unix.go).
	Reload Class = iota + 1
	// Restart: dockerd reads the key only when it starts. Unknown keys are
	// put here too: never assumed safe.
	Restart
	// Breaks: a change breaks live restore, or is ignored by a restart that
	// restores running containers, leaving the daemon at odds with its
	// file (networking, storage, runtime roots).
	Breaks
)

func (c Class) String() string {
	switch c {
	case Reload:
		return "reload"
	case Restart:
		return "restart"
	case Breaks:
		return "breaks-restore"
	}
	return "unknown"
}

// Key describes one daemon.json key.
type Key struct {
	Name  string
	Class Class
	// Why says what a change does, for messages and the key table in docs/restore-guard.md.
	Why string
}

const (
	whyReload  = "applied by a reload (SIGHUP), no restart needed"
	whyNetwork = "the default bridge and its networks are restored as they were while containers run: the change is silently ignored until a restart with no running containers"
	whyStorage = "running containers' filesystems live under the old storage setup: after a restart dockerd cannot find or manage them"
	whyRuntime = "dockerd reconnects to running containers through this: after a change it cannot find them and they are lost to it"
	whyCgroup  = "running containers were created under the old cgroup driver; dockerd restores them wrongly under the new one"
	whyUserns  = "running containers were created with the old user-namespace remapping; their files and IDs no longer match"
)

// keys is the table. Keys not listed are treated as Restart.
var keys = map[string]Key{}

func add(class Class, why string, names ...string) {
	for _, n := range names {
		keys[n] = Key{Name: n, Class: class, Why: why}
	}
}

func init() {
	add(Reload, whyReload,
		"live-restore", "debug", "labels",
		"max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts",
		"shutdown-timeout", "insecure-registries", "registry-mirrors",
		"allow-nondistributable-artifacts", "runtimes", "default-runtime",
		"default-shm-size", "default-ipc-mode", "default-cgroupns-mode",
		"features", "authorization-plugins", "network-diagnostic-port")
	add(Breaks, whyNetwork,
		"bip", "fixed-cidr", "fixed-cidr-v6", "default-address-pools", "bridge",
		"mtu", "ipv6", "ip6tables", "iptables", "ip-forward", "ip-masq", "icc",
		"userland-proxy", "userland-proxy-path", "default-gateway", "default-gateway-v6", "ip")
	add(Breaks, whyStorage, "data-root", "graph", "storage-driver", "storage-opts")
	add(Breaks, whyRuntime, "exec-root", "containerd", "containerd-namespace", "containerd-plugin-namespace")
	add(Breaks, whyUserns, "userns-remap")
}

// Lookup returns what is known of a key; unknown keys come back as Restart
// with a reason saying so.
func Lookup(name string) (Key, bool) {
	if k, ok := keys[name]; ok {
		return k, true
	}
	return Key{Name: name, Class: Restart, Why: "dockerd reads it only at start (dlr does not know this key, so it never treats a change as safe)"}, false
}

// Keys returns the table sorted by class and name, for documentation.
func Keys() []Key {
	out := make([]Key, 0, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Class != out[j].Class {
			return out[i].Class < out[j].Class
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// cgroupDriver returns the native.cgroupdriver value in an exec-opts list.
func cgroupDriver(opts []string) string {
	for _, o := range opts {
		k, v, ok := strings.Cut(o, "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "native.cgroupdriver") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
