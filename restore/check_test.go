package restore

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

func TestCompare(t *testing.T) {
	before := View{Containers: []host.Container{
		{ID: "a", Name: "web", PID: 10, RestartCount: 0},
		{ID: "b", Name: "db", PID: 11, RestartCount: 1},
		{ID: "c", Name: "job", PID: 12},
		{ID: "d", Name: "flaky", PID: 13, RestartCount: 3},
	}}
	after := []host.Container{
		{ID: "a", PID: 10}, {ID: "b", PID: 99, RestartCount: 2}, {ID: "d", PID: 13, RestartCount: 4}, {ID: "new", PID: 50},
	}
	rs := Compare(before, after)
	rec := Record{Results: rs}
	rec.Summarize()
	got := map[string][]string{}
	for _, r := range rec.Results {
		got[r.Name] = r.Problems
	}
	want := map[string][]string{"web": {}, "db": {Restarted, RestartCount}, "job": {Lost}, "flaky": {RestartCount}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %v, want %v", got, want)
	}
	if rec.Containers != 4 || rec.Kept != 2 || rec.ProblemCount() != 4 || rec.Problems[RestartCount] != 2 {
		t.Errorf("record counts: %d containers, %d kept, %v", rec.Containers, rec.Kept, rec.Problems)
	}
	if rs[1].PIDAfter != 99 || rs[2].PIDAfter != 0 || rs[2].Kept {
		t.Errorf("PIDs after: %+v", rs)
	}
}

func TestRearmSupported(t *testing.T) {
	for v, want := range map[string]bool{"20.10.24+dfsg1": true, "17.11.0-ce": true, "22.06.0": true, "23.0.0": false, "26.1.5+dfsg1": false, "28.5.2": false, "": false, "dev": false} {
		if got := RearmSupported(v); got != want {
			t.Errorf("RearmSupported(%q) = %v", v, got)
		}
	}
}

// fake is a dockerd and host for the probes: a health monitor that probes
// every interval unless frozen (a pause+unpause re-arms it), ports that
// answer, DNAT ports, DNS, logs.
type fake struct {
	mu       sync.Mutex
	frozen   map[string]bool // health monitor stopped
	rearmed  map[string]time.Time
	paused   []string
	pauseErr error
	open     map[string]bool // TCP addresses that accept
	nat      map[int]bool
	natErr   error
	dnsErr   error
	growing  map[string]bool // log paths that grow
	logSize  map[string]int64
	logMtime map[string]time.Time
	cs       map[string]host.Container
}

func (f *fake) probes() Probes {
	return Probes{
		Now: time.Now,
		Inspect: func(ctx context.Context, id string) (*host.Container, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			c, ok := f.cs[id]
			if !ok {
				return nil, nil
			}
			h := *c.Health
			if !f.frozen[id] || !f.rearmed[id].IsZero() {
				h.LastProbe = time.Now() // probing all the time
			}
			c.Health = &h
			return &c, nil
		},
		Pause: func(ctx context.Context, id string, pause bool) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.pauseErr != nil {
				return f.pauseErr
			}
			f.paused = append(f.paused, map[bool]string{true: "pause ", false: "unpause "}[pause]+id)
			if !pause {
				f.rearmed[id] = time.Now()
			}
			return nil
		},
		Dial: func(ctx context.Context, addr string) error {
			if f.open[addr] {
				return nil
			}
			return errors.New("connection refused")
		},
		DNS: func(ctx context.Context, pid int, name string) (int, error) { return 0, f.dnsErr },
		NATPorts: func(ctx context.Context) (map[int]bool, error) {
			return f.nat, f.natErr
		},
		LogFile: func(path string) (int64, time.Time, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.growing[path] {
				f.logSize[path] += 100
			}
			return f.logSize[path], f.logMtime[path], nil
		},
	}
}

var waits = Waits{Port: 50 * time.Millisecond, DNS: 50 * time.Millisecond, Logs: 50 * time.Millisecond, Probe: 20 * time.Millisecond, Poll: 5 * time.Millisecond}

