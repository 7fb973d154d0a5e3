package restore

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// Probes are the checks' connections to the outside; package host has the
// real ones.
type Probes struct {
	// Inspect reads one container (nil when not running).
	Inspect func(ctx context.Context, id string) (*host.Container, error)
	// Pause pauses (true) or unpauses (false) a container.
	Pause func(ctx context.Context, id string, pause bool) error
	// Dial connects to a TCP address and closes the connection.
	Dial func(ctx context.Context, addr string) error
	// DNS asks 127.0.0.11 in the network namespace of pid for name.
	DNS func(ctx context.Context, pid int, name string) (rcode int, err error)
	// NATPorts returns the host ports of dockerd's DNAT rules, in the
	// backend it uses (Options.Backend).
	NATPorts func(ctx context.Context) (map[int]bool, error)
	// LogFile returns a log file's size and modification time.
	LogFile func(path string) (size int64, mtime time.Time, err error)
	Now     func() time.Time
}

// Waits are how long each check waits for its condition.
type Waits struct {
	Port, DNS, Logs, Probe time.Duration
	// Poll is the pause between two tries (100 ms when 0).
	Poll time.Duration
}

// Options say how to check.
type Options struct {
	Trigger string
	// DownAt is when dockerd was last seen before the restore (zero:
	// the view's time).
	DownAt time.Time
	// Rearm re-arms a frozen health monitor with pause + unpause, on
	// Docker before 23.0 only (the setting the admin can turn off).
	Rearm bool
	// Firewall: dockerd manages iptables (its "iptables" setting is not
	// false); otherwise the firewall check is skipped.
	Firewall bool
	// Backend is the firewall backend dockerd uses: "iptables" (or "")
	// or "nftables" (Docker 29's firewall-backend); NATPorts reads it.
	Backend string
	// Version is the running dockerd's version ("20.10.24+dfsg1").
	Version string
	Waits   Waits
	// Parallel is how many containers are checked at once (64 when 0):
	// they mostly wait (for a probe, a port), and each wait reads dockerd
	// at most ten times per health interval.
	Parallel int
}

// Compare is the pure first step: each container of before, found (or
// not) in after, with its PID and RestartCount judged.
func Compare(before View, after []host.Container) []Result {
	now := map[string]host.Container{}
	for _, c := range after {
		now[c.ID] = c
	}
	out := make([]Result, 0, len(before.Containers))
	for _, b := range before.Containers {
		a, ok := now[b.ID]
		r := Result{ID: b.ID, Name: b.Name, PIDBefore: b.PID, RestartCountBefore: b.RestartCount}
		switch {
		case !ok:
			r.Items = append(r.Items, Item{Check: Lost, Result: Problem, Detail: "not running after the restore"})
		case a.PID != b.PID:
			r.PIDAfter, r.RestartCountAfter = a.PID, a.RestartCount
			r.Items = append(r.Items, Item{Check: Restarted, Result: Problem,
				Detail: fmt.Sprintf("PID %d -> %d: it was killed and started again", b.PID, a.PID)})
		default:
			r.PIDAfter, r.RestartCountAfter, r.Kept = a.PID, a.RestartCount, true
			r.Items = append(r.Items, Item{Check: "pid", Result: OK, Detail: "same PID " + strconv.Itoa(a.PID)})
		}
		if ok && a.RestartCount != b.RestartCount {
			r.Items = append(r.Items, Item{Check: RestartCount, Result: Problem,
				Detail: fmt.Sprintf("RestartCount %d -> %d", b.RestartCount, a.RestartCount)})
		}
		out = append(out, r)
	}
	return out
}

// predict names, for each container not kept, the hazard table's row that
// predicted it for a restore by release (the most harmful one that hits
// it), so the report says why, not only how many.
func predict(rs []Result, before View, release string) {
	props := map[string]guard.Props{}
	for _, c := range before.Containers {
		props[c.ID] = c.Props
	}
	for i := range rs {
		r := &rs[i]
		if r.Kept {
			continue
		}
		var harmful []guard.Hit
		for _, h := range guard.HazardsFor(release, props[r.ID], guard.HostProps{}) {
			if h.Hazard.Harm != guard.Degraded {
				harmful = append(harmful, h)
			}
		}
		if w, ok := guard.WorstHit(harmful); ok {
			r.Hazard, r.Predicted = w.Hazard.ID, w.Sentence(release)
			for j := range r.Items {
				if r.Items[j].Check == Lost || r.Items[j].Check == Restarted {
					r.Items[j].Detail += "; predicted by the hazard table: " + r.Predicted
				}
			}
		}
	}
}

