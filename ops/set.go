package ops

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/plan"
	"github.com/docker-liverestore/dlr/state"
)

// edit is one KEY=VALUE (set) or KEY (unset).
type edit struct {
	key   string
	value []byte // JSON; nil to remove the key
}

// parseEdits reads `dlr set` arguments: KEY=VALUE, where VALUE is JSON if it
// parses as JSON (true, 3, ["a"], {"k": "v"}, "s") and a string otherwise
// (bip=10.10.0.1/24).
func parseEdits(args []string, unset bool) ([]edit, error) {
	if len(args) == 0 {
		return nil, usage("name at least one key")
	}
	var out []edit
	for _, a := range args {
		if unset {
			if a == "" || strings.Contains(a, "=") {
				return nil, usage("dlr unset takes key names, not %q", a)
			}
			out = append(out, edit{key: a})
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return nil, usage("%q is not KEY=VALUE", a)
		}
		val := []byte(v)
		if !json.Valid(val) {
			val, _ = json.Marshal(v)
		} else {
			var buf strings.Builder
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			var x any
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			dec.Decode(&x)
			enc.Encode(x)
			val = []byte(strings.TrimSpace(buf.String()))
		}
		out = append(out, edit{key: k, value: val})
	}
	return out, nil
}

// Set is `dlr set` and `dlr unset`: edit daemon.json through the same
// byte-preserving merge, checks, atomic write and lock as enable. Keys a
// reload applies are reloaded and, where /info shows them, verified; keys
// that need a restart are written and reported, and nothing is restarted; a
// restore-breaking change while containers run is refused (exit 3) unless
// --force.
func Set(ctx context.Context, e *Env, o Options, args []string, unset bool, r *Report) error {
	edits, err := parseEdits(args, unset)
	if err != nil {
		return err
	}
	unlock, err := e.mutate(ctx, o, r.Command)
	if err != nil {
		return err
	}
	defer unlock()
	f, live, err := e.observeForChange(ctx, o, o.Config, "", r)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, err := readConfig(f.Config)
	if err != nil {
		return err
	}
	data, doc := cfg.Data, cfg.Doc
	for _, ed := range edits {
		if ed.value == nil {
			data, _ = doc.Remove(ed.key)
		} else if data, _, err = doc.Set(ed.key, ed.value); err != nil {
			return usage("%v", err)
		}
		if doc, err = daemonjson.Parse(data); err != nil {
			// The value is the user's: what Parse refuses in the result
			// (live-restore="true", a number out of range) is theirs to fix.
			return usage("%s=%s: dockerd could not read the result: %v; nothing was written", ed.key, ed.value, err)
		}
	}
	if len(data) > daemonjson.MaxSize {
		return usage("the result would be %d bytes, more than the %d dlr reads (and writes); nothing was written", len(data), daemonjson.MaxSize)
	}
	v := e.judge(ctx, f, data, doc, cfg)
	vr := validateReport(f.Config, v)
	changes := guard.Diff(cfg.Doc, doc)
	vr.Changes = changeReports(changes)
	r.Validate = vr
	store := state.Store{Dir: e.Path(host.StateDir)}
	if len(changes) == 0 && string(data) == string(cfg.Data) {
		r.Note("%s already says so; nothing written", f.Config)
		if o.DryRun {
			return nil
		}
		// An earlier run that was interrupted after writing the same change
		// left its pending mark (and maybe a temp file of the state): this
		// run finishes it.
		if st, err := store.Load(); err == nil && st.Pending != nil {
			r.Warn("an earlier dlr %s (PID %d) was interrupted at step %q; the file already holds its change, so this run finishes it", st.Pending.Op, st.Pending.PID, st.Pending.Step)
			st.Pending = nil
			if err := store.Save(st); err != nil {
				return failed("%v", err)
			}
		}
		return nil
	}
	switch {
	case v.Invalid:
		return refused("dockerd would refuse the result; nothing written")
	case (len(vr.Unsafe) > 0 || len(vr.Unknown) > 0) && !o.Force:
		return refused("the change is unsafe for live restore (see above); nothing written. --force writes it anyway")
	case len(vr.Unsafe) > 0 || len(vr.Unknown) > 0:
		r.Warn("--force: writing a change dlr considers unsafe for live restore")
	}
	steps, err := setPlan(f, cfg, edits, changes, data, doc, live, r)
	if err != nil {
		return err
	}
	if o.DryRun {
		plan.Describe(r, steps)
		return nil
	}
	st, err := store.Load()
	if err != nil {
		return failed("%v", err)
	}
	x := plan.NewExec(e.Env, f, cfg, st, r, r.Command, live)
	if err := x.Run(ctx, steps); err != nil {
		return err
	}
	if err := x.Commit(); err != nil {
		return failed("%v", err)
	}
	r.Changed = true
	return nil
}

