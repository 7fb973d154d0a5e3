package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
)

// validateReport is the result of `dlr validate` (and the check part of
// `dlr set`).
type validateReport struct {
	File    string         `json:"file"`
	Safe    bool           `json:"safe"`
	Unsafe  []string       `json:"unsafe"`
	Unknown []string       `json:"unknown"`
	Notes   []string       `json:"notes"`
	Changes []changeReport `json:"changes"`
}

type changeReport struct {
	Key   string `json:"key"`
	Class string `json:"class"` // "reload", "restart" or "breaks-restore"
	Old   string `json:"old"`   // JSON text, "" when absent
	New   string `json:"new"`
}

func changeReports(cs []guard.Change) []changeReport {
	out := []changeReport{}
	for _, c := range cs {
		out = append(out, changeReport{Key: c.Key, Class: c.Class.String(), Old: string(c.Old), New: string(c.New)})
	}
	return out
}

// validate is `dlr validate FILE`, for config management (Ansible
// validate:, Puppet validate_cmd, Chef verify, Salt check_cmd): exit 0 only
// if FILE can safely replace the live daemon.json; 3 if it is unsafe; 1 if
// dlr cannot tell (--if-unknown=pass makes that 0). It changes nothing.
func validate(ctx context.Context, h *host, o options, file string, r *report) error {
	vr := &validateReport{File: file, Unsafe: []string{}, Unknown: []string{}, Notes: []string{}, Changes: []changeReport{}}
	r.Validate = vr
	data, err := os.ReadFile(file)
	if err != nil {
		return failed("reading %s: %v", file, errText(err))
	}
	cdoc, err := daemonjson.Parse(data)
	if err != nil {
		vr.Unsafe = append(vr.Unsafe, fmt.Sprintf("%s: %v", file, err))
		return refused("%s is unsafe: dockerd could not read it", file)
	}
	for _, w := range cdoc.Warnings {
		r.warn("%s: %s", file, w)
	}
	obs, err := h.observe(ctx, o.config, false)
	if err != nil {
		return err
	}
	defer obs.close()
	r.Config, r.ConfigSource = obs.config, obs.configSource
	current, err := readConfig(obs.config)
	if err != nil {
		r.warn("the live %v; comparing against an empty configuration", err)
		current = nil
	}
	v := h.judge(ctx, obs, data, cdoc, current)
	vr.Unsafe = append(vr.Unsafe, v.Unsafe...)
	vr.Unknown = append(vr.Unknown, v.Unknown...)
	vr.Notes = append(vr.Notes, v.Notes...)
	vr.Changes = changeReports(v.Changes)
	switch {
	case len(v.Unsafe) > 0:
		return refused("%s is unsafe to install (%d reason(s))", file, len(v.Unsafe))
	case len(v.Unknown) > 0 && o.ifUnknown != "pass":
		return failed("cannot tell whether %s is safe to install (--if-unknown=pass accepts that)", file)
	}
	vr.Safe = true
	return nil
}

func (v *validateReport) writeText(w io.Writer) {
	for _, u := range v.Unsafe {
		fmt.Fprintf(w, "UNSAFE   %s\n", u)
	}
	for _, u := range v.Unknown {
		fmt.Fprintf(w, "UNKNOWN  %s\n", u)
	}
	for _, c := range v.Changes {
		fmt.Fprintf(w, "change   %s: %s -> %s (%s)\n", c.Key, orAbsent(c.Old), orAbsent(c.New), c.Class)
	}
	for _, n := range v.Notes {
		fmt.Fprintf(w, "note     %s\n", n)
	}
	if v.Safe {
		fmt.Fprintf(w, "%s: safe to install\n", v.File)
	}
}

func orAbsent(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(absent)"
	}
	return s
}