// RearmSupported reports whether dlr re-arms health monitors on this
// dockerd version: before 23.0, where restored containers are never probed
// again (moby/moby#41871).
func RearmSupported(version string) bool {
	major, _, _ := strings.Cut(version, ".")
	n, err := strconv.Atoi(major)
	return err == nil && n < 23
}

// Check compares before with the containers running now (after, listed
// once dockerd answered at back) and probes every kept container. It
// returns within ctx's deadline; a probe cut short by it is a problem.
func Check(ctx context.Context, before View, after []host.Container, back time.Time, p Probes, o Options) Record {
	start := p.Now()
	down := o.DownAt
	if down.IsZero() {
		down = before.At
	}
	rec := Record{Trigger: o.Trigger, DownAt: down, BackAt: back, DockerdPIDBefore: before.DockerdPID, DaemonVersion: o.Version, DaemonVersionBefore: before.DaemonVersion}
	rec.Results = Compare(before, after)
	predict(rec.Results, before, o.Version)
	now := map[string]host.Container{}
	for _, c := range after {
		now[c.ID] = c
	}
	c := &checker{p: p, o: o, back: back, down: down, dnsSem: make(chan struct{}, 2)}
	if o.Waits.Poll == 0 {
		c.o.Waits.Poll = 100 * time.Millisecond
	}
	par := o.Parallel
	if par <= 0 {
		par = 64
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range rec.Results {
		r := &rec.Results[i]
		if !r.Kept {
			continue
		}
		wg.Add(1)
		go func(r *Result, ct host.Container) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.Items = append(r.Items, c.container(ctx, ct)...)
		}(r, now[r.ID])
	}
	wg.Wait()
	rec.Summarize()
	rec.CheckSeconds = p.Now().Sub(start).Seconds()
	return rec
}

// checker is one Check under way.
type checker struct {
	p          Probes
	o          Options
	back, down time.Time
	dnsSem     chan struct{} // DNS probes each take a thread: two at once

	natOnce sync.Once
	nat     map[int]bool
	natErr  error
}

// container runs the probes of one kept container.
func (c *checker) container(ctx context.Context, ct host.Container) []Item {
	var items []Item
	if ct.Health != nil {
		items = append(items, c.health(ctx, ct))
	}
	items = append(items, c.ports(ctx, ct)...)
	if len(ct.Networks) > 0 {
		items = append(items, c.dns(ctx, ct))
	}
	if ct.LogPath != "" && c.p.LogFile != nil {
		items = append(items, c.logs(ctx, ct))
	}
	return items
}

// poll calls f until it says done, the limit (from the start of poll) is
// reached or ctx ends; it returns whether f was done, and f's last error.
func (c *checker) poll(ctx context.Context, limit time.Duration, f func(ctx context.Context) (bool, error)) (bool, error) {
	return c.pollEvery(ctx, limit, c.o.Waits.Poll, f)
}

// pollEvery is poll with its own pause between tries.
func (c *checker) pollEvery(ctx context.Context, limit, every time.Duration, f func(ctx context.Context) (bool, error)) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		done, err := f(ctx)
		if done {
			return true, nil
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = fmt.Errorf("not within %v", limit)
			}
			return false, last
		case <-time.After(every):
		}
	}
}

// since is the time from dockerd's return to now, in seconds.
func (c *checker) since() *float64 {
	s := c.p.Now().Sub(c.back).Seconds()
	return &s
}

// hostAddr is where a published port is reached on the host.
func hostAddr(p host.Port) string {
	ip := p.HostIP
	switch ip {
	case "", "0.0.0.0":
		ip = "127.0.0.1"
	case "::":
		ip = "::1"
	}
	return net.JoinHostPort(ip, strconv.Itoa(p.HostPort))
}
