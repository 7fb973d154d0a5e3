// Package safetext is dlr's one rendering of untrusted text for a terminal
// or a log line: container names, package versions, the daemon's version
// and state, file contents and apt's input may hold control characters (a
// newline that forges a "FAIL  injected" line in `dlr check`, an escape
// sequence that rewrites the screen) or be megabytes long. Every text
// report passes through [Report] before it is printed (cmd/dlr's
// writeText), and messages that quote input use [Quote].
package safetext

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxField is the most bytes of one value Clean keeps; the rest is cut,
// saying how much.
const MaxField = 2048

// Clean returns s with every control character (C0 and C1, DEL, a newline
// included), every byte that is not UTF-8 and Unicode's bidirectional
// overrides escaped as Go does (\n, \x1b, \u202e), cut to MaxField bytes.
// Printable text, quotes and backslashes are left as they are.
func Clean(s string) string {
	if len(s) > MaxField {
		cut := MaxField
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return Clean(s[:cut]) + fmt.Sprintf("... (%d bytes more)", len(s)-cut)
	}
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case escaped(r):
			q := strconv.QuoteRune(r)
			if strings.HasPrefix(q, `'\`) {
				b.WriteString(q[1 : len(q)-1])
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Quote is Go's quoting of s (quotes around it, every control character
// escaped), cut to 200 bytes, saying how much more there was: for a
// message that echoes input.
func Quote(s string) string {
	const max = 200
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes more)", strconv.Quote(s[:cut]), len(s)-cut)
}

func needsEscape(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || escaped(r) {
			return true
		}
	}
	return false
}

func escaped(r rune) bool {
	return unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f
}

// Report cleans, in place, every string reachable from v (a pointer to a
// report): struct fields, slices, map keys and values, through pointers.
// Strings in unexported fields are left (they are not printed).
func Report(v any) {
	clean(reflect.ValueOf(v))
}

func clean(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			e := v.Elem()
			if v.Kind() == reflect.Interface {
				// An interface's value cannot be set in place: clean a
				// copy and put it back.
				c := reflect.New(e.Type()).Elem()
				c.Set(e)
				clean(c)
				if v.CanSet() {
					v.Set(c)
				}
				return
			}
			clean(e)
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(Clean(v.String()))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				clean(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			clean(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() || !v.CanSet() {
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), v.Len())
		it := v.MapRange()
		for it.Next() {
			k := reflect.New(v.Type().Key()).Elem()
			k.Set(it.Key())
			clean(k)
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(it.Value())
			clean(e)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	}
}
