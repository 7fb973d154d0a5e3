package host

import (
	"os"
	"path/filepath"
	"testing"
)

// TestParseNftRules reads nft -j output captured from dockerd 29.7.1's
// nftables backend in the rig (testdata/nft/README.md).
func TestParseNftRules(t *testing.T) {
	for _, tt := range []struct {
		file  string
		rules int
		dnat  []int
	}{
		{"ip-29.7.1.json", 15, []int{8080}},
		{"ip6-29.7.1.json", 6, nil},
		{"ip-flushed-29.7.1.json", 0, nil},
		{"ip-chain-flushed-29.7.1.json", 14, nil},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", "nft", tt.file))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseNftRules(b)
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		if r.Rules != tt.rules || len(r.DNAT) != len(tt.dnat) {
			t.Errorf("%s: %d rules, DNAT %v; want %d rules, DNAT %v", tt.file, r.Rules, r.DNAT, tt.rules, tt.dnat)
		}
		for _, p := range tt.dnat {
			if !r.DNAT[p] {
				t.Errorf("%s: no DNAT for %d in %v", tt.file, p, r.DNAT)
			}
		}
	}
}

// TestParseNftRulesShapes: a set of ports, a range, a negated match, a
// rule without dnat, and what is not nft's JSON.
func TestParseNftRulesShapes(t *testing.T) {
	in := `{"nftables": [{"metainfo": {"json_schema_version": 1}},
	{"rule": {"expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": {"set": [80, 443, {"range": [9000, 9002]}]}}}, {"dnat": {"addr": "172.17.0.3"}}]}},
	{"rule": {"expr": [{"match": {"op": "!=", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"dnat": {"addr": "172.17.0.4"}}]}},
	{"rule": {"expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"accept": null}]}}]}`
	r, err := ParseNftRules([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{80: true, 443: true, 9000: true, 9001: true, 9002: true}
	if r.Rules != 3 || len(r.DNAT) != len(want) {
		t.Fatalf("rules %d, DNAT %v; want 3, %v", r.Rules, r.DNAT, want)
	}
	for p := range want {
		if !r.DNAT[p] {
			t.Errorf("no %d in %v", p, r.DNAT)
		}
	}
	if _, err := ParseNftRules([]byte("Error: No such file or directory")); err == nil {
		t.Errorf("not JSON: no error")
	}
}
