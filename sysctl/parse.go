package sysctl

import (
	"path"
	"strconv"
	"strings"
)

// Setting is one line of a sysctl configuration file that concerns a key.
type Setting struct {
	// File is the path of the file the line was read from, under Dirs.Root
	// (for a symlinked file, the path of the link in the sysctl.d directory).
	File string
	// Line is the 1-based line number in File.
	Line int
	// Key is the key as written, without a leading "-": "fs.pipe-max-size",
	// "fs/pipe-max-size" or a glob such as "fs.*".
	Key string
	// Value is the value as written, without surrounding blanks. It is empty
	// for an exclusion.
	Value string
	// IgnoreFailure is set when the assignment was written "-key = value":
	// systemd-sysctl ignores a failure to write it.
	IgnoreFailure bool
	// Exclude is set for a line "-key" without "=": it sets nothing, cancels
	// an earlier assignment of the same key and keeps glob assignments from
	// applying to the key (sysctl.d(5), "negative match").
	Exclude bool
}

// String formats s for messages: `FILE line N: KEY = VALUE`.
func (s Setting) String() string {
	if s.Exclude {
		return s.File + " line " + strconv.Itoa(s.Line) + ": -" + s.Key
	}
	return s.File + " line " + strconv.Itoa(s.Line) + ": " + s.Key + " = " + s.Value
}

// parseConf returns the assignments and exclusions in one sysctl.d file, in
// file order, read as systemd-sysctl reads them: blanks around each line and
// around "=" are ignored, lines starting with "#" or ";" are comments, and
// lines that are neither an assignment nor a "-key" exclusion are skipped
// (systemd-sysctl warns about them and goes on). Lines may end in "\n" or
// "\r\n".
func parseConf(file string, data []byte) []Setting {
	var out []Setting
	for i, line := range strings.Split(string(data), "\n") {
		p := trimBlanks(line)
		if p == "" || p[0] == '#' || p[0] == ';' {
			continue
		}
		s := Setting{File: file, Line: i + 1}
		key, value, isAssignment := strings.Cut(p, "=")
		switch {
		case isAssignment:
			if strings.HasPrefix(key, "-") {
				s.IgnoreFailure = true
				key = key[1:]
			}
			s.Value = trimBlanks(value)
		case strings.HasPrefix(key, "-"):
			s.Exclude = true
			key = key[1:]
		default:
			continue
		}
		s.Key = trimBlanks(key)
		if normalizeKey(s.Key) == "" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// trimBlanks removes what systemd's strstrip removes.
func trimBlanks(s string) string { return strings.Trim(s, " \t\r\n") }

// normalizeKey turns a key into the path below /proc/sys that it names, as
// systemd's sysctl_normalize does: if the first separator is a dot, dots and
// slashes are swapped ("net.ipv4.conf.eth0/10.rp_filter" names
// net/ipv4/conf/eth0.10/rp_filter); if it is a slash, the key is a path
// already. Empty and "." path elements and a leading slash are dropped.
func normalizeKey(key string) string {
	if i := strings.IndexAny(key, "./"); i >= 0 && key[i] == '.' {
		b := []byte(key)
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '.':
				b[j] = '/'
			case '/':
				b[j] = '.'
			}
		}
		key = string(b)
	}
	elems := strings.Split(key, "/")
	kept := elems[:0]
	for _, e := range elems {
		if e != "" && e != "." {
			kept = append(kept, e)
		}
	}
	return strings.Join(kept, "/")
}

// isGlob reports whether a normalized key is a glob pattern, as systemd's
// string_is_glob does.
func isGlob(key string) bool { return strings.ContainsAny(key, "*?[") }

// concerns reports whether a setting applies to the normalized key: it names
// the key, or it is a glob that matches it (as glob(3) would match the path
// under /proc/sys: "*" does not cross "/").
func concerns(s Setting, key string) bool {
	n := normalizeKey(s.Key)
	if n == key {
		return true
	}
	if !isGlob(n) {
		return false
	}
	ok, err := path.Match(n, key)
	return err == nil && ok
}

// effective returns the setting that decides the normalized key once all
// settings are applied in order, and whether it sets a value: it reports
// false, with the exclusion line, when an exclusion leaves the key unset,
// and false with the zero Setting when no line concerns the key. It follows
// systemd-sysctl: assignments are kept per key as written (after
// normalization) in an ordered map; a later line for the same key replaces
// the earlier one and moves to the end, unless it sets the same value, in
// which case the earlier line is kept. An entry for the key itself, an
// exclusion included, keeps every glob from applying to it; otherwise the
// matching globs are written in map order and the last one with a value
// wins.
func effective(settings []Setting, key string) (Setting, bool) {
	type entry struct {
		key string
		s   Setting
	}
	var entries []entry
	for _, s := range settings {
		if !concerns(s, key) {
			continue
		}
		n := normalizeKey(s.Key)
		dup := -1
		for i, e := range entries {
			if e.key == n {
				dup = i
				break
			}
		}
		if dup >= 0 {
			if old := entries[dup].s; old.Exclude == s.Exclude && old.Value == s.Value {
				continue
			}
			entries = append(entries[:dup], entries[dup+1:]...)
		}
		entries = append(entries, entry{n, s})
	}
	for _, e := range entries {
		if e.key == key {
			return e.s, !e.s.Exclude
		}
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if !entries[i].s.Exclude {
			return entries[i].s, true
		}
	}
	return Setting{}, false
}
