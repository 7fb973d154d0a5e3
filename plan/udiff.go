package plan

import (
	"bytes"
	"fmt"
	"strings"
)

// UnifiedDiff returns a unified diff of two versions of a file. dlr's edits
// change one contiguous span, so the diff is the lines between the common
// leading and trailing lines, with up to three lines of context: linear in
// the file size, and a valid (if not always minimal) diff for any input.
// A missing file is shown as /dev/null.
func UnifiedDiff(path string, old, new []byte, oldExists, newExists bool) string {
	if oldExists == newExists && bytes.Equal(old, new) {
		return ""
	}
	a, b := splitLines(old), splitLines(new)
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	const ctx = 3
	start := max(p-ctx, 0)
	aEnd := min(len(a)-s+ctx, len(a))
	bEnd := min(len(b)-s+ctx, len(b))

	var sb strings.Builder
	from, to := "a"+path, "b"+path
	if !oldExists {
		from = "/dev/null"
	}
	if !newExists {
		to = "/dev/null"
	}
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", from, to)
	fmt.Fprintf(&sb, "@@ -%s +%s @@\n", hunkRange(start, aEnd-start), hunkRange(start, bEnd-start))
	for _, l := range a[start:p] {
		writeLine(&sb, ' ', l)
	}
	for _, l := range a[p : len(a)-s] {
		writeLine(&sb, '-', l)
	}
	for _, l := range b[p : len(b)-s] {
		writeLine(&sb, '+', l)
	}
	for _, l := range a[len(a)-s : aEnd] {
		writeLine(&sb, ' ', l)
	}
	return sb.String()
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits after each "\n", keeping it, so that a missing final
// newline is visible.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, string(b))
			break
		}
		out = append(out, string(b[:i+1]))
		b = b[i+1:]
	}
	return out
}

func writeLine(sb *strings.Builder, mark byte, l string) {
	sb.WriteByte(mark)
	sb.WriteString(strings.TrimSuffix(l, "\n"))
	sb.WriteByte('\n')
	if !strings.HasSuffix(l, "\n") {
		sb.WriteString("\\ No newline at end of file\n")
	}
}
