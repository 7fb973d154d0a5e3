package sysctl

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"strings"
)

// DefaultPipeMaxSize is the fs.pipe-max-size dlr asks for when the user gives
// no size: 16 MiB, 256 times the 64 KiB a pipe gets by default.
const DefaultPipeMaxSize = 16 << 20

// maxPipeMaxSize is the largest value the kernel accepts for
// fs.pipe-max-size (round_pipe_size in fs/pipe.c refuses anything above 2^31).
const maxPipeMaxSize = 1 << 31

// ParseSize parses a byte count the way a user types it on dlr's command line.
//
// Accepted are a decimal number of bytes ("1048576") and a decimal number
// followed by the binary unit K, M or G, optionally followed by "iB" or "B":
// "64K", "16M", "16MiB", "16MB", "1G". Units are case-insensitive and always
// powers of 1024, so "16MB" is 16 MiB; a plain "B" means bytes. Blanks around
// the value and between the number and the unit are allowed. Signs,
// fractions, other units and values that do not fit in a uint64 are errors.
// ParseSize does not check that the size suits fs.pipe-max-size; see
// [ValidatePipeMaxSize].
func ParseSize(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && '0' <= t[i] && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("parsing size %q: want a number of bytes, optionally followed by K, M or G", s)
	}
	n, err := strconv.ParseUint(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing size %q: number too large", s)
	}
	unit := strings.TrimSpace(t[i:])
	shift, ok := unitShift(unit)
	if !ok {
		return 0, fmt.Errorf("parsing size %q: unknown unit %q (want K, M or G, optionally followed by iB or B)", s, unit)
	}
	if n > math.MaxUint64>>shift {
		return 0, fmt.Errorf("parsing size %q: number too large", s)
	}
	return n << shift, nil
}

// unitShift returns log2 of the multiplier of a size unit.
func unitShift(unit string) (uint, bool) {
	switch strings.ToLower(unit) {
	case "", "b":
		return 0, true
	case "k", "kb", "kib":
		return 10, true
	case "m", "mb", "mib":
		return 20, true
	case "g", "gb", "gib":
		return 30, true
	}
	return 0, false
}

// ValidatePipeMaxSize reports whether n is a value dlr may use for
// fs.pipe-max-size: a power of two of at least one memory page
// (os.Getpagesize) and at most 2^31 bytes (2 GiB). The kernel itself takes any
// value up to 2^31 and rounds it up to such a power of two; dlr asks for exact
// values so that what it writes is what /proc/sys reads back.
func ValidatePipeMaxSize(n uint64) error {
	return validatePipeMaxSize(n, uint64(os.Getpagesize()))
}

func validatePipeMaxSize(n, page uint64) error {
	if n < page || n > maxPipeMaxSize || bits.OnesCount64(n) != 1 {
		return fmt.Errorf("%s = %d is not allowed: want a power of two from one page, %s, to %s",
			Key, n, describe(page), describe(maxPipeMaxSize))
	}
	return nil
}

// kernelRound returns the value the kernel stores when v is written to
// fs.pipe-max-size (round_pipe_size in fs/pipe.c): at least one page, rounded
// up to a power of two. It reports false for values the kernel refuses.
func kernelRound(v, page uint64) (uint64, bool) {
	if v > maxPipeMaxSize {
		return 0, false
	}
	if v < page {
		return page, true
	}
	return 1 << bits.Len64(v-1), true
}

// parseKernelValue parses a value from a sysctl.d file as the kernel's
// proc_dointvec family does: decimal, 0x-prefixed hexadecimal or 0-prefixed
// octal, with no sign.
func parseKernelValue(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || s[0] == '+' || s[0] == '-' || strings.Contains(s, "_") {
		return 0, false
	}
	v, err := strconv.ParseUint(s, base, 64)
	return v, err == nil
}

// describe formats a byte count for messages: "16777216 (16 MiB)", or just
// the number when it is not a whole number of KiB, MiB or GiB.
func describe(n uint64) string {
	for _, u := range []struct {
		shift uint
		name  string
	}{{30, "GiB"}, {20, "MiB"}, {10, "KiB"}} {
		if n != 0 && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d (%d %s)", n, n>>u.shift, u.name)
		}
	}
	return strconv.FormatUint(n, 10)
}
