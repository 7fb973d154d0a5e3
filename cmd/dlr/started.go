package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the start time in /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture dlr is built for.
const userHZ = 100

// startTicks returns when a process started, in clock ticks since boot
// (/proc/PID/stat field 22): with the PID, it names one process for good.
func (h *host) startTicks(pid int) (uint64, bool) {
	stat, err := os.ReadFile(filepath.Join(h.proc, strconv.Itoa(pid), "stat"))
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
func (h *host) processStart(pid int) (time.Time, bool) {
	ticks, ok := h.startTicks(pid)
	if !ok {
		return time.Time{}, false
	}
	pstat, err := os.ReadFile(filepath.Join(h.proc, "stat"))
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

// startedWithFile reports whether dockerd (pid) certainly started after the
// file was last changed, and so read it as it is now. Boot time has a
// resolution of a second, so anything closer than two seconds is "not
// certainly".
func (h *host) startedWithFile(pid int, file string) bool {
	if pid <= 0 {
		return false
	}
	fi, err := os.Stat(file)
	if err != nil {
		return false
	}
	start, ok := h.processStart(pid)
	return ok && start.After(fi.ModTime().Add(2*time.Second))
}
