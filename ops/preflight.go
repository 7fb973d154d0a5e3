package ops

import (
	"context"
	"io"
	"sort"
	"strings"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// PreflightReport is the result of `dlr preflight`: the packages of the
// transaction that are Docker's, and the findings (one per daemon, then
// one per running container).
type PreflightReport struct {
	Changes []host.PackageChange `json:"changes"`
	CheckReport
}

// PreflightInput says where the transaction comes from: apt's hook
// protocol on AptHook, else the package files, else apt's candidates.
type PreflightInput struct {
	AptHook io.Reader
	Files   []string
}

// dockerPackages are the packages `dlr preflight` asks apt about.
var dockerPackages = []string{"containerd", "containerd.io", "docker-ce", "docker.io", "moby-engine", "runc"}

// Preflight is `dlr preflight`: before a change of Docker's packages, what
// it will do to each running container, from the candidate versions and
// the host's restart path. It changes nothing; it exits 3 when a finding
// FAILs (the apt hook then stops the transaction under STRICT=yes).
func Preflight(ctx context.Context, e *Env, o Options, in PreflightInput, r *Report) error {
	var changes []host.PackageChange
	var err error
	switch {
	case in.AptHook != nil:
		changes, err = host.ParseAptHook(in.AptHook, guard.DockerPackage)
	case len(in.Files) > 0:
		changes, err = e.PackageFiles(ctx, in.Files)
	default:
		changes, err = e.AptCandidates(ctx, dockerPackages)
	}
	if err != nil {
		return failed("%v", err)
	}
	// apt gives its own order (dependencies first): one order for a person
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Package < changes[j].Package })
	p := &PreflightReport{Changes: []host.PackageChange{}}
	r.Preflight = p
	t := guard.Transaction{}
	for _, c := range changes {
		if guard.DockerPackage(c.Package) {
			p.Changes = append(p.Changes, c)
			t.Changes = append(t.Changes, guard.PkgChange{Package: c.Package, Old: c.Old, New: c.New, Remove: c.Remove})
		}
	}
	if len(t.Changes) == 0 {
		if in.AptHook == nil {
			r.Note("no change of Docker's packages (%s)", strings.Join(dockerPackages, ", "))
		}
		return nil // nothing of Docker's: no question asked of the host
	}
	f, err := e.Observe(ctx, o.Config, false)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	r.Config, r.ConfigSource = f.Config, f.ConfigSource
	if f.Active {
		i, err := e.Info(ctx, f.Socket)
		if err != nil {
			return failed("the running dockerd did not answer, so its containers cannot be judged: %v", err)
		}
		t.Dockerd, t.LiveRestore = i.Version, i.LiveRestore
		if e.Containers != nil {
			cs, err := e.Containers(ctx, f.Socket)
			if err != nil {
				return failed("listing the running containers: %v", err)
			}
			for _, c := range cs {
				t.Containers = append(t.Containers, c.Name)
			}
		}
	}
	t.Bond = e.containerdBond(ctx, f)
	t.DockerIORestart = e.debconfRestart()
	for _, fd := range guard.Preflight(t) {
		p.add(fd)
	}
	if p.Fails > 0 {
		return refused("%d finding(s) failed: this change would cost running containers", p.Fails)
	}
	return nil
}

// containerdBond is dlr check's containerd-bond finding for the host.
func (e *Env) containerdBond(_ context.Context, f *host.Facts) guard.Finding {
	u := f.Unit
	if u == nil {
		return guard.Finding{Severity: guard.Skip}
	}
	return guard.ContainerdBond(u.Requires, u.BindsTo, u.PartOf, u.Requisite, e.DependencySources(u, guard.ContainerdService))
}

// debconfRestart: Ubuntu's docker.io restarts dockerd on upgrade when its
// debconf question docker.io/restart is true.
func (e *Env) debconfRestart() bool {
	q := e.ReadDebconfQuestion("docker.io/restart")
	return q.Found && q.Value == "true"
}
