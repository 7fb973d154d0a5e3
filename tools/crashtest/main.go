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
	"strconv"
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
	// interim is what a live disable writes first where the key goes
	// ("live-restore": false, reloaded, then the final file): a kill may
	// leave it.
	interim  []byte
	duration map[string][]time.Duration // by mode and command ("live enable")
}

type tester struct {
	dlr     string
	fake    string // fakedockerd, built as a binary named dockerd
	root    string
	live    bool // this cycle runs against the fake dockerd: reloads, not --no-reload
	daemon  *exec.Cmd
	rng     *rand.Rand
	verbose bool
	refs    map[string]*reference
	landed  map[string]int
	temps   int // temporary files found right after a kill
	torn    int // emulated /proc/sys files a kill left half-written
}

func main() {
	cycles := flag.Int("cycles", 1000, "number of kill cycles")
	seed := flag.Uint64("seed", 0, "random seed (0: from the clock)")
	dlrBin := flag.String("dlr", "", "dlr binary to test (default: build ./cmd/dlr)")
	verbose := flag.Bool("v", false, "print every cycle")
	opList := flag.String("ops", "enable,disable,set,chain", "the kinds of cycle to run, chosen at random: enable, disable, set (one kill each) and chain (kills in a row, then a clean enable and disable)")
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
	fake := filepath.Join(work, "fake", "dockerd")
	build := exec.Command("go", "build", "-o", fake, "github.com/docker-liverestore/dlr/tools/crashtest/fakedockerd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fatal(fmt.Errorf("building the fake dockerd: %w", err))
	}
	t := &tester{dlr: bin, fake: fake, root: filepath.Join(work, "host"), rng: rand.New(rand.NewPCG(*seed, 0x646c72)),
		verbose: *verbose, refs: map[string]*reference{}, landed: map[string]int{}}
	// os.Exit (fatal, a failed run) skips deferred calls: the cleanup
	// stops the fake dockerd too, so no process outlives the harness.
	cleanup = func() { t.stopDaemon(); os.RemoveAll(work) }
	defer cleanup()
	fmt.Printf("crash: seed %d, %d cycles, dlr %s\n", *seed, *cycles, bin)
	if err := t.calibrate(); err != nil {
		fatal(err)
	}
	passed, failed := 0, 0
	for i := range *cycles {
		sh := shapes[t.rng.IntN(len(shapes))]
		kinds := strings.Split(*opList, ",")
		op := kinds[t.rng.IntN(len(kinds))]
		// Every other cycle runs against the fake dockerd (reloads, and a
		// live disable's interim file); chains always do.
		t.live = i%2 == 1 || op == "chain"
		var probs []string
		if op == "chain" {
			probs = t.chain(sh)
		} else {
			probs = t.cycle(sh, op)
		}
		mode := "files"
		if t.live {
			mode = "live"
		}
		if len(probs) > 0 {
			failed++
			fmt.Printf("crash: cycle %d (%s, %s, %s) FAILED:\n  %s\n", i, sh.name, mode, op, strings.Join(probs, "\n  "))
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
	fmt.Printf("crash: emulated /proc/sys files a kill left half-written (put back; the kernel's procfs cannot tear): %d\n", t.torn)
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
		"--root", t.root, // daemon.json is the default one, under the root
		"--docker-socket", filepath.Join(t.root, "run/docker.sock"),
	}
	if cmd != "status" {
		a = append(a, "--lock-timeout", "5s")
		if !t.live {
			a = append(a, "--no-reload")
		}
	}
	switch cmd {
	case "set":
		a = append(a, setKey+"="+setValue)
	case "unset":
		a = append(a, setKey)
	case "status":
		a = append(a, "--json")
	}
	return a
}

// reset lays out a fresh scratch host with daemon.json in the given shape,
// with the fake dockerd running when the cycle is live.
func (t *tester) reset(sh shape) error {
	t.stopDaemon()
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
		if err := os.WriteFile(t.target(sh), sh.before, 0o644); err != nil {
			return err
		}
	}
	if t.live {
		return t.startDaemon()
	}
	return nil
}

