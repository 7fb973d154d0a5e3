// Command spans says where `dlr check` and `dlr status` spend their time
// on a real host: it runs the same code (ops.Check, ops.Status) with each
// of the host's edges (D-Bus, GET /info, the containers' listing and
// inspects, the programs whose versions are asked) wrapped in a timer, and
// with "pieces" times the file reads no edge covers (the log FIFO scan,
// the json-file logs' tails, needrestart and debconf). A measuring tool
// for docs/benchmarks.md, not part of dlr: build it static and copy it into
// a rig guest.
//
// Usage:
//
//	spans check|status|pieces [CPU-PROFILE]
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/ops"
	"github.com/docker-liverestore/dlr/unit"
)

var mu sync.Mutex
var spans = map[string][]time.Duration{}

func span(name string, t0 time.Time) {
	mu.Lock()
	spans[name] = append(spans[name], time.Since(t0))
	mu.Unlock()
}

type sd struct{ host.Systemd }

func (s sd) Unit(ctx context.Context, name string) (unit.Unit, error) {
	defer span("dbus.Unit", time.Now())
	return s.Systemd.Unit(ctx, name)
}

type dk struct{ host.Docker }

func (d dk) Info(ctx context.Context) (host.Info, error) {
	defer span("api./info", time.Now())
	return d.Docker.Info(ctx)
}

func main() {
	cmd := os.Args[1]
	h := host.New()
	ds := h.DialSystemd
	h.DialSystemd = func(ctx context.Context) (host.Systemd, error) {
		defer span("dbus.dial", time.Now())
		s, err := ds(ctx)
		if err != nil {
			return nil, err
		}
		return sd{s}, nil
	}
	dock := h.Docker
	h.Docker = func(s string) host.Docker { return dk{dock(s)} }
	c := h.Containers
	h.Containers = func(ctx context.Context, s string) ([]host.Container, error) {
		defer span("Containers(list+inspect)", time.Now())
		return c(ctx, s)
	}
	dv := h.DockerdVersion
	h.DockerdVersion = func(ctx context.Context, p string) (string, error) {
		defer span("dockerd --version", time.Now())
		return dv(ctx, p)
	}
	cv := h.ContainerdVersions
	h.ContainerdVersions = func(ctx context.Context, s string, pid int) (string, string, error) {
		defer span("/version + containerd --version", time.Now())
		return cv(ctx, s, pid)
	}
	np := h.NATPorts
	h.NATPorts = func(ctx context.Context) (map[int]bool, error) {
		defer span("iptables", time.Now())
		return np(ctx)
	}
	e := ops.NewEnv(h)
	if len(os.Args) > 2 {
		f, _ := os.Create(os.Args[2])
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	t0 := time.Now()
	var r ops.Report
	var err error
	switch cmd {
	case "check":
		err = ops.Check(ctx, e, ops.Options{}, &r)
	case "status":
		err = ops.Status(ctx, e, ops.Options{}, &r)
	case "pieces":
		t := time.Now()
		st, _ := buffers.Scan(ctx, "/run/docker")
		span("buffers.Scan", t)
		t = time.Now()
		seen := map[string]bool{}
		for _, s := range st {
			if !seen[s.Container] {
				seen[s.Container] = true
				buffers.RecentLogRates("/var/lib/docker", s.Container)
			}
		}
		span("RecentLogRates x all", t)
		t = time.Now()
		h.ReadNeedrestart()
		span("ReadNeedrestart", t)
		t = time.Now()
		h.ReadDebconfQuestion("docker.io/restart")
		span("ReadDebconf", t)
		t = time.Now()
		f, _ := h.Observe(ctx, "", false)
		span("Observe", t)
		t = time.Now()
		h.DockerdCmdline(f.PID)
		span("DockerdCmdline", t)
	}
	span("TOTAL "+cmd, t0)
	names := []string{}
	for k := range spans {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		var sum time.Duration
		for _, d := range spans[k] {
			sum += d
		}
		fmt.Printf("SPAN %-40s n=%d sum=%v\n", k, len(spans[k]), sum.Round(100*time.Microsecond))
	}
	fmt.Println("err:", err)
}
