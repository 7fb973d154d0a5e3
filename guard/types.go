package guard

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"

	"github.com/docker-liverestore/dlr/daemonjson"
)

// kind is the JSON shape dockerd decodes a daemon.json key into.
type kind int

const (
	kBool      kind = iota + 1 // bool, *bool
	kString                    // string
	kInt                       // int, *int, int64
	kUint32                    // uint32
	kStrings                   // []string, []net.IP (strings)
	kStringMap                 // map[string]string
	kBoolMap                   // map[string]bool
	kObject                    // a struct, or a map of structs
	kObjects                   // an array of objects (default-address-pools)
	kIP                        // net.IP: a string holding an IP address
)

// keyKinds is the JSON kind of each daemon.json key dlr knows, read from the
// json tags of moby's configuration structs (daemon/config and registry's
// ServiceOptions) at v20.10.24, v26.1.5 and v28.5.2: where the Go types
// differ between those versions (*int and int, []string and []net.IP), the
// JSON kind they accept does not. dockerd decodes daemon.json with
// encoding/json into those structs and refuses to start (or to reload) when
// a value does not fit: "json: cannot unmarshal string into Go struct field
// ... of type bool".
var keyKinds = map[string]kind{}

func kinds(k kind, names ...string) {
	for _, n := range names {
		keyKinds[n] = k
	}
}

func init() {
	kinds(kBool, "cri-containerd", "debug", "experimental", "icc", "init", "ip-forward", "ip-masq",
		"ip6tables", "iptables", "ipv6", "live-restore", "no-new-privileges", "raw-logs", "rootless",
		"selinux-enabled", "tls", "tlsverify", "userland-proxy")
	kinds(kString, "api-cors-header", "bip", "bridge", "cgroup-parent", "cluster-advertise", "cluster-store",
		"containerd", "containerd-namespace", "containerd-plugin-namespace", "data-root", "default-cgroupns-mode",
		"default-ipc-mode", "default-runtime", "default-shm-size", "deprecated-key-path", "exec-root", "fixed-cidr",
		"fixed-cidr-v6", "graph", "group", "init-path", "log-driver", "log-level", "metrics-addr", "pidfile",
		"resolv-conf", "seccomp-profile", "storage-driver", "swarm-default-advertise-addr", "tlscacert", "tlscert",
		"tlskey", "userland-proxy-path", "userns-remap")
	kinds(kInt, "cpu-rt-period", "cpu-rt-runtime", "max-concurrent-downloads", "max-concurrent-uploads",
		"max-download-attempts", "mtu", "network-control-plane-mtu", "network-diagnostic-port", "oom-score-adjust",
		"shutdown-timeout")
	kinds(kUint32, "swarm-raft-election-tick", "swarm-raft-heartbeat-tick")
	kinds(kStrings, "allow-nondistributable-artifacts", "authorization-plugins", "dns", "dns-opts", "dns-search",
		"exec-opts", "hosts", "insecure-registries", "labels", "node-generic-resources", "registry-mirrors",
		"storage-opts")
	kinds(kStringMap, "cluster-store-opts", "log-opts")
	kinds(kBoolMap, "features")
	kinds(kObject, "builder", "default-ulimits", "runtimes")
	kinds(kObjects, "default-address-pools")
	kinds(kIP, "default-gateway", "default-gateway-v6", "host-gateway-ip", "ip")
}

var kindWords = map[kind]string{
	kBool: "a boolean (true or false)", kString: "a string", kInt: "a whole number", kUint32: "a whole number from 0 to 4294967295",
	kStrings: "a list of strings", kStringMap: "an object of strings", kBoolMap: "an object of booleans",
	kObject: "an object", kObjects: "a list of objects", kIP: "a string holding an IP address",
}

// decodes reports whether raw decodes into k the way encoding/json does in
// dockerd.
func decodes(k kind, raw json.RawMessage) bool {
	var err error
	switch k {
	case kBool:
		var v bool
		err = json.Unmarshal(raw, &v)
	case kString:
		var v string
		err = json.Unmarshal(raw, &v)
	case kInt:
		var v int64
		err = json.Unmarshal(raw, &v)
	case kUint32:
		var v uint32
		err = json.Unmarshal(raw, &v)
	case kStrings:
		var v []string
		err = json.Unmarshal(raw, &v)
	case kStringMap:
		var v map[string]string
		err = json.Unmarshal(raw, &v)
	case kBoolMap:
		var v map[string]bool
		err = json.Unmarshal(raw, &v)
	case kObject:
		var v map[string]any
		err = json.Unmarshal(raw, &v)
	case kObjects:
		var v []map[string]any
		err = json.Unmarshal(raw, &v)
	case kIP:
		var v string
		if err = json.Unmarshal(raw, &v); err == nil && v != "" && net.ParseIP(v) == nil {
			err = fmt.Errorf("not an IP address")
		}
	}
	return err == nil
}

// optionName is what a dockerd option can be called: every flag of every
// version is lowercase letters, digits and dashes.
var optionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Shape lists what makes dockerd (any version dlr supports) refuse the file
// whatever its other keys: a key that cannot be a dockerd option (empty, or
// not lowercase: dockerd matches option names exactly, so "Live-Restore"
// is unknown to it), and a known key whose value has the wrong JSON kind.
// The rules are the same for Docker 20.10 to 28.5.
func Shape(doc *daemonjson.Doc) []Finding {
	var out []Finding
	for _, k := range doc.Keys() {
		raw, _ := doc.Lookup(k)
		switch want, known := keyKinds[k]; {
		case !optionName.MatchString(k):
			out = append(out, Finding{Rule: "key-name", Severity: Fail, Subject: k,
				Message: fmt.Sprintf("%q: not a dockerd option name (dockerd's options are lowercase words joined by dashes, matched exactly); dockerd would refuse to start (\"the following directives don't match any configuration option\")", k),
				Fix:     "remove it, or spell the option as dockerd does"})
		case known && !decodes(want, raw):
			out = append(out, Finding{Rule: "key-type", Severity: Fail, Subject: k,
				Message: fmt.Sprintf("%s: dockerd reads %s here, not %s; it would refuse to start (\"json: cannot unmarshal ...\")", k, kindWords[want], describe(raw)),
				Fix:     fmt.Sprintf("write %s as %s", k, kindWords[want])})
		}
	}
	return out
}

// describe names a JSON value's kind for a message.
func describe(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	switch x := v.(type) {
	case bool:
		return "a boolean (" + string(raw) + ")"
	case string:
		return "a string (" + string(raw) + ")"
	case float64:
		_ = x
		return "the number " + string(raw)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case nil:
		return "null"
	}
	return string(raw)
}
