// Command crashtest is dlr's fault-injection test. It builds dlr, then for
// each cycle lays out a scratch host (daemon.json in one of several shapes),
// runs `dlr enable --no-reload` or `dlr disable --no-reload` against it and
// kills it with SIGKILL after a random delay (0 to a little more than a
// normal run takes, measured first). After each kill it checks:
//
//   - daemon.json parses and is byte-identical to the version before the run
//     or the version after it (absent only where one of them is absent);
//   - the sysctl drop-in is absent or complete; state.json parses; every
//     backup holds a version daemon.json really had;
//   - `dlr status --json` reports a pending step exactly when the state
//     holds one;
//   - running the same command again succeeds, leaves the expected file and
//     no temporary file anywhere under the scratch host;
//   - the state is consistent: after an interrupted enable, `dlr disable`
//     gives back exactly the file there was before; after an interrupted
//     disable, the state no longer claims a change.
//
// It prints where the kills landed and ends with a line
// "crash: N passed, M failed" (CI reads it); the exit status is 1 if any
// cycle failed.
//
//	go run ./tools/crashtest -cycles 1000
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/state"
)

// shape is a daemon.json as found before dlr first runs.
type shape struct {
	name   string
	before []byte // nil: no file
	noDir  bool   // /etc/docker is missing too
	link   bool   // daemon.json is a symlink to ../../srv/docker/daemon.json
}

var shapes = []shape{
	{name: "no-file"},
	{name: "no-dir", noDir: true},
	{name: "absent-key", before: []byte("{\n    \"log-driver\": \"journald\",\n    \"data-root\": \"/srv/docker\"\n}\n")},
	{name: "false-crlf", before: []byte("{\r\n  \"live-restore\": false,\r\n  \"debug\": true\r\n}\r\n")},
	{name: "bom", before: []byte("\xef\xbb\xbf{\n\t\"debug\": true\n}\n")},
	{name: "nested", before: []byte(`{"log-opts": {"max-size": "10m", "labels": "a,b"}, "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]}`)},
	{name: "symlink", link: true, before: []byte("{\n  \"storage-driver\": \"overlay2\"\n}\n")},
}

// setKey and setValue are what the "set" cycles write: a reloadable key
// that no shape has.
const setKey, setValue = "max-concurrent-downloads", "7"

// reference is what an uninterrupted run does to a shape.
type reference struct {
	after    []byte // daemon.json after enable
	setAfter []byte // daemon.json after `dlr set` of setKey
	dropIn   []byte // the sysctl drop-in after enable
	duration map[string][]time.Duration
}

type tester struct {
	dlr     string
	root    string
	rng     *rand.Rand
	verbose bool
	refs    map[string]*reference
	landed  map[string]int
	temps   int // temporary files found right after a kill
}

func main() {
	cycles := flag.Int("cycles", 1000, "number of kill cycles")
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock)")
	dlrBin := flag.String("dlr", "", "dlr binary to test (default: build ./cmd/dlr)")
	verbose := flag.Bool("v", false, "print every cycle")
	flag.Parse()
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	work, err := os.MkdirTemp("", "dlr-crashtest-")
	if err != nil {
		fatal(err)
	}
	cleanup = func() { os.RemoveAll(work) }
	defer cleanup()
	bin := *dlrBin
	if bin == "" {
		bin = filepath.Join(work, "dlr")
		build := exec.Command("go", "build", "-o", bin, "github.com/docker-liverestore/dlr/cmd/dlr")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fatal(fmt.Errorf("building dlr: %w", err))
		}
	}
	t := &tester{dlr: bin, root: filepath.Join(work, "host"), rng: rand.New(rand.NewPCG(*seed, 0x646c72)),
		verbose: *verbose, refs: map[string]*reference{}, landed: map[string]int{}}
	fmt.Printf("crash: seed %d, %d cycles, dlr %s\n", *seed, *cycles, bin)
	if err := t.calibrate(); err != nil {
		fatal(err)
	}
	passed, failed := 0, 0
	for i := range *cycles {
		sh := shapes[t.rng.IntN(len(shapes))]
		op := []string{"enable", "disable", "set"}[t.rng.IntN(3)]
		if probs := t.cycle(sh, op); len(probs) > 0 {
			failed++
			fmt.Printf("crash: cycle %d (%s, %s) FAILED:\n  %s\n", i, sh.name, op, strings.Join(probs, "\n  "))
		} else {
			passed++
		}
	}
	var keys []string
	for k := range t.landed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println("crash: where the kills landed:")
	for _, k := range keys {
		fmt.Printf("  %-48s %d\n", k, t.landed[k])
	}
	fmt.Printf("crash: temporary files found right after a kill: %d (all removed by the next run)\n", t.temps)
	fmt.Printf("crash: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		cleanup()
		os.Exit(1)
	}
}

