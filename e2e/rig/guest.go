package rig

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Guest is a Debian booted under systemd-nspawn by [Boot]. Its methods may
// be called from several goroutines.
type Guest struct {
	suite   string
	machine string // the --machine name, also the guest's hostname
	dir     string // temporary directory holding everything below
	root    string // the guest's root directory on the host (dir/merged)
	console string // nspawn's stdout and stderr (dir/console.log)
	overlay bool   // root is an overlayfs mount (else a cp -a copy)

	release func() // drops the shared lock on the rootfs cache

	unshare   *exec.Cmd     // runs nspawn in a PID namespace of its own
	exited    chan struct{} // closed once unshare has been waited for
	waitErr   error         // unshare's exit status, set before exited is closed
	nspawnPID int           // systemd-nspawn, as seen from the host
	pid       int           // the guest's systemd, as seen from the host

	finalConsole string   // the console log, saved before the directory is removed
	nspawnFiles  []string // files nspawn leaves in /run if it is killed
	shutdownNote string   // set if the poweroff timed out and the guest was killed

	closeOnce sync.Once
	closeErr  error

	hostKeyMu sync.Mutex
	hostKey   string // set by SSHHostKey
}

// nspawnEnv are the environment variables systemd-nspawn needs on these
// hosts (see the package documentation of the notes it follows):
// cgroup v2 inside the guest, and a writable /proc/sys.
var nspawnEnv = []string{
	"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1",
	"SYSTEMD_NSPAWN_API_VFS_WRITABLE=1",
}

// nspawnArgs returns systemd-nspawn's arguments for booting root as machine.
func nspawnArgs(root, machine string) []string {
	return []string{
		"-D", root,
		"--boot",
		"--machine=" + machine,
		"--register=no", "--keep-unit", // no host systemd or machined
		"--capability=all",
		"--private-network",                 // docker0 stays inside
		"--system-call-filter=@keyring bpf", // runc joins a session keyring
	}
}

