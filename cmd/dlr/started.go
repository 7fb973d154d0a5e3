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

// processStart returns when a process started, from /proc/PID/stat (field
// 22, in clock ticks since boot) and the boot time in /proc/stat.
func (h *host) processStart(pid int) (time.Time, bool) {
	stat, err := os.ReadFile(filepath.Join(h.proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return time.Time{}, false
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return time.Time{}, false
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64) // field 22 overall
	if err != nil {
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
