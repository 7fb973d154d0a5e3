package ops

import (
	"context"
	"fmt"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/host"
)

// Validate is `dlr validate FILE`, for config management (Ansible
// validate:, Puppet validate_cmd, Chef verify, Salt check_cmd): exit 0 only
// if FILE can safely replace the live daemon.json; 3 if it is unsafe; 1 if
// dlr cannot tell (--if-unknown=pass makes that 0). It changes nothing.
func Validate(ctx context.Context, e *Env, o Options, file string, r *Report) error {
	r.Validate = &ValidateReport{File: file, Unsafe: []string{}, Unknown: []string{}, Notes: []string{}, Changes: []ChangeReport{}}
	data, err := host.ReadFile(file)
	if err != nil {
		return failed("%v", err)
	}
	doc, err := daemonjson.Parse(data)
	if err != nil {
		r.Validate.Unsafe = append(r.Validate.Unsafe, fmt.Sprintf("%s: %v", file, err))
		return refused("%s is unsafe: dockerd could not read it", file)
	}
	for _, w := range doc.Warnings {
		r.Warn("%s: %s", file, w)
	}
	f, err := e.Observe(ctx, o.Config, false)
	if err != nil {
		return failed("%v", err)
	}
	defer f.Close()
	r.Config, r.ConfigSource = f.Config, f.ConfigSource
	current, err := host.ReadConfig(f.Config)
	if err != nil {
		r.Warn("the live %v; comparing against an empty configuration", err)
		current = nil
	}
	vr := validateReport(file, e.judge(ctx, f, data, doc, current))
	r.Validate = vr
	switch {
	case len(vr.Unsafe) > 0:
		return refused("%s is unsafe to install (%d reason(s))", file, len(vr.Unsafe))
	case len(vr.Unknown) > 0 && o.IfUnknown != "pass":
		return failed("cannot tell whether %s is safe to install (--if-unknown=pass accepts that)", file)
	}
	vr.Safe = true
	return nil
}