// Boot boots suite (one of [Suites], or [FleetSuite]) in a fresh copy-on-write view
// of the cached [Rootfs] and returns once docker.service is active and
// systemd answers on the guest's D-Bus system bus (in a fleet guest,
// once sshd and node_exporter are active too). It fails the test (with
// the last lines of the guest's console) if that does not happen within 90
// seconds.
//
// Writes the guest makes go to a temporary directory, never to the cache.
// The guest's /var/lib/docker and /var/lib/containerd are bind mounts of plain directories there,
// so that dockerd uses its overlay2 storage driver as on a real host (it
// refuses overlay2 on an overlayfs). nspawn runs with exactly the flags and
// environment of the rig notes, as PID 1 of a PID namespace of its own
// ("unshare --pid --fork --kill-child"), so that nothing of the guest can
// outlive it.
//
// When the test and its subtests have finished, a cleanup powers the guest
// off (killing it, and logging so, if that takes longer than 45 seconds),
// checks that none of its processes survived, unmounts its root and removes
// the temporary directory; a surviving process or a failure to unmount or
// remove fails the test. Boot also removes what an
// earlier, killed test binary left behind.
//
// Boot needs root; it installs missing host tools with apt-get and builds
// the rootfs on first use, which needs Debian's package archive.
func Boot(t testing.TB, suite string) *Guest {
	t.Helper()
	ctx := t.Context()
	installSignalHandler()
	sweepStale(t)

	g := &Guest{suite: suite, exited: make(chan struct{})}
	lower, release, err := acquireRootfs(ctx, suite)
	if err != nil {
		t.Fatalf("rig: boot %s: %v", suite, err)
	}
	g.release = release

	// Everything after this point is undone by the cleanup, even if Boot
	// fails halfway.
	register(g)
	t.Cleanup(func() {
		start := time.Now()
		err := g.shutdown(true)
		if g.shutdownNote != "" {
			t.Logf("rig: guest %s: %s", g.machine, g.shutdownNote)
		}
		if err != nil {
			t.Errorf("rig: shutting down guest %s: %v", g.machine, err)
		} else {
			t.Logf("rig: guest %s shut down in %s", g.machine, time.Since(start).Round(time.Millisecond))
		}
		if err != nil || t.Failed() {
			t.Logf("rig: last lines of the console of guest %s:\n%s", g.machine, tail(g.finalConsole, 40))
		}
	})

	g.machine = "dlr-" + suite + "-" + randomHex(4)
	g.dir, err = os.MkdirTemp("", "dlr-rig-")
	if err != nil {
		t.Fatalf("rig: %v", err)
	}
	if err := g.writeOwner(); err != nil {
		t.Fatalf("rig: %v", err)
	}
	g.root = filepath.Join(g.dir, "merged")
	g.console = filepath.Join(g.dir, "console.log")
	upper, work := filepath.Join(g.dir, "upper"), filepath.Join(g.dir, "work")
	for _, d := range []string{upper, work, g.root} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatalf("rig: %v", err)
		}
		// MkdirTemp and the umask may have narrowed the mode: the guest's
		// "/" (the overlay takes it from upper) must be 0755 for dbus.
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("rig: %v", err)
		}
	}
	if err := mountOverlay(lower, upper, work, g.root); err != nil {
		t.Logf("rig: overlayfs unavailable (%v); copying the rootfs instead", err)
		start := time.Now()
		if out, err := exec.CommandContext(ctx, "cp", "-a", lower+"/.", g.root+"/").CombinedOutput(); err != nil {
			t.Fatalf("rig: cp -a %s %s: %v\n%s", lower, g.root, err, tail(string(out), 10))
		}
		t.Logf("rig: copied the rootfs in %s", time.Since(start).Round(time.Millisecond))
	} else {
		g.overlay = true
		// dockerd refuses its overlay2 driver on an overlayfs and falls
		// back to vfs; give it a plain directory, as on a real host.
		if err := g.bindDockerDir(); err != nil {
			t.Fatalf("rig: %v", err)
		}
	}

	if err := g.writeHostname(); err != nil {
		t.Fatalf("rig: %v", err)
	}

	// Files nspawn keeps on the host while the guest runs; it removes them
	// when it exits, but not when it is killed.
	var st syscall.Stat_t
	if err := syscall.Stat(g.root, &st); err == nil {
		g.nspawnFiles = append(g.nspawnFiles,
			fmt.Sprintf("/run/systemd/nspawn/locks/inode-%d:%d", st.Dev, st.Ino))
	}
	g.nspawnFiles = append(g.nspawnFiles, "/run/systemd/nspawn/propagate/"+g.machine)
	if err := g.writeOwner(); err != nil {
		t.Fatalf("rig: %v", err)
	}

	start := time.Now()
	if err := g.start(); err != nil {
		t.Fatalf("rig: %v", err)
	}
	if err := g.waitReady(ctx); err != nil {
		t.Fatalf("rig: boot %s: %v\nlast lines of the guest's console (%s):\n%s",
			g.machine, err, g.console, g.consoleTail(30))
	}
	view := "overlayfs"
	if !g.overlay {
		view = "copy"
	}
	t.Logf("rig: guest %s (%s on %s, systemd PID %d) ready in %s",
		g.machine, suite, view, g.pid, time.Since(start).Round(time.Millisecond))
	return g
}

// bindDockerDir bind-mounts dir/docker and dir/containerd (on the host's
// file system, so that overlay mounts work on them) at the guest's
// /var/lib/docker and /var/lib/containerd before boot; nspawn takes the
// mounts into the guest along with the root. /var/lib/containerd matters
// from Docker 29 on: a fresh install keeps its images in containerd's
// overlayfs snapshotter there, and an overlay mount whose layers are on
// the guest's overlayfs root fails with EINVAL ("failed to mount
// /tmp/containerd-mount...: invalid argument", seen with upstream 29.7.1).
func (g *Guest) bindDockerDir() error {
	for _, d := range []struct{ src, dst string }{
		{filepath.Join(g.dir, "docker"), filepath.Join(g.root, "var/lib/docker")},
		{filepath.Join(g.dir, "containerd"), filepath.Join(g.root, "var/lib/containerd")},
	} {
		for _, p := range []string{d.src, d.dst} {
			if err := os.MkdirAll(p, 0o710); err != nil {
				return err
			}
		}
		if err := syscall.Mount(d.src, d.dst, "", syscall.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount --bind %s %s: %w", d.src, d.dst, err)
		}
	}
	return nil
}