// cleanup removes the scratch directory; os.Exit skips deferred calls.
var cleanup = func() {}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "crash:", err)
	fmt.Println("crash: 0 passed, 1 failed")
	cleanup()
	os.Exit(1)
}

func (t *tester) config() string { return filepath.Join(t.root, "etc/docker/daemon.json") }
func (t *tester) target(sh shape) string {
	if sh.link {
		return filepath.Join(t.root, "srv/docker/daemon.json")
	}
	return t.config()
}
func (t *tester) dropIn() string {
	return filepath.Join(t.root, "etc/sysctl.d/60-docker-liverestore.conf")
}
func (t *tester) stateDir() string { return filepath.Join(t.root, "var/lib/docker-liverestore") }

// args point every host path into the scratch host (the hidden --root):
// it has no /run/systemd/system (no systemd) and no dockerd pid file (no
// dockerd), and --no-reload keeps dlr off any daemon.
func (t *tester) args(cmd string) []string {
	a := []string{cmd,
		"--config", t.config(),
		"--root", t.root,
		"--docker-socket", filepath.Join(t.root, "run/docker.sock"),
	}
	switch cmd {
	case "enable", "disable":
		a = append(a, "--no-reload", "--lock-timeout", "5s")
	case "set":
		a = append(a, "--no-reload", "--lock-timeout", "5s", setKey+"="+setValue)
	case "unset":
		a = append(a, "--no-reload", "--lock-timeout", "5s", setKey)
	case "status":
		a = append(a, "--json")
	}
	return a
}

// reset lays out a fresh scratch host with daemon.json in the given shape.
func (t *tester) reset(sh shape) error {
	if err := os.RemoveAll(t.root); err != nil {
		return err
	}
	for _, d := range []string{"etc/docker", "etc/sysctl.d", "proc/sys/fs", "proc/1", "run/lock", "var/lib", "srv/docker"} {
		if sh.noDir && d == "etc/docker" {
			continue
		}
		if err := os.MkdirAll(filepath.Join(t.root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Symlink("/", filepath.Join(t.root, "proc/1/root")); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(t.root, "proc/sys/fs/pipe-max-size"), []byte("1048576\n"), 0o644); err != nil {
		return err
	}
	if sh.link {
		if err := os.Symlink("../../srv/docker/daemon.json", t.config()); err != nil {
			return err
		}
	}
	if sh.before != nil {
		return os.WriteFile(t.target(sh), sh.before, 0o644)
	}
	return nil
}

// run runs dlr to completion (bounded by 20 s) and returns its exit code
// and output.
func (t *tester) run(cmd string) (int, string, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, t.dlr, t.args(cmd)...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	start := time.Now()
	err := c.Run()
	d := time.Since(start)
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), d
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), out.String(), d
	}
	return -1, out.String() + err.Error(), d
}

// calibrate runs every shape without a kill: it records the file enable
// leaves, checks that disable gives back the original bytes, and measures
// how long a run takes.
func (t *tester) calibrate() error {
	var all []time.Duration
	for _, sh := range shapes {
		ref := &reference{duration: map[string][]time.Duration{}}
		for range 5 {
			if err := t.reset(sh); err != nil {
				return err
			}
			code, out, d := t.run("enable")
			if code != 0 {
				return fmt.Errorf("%s: enable: exit %d\n%s", sh.name, code, out)
			}
			ref.duration["enable"] = append(ref.duration["enable"], d)
			all = append(all, d)
			ref.after, _ = os.ReadFile(t.target(sh))
			ref.dropIn, _ = os.ReadFile(t.dropIn())
			code, out, d = t.run("disable")
			if code != 0 {
				return fmt.Errorf("%s: disable: exit %d\n%s", sh.name, code, out)
			}
			ref.duration["disable"] = append(ref.duration["disable"], d)
			all = append(all, d)
			if got, ok := readMaybe(t.target(sh)); !bytes.Equal(got, sh.before) || ok != (sh.before != nil) {
				return fmt.Errorf("%s: enable then disable (no kill) left %q, want %q", sh.name, got, sh.before)
			}
		}
		for range 5 {
			if err := t.reset(sh); err != nil {
				return err
			}
			code, out, d := t.run("set")
			if code != 0 {
				return fmt.Errorf("%s: set: exit %d\n%s", sh.name, code, out)
			}
			ref.duration["set"] = append(ref.duration["set"], d)
			all = append(all, d)
			ref.setAfter, _ = os.ReadFile(t.target(sh))
			if code, out, _ := t.run("unset"); code != 0 {
				return fmt.Errorf("%s: unset: exit %d\n%s", sh.name, code, out)
			}
			if got, _ := readMaybe(t.target(sh)); len(sh.before) > 0 && !bytes.Equal(got, sh.before) {
				return fmt.Errorf("%s: set then unset (no kill) left %q, want %q", sh.name, got, sh.before)
			}
		}
		if _, err := daemonjson.Parse(ref.after); err != nil || len(ref.after) == 0 {
			return fmt.Errorf("%s: enable wrote an unparseable file: %v", sh.name, err)
		}
		t.refs[sh.name] = ref
	}
	slices.Sort(all)
	fmt.Printf("crash: an uninterrupted run takes %v (median), %v (max); a kill lands 0 to the median of its shape and command\n",
		all[len(all)/2].Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))
	return nil
}

