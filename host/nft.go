package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/docker-liverestore/dlr/engine"
)

// dockerd's nftables backend (Docker 29, "firewall-backend": "nftables")
// keeps all of its rules in two tables of its own: NftTable is that name,
// in the families "ip" and "ip6" (moby daemon/libnetwork/drivers/bridge/
// internal/nftabler).
const NftTable = "docker-bridges"

// ErrNoNftTable means nft has no such table: dockerd never made it (it
// uses iptables, or "iptables": false) or something deleted it (nft
// delete table, nft flush ruleset).
var ErrNoNftTable = errors.New("nftables has no table " + NftTable)

// nftDirs are where dockerd finds nft: the $PATH systemd gives a service,
// without /usr/local (no package installs nft there).
var nftDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// NftInstalled reports whether the nft tool is installed where dockerd,
// started by systemd, looks for it.
func (e *Env) NftInstalled() bool {
	for _, d := range nftDirs {
		if fi, err := os.Stat(e.Path(d + "/nft")); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// NftRules is what one of dockerd's nftables tables holds.
type NftRules struct {
	Rules int          // rules in all of its chains
	DNAT  map[int]bool // destination ports (dport) of its dnat rules
}

// realNftRules runs `nft -j list table FAMILY docker-bridges` (family "ip"
// or "ip6") and reads it with [ParseNftRules]. A missing table is
// [ErrNoNftTable].
func (e *Env) realNftRules(ctx context.Context, family string) (NftRules, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	path, err := exec.LookPath("nft")
	if err != nil {
		return NftRules{}, fmt.Errorf("no nft command on $PATH (dockerd's firewall backend is nftables): %w", err)
	}
	out, err := Output(ctx, maxToolOutput, path, "-j", "list", "table", family, NftTable)
	if err != nil {
		msg := stderrOf(err)
		if strings.Contains(msg, "No such file or directory") {
			return NftRules{}, fmt.Errorf("table %s %s: %w", family, NftTable, ErrNoNftTable)
		}
		return NftRules{}, fmt.Errorf("nft -j list table %s %s: %v: %s", family, NftTable, err, msg)
	}
	return ParseNftRules(out)
}

// ParseNftRules reads nft's JSON (`nft -j list table ...`, libnftables-json(5))
// and returns how many rules it lists and the destination ports their dnat
// statements serve: dockerd writes one rule per published port, e.g.
//
//	iifname != "docker0" tcp dport 8080 counter dnat to 172.17.0.2:8080 comment "DNAT"
//
// A port is taken from a "dport" match of a rule that has a dnat
// statement: a number, a set of numbers, or a range (every port of it).
func ParseNftRules(data []byte) (NftRules, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return NftRules{}, fmt.Errorf("nft -j output: %w", err)
	}
	r := NftRules{DNAT: map[int]bool{}}
	for _, obj := range doc.Nftables {
		raw, ok := obj["rule"]
		if !ok {
			continue
		}
		r.Rules++
		var rule struct {
			Expr []map[string]json.RawMessage `json:"expr"`
		}
		if err := json.Unmarshal(raw, &rule); err != nil {
			return NftRules{}, fmt.Errorf("nft -j output: a rule: %w", err)
		}
		dnat := false
		var ports []int
		for _, ex := range rule.Expr {
			if _, ok := ex["dnat"]; ok {
				dnat = true
			}
			if m, ok := ex["match"]; ok {
				ports = append(ports, dportMatch(m)...)
			}
		}
		if dnat {
			for _, p := range ports {
				r.DNAT[p] = true
			}
		}
	}
	return r, nil
}

// dportMatch returns the ports a match on a transport header's dport
// accepts (none for any other match, or a negated one).
func dportMatch(raw json.RawMessage) []int {
	var m struct {
		Op   string `json:"op"`
		Left struct {
			Payload *struct {
				Field string `json:"field"`
			} `json:"payload"`
		} `json:"left"`
		Right json.RawMessage `json:"right"`
	}
	if json.Unmarshal(raw, &m) != nil || m.Left.Payload == nil || m.Left.Payload.Field != "dport" {
		return nil
	}
	if m.Op != "" && m.Op != "==" && m.Op != "in" {
		return nil
	}
	return nftPorts(m.Right)
}

// nftPorts reads a port value: 8080, {"set": [...]} or {"range": [a, b]}.
func nftPorts(raw json.RawMessage) []int {
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return []int{n}
	}
	var v struct {
		Set   []json.RawMessage `json:"set"`
		Range []int             `json:"range"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []int
	for _, e := range v.Set {
		out = append(out, nftPorts(e)...)
	}
	if len(v.Range) == 2 && v.Range[0] <= v.Range[1] && v.Range[1]-v.Range[0] < 1<<16 {
		for p := v.Range[0]; p <= v.Range[1]; p++ {
			out = append(out, p)
		}
	}
	return out
}

// firewallDriver is GET /info's firewall driver, "" when not reported.
func firewallDriver(f *engine.FirewallInfo) string {
	if f == nil {
		return ""
	}
	return f.Driver
}
