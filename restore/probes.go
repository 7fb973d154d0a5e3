package restore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// newProbe waits until the container's newest health probe started after
// t, for at most limit; it returns whether one did.
func (c *checker) newProbe(ctx context.Context, id string, t time.Time, limit, interval time.Duration) (bool, error) {
	// A tenth of the interval between reads, within [Poll, 1 s]: 100
	// containers with 30 s checks cost dockerd 100 inspects a second.
	every := min(max(interval/10, c.o.Waits.Poll), time.Second)
	return c.pollEvery(ctx, max(limit, time.Millisecond), every, func(ctx context.Context) (bool, error) {
		ct, err := c.p.Inspect(ctx, id)
		if err != nil {
			return false, err
		}
		if ct == nil {
			return false, errors.New("the container is no longer running")
		}
		return ct.Health != nil && ct.Health.LastProbe.After(t), nil
	})
}

// health wants a probe that started after dockerd came back, within the
// check's interval + timeout; else re-arms the monitor where allowed.
func (c *checker) health(ctx context.Context, ct host.Container) Item {
	h := ct.Health
	it := Item{Check: HealthFrozen}
	if ct.Paused {
		it.Result, it.Detail = Skipped, "the container is paused: no probes run"
		return it
	}
	// Where the hazard table says the restoring release freezes every
	// health monitor (Docker before 23.0, moby/moby#41871), waiting one
	// probe window to see it would leave the container unprobed for
	// interval + timeout: re-arm at once.
	if guard.FreezesAllHealth(c.o.Version) && RearmSupported(c.o.Version) && c.o.Rearm {
		return c.rearmNow(ctx, ct, fmt.Sprintf("frozen at the restore (dockerd %s freezes every health monitor, moby/moby#41871)", guard.Version(c.o.Version)))
	}
	window := h.Interval + h.Timeout + c.o.Waits.Probe
	ok, err := c.newProbe(ctx, ct.ID, c.back, c.back.Add(window).Sub(c.p.Now()), h.Interval)
	if ok {
		it.Result, it.Seconds = OK, c.since()
		it.Detail = fmt.Sprintf("a new probe %.1f s after the restore (interval %v)", *it.Seconds, h.Interval)
		return it
	}
	frozen := fmt.Sprintf("no probe within interval + timeout (%v) after the restore (%v); status stays %q", h.Interval+h.Timeout, err, h.Status)
	switch {
	case !RearmSupported(c.o.Version):
		it.Result, it.Detail = Problem, frozen+"; re-arm it by hand: docker pause "+ct.Name+" && docker unpause "+ct.Name
		return it
	case !c.o.Rearm:
		it.Result, it.Detail = Problem, frozen+"; re-arming is turned off (dlr watch --rearm-health=false); by hand: docker pause "+ct.Name+" && docker unpause "+ct.Name
		return it
	}
	return c.rearmNow(ctx, ct, frozen)
}

// rearmNow re-arms a frozen health monitor with pause + unpause and waits
// for the probe that follows; frozen says how it was known to be frozen.
func (c *checker) rearmNow(ctx context.Context, ct host.Container, frozen string) Item {
	h := ct.Health
	it := Item{Check: HealthFrozen}
	paused, err := c.rearm(ctx, ct.ID)
	if err != nil {
		it.Result, it.Detail = Problem, frozen+"; re-arming it failed: "+err.Error()
		return it
	}
	t := c.p.Now()
	if ok, err := c.newProbe(ctx, ct.ID, t, 2*h.Interval+c.o.Waits.Probe, h.Interval); !ok {
		it.Result, it.Detail = Problem, fmt.Sprintf("%s; re-armed with pause/unpause (paused %.3f s), still no probe: %v", frozen, paused.Seconds(), err)
		return it
	}
	it.Result, it.Seconds = Mended, c.since()
	it.Detail = fmt.Sprintf("%s: re-armed with pause/unpause %.1f s after the restore (paused %.3f s); a new probe %.1f s after", frozen, t.Sub(c.back).Seconds(), paused.Seconds(), c.p.Now().Sub(t).Seconds())
	return it
}

