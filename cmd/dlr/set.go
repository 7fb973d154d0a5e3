package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
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

// setKeys is `dlr set` and `dlr unset`: edit daemon.json through the same
// byte-preserving merge, checks, atomic write and lock as enable. Keys a
// reload applies are reloaded and, where /info shows them, verified; keys
// that need a restart are written and reported, and nothing is restarted; a
// restore-breaking change while containers run is refused (exit 3) unless
// --force.
func setKeys(ctx context.Context, h *host, o options, args []string, unset bool, r *report) error {
	edits, err := parseEdits(args, unset)
	if err != nil {
		return err
	}
	unlock, err := h.mutate(ctx, o, r.Command)
	if err != nil {
		return err
	}
	defer unlock()
	obs, touch, err := h.observeForChange(ctx, o, o.config, "", r)
	if err != nil {
		return err
	}
	defer obs.close()
	cfg, err := readConfig(obs.config)
	if err != nil {
		return err
	}
	data, doc := cfg.data, cfg.doc
	for _, e := range edits {
		if e.value == nil {
			data, _ = doc.Remove(e.key)
		} else if data, _, err = doc.Set(e.key, e.value); err != nil {
			return usage("%v", err)
		}
		if doc, err = daemonjson.Parse(data); err != nil {
			return failed("an edit produced an unreadable file (a bug in dlr; nothing was written): %v", err)
		}
	}
	v := h.judge(ctx, obs, data, doc, cfg)
	vr := &validateReport{File: obs.config, Unsafe: v.Unsafe, Unknown: v.Unknown, Notes: v.Notes, Changes: changeReports(guard.Diff(cfg.doc, doc))}
	r.Validate = vr
	if len(vr.Changes) == 0 && string(data) == string(cfg.data) {
		r.note("%s already says so; nothing written", obs.config)
		if o.dryRun {
			return nil
		}
		// An earlier run that was interrupted after writing the same change
		// left its pending mark (and maybe a temp file of the state): this
		// run finishes it.
		store := state.Store{Dir: h.stateDir}
		if st, err := store.Load(); err == nil && st.Pending != nil {
			r.warn("an earlier dlr %s (PID %d) was interrupted at step %q; the file already holds its change, so this run finishes it", st.Pending.Op, st.Pending.PID, st.Pending.Step)
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
	case (len(v.Unsafe) > 0 || len(v.Unknown) > 0) && !o.force:
		return refused("the change is unsafe for live restore (see above); nothing written. --force writes it anyway")
	case len(v.Unsafe) > 0 || len(v.Unknown) > 0:
		r.warn("--force: writing a change dlr considers unsafe for live restore")
	}
	changes := guard.Diff(cfg.doc, doc)
	if o.dryRun {
		r.diff(obs.config, unifiedDiff(obs.config, cfg.data, data, cfg.exists, true))
		r.action("write %s", obs.config)
		if touch && obs.active && hasClass(changes, guard.Reload) {
			r.action("reload %s and verify", obs.svcName)
		}
		return nil
	}
	st, err := state.Store{Dir: h.stateDir}.Load()
	if err != nil {
		return failed("%v", err)
	}
	tx := newTxn(h, obs, cfg, st, r, r.Command)
	reload := touch && obs.active && hasClass(changes, guard.Reload)
	// dockerd's reload applies only the keys present in the file: a removed
	// reloadable key would keep its old value in the running daemon. Such a
	// key is first written with dockerd's default and reloaded, then
	// removed (absent means the default: no second reload).
	interim, idoc := data, doc
	if reload {
		for _, e := range edits {
			def, ok := reloadDefaults[e.key]
			if e.value != nil || !ok {
				continue
			}
			if interim, _, err = idoc.Set(e.key, []byte(def)); err == nil {
				idoc, err = daemonjson.Parse(interim)
			}
			if err != nil {
				return failed("%v", err)
			}
		}
	}
	if err := tx.writeConfig(interim, false); err != nil {
		return tx.undo(ctx, err)
	}
	if reload {
		if err := tx.reloadSettings(ctx, changes, idoc); err != nil {
			return tx.undo(ctx, err)
		}
		if string(interim) != string(data) {
			if err := tx.writeConfig(data, false); err != nil {
				return tx.undo(ctx, err)
			}
		}
	} else if hasClass(changes, guard.Reload) {
		r.note("dockerd is not running or --no-reload: the change applies when it next starts or reloads")
	}
	var restart []string
	for _, c := range changes {
		if c.Class != guard.Reload {
			restart = append(restart, c.Key)
		}
	}
	if len(restart) > 0 {
		r.note("restart docker to apply: %s (a reload does not apply them; dlr does not restart dockerd)", strings.Join(restart, ", "))
	}
	if err := tx.commit(); err != nil {
		return failed("%v", err)
	}
	r.Changed = true
	return nil
}

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

// reloadSettings reloads dockerd after a `dlr set` and checks the result: a
// configuration error in dockerd's log fails at once; settings that /info
// shows (live-restore, debug, labels, default-runtime, registry-mirrors) must
// show the new values within the verify timeout.
func (t *txn) reloadSettings(ctx context.Context, changes []guard.Change, doc *daemonjson.Doc) error {
	h, obs := t.h, t.obs
	since := h.now()
	if err := t.reload(ctx); err != nil {
		return err
	}
	t.r.action("reloaded %s (nothing was restarted)", obs.svcName)
	vctx, cancel := context.WithTimeout(ctx, h.verifyTimeout)
	defer cancel()
	nextLog := time.Now().Add(250 * time.Millisecond)
	var poll backoff
	for {
		i, err := h.info(vctx, obs)
		if err == nil {
			if bad := unapplied(changes, doc, i); len(bad) == 0 && time.Now().After(nextLog) {
				// Also give dockerd's log a moment: some keys cannot be
				// read back, and a rejection shows only there.
				for _, l := range h.journal(vctx, obs.svcName, since) {
					if strings.Contains(strings.ToLower(l), "configur") {
						return fmt.Errorf("dockerd rejected the new configuration: %s", l)
					}
				}
				t.r.action("verified: dockerd applied %s", keysOf(changes, guard.Reload))
				return nil
			}
		}
		select {
		case <-vctx.Done():
			msg := fmt.Sprintf("dockerd did not apply %s within %s", keysOf(changes, guard.Reload), h.verifyTimeout)
			if lines := h.journal(context.WithoutCancel(ctx), obs.svcName, since); len(lines) > 0 {
				msg += "; its log says: " + strings.Join(lines, " | ")
			}
			return fmt.Errorf("%s", msg)
		case <-time.After(poll.next()):
		}
	}
}

// unapplied returns the reloadable keys whose new value /info does not show
// yet (keys /info cannot show are not listed).
func unapplied(changes []guard.Change, doc *daemonjson.Doc, i daemonInfo) []string {
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

// snapshotName is the copy of daemon.json taken when dockerd starts.
const snapshotName = "started-with.json"

// snapshot is `dlr snapshot`, run by dlr's docker.service drop-in as
// ExecStartPre=-: it copies daemon.json as dockerd is about to read it, so
// that dlr knows later what the running daemon uses. It never touches the
// Docker socket (dockerd is not up yet, and docker.socket would start it),
// never blocks, and its failure cannot fail the start (the "-").
func snapshot(ctx context.Context, h *host, o options, r *report) error {
	// With --config (as dlr's drop-in passes it) no D-Bus call is made:
	// this runs while docker.service starts.
	path := o.config
	if path == "" {
		obs, err := h.observe(ctx, o.config, false)
		if err != nil {
			return err
		}
		obs.close()
		path = obs.config
	}
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return failed("reading %s: %v", path, errText(err))
	}
	st := state.Store{Dir: h.stateDir}
	if err := st.SaveFile(snapshotName, b); err != nil {
		return failed("%v", err)
	}
	r.action("recorded %s as dockerd starts with it (%s)", path, filepath.Join(h.stateDir, snapshotName))
	return nil
}