// writeHostname makes the guest's /etc/hostname its machine name.
// debootstrap copies the host's /etc/hostname into the rootfs, and the
// guest's systemd sets the hostname from it over the one nspawn gives, so
// without this every guest would be named after the host: guests of one
// network could not be told apart (ssh, node_exporter's nodename,
// Ansible's facts). The file is replaced, never written through (it could
// be a link in a rootfs).
func (g *Guest) writeHostname() error {
	p := g.Path("/etc/hostname")
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(g.machine + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Suite returns the Debian suite the guest runs.
func (g *Guest) Suite() string { return g.suite }

// Root returns the host directory that is the guest's root filesystem.
// See [Guest.Path] for what it does not show.
func (g *Guest) Root() string { return g.root }

// Machine returns the guest's machine name, which is also its hostname.
func (g *Guest) Machine() string { return g.machine }

// PID returns the host PID of the guest's systemd (its PID 1).
func (g *Guest) PID() int { return g.pid }

// ConsoleLog returns everything systemd-nspawn and the guest's console have
// printed so far; after the guest has been shut down, what they printed
// in all.
func (g *Guest) ConsoleLog() string {
	if b, err := os.ReadFile(g.console); err == nil {
		return string(b)
	}
	return g.finalConsole
}

// start starts systemd-nspawn and finds the guest's systemd.
//
// nspawn is run as
//
//	unshare --pid --fork --mount-proc --kill-child=SIGKILL systemd-nspawn ...
//
// which makes it PID 1 of a PID namespace of its own: whenever nspawn dies,
// however it dies, the kernel kills every process below it, the guest
// included (a guest's systemd outlives a plain nspawn killed by SIGKILL).
// unshare gets a parent-death signal and passes it on to nspawn, so killing
// the test binary kills the guest. The parent-death signal fires when the
// thread that started the process ends, so unshare is started from a
// goroutine that keeps its thread locked until unshare has exited. It runs
// in its own process group, so that a Ctrl-C meant for the test binary does
// not reach the guest before the rig's own handler does.
func (g *Guest) start() error {
	console, err := os.Create(g.console)
	if err != nil {
		return err
	}
	args := append([]string{"--pid", "--fork", "--mount-proc", "--kill-child=SIGKILL",
		"systemd-nspawn"}, nspawnArgs(g.root, g.machine)...)
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), nspawnEnv...)
	cmd.Stdout, cmd.Stderr = console, console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	g.unshare = cmd

	started := make(chan error, 1)
	go func() {
		// No UnlockOSThread: the thread ends with this goroutine, after
		// unshare has exited.
		runtime.LockOSThread()
		err := cmd.Start()
		console.Close() // the child has its own copy
		started <- err
		if err != nil {
			close(g.exited)
			return
		}
		g.waitErr = cmd.Wait()
		close(g.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting systemd-nspawn: %w", err)
	}

	// nspawn is the child of unshare, the guest's systemd that of nspawn.
	deadline := time.Now().Add(bootTimeout)
	for g.pid == 0 {
		if g.nspawnPID == 0 {
			g.nspawnPID = childNamed(cmd.Process.Pid, "systemd-nspawn")
		}
		if g.nspawnPID != 0 {
			g.pid = childNamed(g.nspawnPID, "systemd")
		}
		if g.pid != 0 {
			break
		}
		if g.hasExited() {
			return fmt.Errorf("systemd-nspawn exited (%v) before the guest's systemd started\n%s",
				g.waitErr, g.consoleTail(30))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no systemd below systemd-nspawn after %s\n%s", bootTimeout, g.consoleTail(30))
		}
		time.Sleep(pollInterval / 5)
	}
	return g.writeOwner()
}

// childNamed returns the PID of a child of pid whose command name is name,
// or 0.
func childNamed(pid int, name string) int {
	for _, kid := range children(pid) {
		if comm(kid) == name {
			return kid
		}
	}
	return 0
}

// waitReady waits until "systemctl is-active docker" and "busctl status
// org.freedesktop.systemd1" both succeed inside the guest, and in a
// [FleetSuite] guest "systemctl is-active ssh prometheus-node-exporter"
// too.
func (g *Guest) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, bootTimeout)
	defer cancel()
	probes := [][]string{
		{"systemctl", "is-active", "docker"},
		{"busctl", "status", "org.freedesktop.systemd1"},
	}
	if g.suite == FleetSuite {
		probes = append(probes, []string{"systemctl", "is-active", "ssh", "prometheus-node-exporter"})
	}
	var last string
	for {
		ok := true
		for _, p := range probes {
			pctx, pcancel := context.WithTimeout(ctx, probeTimeout)
			out, errOut, code, err := g.Exec(pctx, p...)
			pcancel()
			if err != nil || code != 0 {
				ok = false
				last = fmt.Sprintf("%s: exit %d, err %v, stdout %q, stderr %q",
					strings.Join(p, " "), code, err, tail(out, 3), tail(errOut, 3))
				break
			}
		}
		if ok {
			return nil
		}
		if g.hasExited() {
			return fmt.Errorf("systemd-nspawn exited (%v) while booting; last probe: %s", g.waitErr, last)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s (%w); last probe: %s", bootTimeout, ctx.Err(), last)
		case <-time.After(pollInterval):
		}
	}
}

