package host

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/guard"
)

func TestParseNATPorts(t *testing.T) {
	// As Docker 20.10 and 26.1 write the chain (rig), with a foreign rule.
	out := `-N DOCKER
-A DOCKER -i docker0 -j RETURN
-A DOCKER -i br-5f1c0e3c2a11 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:8080
-A DOCKER ! -i br-5f1c0e3c2a11 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.18.0.2:53
-A DOCKER -p tcp --dport 9999 -j ACCEPT
`
	got := ParseNATPorts(out)
	want := map[int]bool{8080: true, 5353: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseNATPorts = %v, want %v", got, want)
	}
	if got := ParseNATPorts("-N DOCKER\n"); len(got) != 0 {
		t.Errorf("flushed chain: %v, want none", got)
	}
}

func TestDNSQueryAnswer(t *testing.T) {
	q, id, err := DNSQuery("web.")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'e', 'b', 0, 0, 1, 0, 1}
	if !reflect.DeepEqual(q[2:], want) {
		t.Errorf("query % x, want ID + % x", q, want)
	}
	// An answer: same ID, QR set, rcode 3 (NXDOMAIN).
	a := append([]byte{}, q...)
	a[2], a[3] = 0x81, 0x83
	if rcode, ok := DNSAnswer(a, id); !ok || rcode != 3 {
		t.Errorf("DNSAnswer = %d, %v; want 3, true", rcode, ok)
	}
	if _, ok := DNSAnswer(q, id); ok {
		t.Error("the question itself taken for an answer")
	}
	if _, ok := DNSAnswer(a, id+1); ok {
		t.Error("an answer with another ID accepted")
	}
	if _, ok := DNSAnswer(a[:11], id); ok {
		t.Error("a short message accepted")
	}
	if _, _, err := DNSQuery("a..b"); err == nil {
		t.Error("empty label accepted")
	}
}

func TestContainerOf(t *testing.T) {
	probe := time.Date(2026, 12, 1, 10, 0, 5, 0, time.UTC)
	var d engine.ContainerDetail
	doc := `{"Id":"abc","Name":"/web","RestartCount":2,"LogPath":"/var/lib/docker/containers/abc/abc-json.log",
	"State":{"Running":true,"Pid":42,"Health":{"Status":"healthy","Log":[
		{"Start":"2026-12-01T10:00:04Z"},{"Start":"2026-12-01T10:00:05Z"},{"Start":"2026-12-01T10:00:03Z"}]}},
	"Config":{"Healthcheck":{"Test":["CMD","/app","-check"],"Interval":1000000000}},
	"HostConfig":{"RestartPolicy":{"Name":"always"}},
	"NetworkSettings":{"Ports":{"8080/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"},{"HostIp":"::","HostPort":"8080"}],"9000/tcp":null},
		"Networks":{"bridge":{},"appnet":{}}}}`
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	got := containerOf(d)
	want := &Container{ID: "abc", Name: "web", PID: 42, RestartPolicy: "always", Published: true, RestartCount: 2,
		Health:   &Health{Status: "healthy", Interval: time.Second, Timeout: 30 * time.Second, LastProbe: probe},
		Ports:    []Port{{"0.0.0.0", 8080, "tcp", 8080}, {"::", 8080, "tcp", 8080}},
		Networks: []string{"appnet"}, LogPath: "/var/lib/docker/containers/abc/abc-json.log",
		Props: guard.Props{RestartPolicy: "always", Health: true}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("containerOf =\n%+v\nwant\n%+v", got, want)
	}
	d.State.Running = false
	if containerOf(d) != nil {
		t.Error("a stopped container listed")
	}
}