// startDaemon starts the fake dockerd with its pid file and socket where
// dlr looks for them under the scratch root, and makes its /proc entry
// visible there.
func (t *tester) startDaemon() error {
	for _, d := range []string{"var/run", "run"} {
		if err := os.MkdirAll(filepath.Join(t.root, d), 0o755); err != nil {
			return err
		}
	}
	pidfile := filepath.Join(t.root, "var/run/docker.pid")
	c := exec.Command(t.fake, "--config-file", t.config(), "--socket", filepath.Join(t.root, "run/docker.sock"), "--pidfile", pidfile)
	if err := c.Start(); err != nil {
		return err
	}
	t.daemon = c
	for range 200 {
		if _, err := os.Stat(pidfile); err == nil {
			pid := strconv.Itoa(c.Process.Pid)
			return os.Symlink("/proc/"+pid, filepath.Join(t.root, "proc", pid))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("the fake dockerd did not start")
}

func (t *tester) stopDaemon() {
	if t.daemon != nil {
		t.daemon.Process.Kill()
		t.daemon.Wait()
		t.daemon = nil
	}
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
		for _, live := range []bool{false, true} {
			t.live = live
			if err := t.calibrateShape(sh, ref, &all); err != nil {
				return err
			}
		}
		if _, err := daemonjson.Parse(ref.after); err != nil || len(ref.after) == 0 {
			return fmt.Errorf("%s: enable wrote an unparseable file: %v", sh.name, err)
		}
		doc, _ := daemonjson.Parse(ref.after)
		ref.interim, _, _ = doc.Set(daemonjson.LiveRestoreKey, []byte("false"))
		t.refs[sh.name] = ref
	}
	t.live = false
	slices.Sort(all)
	fmt.Printf("crash: an uninterrupted run takes %v (median), %v (max); a kill lands 0 to the median of its shape, mode and command\n",
		all[len(all)/2].Round(time.Microsecond), all[len(all)-1].Round(time.Microsecond))
	return nil
}

// timed runs cmd to its end, records how long it took under key, and
// fails unless it succeeded.
func (t *tester) timed(sh shape, ref *reference, all *[]time.Duration, cmd string) error {
	code, out, d := t.run(cmd)
	if code != 0 {
		return fmt.Errorf("%s (%s): %s: exit %d\n%s", sh.name, t.mode(), cmd, code, out)
	}
	k := t.mode() + " " + cmd
	ref.duration[k] = append(ref.duration[k], d)
	*all = append(*all, d)
	return nil
}

func (t *tester) mode() string {
	if t.live {
		return "live"
	}
	return "files"
}

// calibrateShape runs enable, disable, set and unset without a kill in the
// current mode: it records the files they leave, checks that disable and
// unset give back the original bytes, and measures how long a run takes.
func (t *tester) calibrateShape(sh shape, ref *reference, all *[]time.Duration) error {
	for range 3 {
		if err := t.reset(sh); err != nil {
			return err
		}
		if err := t.timed(sh, ref, all, "enable"); err != nil {
			return err
		}
		ref.after, _ = os.ReadFile(t.target(sh))
		ref.dropIn, _ = os.ReadFile(t.dropIn())
		if err := t.timed(sh, ref, all, "disable"); err != nil {
			return err
		}
		if got, ok := readMaybe(t.target(sh)); !bytes.Equal(got, sh.before) || ok != (sh.before != nil) {
			return fmt.Errorf("%s (%s): enable then disable (no kill) left %q, want %q", sh.name, t.mode(), got, sh.before)
		}
	}
	for range 3 {
		if err := t.reset(sh); err != nil {
			return err
		}
		if err := t.timed(sh, ref, all, "set"); err != nil {
			return err
		}
		ref.setAfter, _ = os.ReadFile(t.target(sh))
		if code, out, _ := t.run("unset"); code != 0 {
			return fmt.Errorf("%s (%s): unset: exit %d\n%s", sh.name, t.mode(), code, out)
		}
		if got, _ := readMaybe(t.target(sh)); len(sh.before) > 0 && !bytes.Equal(got, sh.before) {
			return fmt.Errorf("%s (%s): set then unset (no kill) left %q, want %q", sh.name, t.mode(), got, sh.before)
		}
	}
	return nil
}

// chain is the end-to-end property of issue 14: after any sequence of
// kills of enable and disable (against the fake dockerd, so that a
// disable's interim "live-restore": false can be left), one clean enable
// and one clean disable give back the original bytes.
func (t *tester) chain(sh shape) (probs []string) {
	ref := t.refs[sh.name]
	if err := t.reset(sh); err != nil {
		return []string{err.Error()}
	}
	ops := []string{"enable", "disable"}
	first := t.rng.IntN(2)
	n := 2 + t.rng.IntN(5)
	var trail []string
	for i := range n {
		op := ops[(first+i)%2]
		// Up to the slowest run seen: a chain should reach the end of a
		// disable too (its interim file, reloaded, before the final one).
		ds := slices.Sorted(slices.Values(ref.duration["live "+op]))
		delay := time.Duration(t.rng.Int64N(int64(ds[len(ds)-1]) + 1))
		c := exec.Command(t.dlr, t.args(op)...)
		if err := c.Start(); err != nil {
			return []string{err.Error()}
		}
		before := t.procValue()
		time.Sleep(delay)
		_ = c.Process.Signal(syscall.SIGKILL)
		c.Wait()
		t.mendProc(before)
		trail = append(trail, fmt.Sprintf("%s killed after %v", op, delay.Round(time.Microsecond)))
	}
	t.landed["chain: "+strconv.Itoa(n)+" kills"]++
	for _, op := range []string{"enable", "disable"} {
		if code, out, _ := t.run(op); code != 0 {
			probs = append(probs, fmt.Sprintf("clean %s after %v: exit %d\n%s", op, trail, code, out))
		}
	}
	if got, ok := readMaybe(t.target(sh)); ok != (sh.before != nil) || !bytes.Equal(got, sh.before) {
		probs = append(probs, fmt.Sprintf("after %v, a clean enable and disable left %s, want the original %s", trail, show(got, ok), show(sh.before, sh.before != nil)))
	}
	if st, err := (state.Store{Dir: t.stateDir()}).Load(); err == nil && (st.DaemonJSON != nil || st.Pending != nil) {
		probs = append(probs, fmt.Sprintf("after %v, a clean enable and disable left the state claiming a change: %+v", trail, st))
	}
	return probs
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
	ds := slices.Sorted(slices.Values(ref.duration[t.mode()+" "+op]))
	limit := ds[len(ds)/2]
	delay := time.Duration(t.rng.Int64N(int64(limit) + 1))
	c := exec.Command(t.dlr, t.args(op)...)
	procBefore := t.procValue()
	if err := c.Start(); err != nil {
		return []string{err.Error()}
	}
	time.Sleep(delay)
	_ = c.Process.Signal(syscall.SIGKILL)
	err := c.Wait()
	t.mendProc(procBefore)
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
	var interim []byte
	if t.live && op == "disable" {
		interim = ref.interim
	}
	p, st, isBefore, isAfter := judgeLeft(sh, ref, before, after, interim, l)
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
func judgeLeft(sh shape, ref *reference, before, after, interim []byte, l leftover) (probs []string, st state.State, isBefore, isAfter bool) {
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
	isInterim := interim != nil && l.exists && bytes.Equal(l.file, interim)
	if !isBefore && !isAfter && !isInterim {
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
		if !bytes.Equal(data, sh.before) && !bytes.Equal(data, ref.after) && !bytes.Equal(data, ref.setAfter) && !bytes.Equal(data, ref.interim) {
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

// procValue reads the scratch host's fs.pipe-max-size.
func (t *tester) procValue() []byte {
	b, _ := os.ReadFile(filepath.Join(t.root, "proc/sys/fs/pipe-max-size"))
	return b
}

// mendProc puts back the value of the scratch host's fs.pipe-max-size
// when a kill left it half-written. The scratch host emulates /proc/sys
// with a regular file, which a write truncates first; the kernel's
// procfs sets the value in one write, old or new, so this cannot happen
// on a real host. It is counted and printed, not hidden.
func (t *tester) mendProc(before []byte) {
	p := filepath.Join(t.root, "proc/sys/fs/pipe-max-size")
	b, err := os.ReadFile(p)
	if err != nil || len(bytes.TrimSpace(b)) > 0 && bytes.HasSuffix(b, []byte("\n")) {
		return
	}
	t.torn++
	os.WriteFile(p, before, 0o644)
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