// hasExited reports whether systemd-nspawn has exited.
func (g *Guest) hasExited() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// consoleTail returns the last n lines of the console log.
func (g *Guest) consoleTail(n int) string { return tail(g.ConsoleLog(), n) }

// shutdown stops the guest and removes everything Boot created. With
// graceful, it first asks for an orderly poweroff (SIGTERM to nspawn, which
// sends SIGRTMIN+3 to the guest's systemd); then, or at once without
// graceful, it kills nspawn and the guest's systemd (the kernel then kills
// every process of the guest's PID namespace); a timed-out poweroff is
// noted in shutdownNote, not an error. It returns an error if a process of
// the guest survives, or if the root cannot be unmounted or the temporary
// directory removed. Only the first call does anything; later
// calls return its result.
func (g *Guest) shutdown(graceful bool) error {
	g.closeOnce.Do(func() { g.closeErr = g.doShutdown(graceful) })
	return g.closeErr
}

func (g *Guest) doShutdown(graceful bool) error {
	defer unregister(g)
	var errs []error
	if g.unshare != nil && g.unshare.Process != nil {
		top := g.unshare.Process.Pid
		tree := descendants(top)
		if graceful && !g.hasExited() && g.nspawnPID != 0 {
			syscall.Kill(g.nspawnPID, syscall.SIGTERM)
			select {
			case <-g.exited:
			case <-time.After(poweroffTimeout):
				g.shutdownNote = fmt.Sprintf("no orderly poweroff within %s; killing it\n%s",
					poweroffTimeout, g.consoleTail(15))
			}
		}
		if !g.hasExited() {
			// Killing unshare kills nspawn (parent-death signal), which
			// takes its whole PID namespace with it; kill nspawn directly
			// too in case it has not been found yet.
			syscall.Kill(-top, syscall.SIGKILL)
			for _, p := range tree {
				if p.pid == g.nspawnPID {
					p.kill()
				}
			}
			select {
			case <-g.exited:
			case <-time.After(killTimeout):
				errs = append(errs, fmt.Errorf("unshare (PID %d) still running %s after SIGKILL", top, killTimeout))
			}
		}
		if left := waitGone(tree, killTimeout); len(left) > 0 {
			for _, p := range left {
				p.kill()
			}
			if left2 := waitGone(left, killTimeout); len(left2) > 0 {
				errs = append(errs, fmt.Errorf("guest processes survived SIGKILL: %v", left2))
			} else {
				errs = append(errs, fmt.Errorf("guest processes survived its shutdown and had to be killed: %v", left))
			}
		}
	}
	removeNspawnFiles(g.nspawnFiles)
	g.finalConsole = g.ConsoleLog()
	if g.release != nil {
		g.release()
	}
	if g.dir != "" {
		if err := removeTree(g.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", g.dir, err))
		}
	}
	return errors.Join(errs...)
}

