package guard

import "strings"

// known20 lists the daemon.json keys Docker 20.10 accepts. dlr uses it only
// where the installed dockerd cannot check a file itself (`dockerd
// --validate` exists from Docker 23.0): a daemon older than 23 knows no key
// added later, so this list is exactly what such a daemon would accept.
var known20 = words(`
allow-nondistributable-artifacts api-cors-header authorization-plugins bip bridge builder
cgroup-parent cluster-advertise cluster-store cluster-store-opts containerd
containerd-namespace containerd-plugin-namespace cpu-rt-period cpu-rt-runtime data-root
debug default-address-pools default-cgroupns-mode default-gateway default-gateway-v6
default-ipc-mode default-runtime default-shm-size default-ulimits dns dns-opts dns-search
exec-opts exec-root experimental features fixed-cidr fixed-cidr-v6 graph group
host-gateway-ip hosts icc init init-path insecure-registries ip ip-forward ip-masq
ip6tables iptables ipv6 labels live-restore log-driver log-level log-opts
max-concurrent-downloads max-concurrent-uploads max-download-attempts metrics-addr mtu
network-control-plane-mtu network-diagnostic-port no-new-privileges node-generic-resources
oom-score-adjust pidfile raw-logs registry-mirrors rootless runtimes seccomp-profile
selinux-enabled shutdown-timeout storage-driver storage-opts swarm-default-advertise-addr
swarm-raft-election-tick swarm-raft-heartbeat-tick tls tlscacert tlscert tlskey tlsverify
userland-proxy userland-proxy-path userns-remap`)

// Known20 reports whether Docker 20.10 accepts the daemon.json key.
func Known20(key string) bool { return known20[key] }

// flagKeys maps dockerd flags whose daemon.json key has another name.
var flagKeys = map[string]string{
	"label": "labels", "insecure-registry": "insecure-registries", "registry-mirror": "registry-mirrors",
	"storage-opt": "storage-opts", "log-opt": "log-opts", "exec-opt": "exec-opts", "host": "hosts",
	"H": "hosts", "default-ulimit": "default-ulimits", "add-runtime": "runtimes",
	"authorization-plugin": "authorization-plugins", "dns-opt": "dns-opts",
	"default-address-pool": "default-address-pools", "node-generic-resource": "node-generic-resources",
	"cluster-store-opt": "cluster-store-opts", "g": "graph", "D": "debug", "l": "log-level",
	"G": "group", "b": "bridge", "p": "pidfile",
}

// FlagKey returns the daemon.json key a dockerd flag (without dashes) sets.
func FlagKey(flag string) string {
	if k, ok := flagKeys[flag]; ok {
		return k
	}
	return flag
}

// FlagKeys returns the daemon.json keys set by dockerd arguments (argv
// without argv[0]): "--name", "--name=v", "-H", "-Hv".
func FlagKeys(args []string) []string {
	var out []string
	for _, a := range args {
		switch {
		case strings.HasPrefix(a, "--"):
			name, _, _ := strings.Cut(a[2:], "=")
			if name != "" {
				out = append(out, FlagKey(name))
			}
		case strings.HasPrefix(a, "-") && len(a) >= 2:
			out = append(out, FlagKey(a[1:2]))
		}
	}
	return out
}

func words(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}