func show(b []byte, exists bool) string {
	if !exists {
		return "absent"
	}
	return fmt.Sprintf("%q", b)
}

func readMaybe(p string) ([]byte, bool) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, false
	}
	return b, true
}

// cycle runs one kill cycle and returns the invariant violations.
func (t *tester) cycle(sh shape, op string) (probs []string) {
	ref := t.refs[sh.name]
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if err := t.reset(sh); err != nil {
		return []string{err.Error()}
	}
	// The file before and after the interrupted command.
	before, after := sh.before, ref.after
	if op == "set" {
		after = ref.setAfter
	}
	if op == "disable" {
		if code, out, _ := t.run("enable"); code != 0 {
			return []string{fmt.Sprintf("setup enable: exit %d\n%s", code, out)}
		}
		before, after = ref.after, sh.before
	}

	// The interrupted run.
	ds := slices.Sorted(slices.Values(ref.duration[op]))
	limit := ds[len(ds)/2]
	delay := time.Duration(t.rng.Int64N(int64(limit) + 1))
	c := exec.Command(t.dlr, t.args(op)...)
	if err := c.Start(); err != nil {
		return []string{err.Error()}
	}
	time.Sleep(delay)
	_ = c.Process.Signal(syscall.SIGKILL)
	err := c.Wait()
	killed := false
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			killed = true
		} else {
			bad("the run exited %d before the kill", ee.ExitCode())
		}
	}

	// What it left.
	l := t.look(sh)
	temps := t.tempFiles()
	t.temps += len(temps)
	p, st, isBefore, isAfter := judgeLeft(sh, ref, before, after, l)
	probs = append(probs, p...)
	t.landed[op+": "+landedAt(killed, st, isBefore, isAfter)]++
	where := landedAt(killed, st, isBefore, isAfter)

	// dlr status says whether a step is pending.
	code, out, _ := t.run("status")
	var r struct {
		Status struct {
			Pending string `json:"pending"`
		} `json:"status"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &r) != nil {
		bad("status --json: exit %d\n%s", code, out)
	} else if (st.Pending != nil) != (r.Status.Pending != "") {
		bad("state pending %v but status --json says pending %q", st.Pending != nil, r.Status.Pending)
	}

	// The same command again finishes the job and cleans up.
	if code, out, _ := t.run(op); code != 0 {
		bad("%s again: exit %d\n%s", op, code, out)
	}
	if got, ok := readMaybe(t.target(sh)); ok != (after != nil) || !bytes.Equal(got, after) {
		bad("after %s again daemon.json is %s, want %s", op, show(got, ok), show(after, after != nil))
	}
	if left := t.tempFiles(); len(left) > 0 {
		bad("temporary files left after %s ran again: %v (right after the kill: %v)", op, left, temps)
	}
	st2, err := state.Store{Dir: t.stateDir()}.Load()
	if err != nil {
		bad("state after %s again: %v", op, err)
	} else if st2.Pending != nil {
		bad("state still pending after %s again: %+v", op, st2.Pending)
	}

	// The state is consistent with daemon.json.
	if op == "enable" {
		if code, out, _ := t.run("disable"); code != 0 {
			bad("disable after the interrupted enable: exit %d\n%s", code, out)
		}
		if got, ok := readMaybe(t.target(sh)); ok != (sh.before != nil) || !bytes.Equal(got, sh.before) {
			bad("disable after an interrupted enable left %s, want the original %s", show(got, ok), show(sh.before, sh.before != nil))
		}
		if left := t.tempFiles(); len(left) > 0 {
			bad("temporary files left after disable: %v", left)
		}
	}
	if op == "set" && len(sh.before) > 0 {
		if code, out, _ := t.run("unset"); code != 0 {
			bad("unset after the interrupted set: exit %d\n%s", code, out)
		}
		if got, ok := readMaybe(t.target(sh)); !ok || !bytes.Equal(got, sh.before) {
			bad("unset after an interrupted set left %s, want the original %s", show(got, ok), show(sh.before, true))
		}
		if left := t.tempFiles(); len(left) > 0 {
			bad("temporary files left after unset: %v", left)
		}
	}
	if st3, err := (state.Store{Dir: t.stateDir()}).Load(); err == nil && (st3.DaemonJSON != nil || st3.Sysctl != nil || st3.Pending != nil) {
		bad("after disable the state still claims a change: %+v", st3)
	}
	if _, ok := readMaybe(t.dropIn()); ok {
		bad("after disable the sysctl drop-in is still there")
	}
	if t.verbose {
		fmt.Printf("crash: %s %s delay %v: %s\n", sh.name, op, delay, where)
	}
	return probs
}

// leftover is what an interrupted run left on the scratch host.
type leftover struct {
	file         []byte // daemon.json (the symlink's target)
	exists       bool
	linkReplaced bool // a symlink daemon.json is no longer a symlink
	dropIn       []byte
	dropInExists bool
	state        []byte // state.json
	stateExists  bool
	backups      map[string][]byte // backups/daemon.json.*, by name
}

// look reads what the run left.
func (t *tester) look(sh shape) leftover {
	var l leftover
	l.file, l.exists = readMaybe(t.target(sh))
	if sh.link {
		fi, err := os.Lstat(t.config())
		l.linkReplaced = err != nil || fi.Mode()&fs.ModeSymlink == 0
	}
	l.dropIn, l.dropInExists = readMaybe(t.dropIn())
	l.state, l.stateExists = readMaybe(filepath.Join(t.stateDir(), "state.json"))
	l.backups = map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(t.stateDir(), "backups", "daemon.json.*"))
	for _, p := range paths {
		l.backups[filepath.Base(p)], _ = os.ReadFile(p)
	}
	return l
}

// judgeLeft checks what a killed run left against the invariants: the file
// is the version before or after the run (and parses), a symlink stays a
// symlink, the drop-in is absent or whole, the state parses, every backup
// holds bytes daemon.json really had. It returns the violations, the state
// and which version the file is.
func judgeLeft(sh shape, ref *reference, before, after []byte, l leftover) (probs []string, st state.State, isBefore, isAfter bool) {
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if l.linkReplaced {
		bad("the symlink daemon.json was replaced or removed")
	}
	isBefore = l.exists == (before != nil) && bytes.Equal(l.file, before)
	isAfter = l.exists == (after != nil) && bytes.Equal(l.file, after)
	if l.exists {
		if _, err := daemonjson.Parse(l.file); err != nil {
			bad("daemon.json does not parse: %v", err)
		}
	}
	if !isBefore && !isAfter {
		bad("daemon.json is %s: neither the before nor the after version", show(l.file, l.exists))
	}
	if l.dropInExists && !bytes.Equal(l.dropIn, ref.dropIn) {
		bad("the sysctl drop-in is partial: %q", l.dropIn)
	}
	if l.stateExists {
		if err := json.Unmarshal(l.state, &st); err != nil {
			bad("state.json does not parse: %v", err)
		}
	}
	names := slices.Sorted(maps.Keys(l.backups))
	for _, name := range names {
		data := l.backups[name]
		if !bytes.Equal(data, sh.before) && !bytes.Equal(data, ref.after) && !bytes.Equal(data, ref.setAfter) {
			bad("backup %s holds bytes daemon.json never had: %q", name, data)
		}
	}
	return probs, st, isBefore, isAfter
}

// landedAt names where a kill landed, from the state and the file.
func landedAt(killed bool, st state.State, isBefore, isAfter bool) string {
	switch {
	case !killed:
		return "exited before the kill"
	case st.Pending == nil && isBefore && !isAfter:
		return "before the write (no pending step)"
	case st.Pending != nil && isBefore && !isAfter:
		return fmt.Sprintf("pending step %q, daemon.json not yet replaced", st.Pending.Step)
	case st.Pending != nil:
		return fmt.Sprintf("pending step %q, daemon.json replaced (before commit)", st.Pending.Step)
	}
	return "after the commit"
}

// tempFiles lists dlr's temporary files anywhere under the scratch host.
func (t *tester) tempFiles() []string {
	var out []string
	filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".dlr-tmp-") {
			rel, _ := filepath.Rel(t.root, p)
			out = append(out, rel)
		}
		return nil
	})
	return out
}
