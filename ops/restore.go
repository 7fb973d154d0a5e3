package ops

import (
	"context"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"net"
	"os"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/restore"
	"github.com/docker-liverestore/dlr/state"
)

// The restore checks (package restore) as dlr runs them: after a restart
// or crash of dockerd seen by the watcher, and at the end of a drill.

// restoreStore is the view and records in dlr's state directory.
func (e *Env) restoreStore() restore.Store {
	return restore.Store{Dir: e.Path(host.StateDir)}
}

// bootID identifies this boot: a view from another boot is no restore.
func (e *Env) bootID() string {
	b, _ := atomicfile.ReadFile(e.Path(host.BootID), atomicfile.MaxRead)
	return strings.TrimSpace(string(b))
}

// view lists the running containers as a view (call only while dockerd
// runs).
// version is that dockerd's version, "" if unknown.
func (e *Env) view(ctx context.Context, socket string, dockerdPID int, version string) (restore.View, error) {
	cs, err := e.Containers(ctx, socket)
	if err != nil {
		return restore.View{}, err
	}
	return restore.View{At: e.Now(), BootID: e.bootID(), DockerdPID: dockerdPID, DaemonVersion: version, Containers: cs}, nil
}

// restoreProbes are the probes against this host's dockerd at socket.
func (e *Env) restoreProbes(socket string) restore.Probes {
	return restore.Probes{
		Now:      e.Now,
		Inspect:  func(ctx context.Context, id string) (*host.Container, error) { return e.Inspect(ctx, socket, id) },
		Pause:    func(ctx context.Context, id string, p bool) error { return e.Pause(ctx, socket, id, p) },
		NATPorts: e.NATPorts,
		DNS:      e.DNS,
		Dial: func(ctx context.Context, addr string) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
			}
			return err
		},
		LogFile: func(path string) (int64, time.Time, error) {
			fi, err := os.Stat(e.Path(path))
			if err != nil {
				return 0, time.Time{}, err
			}
			return fi.Size(), fi.ModTime(), nil
		},
	}
}

// restoreOptions are the checks' options on this host. firewall is the
// running dockerd's firewall driver (host.Info.Firewall).
func (e *Env) restoreOptions(trigger, config string, rearm bool, version, firewall string, down time.Time) restore.Options {
	cfg, _ := host.ReadConfig(config)
	return restore.Options{
		Trigger: trigger, DownAt: down, Rearm: rearm, Version: version,
		Firewall: !cfg.IptablesOff(), Backend: guard.FirewallBackend(firewall, cfg.FirewallBackend()),
		Waits: restore.Waits{Port: e.T.Port, DNS: e.T.DNS, Logs: e.T.Logs, Probe: e.T.Probe},
	}
}

// checkRestore compares before with what runs now on dockerd pid (back
// since back), probes every kept container within T.RestoreCheck, and
// records the result. Call it holding host.RestoreLock.
func (e *Env) checkRestore(ctx context.Context, before restore.View, socket string, pid int, back time.Time, o restore.Options) (restore.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.RestoreCheck)
	defer cancel()
	after, err := e.Containers(ctx, socket)
	if err != nil {
		return restore.Record{}, fmt.Errorf("listing the containers after the restore: %w", err)
	}
	p := e.restoreProbes(socket)
	if o.Backend == guard.BackendNftables {
		p.NATPorts = e.nftDNAT
	}
	rec := restore.Check(ctx, before, after, back, p, o)
	rec.DockerdPIDAfter = pid
	if err := e.restoreStore().Add(rec); err != nil {
		return rec, fmt.Errorf("recording the restore in %s: %w", e.Path(host.StateDir), err)
	}
	return rec, nil
}

// lockRestore takes host.RestoreLock, waiting up to wait.
func (e *Env) lockRestore(ctx context.Context, wait time.Duration) (func(), error) {
	lctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return state.Lock(lctx, e.Path(host.RestoreLock))
}

// RestoreLines are a record's lines for the journal: one per problem and
// per mend, then a summary.
func RestoreLines(rec restore.Record) []string {
	var out []string
	for _, r := range rec.Results {
		for _, it := range r.Items {
			if it.Result != restore.Problem && it.Result != restore.Mended {
				continue
			}
			what := it.Check
			if it.Subject != "" {
				what += " " + it.Subject
			}
			word := "problem"
			if it.Result == restore.Mended {
				word = "mended"
			}
			out = append(out, fmt.Sprintf("restore check: %s: %s %s: %s", r.Name, word, what, it.Detail))
		}
	}
	out = append(out, fmt.Sprintf("restore check: dockerd PID %d -> %d: %s (checked in %.2f s)",
		rec.DockerdPIDBefore, rec.DockerdPIDAfter, RestoreSummary(rec), rec.CheckSeconds))
	return out
}

// RestoreSummary is "N containers, N kept, problems: ...", after
// "dockerd OLD -> NEW, " when the restore was onto another version (an
// upgrade: what a rollout looks for in dlr status).
func RestoreSummary(rec restore.Record) string {
	s := fmt.Sprintf("%d containers, %d kept", rec.Containers, rec.Kept)
	if rec.DaemonVersionBefore != "" && rec.DaemonVersion != "" && rec.DaemonVersionBefore != rec.DaemonVersion {
		s = fmt.Sprintf("dockerd %s -> %s, ", rec.DaemonVersionBefore, rec.DaemonVersion) + s
	}
	if rec.Mended > 0 {
		s += fmt.Sprintf(", %d mended", rec.Mended)
	}
	var ps []string
	for _, kc := range rec.ProblemsByKind() {
		ps = append(ps, fmt.Sprintf("%d %s", kc.N, kc.Kind))
	}
	if len(ps) == 0 {
		return s + ", no problems"
	}
	return s + ", problems: " + strings.Join(ps, ", ") + lostNames(rec)
}

// lostNames names the containers a restore lost, each with the hazard row
// that predicted it: "; lost: rmme (moby/moby#46308: started with --rm)".
func lostNames(rec restore.Record) string {
	var names []string
	for _, r := range rec.Results {
		if r.PIDAfter != 0 || r.Kept {
			continue
		}
		n := r.Name
		for _, h := range guard.Hazards {
			if h.ID == r.Hazard {
				n += " (predicted: " + h.Issue + ", " + h.Hits + ")"
			}
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return ""
	}
	return "; lost: " + strings.Join(names, ", ")
}

// nftDNAT is the ports of the DNAT rules in dockerd's table ip
// docker-bridges (nil without an nft reader).
func (e *Env) nftDNAT(ctx context.Context) (map[int]bool, error) {
	if e.NftRules == nil {
		return nil, nil
	}
	r, err := e.NftRules(ctx, "ip")
	return r.DNAT, err
}