func scenario() (*fake, View, []host.Container) {
	hc := &host.Health{Status: "healthy", Interval: 30 * time.Millisecond, Timeout: 10 * time.Millisecond}
	cs := []host.Container{
		{ID: "h", Name: "health", PID: 1, Health: hc},
		{ID: "p", Name: "web", PID: 2, Ports: []host.Port{{HostIP: "0.0.0.0", HostPort: 8080, Proto: "tcp", Private: 80}, {HostIP: "::", HostPort: 8080, Proto: "tcp", Private: 80}}},
		{ID: "n", Name: "app", PID: 3, Networks: []string{"appnet"}},
		{ID: "l", Name: "logger", PID: 4, LogPath: "/l.log"},
		{ID: "q", Name: "quiet", PID: 5, LogPath: "/q.log"},
		{ID: "e", Name: "empty", PID: 6, LogPath: "/e.log"},
	}
	f := &fake{frozen: map[string]bool{}, rearmed: map[string]time.Time{}, open: map[string]bool{"127.0.0.1:8080": true},
		nat: map[int]bool{8080: true}, growing: map[string]bool{"/l.log": true}, logSize: map[string]int64{"/q.log": 10, "/l.log": 10},
		logMtime: map[string]time.Time{"/l.log": time.Now(), "/q.log": time.Now().Add(-time.Hour), "/e.log": time.Now()}, cs: map[string]host.Container{}}
	for _, c := range cs {
		f.cs[c.ID] = c
	}
	return f, View{At: time.Now(), DockerdPID: 100, Containers: cs}, cs
}

func items(rec Record) map[string]string {
	out := map[string]string{}
	for _, r := range rec.Results {
		for _, it := range r.Items {
			out[r.Name+" "+it.Check+" "+it.Subject] = it.Result
		}
	}
	return out
}

func TestCheckAllWell(t *testing.T) {
	f, before, after := scenario()
	rec := Check(t.Context(), before, after, time.Now(), f.probes(), Options{Version: "26.1.5", Firewall: true, Waits: waits, Rearm: true})
	want := map[string]string{
		"health pid ": OK, "health health-frozen ": OK,
		"web pid ": OK, "web port 8080/tcp": OK, "web firewall 8080/tcp": OK,
		"app pid ": OK, "app dns appnet": OK,
		"logger pid ": OK, "logger logs ": OK,
		"quiet pid ": OK, "quiet logs ": Skipped,
		"empty pid ": OK, "empty logs ": Skipped,
	}
	if got := items(rec); !reflect.DeepEqual(got, want) {
		t.Errorf("items\n%v\nwant\n%v", got, want)
	}
	if rec.ProblemCount() != 0 || rec.Kept != 6 || len(f.paused) != 0 {
		t.Errorf("problems %v, kept %d, paused %v", rec.Problems, rec.Kept, f.paused)
	}
}

func TestCheckProblems(t *testing.T) {
	f, before, after := scenario()
	f.open = map[string]bool{}
	f.nat = map[int]bool{}
	f.dnsErr = errors.New("i/o timeout")
	f.growing = map[string]bool{}
	f.frozen["h"] = true
	rec := Check(t.Context(), before, after, time.Now(), f.probes(), Options{Version: "26.1.5", Firewall: true, Waits: waits, Rearm: true})
	want := map[string]int{HealthFrozen: 1, PortClosed: 1, Firewall: 1, DNS: 1, Logs: 1}
	if !reflect.DeepEqual(rec.Problems, want) {
		t.Errorf("problems %v, want %v", rec.Problems, want)
	}
	if len(f.paused) != 0 {
		t.Errorf("re-armed on Docker 26: %v", f.paused)
	}
	for _, r := range rec.Results {
		for _, it := range r.Items {
			if it.Check == HealthFrozen && !strings.Contains(it.Detail, "docker pause health && docker unpause health") {
				t.Errorf("frozen health without the fix: %s", it.Detail)
			}
		}
	}
	// The chain deleted, not flushed.
	f.natErr = host.ErrNoDockerChain
	rec = Check(t.Context(), before, after, time.Now(), f.probes(), Options{Version: "26.1.5", Firewall: true, Waits: waits})
	if rec.Problems[Firewall] != 1 {
		t.Errorf("no DOCKER chain: %v", rec.Problems)
	}
	// iptables off in dockerd: not judged.
	rec = Check(t.Context(), before, after, time.Now(), f.probes(), Options{Version: "26.1.5", Waits: waits})
	if rec.Problems[Firewall] != 0 || items(rec)["web firewall 8080/tcp"] != Skipped {
		t.Errorf("iptables off: %v", items(rec))
	}
}

