package host

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the start time in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture dlr is built for.
const userHZ = 100

func (e *Env) procFile(pid int, name string) string {
	return filepath.Join(e.Path(ProcDir), strconv.Itoa(pid), name)
}

// StartTicks returns when a process started, in clock ticks since boot
// (/proc/PID/stat field 22): with the PID, it names one process for good.
func (e *Env) StartTicks(pid int) (uint64, bool) {
	stat, err := atomicfile.ReadFile(e.procFile(pid, "stat"), atomicfile.MaxRead)
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64) // field 22 overall
	return ticks, err == nil
}

// processStart returns when a process started, from its start ticks and
// the boot time in /proc/stat.
func (e *Env) processStart(pid int) (time.Time, bool) {
	ticks, ok := e.StartTicks(pid)
	if !ok {
		return time.Time{}, false
	}
	pstat, err := atomicfile.ReadFile(filepath.Join(e.Path(ProcDir), "stat"), atomicfile.MaxRead)
	if err != nil {
		return time.Time{}, false
	}
	for _, l := range strings.Split(string(pstat), "\n") {
		if v, ok := strings.CutPrefix(l, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(boot, 0).Add(time.Duration(ticks) * time.Second / userHZ), true
		}
	}
	return time.Time{}, false
}

// StartedWithFile reports whether dockerd (pid) certainly started after the
// file was last changed, and so read it as it is now. Boot time has a
// resolution of a second, so anything closer than two seconds is "not
// certainly".
func (e *Env) StartedWithFile(pid int, file string) bool {
	if pid <= 0 {
		return false
	}
	fi, err := os.Stat(file)
	if err != nil {
		return false
	}
	start, ok := e.processStart(pid)
	return ok && start.After(fi.ModTime().Add(2*time.Second))
}

// IsDockerd reports whether pid is a live (not zombie) process called
// dockerd.
func (e *Env) IsDockerd(pid int) bool {
	b, err := atomicfile.ReadFile(e.procFile(pid, "stat"), atomicfile.MaxRead)
	if err != nil {
		return false
	}
	// "PID (comm) S ...": comm may hold spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return false
	}
	state := s[end+2]
	return s[open+1:end] == "dockerd" && state != 'Z' && state != 'X'
}

// ProcCmdline returns the command line of process pid as a flag source
// ("the running dockerd"), empty if it cannot be read.
func (e *Env) ProcCmdline(pid int) Cmdline {
	b, err := atomicfile.ReadFile(e.procFile(pid, "cmdline"), atomicfile.MaxRead)
	if err != nil || len(b) == 0 {
		return Cmdline{}
	}
	return Cmdline{Args: splitCmdline(b), Source: fmt.Sprintf("the running dockerd (PID %d)", pid)}
}

// pidFileDockerd returns the PID in dockerd's pid file when it names a live
// dockerd (a stale pid file names another process, or none).
func (e *Env) pidFileDockerd() int {
	b, err := atomicfile.ReadFile(e.Path(DefaultPidFile), atomicfile.MaxRead)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	comm, err := atomicfile.ReadFile(e.procFile(pid, "comm"), atomicfile.MaxRead)
	if err != nil || strings.TrimSpace(string(comm)) != "dockerd" {
		return 0
	}
	return pid
}

// DockerdCmdline returns the command line of the running dockerd without
// asking systemd: the process pid if it is given and alive, else $MAINPID
// (which systemd sets for ExecStop), else the one in dockerd's pid file.
// It returns an empty Cmdline when none is found. It reads /proc only.
func (e *Env) DockerdCmdline(pid int) Cmdline {
	cands := []int{pid}
	if p, err := strconv.Atoi(e.Getenv("MAINPID")); err == nil {
		cands = append(cands, p)
	}
	if b, err := atomicfile.ReadFile(e.Path(DefaultPidFile), atomicfile.MaxRead); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			cands = append(cands, p)
		}
	}
	for _, p := range cands {
		if p <= 0 || !e.IsDockerd(p) {
			continue
		}
		if c := e.ProcCmdline(p); len(c.Args) > 0 {
			return c
		}
	}
	return Cmdline{}
}

// CgroupProcs returns the cgroup.procs file of cgroup cg (as in
// /proc/PID/cgroup): under /sys/fs/cgroup with the unified hierarchy
// (cgroup v2), else under systemd's own hierarchy (v1).
func (e *Env) CgroupProcs(cg string) string {
	root := e.Path(CgroupRoot)
	if _, err := os.Stat(filepath.Join(root, "cgroup.controllers")); err == nil {
		return filepath.Join(root, cg, "cgroup.procs")
	}
	return filepath.Join(root, "systemd", cg, "cgroup.procs")
}

// RunsDLR reports whether a dlr process is in the cgroup whose
// cgroup.procs file is procs (systemd's own record of a unit's processes).
func (e *Env) RunsDLR(procs string) bool {
	b, err := atomicfile.ReadFile(procs, atomicfile.MaxRead)
	if err != nil {
		return false
	}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		comm, err := atomicfile.ReadFile(e.procFile(pid, "comm"), atomicfile.MaxRead)
		if err == nil && strings.TrimSpace(string(comm)) == "dlr" {
			return true
		}
	}
	return false
}

// InChroot reports whether dlr runs with a root directory other than PID
// 1's (a chroot, as in package installs into an image being built), and
// why it thinks so. When /proc/1/root cannot be read it says so and
// assumes a chroot: touching a daemon from the wrong root is worse than not
// touching it.
func (e *Env) InChroot() (bool, string) {
	proc := e.Path(ProcDir)
	a, err := os.Stat(proc + "/1/root/")
	if err != nil {
		if errors.Is(err, os.ErrPermission) && e.Euid() != 0 {
			return false, ""
		}
		return true, "cannot read " + proc + "/1/root (" + ErrText(err) + "); assuming a chroot"
	}
	b, err := os.Stat("/")
	if err != nil {
		return true, "cannot stat /"
	}
	if !os.SameFile(a, b) {
		return true, "running in a chroot (our / is not PID 1's)"
	}
	return false, ""
}

// ErrText is an error's text without the path of an *os.PathError (for
// messages that name the path already).
func ErrText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Runs reports whether process pid runs the program at path (absolute):
// /proc/PID/exe is that very file, by device and inode. Then the program's
// `--version` says nothing the running process does not. A package that
// replaced the program since leaves the process on the old, unlinked file,
// and Runs is false; so it is for a path that is not absolute, a process
// that is gone, or /proc/PID/exe that cannot be read (another user's
// process without root).
func (e *Env) Runs(pid int, path string) bool {
	if pid <= 0 || !filepath.IsAbs(path) {
		return false
	}
	running, err := os.Stat(e.procFile(pid, "exe"))
	if err != nil {
		return false
	}
	installed, err := os.Stat(e.Path(path))
	return err == nil && os.SameFile(running, installed)
}
