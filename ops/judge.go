package ops

import (
	"context"
	"fmt"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/state"
)

// judge asks guard.Judge about a candidate daemon.json, after gathering
// what the rule needs from the host: dockerd's own --validate (23.0 and
// later), whether dlr manages live restore, what the running daemon uses,
// and (only if a change would break live restore) how many containers run.
func (e *Env) judge(ctx context.Context, f *host.Facts, candidate []byte, doc *daemonjson.Doc, current *host.Config) guard.Verdict {
	c := guard.Candidate{Doc: doc, Flags: flags(f), NftFound: e.NftInstalled()}
	if e.DockerdValidate != nil {
		d := f.Dockerd()
		out, supported, err := e.DockerdValidate(ctx, d.Args[0], d.WithoutConfigFile(), candidate)
		c.Validated, c.Refused, c.Output = supported, supported && err != nil, out
		c.NoDockerd = !supported && err != nil
	}
	switch st, err := (state.Store{Dir: e.Path(host.StateDir)}).Load(); {
	case err != nil:
		c.ManagedUnknown = "cannot read dlr's state (" + err.Error() + "), so dlr cannot tell whether it manages live-restore here (run as root)"
	case st.DaemonJSON != nil:
		c.Managed = true
	}
	c.Base, c.BaseName = e.baseline(current)
	c.Running = func() (int, bool, string) {
		if !f.Active {
			return 0, false, "dockerd is not running"
		}
		i, err := e.Info(ctx, f.Socket)
		if err != nil {
			return 0, false, "the Docker API does not answer: " + err.Error()
		}
		return i.Running, true, fmt.Sprint(i.Running)
	}
	return guard.Judge(c)
}

// validateReport fills a validate report from a verdict.
func validateReport(file string, v guard.Verdict) *ValidateReport {
	vr := &ValidateReport{File: file, Unsafe: []string{}, Unknown: []string{}, Notes: []string{}, Changes: changeReports(v.Changes)}
	for _, f := range v.Findings {
		switch f.Severity {
		case guard.Fail:
			vr.Unsafe = append(vr.Unsafe, f.Message)
		case guard.Warn:
			vr.Unknown = append(vr.Unknown, f.Message)
		default:
			vr.Notes = append(vr.Notes, f.Message)
		}
	}
	return vr
}