func TestCheckRearm(t *testing.T) {
	f, before, after := scenario()
	f.frozen["h"] = true
	o := Options{Version: "20.10.24+dfsg1", Firewall: true, Waits: waits, Rearm: true}
	rec := Check(t.Context(), before, after, time.Now(), f.probes(), o)
	if got := items(rec)["health health-frozen "]; got != Mended || rec.Mended != 1 || rec.ProblemCount() != 0 {
		t.Errorf("frozen on 20.10 with re-arm: %s, %d mended, problems %v", got, rec.Mended, rec.Problems)
	}
	if want := []string{"pause h", "unpause h"}; !reflect.DeepEqual(f.paused, want) {
		t.Errorf("engine calls %v, want %v", f.paused, want)
	}

	// 20.10 freezes every monitor (the hazard table's health-frozen row):
	// re-armed at once, not after a probe window, even with a long one.
	f, before, after = scenario()
	f.frozen["h"] = true
	hc := *before.Containers[0].Health
	hc.Interval, hc.Timeout = time.Hour, time.Hour
	before.Containers[0].Health, after[0].Health = &hc, &hc
	f.cs["h"] = after[0]
	back := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	rec = Check(ctx, before, after, back, f.probes(), o)
	if at := f.rearmed["h"]; at.IsZero() || at.Sub(back) > time.Second {
		t.Errorf("re-armed %v after the restore (want at once): %+v", at.Sub(back), rec.Results[0].Items)
	}
	if d := rec.Results[0].Items[1].Detail; !strings.Contains(d, "moby/moby#41871") || !strings.Contains(d, "freezes every health monitor") {
		t.Errorf("detail %q", d)
	}

	// Turned off: a problem, nothing paused.
	f, before, after = scenario()
	f.frozen["h"] = true
	o.Rearm = false
	rec = Check(t.Context(), before, after, time.Now(), f.probes(), o)
	if rec.Problems[HealthFrozen] != 1 || len(f.paused) != 0 {
		t.Errorf("re-arm off: %v, paused %v", rec.Problems, f.paused)
	}

	// Pause refused: a problem that says so.
	f, before, after = scenario()
	f.frozen["h"] = true
	f.pauseErr = errors.New("cgroup freezer missing")
	o.Rearm = true
	rec = Check(t.Context(), before, after, time.Now(), f.probes(), o)
	if rec.Problems[HealthFrozen] != 1 || !strings.Contains(rec.Results[0].Items[1].Detail, "cgroup freezer missing") {
		t.Errorf("pause failing: %+v", rec.Results[0])
	}
}

// TestCheckBounded: a context that ends cuts every wait short.
func TestCheckBounded(t *testing.T) {
	f, before, after := scenario()
	f.open = map[string]bool{}
	f.frozen["h"] = true
	long := Waits{Port: time.Hour, DNS: time.Hour, Logs: time.Hour, Probe: time.Hour, Poll: 5 * time.Millisecond}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	rec := Check(ctx, before, after, time.Now(), f.probes(), Options{Version: "26.1.5", Waits: long})
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Check took %v past its context's end", d)
	}
	if rec.Problems[PortClosed] != 1 || rec.Problems[HealthFrozen] != 1 {
		t.Errorf("problems %v", rec.Problems)
	}
}

