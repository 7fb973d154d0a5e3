package ops

import (
	"context"
	"sort"
	"strings"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
)

// PreflightReport is the result of `dlr preflight`: the packages of the
// transaction that are Docker's, and the findings (one per daemon, then
// one per running container).
type PreflightReport struct {
	Changes []guard.PkgChange `json:"changes"`
	CheckReport
}

// dockerPackages are the packages `dlr preflight` asks apt about.
var dockerPackages = []string{"containerd", "containerd.io", "docker-ce", "docker.io", "moby-engine", "runc"}

// Preflight is `dlr preflight`: before a change of Docker's packages, what
// it will do to each running container, from the candidate versions and
// the host's restart path. It changes nothing; it exits 3 when a finding
// FAILs (the apt hook then stops the transaction under STRICT=yes). The
// transaction is apt's hook protocol on stdin (o.AptHook), else the
// package files, else apt's candidates.
func Preflight(ctx context.Context, e *Env, o Options, files []string, r *Report) error {
	var changes []guard.PkgChange
	var err error
	switch {
	case o.AptHook:
		var notes []string
		changes, notes, err = host.ParseAptHook(e.Stdin, guard.DockerPackage)
		for _, n := range notes {
			r.Note("%s", n)
		}
	case len(files) > 0:
		changes, err = e.PackageFiles(ctx, files)
	default:
		changes, err = e.AptCandidates(ctx, dockerPackages)
	}
	if err != nil {
		return failed("%v", err)
	}
	scripts := e.packageRoles(ctx, changes, files, r)
	// apt gives its own order (dependencies first): one order for a person
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].Package < changes[j].Package })
	t := guard.Transaction{Changes: []guard.PkgChange{}, Scripts: scripts}
	for _, c := range changes {
		if _, read := scripts[c.Package]; read || guard.DockerPackage(c.Package) {
			t.Changes = append(t.Changes, c)
		}
	}
	p := &PreflightReport{Changes: t.Changes}
	r.Preflight = p
	if len(t.Changes) == 0 {
		if !o.AptHook {
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
			t.Props = map[string]guard.Props{}
			for _, c := range cs {
				t.Containers = append(t.Containers, c.Name)
				t.Props[c.Name] = c.Props
			}
		}
	}
	if cfg, err := host.ReadConfig(f.Config); err == nil {
		t.Host = hostProps(cfg)
	}
	t.Bond = e.containerdBond(f)
	t.DockerIORestart = e.ReadDebconfQuestion("docker.io/restart").Restarts()
	for _, fd := range guard.Preflight(t) {
		p.add(fd)
	}
	if p.Fails > 0 {
		return refused("%d finding(s) failed: this change would cost running containers", p.Fails)
	}
	return nil
}

// containerdBond is the containerd-bond finding for the host (dlr check's
// item; preflight asks it too).
func (e *Env) containerdBond(f *host.Facts) guard.Finding {
	u := f.Unit
	if u == nil {
		return guard.Finding{Rule: "containerd-bond", Severity: guard.Skip, Title: "containerd restarts leave dockerd running", Message: "docker.service not readable from systemd"}
	}
	return guard.ContainerdBond(u.Requires, u.BindsTo, u.PartOf, u.Requisite, e.DependencySources(u, guard.ContainerdService))
}

// packageRoles reads what each package of the transaction restarts from
// its own maintainer scripts (guard.ScriptRole): from the files given
// (changes[i] is files[i]), else from the .deb apt downloaded. A package
// whose scripts cannot be read, or name no unit of Docker's, is left to
// guard.Roles (its name); a note says so for Docker's packages.
func (e *Env) packageRoles(ctx context.Context, changes []guard.PkgChange, files []string, r *Report) map[string]guard.Role {
	roles := map[string]guard.Role{}
	var notDownloaded []string
	defer func() {
		switch len(notDownloaded) {
		case 0:
		case 1:
			r.Note("no .deb of %s in %s (apt has not downloaded it), so its scripts were not read: judged by the package's name (apt-get install --download-only first, and dlr preflight reads what it does)", notDownloaded[0], host.AptArchives)
		default:
			r.Note("no .deb of %s in %s (apt has not downloaded them), so their scripts were not read: judged by the package names (apt-get install --download-only first, and dlr preflight reads what they do)", strings.Join(notDownloaded, ", "), host.AptArchives)
		}
	}()
	for i, c := range changes {
		if c.Remove {
			continue
		}
		file := ""
		if len(files) == len(changes) {
			file = files[i]
		} else if file = e.AptArchive(c.Package, c.New); file == "" {
			if guard.DockerPackage(c.Package) {
				notDownloaded = append(notDownloaded, c.Package+" "+c.New)
			}
			continue
		}
		s, err := e.PackageScripts(ctx, file, c.Package, c.Old != "")
		if err != nil {
			if guard.DockerPackage(c.Package) {
				r.Note("%s: its scripts could not be read (%v): judged by its name", c.Package, err)
			}
			continue
		}
		if role, ok := guard.ScriptRole(s); ok {
			roles[c.Package] = role
		}
	}
	return roles
}
