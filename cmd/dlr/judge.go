package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/state"
)

// verdict is what dlr makes of a candidate daemon.json: reasons it is unsafe
// (each naming a key and what to do instead), things it could not tell, and
// the changes relative to what the running daemon uses.
type verdict struct {
	Unsafe  []string       `json:"unsafe"`
	Unknown []string       `json:"unknown"`
	Notes   []string       `json:"notes"`
	Changes []guard.Change `json:"-"`
	// Invalid is set when dockerd itself would refuse the file (syntax,
	// unknown keys, flag conflicts): no --force can make that safe.
	Invalid bool `json:"-"`
}

// judge checks candidate (bytes and parsed) for replacing the live
// daemon.json:
//
//  1. dockerd would accept it: `dockerd --validate --config-file FILE` with
//     the unit's own flags where the installed dockerd has it (23.0 and
//     later), so flag/file conflicts show; otherwise dlr's own checks
//     (keys Docker 20.10 knows, keys also given as flags).
//  2. It keeps "live-restore": true while dlr manages it.
//  3. It changes no restore-breaking key relative to what the running
//     daemon uses (the file as it was when dockerd last started, recorded
//     by dlr's drop-in, else the current file) while containers run.
func (h *host) judge(ctx context.Context, obs *observed, candidate []byte, cdoc *daemonjson.Doc, current *configFile) verdict {
	var v verdict
	h.checkWithDockerd(ctx, obs, candidate, cdoc, &v)

	st, err := state.Store{Dir: h.stateDir}.Load()
	if err == nil && st.DaemonJSON != nil {
		if lr, _ := cdoc.LiveRestore(); !lr {
			v.Unsafe = append(v.Unsafe, `live-restore: the file drops "live-restore": true, which dlr manages on this host; keep it (or run 'dlr disable' first)`)
		}
	}

	base, baseName := h.baseline(current)
	v.Changes = guard.Diff(base, cdoc)
	breaking := guard.Breaking(v.Changes)
	if len(breaking) == 0 {
		return v
	}
	running, known := h.runningContainers(ctx, obs)
	for _, c := range breaking {
		switch {
		case !known:
			v.Unknown = append(v.Unknown, fmt.Sprintf("%s: %s -> %s would break live restore if containers are running (%s), and dlr cannot tell whether they are: %s", c.Key, show(c.Old), show(c.New), c.Why, running))
		case running != "0":
			v.Unsafe = append(v.Unsafe, fmt.Sprintf("%s: %s -> %s (against %s) while %s containers run: %s. Stop the containers first, or make this change in a maintenance window with a full restart", c.Key, show(c.Old), show(c.New), baseName, running, c.Why))
		default:
			v.Notes = append(v.Notes, fmt.Sprintf("%s changes (%s -> %s); no container is running, so a restart applies it cleanly", c.Key, show(c.Old), show(c.New)))
		}
	}
	return v
}

func show(v []byte) string {
	if v == nil {
		return "(absent)"
	}
	return string(v)
}

// baseline returns what the running daemon uses: the snapshot dlr's drop-in
// took when dockerd last started, or else the current file.
func (h *host) baseline(current *configFile) (*daemonjson.Doc, string) {
	if b, err := os.ReadFile(filepath.Join(h.stateDir, snapshotName)); err == nil {
		if d, err := daemonjson.Parse(b); err == nil {
			return d, "the file dockerd started with"
		}
	}
	if current != nil {
		return current.doc, "the current " + current.path
	}
	d, _ := daemonjson.Parse(nil)
	return d, "an empty configuration"
}

// runningContainers returns how many containers run, as a string, and
// whether it is known. dockerd not running counts as unknown: with live
// restore, its containers may well still be running.
func (h *host) runningContainers(ctx context.Context, obs *observed) (string, bool) {
	if !obs.active {
		return "dockerd is not running", false
	}
	i, err := h.info(ctx, obs)
	if err != nil {
		return "the Docker API does not answer: " + err.Error(), false
	}
	return fmt.Sprint(i.Running), true
}

// checkWithDockerd asks the installed dockerd whether it accepts the file,
// falling back to dlr's own checks for dockerd older than 23.0.
func (h *host) checkWithDockerd(ctx context.Context, obs *observed, candidate []byte, cdoc *daemonjson.Doc, v *verdict) {
	dockerd, args := "dockerd", []string(nil)
	if len(obs.unitCmd.args) > 0 {
		dockerd, args = obs.unitCmd.args[0], withoutConfigFile(obs.unitCmd.args[1:])
	}
	if h.dockerdValidate != nil {
		out, supported, err := h.dockerdValidate(ctx, dockerd, args, candidate)
		switch {
		case err != nil && supported:
			v.Invalid = true
			v.Unsafe = append(v.Unsafe, "dockerd --validate refuses it: "+out)
			return
		case supported:
			v.Notes = append(v.Notes, "dockerd --validate: "+out)
			return
		}
	}
	for _, k := range cdoc.Keys() {
		if !guard.Known20(k) {
			v.Invalid = true
			v.Unsafe = append(v.Unsafe, fmt.Sprintf("%s: not a key this dockerd knows; it would refuse to start (\"the following directives don't match any configuration option\"). Remove it", k))
		}
	}
	flags := map[string]bool{}
	for _, c := range obs.flagSources() {
		for _, k := range guard.FlagKeys(c.args[1:]) {
			flags[k] = true
		}
	}
	for _, k := range cdoc.Keys() {
		if flags[k] {
			v.Invalid = true
			v.Unsafe = append(v.Unsafe, fmt.Sprintf("%s: also given as a dockerd flag; dockerd would refuse to start (\"specified both as a flag and in the configuration file\"). Set it in one place only", k))
		}
	}
}

func withoutConfigFile(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--config-file" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--config-file=") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// runDockerdValidate runs `dockerd --validate --config-file FILE ARGS` on a
// private copy of the candidate. supported is false when this dockerd has no
// --validate (before 23.0) or cannot be run.
func runDockerdValidate(ctx context.Context, dockerd string, args []string, candidate []byte) (string, bool, error) {
	dir, err := os.MkdirTemp("", "dlr-validate-")
	if err != nil {
		return "", false, err
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "daemon.json")
	if _, err := atomicfile.Replace(f, candidate, atomicfile.Options{Mode: 0o600}); err != nil {
		return "", false, err
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	cmdArgs := append([]string{"--validate", "--config-file", f}, args...)
	out, err := exec.CommandContext(ctx, dockerd, cmdArgs...).CombinedOutput()
	text := strings.TrimSpace(string(out))
	var ee *exec.ExitError
	switch {
	case err == nil:
		return text, true, nil
	case errors.As(err, &ee) && (strings.Contains(text, "unknown flag: --validate") || strings.Contains(text, "flag provided but not defined")):
		return text, false, nil
	case errors.As(err, &ee):
		return lastLine(text), true, err
	}
	return err.Error(), false, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
