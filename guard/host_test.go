package guard

import (
	"strings"
	"testing"
)

// The log-buffers item judges the containers' own streams; an exec
// session's (a health probe's) is counted in the message, not in the
// verdict.
func TestLogBuffers(t *testing.T) {
	const k64, m16 = 64 << 10, 16 << 20
	for _, tc := range []struct {
		own, execs []int64
		want       Severity
		says       string
	}{
		{nil, nil, Pass, "no container log FIFOs"},
		{[]int64{m16, m16}, nil, Pass, "2 container log FIFOs, all larger than 64K"},
		{[]int64{m16, m16, m16, m16, m16, m16, m16, m16}, []int64{k64, k64}, Pass, "8 container log FIFOs, all larger than 64K (2 of exec sessions not counted"},
		{[]int64{m16, k64}, []int64{k64}, Warn, "1 of 2 container log FIFOs are 64K"},
		{nil, []int64{k64, k64}, Pass, "no container log FIFOs (2 of exec sessions"},
	} {
		f := LogBuffers(tc.own, tc.execs)
		if f.Severity != tc.want || !strings.Contains(f.Message, tc.says) {
			t.Errorf("own %v execs %v: %v %q, want %v saying %q", tc.own, tc.execs, f.Severity, f.Message, tc.want, tc.says)
		}
	}
}
