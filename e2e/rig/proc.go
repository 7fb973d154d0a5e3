package rig

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// proc identifies a process across PID reuse: a PID and its start time
// (in clock ticks after boot, field 22 of /proc/PID/stat).
type proc struct {
	pid   int
	start uint64
}

// String formats p as "PID START", the form owner files use.
func (p proc) String() string { return fmt.Sprintf("%d %d", p.pid, p.start) }

// statFields returns the fields of /proc/PID/stat after the command name,
// so that index 0 is field 3 (state) and index 1 is field 4 (ppid).
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the name may contain spaces and ')'
	if i < 0 || i+2 > len(s) {
		return nil, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return strings.Fields(s[i+2:]), nil
}

// procOf returns the identity of the running process pid.
func procOf(pid int) (proc, error) {
	f, err := statFields(pid)
	if err != nil {
		return proc{}, err
	}
	if len(f) < 20 {
		return proc{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return proc{}, err
	}
	return proc{pid: pid, start: start}, nil
}

// alive reports whether p is still running (a zombie counts as gone).
func (p proc) alive() bool {
	f, err := statFields(p.pid)
	if err != nil || len(f) < 20 {
		return false
	}
	return f[0] != "Z" && f[19] == strconv.FormatUint(p.start, 10)
}

// kill sends SIGKILL to p if it is still the same process.
func (p proc) kill() {
	if p.alive() {
		syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// allPIDs returns the PID of every process in this PID namespace.
func allPIDs() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// children returns the PIDs of the processes whose parent is pid.
func children(pid int) []int {
	var kids []int
	for _, p := range allPIDs() {
		if f, err := statFields(p); err == nil && len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// descendants returns every process below root in the process tree (not
// root itself).
func descendants(root int) []proc {
	kids := map[int][]int{}
	for _, p := range allPIDs() {
		if f, err := statFields(p); err == nil && len(f) > 1 {
			if ppid, err := strconv.Atoi(f[1]); err == nil {
				kids[ppid] = append(kids[ppid], p)
			}
		}
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, k := range kids[p] {
			if id, err := procOf(k); err == nil {
				out = append(out, id)
			}
			queue = append(queue, k)
		}
	}
	return out
}

// comm returns the command name of pid (/proc/PID/comm).
func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}
