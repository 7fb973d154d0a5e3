package buffers

import (
	"bufio"
	"bytes"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultBudgetDivisor sets the default budget: MemTotal / 64, about 1.6 %
// of RAM. It is a worst case that only an outage during which every stream
// fills at once would reach, and the memory is given back as soon as dockerd
// drains the FIFOs. On a 1 GiB machine it is 16 MiB (one container at 8 MiB
// per stream, 80 s at 100 KB/s); on 8 GiB, 128 MiB (4 containers at 16 MiB
// per stream, or 32 at 2 MiB, 20 s at 100 KB/s).
const DefaultBudgetDivisor = 64

// DefaultBudget returns the default budget for a machine with memTotal
// bytes of RAM: memTotal / [DefaultBudgetDivisor], but at least 2*MinSize
// (one container's two streams at the kernel's default size).
func DefaultBudget(memTotal int64) int64 {
	return max(memTotal/DefaultBudgetDivisor, 2*MinSize)
}

// MemTotal reads MemTotal from <proc>/meminfo, in bytes.
func MemTotal(proc string) (int64, error) {
	path := filepath.Join(proc, "meminfo")
	b, err := atomicfile.ReadFile(path, atomicfile.MaxRead)
	if err != nil {
		return 0, err
	}
	n, err := parseMemTotal(b)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// parseMemTotal finds "MemTotal: <n> kB" in /proc/meminfo's text.
func parseMemTotal(b []byte) (int64, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("unexpected MemTotal line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > 1<<50 {
			return 0, fmt.Errorf("unexpected MemTotal line %q", sc.Text())
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no MemTotal line")
}
