package host

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/docker-liverestore/dlr/engine"
	"github.com/docker-liverestore/dlr/guard"
)

// TestPropsOfInspect reads the hazard table's properties from inspect
// answers (testdata/inspect: bookworm-*.json and trixie-*.json are real,
// `docker inspect` in the rig by TestHazardsBookworm and
// TestHazardsExtraHostsPanic, 2026-12-07; the others are written by hand
// for rows no reachable release shows) and holds the rows they hit per
// release.
func TestPropsOfInspect(t *testing.T) {
	for _, c := range []struct {
		file, release, want string
	}{
		{"bookworm-rmme.json", "20.10.24+dfsg1", "autoremove"},
		{"bookworm-rmme.json", "26.1.5+dfsg1", ""},
		{"bookworm-hc.json", "20.10.24+dfsg1", "health-frozen"},
		{"bookworm-hc.json", "23.0.0", ""},
		{"bind-volume.json", "24.0.3", "bind-mount-panic volume-opts-unmount"},
		{"bind-volume.json", "20.10.10", "volume-refs"},
		{"trixie-spacey.json", "29.3.1", "extra-hosts-space"},
		{"trixie-spacey.json", "29.4.0", ""},
		{"host-gateway.json", "29.7.1", "host-gateway"},
		{"hostnet.json", "24.0.1", ""},
		{"bookworm-rmme.json", "24.0.1", "autoremove network-restore"},
	} {
		b, err := os.ReadFile("testdata/inspect/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		var d engine.ContainerDetail
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		ct := containerOf(d)
		if ct == nil {
			t.Fatalf("%s: not running", c.file)
		}
		var ids []string
		for _, h := range guard.HazardsFor(c.release, ct.Props, guard.HostProps{}) {
			ids = append(ids, h.Hazard.ID)
		}
		if got := strings.Join(ids, " "); got != c.want {
			t.Errorf("%s on %s: %q, want %q", c.file, c.release, got, c.want)
		}
	}
}