// waitGone waits up to d for every process in ps to end and returns those
// still running.
func waitGone(ps []proc, d time.Duration) []proc {
	deadline := time.Now().Add(d)
	for {
		var left []proc
		for _, p := range ps {
			if p.alive() {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(pollInterval / 5)
	}
}

// The owner file in a guest's temporary directory says which process
// booted it, and the identities of nspawn and the guest's systemd, so that
// a later Boot can tell a leftover from a guest still in use.
const ownerFile = "owner"

// writeOwner (re)writes the owner file.
func (g *Guest) writeOwner() error {
	self, err := procOf(os.Getpid())
	if err != nil {
		return err
	}
	s := "owner " + self.String() + "\n"
	if g.unshare != nil && g.unshare.Process != nil {
		if p, err := procOf(g.unshare.Process.Pid); err == nil {
			s += "unshare " + p.String() + "\n"
		}
	}
	if g.nspawnPID != 0 {
		if p, err := procOf(g.nspawnPID); err == nil {
			s += "nspawn " + p.String() + "\n"
		}
	}
	if g.pid != 0 {
		if p, err := procOf(g.pid); err == nil {
			s += "systemd " + p.String() + "\n"
		}
	}
	for _, f := range g.nspawnFiles {
		s += "file " + f + "\n"
	}
	return writeFileAtomic(filepath.Join(g.dir, ownerFile), []byte(s), 0o644)
}

// removeNspawnFiles removes the lock file and the propagation directory a
// killed nspawn left behind in /run/systemd/nspawn (and nothing outside it).
func removeNspawnFiles(files []string) {
	for _, f := range files {
		if strings.HasPrefix(f, "/run/systemd/nspawn/") && !strings.Contains(f, "..") {
			removeTree(f)
		}
	}
}

// readOwner parses an owner file into its named process identities and its
// list of nspawn's files.
func readOwner(path string) (map[string]proc, []string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	m := map[string]proc{}
	var files []string
	for _, line := range strings.Split(string(b), "\n") {
		if f, ok := strings.CutPrefix(line, "file "); ok {
			files = append(files, f)
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		pid, err1 := strconv.Atoi(f[1])
		start, err2 := strconv.ParseUint(f[2], 10, 64)
		if err1 == nil && err2 == nil {
			m[f[0]] = proc{pid: pid, start: start}
		}
	}
	return m, files, nil
}

// sweepStale removes the guests an earlier test binary left behind when it
// was killed: it kills their nspawn and systemd if still running, unmounts
// their root, removes their temporary directory and the files their nspawn
// left in /run/systemd/nspawn. A directory without an
// owner file is left alone for ten minutes (it may be in the middle of
// being set up).
func sweepStale(t testing.TB) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "dlr-rig-*"))
	for _, dir := range dirs {
		owner, files, err := readOwner(filepath.Join(dir, ownerFile))
		if err != nil {
			fi, serr := os.Stat(dir)
			if serr != nil || time.Since(fi.ModTime()) < 10*time.Minute {
				continue
			}
		} else if owner["owner"].alive() {
			continue
		}
		var left []proc
		for _, name := range []string{"unshare", "nspawn", "systemd"} {
			if p, ok := owner[name]; ok && p.alive() {
				left = append(left, descendants(p.pid)...)
				left = append(left, p)
				p.kill()
			}
		}
		waitGone(left, killTimeout)
		removeNspawnFiles(files)
		if err := removeTree(dir); err != nil {
			t.Logf("rig: removing leftover guest %s: %v", dir, err)
		} else {
			t.Logf("rig: removed leftover guest %s", dir)
		}
	}
}

// Live guests, for the signal handler.
var (
	liveMu  sync.Mutex
	live    = map[*Guest]bool{}
	sigOnce sync.Once
)

func register(g *Guest)   { liveMu.Lock(); live[g] = true; liveMu.Unlock() }
func unregister(g *Guest) { liveMu.Lock(); delete(live, g); liveMu.Unlock() }

// installSignalHandler makes SIGINT, SIGTERM and SIGHUP kill and clean up
// every live guest before the test binary dies of the signal as it would
// have without the handler.
func installSignalHandler() {
	sigOnce.Do(func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		go func() {
			sig := <-ch
			liveMu.Lock()
			var gs []*Guest
			for g := range live {
				gs = append(gs, g)
			}
			liveMu.Unlock()
			var wg sync.WaitGroup
			for _, g := range gs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := g.shutdown(false); err != nil {
						fmt.Fprintf(os.Stderr, "rig: %v: cleaning up guest %s: %v\n", sig, g.machine, err)
					}
				}()
			}
			wg.Wait()
			signal.Reset()
			syscall.Kill(os.Getpid(), sig.(syscall.Signal))
			time.Sleep(time.Second)
			os.Exit(2)
		}()
	})
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
