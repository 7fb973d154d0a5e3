package guard

import (
	"strings"
	"testing"
)

func TestCompareReleases(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"20.10.24+dfsg1", "20.10.24", 0}, {"20.10.24", "23.0.0", -1}, {"24.0.10", "24.0.8", 1},
		{"5:24.0.3-1~debian.12~bookworm", "24.0.3", 0}, {"29.4", "29.4.0", 0}, {"29.3.1", "29.4.0", -1},
	} {
		if got := CompareReleases(c.a, c.b); got != c.want {
			t.Errorf("CompareReleases(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// TestHazardSpans holds each row to the releases its sources name: the
// last broken release is in, the first fixed one is out.
func TestHazardSpans(t *testing.T) {
	in := map[string][]string{
		"autoremove":          {"20.10.24", "23.0.6", "24.0.7", "20.10.0"},
		"health-frozen":       {"17.11.0", "20.10.24+dfsg1"},
		"bind-mount-panic":    {"24.0.3", "5:24.0.3-1~debian.12~bookworm"},
		"network-restore":     {"24.0.0", "24.0.2"},
		"volume-refs":         {"19.03.13", "20.10.18"},
		"volume-refcount":     {"20.10.19", "20.10.25", "23.0.6", "24.0.2"},
		"volume-opts-unmount": {"23.0.0", "23.0.6", "24.0.5"},
		"extra-hosts-space":   {"29.0.0", "29.3.1"},
		"host-gateway":        {"29.6.1", "29.7.1"},
	}
	out := map[string][]string{
		"autoremove":          {"24.0.8", "25.0.0", "26.1.5", "28.5.2"},
		"health-frozen":       {"17.10.0", "23.0.0", "26.1.5"},
		"bind-mount-panic":    {"24.0.2", "24.0.4", "23.0.7", "20.10.26"},
		"network-restore":     {"23.0.6", "24.0.3"},
		"volume-refs":         {"20.10.19", "23.0.0", "24.0.0"},
		"volume-refcount":     {"20.10.18", "20.10.26", "23.0.7", "24.0.3", "26.1.5"},
		"volume-opts-unmount": {"20.10.24", "23.0.7", "24.0.6", "25.0.0"},
		"extra-hosts-space":   {"28.5.2", "29.4.0", "26.1.5"},
		"host-gateway":        {"28.5.2", "29.6.0"},
		"":                    nil,
	}
	for i := range Hazards {
		h := &Hazards[i]
		if _, ok := in[h.ID]; !ok {
			t.Errorf("row %s: no span test", h.ID)
		}
		for _, v := range in[h.ID] {
			if !h.In(v) {
				t.Errorf("row %s: %s not in %v", h.ID, v, h.Spans)
			}
		}
		for _, v := range out[h.ID] {
			if h.In(v) {
				t.Errorf("row %s: %s in %v", h.ID, v, h.Spans)
			}
		}
		if h.In("") || h.In("unknown") {
			t.Errorf("row %s: an unknown release is in it", h.ID)
		}
		if h.Issue == "" || h.PR == "" || h.Fixed == "" || h.Effect == "" || h.Hits == "" {
			t.Errorf("row %s: missing its source or words: %+v", h.ID, h)
		}
	}
}

// TestHazardsFor: the rows that hit a container, their severity and the
// words every command shows.
func TestHazardsFor(t *testing.T) {
	rm := Props{AutoRemove: true, NetworkMode: "default"}
	hits := HazardsFor("20.10.24+dfsg1", rm, HostProps{})
	if len(hits) != 1 || hits[0].Hazard.ID != "autoremove" {
		t.Fatalf("--rm on 20.10.24: %+v", hits)
	}
	s := hits[0].Sentence("20.10.24+dfsg1")
	for _, w := range []string{"started with --rm", "20.10.24", "stops and removes it", "removed", "moby/moby#46308", "#46869"} {
		if !strings.Contains(s, w) {
			t.Errorf("sentence %q lacks %q", s, w)
		}
	}
	if strings.Contains(s, "from upstream's report") {
		t.Errorf("a reproduced row is marked as upstream's report: %s", s)
	}
	if f := hits[0].FixFor("rmme"); !strings.Contains(f, "24.0.8") || !strings.Contains(f, "rmme") {
		t.Errorf("fix %q", f)
	}
	if got := HazardsFor("26.1.5", rm, HostProps{}); len(got) != 0 {
		t.Errorf("--rm on 26.1.5: %+v", got)
	}
	fs := ContainerHazards("rmme", "20.10.24", rm, HostProps{})
	if len(fs) != 1 || fs[0].Severity != Fail || fs[0].Rule != "restore-hazard" || fs[0].Subject != "rmme" {
		t.Errorf("ContainerHazards: %+v", fs)
	}

	hc := Props{Health: true, NetworkMode: "default", RestartPolicy: "unless-stopped"}
	fs = ContainerHazards("hc", "20.10.24", hc, HostProps{})
	if len(fs) != 1 || fs[0].Severity != Warn || !strings.Contains(fs[0].Message, "moby/moby#41871") {
		t.Errorf("health on 20.10.24: %+v", fs)
	}
	if !FreezesAllHealth("20.10.24+dfsg1") || FreezesAllHealth("26.1.5") || FreezesAllHealth("") {
		t.Error("FreezesAllHealth")
	}

	space := Props{ExtraHosts: []string{"foo: 1.2.3.4"}, NetworkMode: "bridge"}
	fs = ContainerHazards("spacey", "29.3.1", space, HostProps{})
	if len(fs) != 1 || fs[0].Severity != Fail || !strings.Contains(fs[0].Message, "daemon panic") || !strings.Contains(fs[0].Fix, "29.4.0") {
		t.Errorf("extra host with a space on 29.3.1: %+v", fs)
	}
	space.NetworkMode = "container:abc" // no sandbox of its own
	if fs := ContainerHazards("spacey", "29.3.1", space, HostProps{}); len(fs) != 0 {
		t.Errorf("container network mode: %+v", fs)
	}

	gw := Props{ExtraHosts: []string{"host.docker.internal:host-gateway"}}
	if fs := ContainerHazards("gw", "29.7.1", gw, HostProps{}); len(fs) != 1 || fs[0].Severity != Warn || !strings.Contains(fs[0].Message, "from upstream's report") {
		t.Errorf("host-gateway on 29.7.1: %+v", fs)
	}
	if fs := ContainerHazards("gw", "29.7.1", gw, HostProps{HostGatewayIPs: true}); len(fs) != 0 {
		t.Errorf("host-gateway with host-gateway-ips: %+v", fs)
	}

	db := Props{RestartPolicy: "always", NetworkMode: "appnet", Mounts: []Mount{{Type: "bind"},
		{Type: "volume", Name: "nfsdata", Driver: "local", Options: map[string]string{"type": "nfs"}}}}
	ids := func(release string) string {
		var s []string
		for _, h := range HazardsFor(release, db, HostProps{}) {
			s = append(s, h.Hazard.ID)
		}
		return strings.Join(s, " ")
	}
	for release, want := range map[string]string{
		"24.0.3":   "bind-mount-panic volume-opts-unmount",
		"24.0.2":   "network-restore volume-refcount volume-opts-unmount",
		"20.10.18": "volume-refs",
		"20.10.24": "volume-refcount",
		"23.0.6":   "volume-refcount volume-opts-unmount",
		"26.1.5":   "",
	} {
		if got := ids(release); got != want {
			t.Errorf("db on %s: %q, want %q", release, got, want)
		}
	}
	w, _ := WorstHit(HazardsFor("24.0.3", db, HostProps{}))
	if w.Hazard.Harm != Panic {
		t.Errorf("worst on 24.0.3: %v", w.Hazard.Harm)
	}
}

func TestProtectable(t *testing.T) {
	if f := Protectable(Unprotectable{}); f.Severity != Pass {
		t.Errorf("system dockerd: %+v", f)
	}
	f := Protectable(Unprotectable{Rootless: []string{"/run/user/1000/docker.pid (PID 812)"}})
	if f.Severity != Fail || !strings.Contains(f.Message, "live restore cannot protect these containers") || !strings.Contains(f.Message, "moby/moby#41947") || !strings.Contains(f.Message, "rootlesskit#355") {
		t.Errorf("rootless: %+v", f)
	}
	f = Protectable(Unprotectable{Snap: true})
	if f.Severity != Fail || !strings.Contains(f.Message, "canonical/docker-snap#76") {
		t.Errorf("snap: %+v", f)
	}
}