// rearm pauses and unpauses a container, and returns how long it was
// paused. An unpause is always tried after a pause, with a context an
// ending check does not cancel.
func (c *checker) rearm(ctx context.Context, id string) (time.Duration, error) {
	t := c.p.Now()
	if err := c.p.Pause(ctx, id, true); err != nil {
		return 0, fmt.Errorf("docker pause: %w", err)
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := c.p.Pause(uctx, id, false); err != nil {
		return 0, fmt.Errorf("docker unpause (the container may be left paused: run docker unpause %s): %w", id, err)
	}
	return c.p.Now().Sub(t), nil
}

// ports checks each published port: TCP ones accept a connection on the
// host side, and every one has its DNAT rule. One check per host port.
func (c *checker) ports(ctx context.Context, ct host.Container) []Item {
	var items []Item
	seen := map[string]bool{}
	for _, p := range ct.Ports {
		key := strconv.Itoa(p.HostPort) + "/" + p.Proto
		if seen[key] {
			continue
		}
		seen[key] = true
		if p.Proto == "tcp" {
			addr := hostAddr(p)
			it := Item{Check: PortClosed, Subject: key}
			ok, err := c.poll(ctx, c.o.Waits.Port, func(ctx context.Context) (bool, error) {
				err := c.p.Dial(ctx, addr)
				return err == nil, err
			})
			if ok {
				it.Result, it.Seconds, it.Detail = OK, c.since(), addr+" accepts connections"
			} else {
				it.Result, it.Detail = Problem, fmt.Sprintf("%s does not accept connections within %v: %v", addr, c.o.Waits.Port, err)
			}
			items = append(items, it)
		}
		items = append(items, c.firewall(ctx, p, key))
	}
	return items
}

// firewall wants a DNAT rule for the port, waiting (once for all
// containers) up to Waits.Port for dockerd to write its rules, in the
// backend it uses (Options.Backend).
func (c *checker) firewall(ctx context.Context, p host.Port, key string) Item {
	it := Item{Check: Firewall, Subject: key}
	if !c.o.Firewall || c.p.NATPorts == nil {
		it.Result, it.Detail = Skipped, "dockerd does not manage iptables here (\"iptables\": false)"
		return it
	}
	c.natOnce.Do(func() {
		c.poll(ctx, c.o.Waits.Port, func(ctx context.Context) (bool, error) {
			c.nat, c.natErr = c.p.NATPorts(ctx)
			return c.natErr == nil && len(c.nat) > 0, nil
		})
	})
	where, gone := "iptables' nat DOCKER chain", "iptables has no nat DOCKER chain"
	if c.o.Backend == "nftables" {
		where, gone = "nftables table ip "+host.NftTable, "nftables has no table ip "+host.NftTable
	}
	switch {
	case errors.Is(c.natErr, host.ErrNoDockerChain), errors.Is(c.natErr, host.ErrNoNftTable):
		it.Result, it.Detail = Problem, gone+": something deleted dockerd's rules"
	case c.natErr != nil:
		it.Result, it.Detail = Skipped, c.natErr.Error()
	case !c.nat[p.HostPort]:
		it.Result, it.Detail = Problem, fmt.Sprintf("no DNAT rule for port %d in %s: a firewall reload flushed dockerd's rules", p.HostPort, where)
	default:
		it.Result, it.Detail = OK, "DNAT rule present"
	}
	return it
}

// dns asks the embedded DNS server for the container's own name.
func (c *checker) dns(ctx context.Context, ct host.Container) Item {
	it := Item{Check: DNS, Subject: ct.Networks[0]}
	c.dnsSem <- struct{}{}
	defer func() { <-c.dnsSem }()
	var rcode int
	ok, err := c.poll(ctx, c.o.Waits.DNS, func(ctx context.Context) (bool, error) {
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		var err error
		rcode, err = c.p.DNS(qctx, ct.PID, ct.Name)
		return err == nil, err
	})
	if !ok {
		it.Result, it.Detail = Problem, fmt.Sprintf("127.0.0.11 does not answer inside the container within %v: %v", c.o.Waits.DNS, err)
		return it
	}
	it.Result, it.Seconds = OK, c.since()
	it.Detail = fmt.Sprintf("127.0.0.11 answered (%s for %q)", rcodeName(rcode), ct.Name)
	return it
}

func rcodeName(rcode int) string {
	switch rcode {
	case 0:
		return "NOERROR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	}
	return "rcode " + strconv.Itoa(rcode)
}

// logs wants a log that was being written before the outage to grow again.
// A log not written in the Waits.Logs before the outage is quiet, and not
// judged (nor waited for).
func (c *checker) logs(ctx context.Context, ct host.Container) Item {
	it := Item{Check: Logs}
	size0, mtime, err := c.p.LogFile(ct.LogPath)
	switch {
	case err != nil:
		it.Result, it.Detail = Skipped, err.Error()
		return it
	case size0 == 0:
		it.Result, it.Detail = Skipped, "quiet: nothing logged yet"
		return it
	case mtime.After(c.back):
		it.Result, it.Seconds, it.Detail = OK, c.since(), "written since the restore"
		return it
	case mtime.Before(c.ref().Add(-c.o.Waits.Logs)):
		it.Result, it.Detail = Skipped, fmt.Sprintf("quiet: nothing logged in the %v before the outage or since", c.o.Waits.Logs)
		return it
	}
	ok, _ := c.poll(ctx, c.o.Waits.Logs, func(context.Context) (bool, error) {
		size, _, err := c.p.LogFile(ct.LogPath)
		return err == nil && size > size0, err
	})
	if !ok {
		it.Result, it.Detail = Problem, fmt.Sprintf("the log was written until %s and has not grown in %v since the check began", mtime.UTC().Format(time.RFC3339), c.o.Waits.Logs)
		return it
	}
	it.Result, it.Seconds, it.Detail = OK, c.since(), "the log grows"
	return it
}

// ref is when dockerd went away, else when it came back.
func (c *checker) ref() time.Time {
	if c.down.IsZero() {
		return c.back
	}
	return c.down
}