func TestStore(t *testing.T) {
	s := Store{Dir: t.TempDir() + "/state"}
	if v, err := s.LoadView(); v != nil || err != nil {
		t.Fatalf("empty store: view %v, %v", v, err)
	}
	if r, err := s.Last(); r != nil || err != nil {
		t.Fatalf("empty store: last %v, %v", r, err)
	}
	v := View{DockerdPID: 7, BootID: "b", Containers: []host.Container{{ID: "a", PID: 1, Health: &host.Health{Interval: time.Second}}}}
	if err := s.SaveView(v); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadView()
	v.Version = state.ViewFormat
	if err != nil || !reflect.DeepEqual(*got, v) {
		t.Errorf("view round trip: %+v, %v", got, err)
	}
	for i := 1; i <= KeepRecords+3; i++ {
		if err := s.Add(Record{DockerdPIDAfter: i}); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.Records()
	if err != nil || len(rs) != KeepRecords || rs[0].DockerdPIDAfter != 4 || rs[len(rs)-1].DockerdPIDAfter != KeepRecords+3 {
		t.Errorf("records kept: %d, %v", len(rs), err)
	}
}

// TestCheckFirewallNftables: with dockerd's nftables backend, the firewall
// check speaks of table ip docker-bridges, and a deleted table is a
// problem, as a deleted DOCKER chain is with iptables.
func TestCheckFirewallNftables(t *testing.T) {
	f, before, after := scenario()
	o := Options{Version: "29.7.1", Firewall: true, Backend: "nftables", Waits: waits}
	detail := func(rec Record) string {
		for _, r := range rec.Results {
			for _, it := range r.Items {
				if it.Check == Firewall {
					return it.Result + " " + it.Detail
				}
			}
		}
		return ""
	}
	if got := detail(Check(t.Context(), before, after, time.Now(), f.probes(), o)); got != OK+" DNAT rule present" {
		t.Errorf("rules there: %s", got)
	}
	f.nat = map[int]bool{}
	if got := detail(Check(t.Context(), before, after, time.Now(), f.probes(), o)); !strings.HasPrefix(got, Problem) || !strings.Contains(got, "no DNAT rule for port 8080 in nftables table ip docker-bridges") {
		t.Errorf("flushed: %s", got)
	}
	f.natErr = host.ErrNoNftTable
	if got := detail(Check(t.Context(), before, after, time.Now(), f.probes(), o)); !strings.HasPrefix(got, Problem) || !strings.Contains(got, "nftables has no table ip docker-bridges") {
		t.Errorf("table deleted: %s", got)
	}
}

// TestCheckPredicted: a container lost at the restore is named with the
// hazard row that predicted it (a --rm container on 20.10.24), one lost
// without a prediction is not.
func TestCheckPredicted(t *testing.T) {
	before := View{At: time.Now(), Containers: []host.Container{
		{ID: "r", Name: "rmme", PID: 344, Props: guard.Props{AutoRemove: true}},
		{ID: "x", Name: "other", PID: 345},
	}}
	f := &fake{cs: map[string]host.Container{}}
	rec := Check(t.Context(), before, nil, time.Now(), f.probes(), Options{Version: "20.10.24+dfsg1", Waits: waits})
	r, o := rec.Results[0], rec.Results[1]
	if r.Hazard != "autoremove" || !strings.Contains(r.Items[0].Detail, "moby/moby#46308") {
		t.Errorf("rmme: hazard %q, %q", r.Hazard, r.Items[0].Detail)
	}
	if o.Hazard != "" || o.Predicted != "" {
		t.Errorf("other predicted: %+v", o)
	}
	rec = Check(t.Context(), before, nil, time.Now(), f.probes(), Options{Version: "26.1.5", Waits: waits})
	if rec.Results[0].Hazard != "" {
		t.Errorf("predicted on 26.1.5: %+v", rec.Results[0])
	}
}