// setPlan is the steps of a set: write, reload and verify what a reload
// applies; keys that need a restart are only reported.
func setPlan(f *host.Facts, cfg *host.Config, edits []edit, changes []guard.Change, data []byte, doc *daemonjson.Doc, live bool, r *Report) ([]plan.Step, error) {
	reload := live && f.Active && hasClass(changes, guard.Reload)
	// dockerd's reload applies only the keys present in the file: a removed
	// reloadable key would keep its old value in the running daemon. Such a
	// key is first written with dockerd's default and reloaded, then
	// removed (absent means the default: no second reload).
	interim, idoc := data, doc
	if reload {
		for _, ed := range edits {
			def, ok := reloadDefaults[ed.key]
			if ed.value != nil || !ok {
				continue
			}
			var err error
			if interim, _, err = idoc.Set(ed.key, []byte(def)); err == nil {
				idoc, err = daemonjson.Parse(interim)
			}
			if err != nil {
				return nil, failed("%v", err)
			}
		}
	}
	first := plan.NewWriteConfig(cfg, interim, false, "")
	steps := []plan.Step{first}
	switch {
	case reload:
		keys := keysOf(changes, guard.Reload)
		steps = append(steps, plan.Reload{How: f.ReloadHow(), V: plan.Verify{
			What:   keys + " applied",
			Done:   func(i host.Info) bool { return len(unapplied(changes, idoc, i)) == 0 },
			Settle: settle,
		}})
		if string(interim) != string(data) {
			first.Interim, first.What = true, "defaults for the removed keys"
			steps = append(steps, plan.NewWriteConfig(cfg, data, false, "").After(first))
		}
	case hasClass(changes, guard.Reload):
		r.Note("dockerd is not running or --no-reload: the change applies when it next starts or reloads")
	}
	var restart []string
	for _, c := range changes {
		if c.Class != guard.Reload {
			restart = append(restart, c.Key)
		}
	}
	if len(restart) > 0 {
		r.Note("restart docker to apply: %s (a reload does not apply them; dlr does not restart dockerd)", strings.Join(restart, ", "))
	}
	return steps, nil
}

// settle is how long a set waits, after the reload, before it believes
// /info: some keys cannot be read back, and a rejection shows only in
// dockerd's log.
const settle = 250 * time.Millisecond

// reloadDefaults are dockerd's defaults for reloadable keys whose removal a
// reload would otherwise not apply.
var reloadDefaults = map[string]string{
	"live-restore":                     "false",
	"debug":                            "false",
	"labels":                           "[]",
	"registry-mirrors":                 "[]",
	"insecure-registries":              "[]",
	"allow-nondistributable-artifacts": "[]",
	"shutdown-timeout":                 "15",
	"default-runtime":                  `"runc"`,
}

func hasClass(cs []guard.Change, c guard.Class) bool {
	return slices.ContainsFunc(cs, func(x guard.Change) bool { return x.Class == c })
}

// unapplied returns the reloadable keys whose new value /info does not show
// yet (keys /info cannot show are not listed).
func unapplied(changes []guard.Change, doc *daemonjson.Doc, i host.Info) []string {
	var bad []string
	for _, c := range changes {
		if c.Class != guard.Reload {
			continue
		}
		raw, present := doc.Lookup(c.Key)
		switch c.Key {
		case "live-restore":
			var b bool
			json.Unmarshal(raw, &b)
			if present && b != i.LiveRestore {
				bad = append(bad, c.Key)
			}
		case "debug":
			var b bool
			json.Unmarshal(raw, &b)
			if present && b != i.Debug {
				bad = append(bad, c.Key)
			}
		case "default-runtime":
			var s string
			json.Unmarshal(raw, &s)
			if present && s != i.DefaultRuntime {
				bad = append(bad, c.Key)
			}
		case "registry-mirrors", "labels":
			var want []string
			json.Unmarshal(raw, &want)
			got := i.Mirrors
			if c.Key == "labels" {
				got = i.Labels
			}
			if !sameList(want, got) {
				bad = append(bad, c.Key)
			}
		}
	}
	return bad
}

// sameList compares lists of mirrors or labels the way dockerd normalises
// mirrors (a trailing "/").
func sameList(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if strings.TrimSuffix(a[i], "/") != strings.TrimSuffix(b[i], "/") {
			return false
		}
	}
	return true
}

func keysOf(cs []guard.Change, c guard.Class) string {
	var ks []string
	for _, x := range cs {
		if x.Class == c {
			ks = append(ks, x.Key)
		}
	}
	return strings.Join(ks, ", ")
}
