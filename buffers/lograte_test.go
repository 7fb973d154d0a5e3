package buffers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRatesFromJSONLog(t *testing.T) {
	log := `{"log":"000001 x\n","stream":"stdout","time":"2026-11-25T10:00:00.000000000Z"}
{"log":"0123456789\n","stream":"stdout","time":"2026-11-25T10:00:01.000000000Z"}
{"log":"01234\n","stream":"stderr","time":"2026-11-25T10:00:01.500000000Z"}
{"log":"0123456789\n","stream":"stdout","time":"2026-11-25T10:00:02.000000000Z"}
`
	r, ok := ratesFromJSONLog([]byte(log))
	if !ok || math.Abs(r["stdout"]-11) > 1e-9 || math.Abs(r["stderr"]-3) > 1e-9 {
		t.Errorf("rates = %v, %v; want stdout 11 B/s, stderr 3 B/s", r, ok)
	}
	if _, ok := ratesFromJSONLog([]byte(`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z"}`)); ok {
		t.Error("one line gave a rate")
	}
	if _, ok := ratesFromJSONLog([]byte("not json\n")); ok {
		t.Error("garbage gave a rate")
	}
}

// loggerTail is logTail's worth of json-file log as dockerd writes it for
// the e2e logger at 5 lines/s (100-byte lines): what RecentLogRates parses
// per container.
func loggerTail() []byte {
	var b []byte
	t0 := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	for i := 0; len(b) < logTail; i++ {
		t := t0.Add(time.Duration(i) * 200 * time.Millisecond).Add(time.Duration(i%1000) * 1234)
		line := fmt.Sprintf("%06d %d %s\n", i+1, t.UnixNano(), strings.Repeat("x", 100-1-6-1-19-1))
		e, _ := json.Marshal(struct {
			Log    string    `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
		}{line, "stdout", t})
		b = append(append(b, e...), '\n')
	}
	return b
}

// BenchmarkRatesFromJSONLog is the parse of one container's log tail:
// dlr status does it for every running container.
func BenchmarkRatesFromJSONLog(b *testing.B) {
	tail := loggerTail()
	b.SetBytes(int64(len(tail)))
	for b.Loop() {
		if _, ok := ratesFromJSONLog(tail); !ok {
			b.Fatal("no rate")
		}
	}
}

// slowLogLine is how RecentLogRates read a line before quickLogLine:
// encoding/json alone.
func slowLogLine(l []byte) (logEntry, bool) {
	var e struct {
		Log    string    `json:"log"`
		Stream string    `json:"stream"`
		Time   time.Time `json:"time"`
	}
	if json.Unmarshal(l, &e) != nil {
		return logEntry{}, false
	}
	return logEntry{logLen: len(e.Log), stream: []byte(e.Stream), t: e.Time}, true
}

var logLines = []string{
	`{"log":"000001 x\n","stream":"stdout","time":"2026-11-25T10:00:00.000000000Z"}`,
	`{"log":"tab\tquote\" slash\/ back\\ \b\f\r\n","stream":"stderr","time":"2026-11-25T10:00:00.5+01:00"}`,
	`{"log":"\u003cb\u003e\n","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"caf` + "\xc3\xa9" + `\n","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"bad ` + "\xff\xfe" + `\n","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"raw` + "\t" + `tab","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"x","stream":"std\u006fut","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"x","stream":"stdout","attrs":{"a":"b"},"time":"2026-11-25T10:00:00Z"}`,
	`{"Log":"x","Stream":"stdout","Time":"2026-11-25T10:00:00Z"}`,
	`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z"} `,
	`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z"}x`,
	`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z"}}`,
	`{"log":"x","stream":"stdout","time":"2026-11-25 10:00:00Z"}`,
	`{"log":"x","stream":"stdout","time":"0001-01-01T00:00:00Z"}`,
	`{"log":"x","stream":"stdout","time":null}`,
	`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z"`,
	`{"log":"x\","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"x\q","stream":"stdout","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"","stream":"","time":"2026-11-25T10:00:00Z"}`,
	`{"log":"x","stream":"stdout","time":"2026-11-25T10:00:00Z","log":"yy"}`,
	`not json`,
	``,
}

// TestQuickLogLine: the hand-read line gives what encoding/json gives, or
// leaves the line to it.
func TestQuickLogLine(t *testing.T) {
	quick := 0
	for _, l := range logLines {
		if _, ok := quickLogLine([]byte(l)); ok {
			quick++
		}
		checkLogLine(t, []byte(l))
	}
	if quick < 3 {
		t.Errorf("only %d of the lines were read by hand", quick)
	}
}

func checkLogLine(t *testing.T, l []byte) {
	got, gotOK := parseLogLine(l)
	want, wantOK := slowLogLine(l)
	if gotOK != wantOK || got.logLen != want.logLen || string(got.stream) != string(want.stream) || !got.t.Equal(want.t) || got.t.IsZero() != want.t.IsZero() {
		t.Errorf("%q: read %+v %v, encoding/json %+v %v", l, got, gotOK, want, wantOK)
	}
}

func FuzzParseLogLine(f *testing.F) {
	for _, l := range logLines {
		f.Add([]byte(l))
	}
	f.Fuzz(func(t *testing.T, l []byte) { checkLogLine(t, l) })
}

// TestRecentLogRatesOf: the rates of several containers' logs read at
// once, each into a reused buffer, are each log's own: a log longer than
// the tail, a short one, a missing one.
func TestRecentLogRatesOf(t *testing.T) {
	root := t.TempDir()
	long := append(loggerTail(), loggerTail()...)
	short := []byte(`{"log":"0123456789\n","stream":"stdout","time":"2026-11-25T10:00:00Z"}
{"log":"0123456789\n","stream":"stderr","time":"2026-11-25T10:00:02Z"}
`)
	for id, b := range map[string][]byte{"long": long, "short": short} {
		if err := os.MkdirAll(filepath.Join(root, "containers", id), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "containers", id, id+"-json.log"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"long", "short", "missing", "long", "short"}
	got := RecentLogRatesOf(root, ids)
	for _, id := range ids {
		r, ok := RecentLogRates(root, id)
		if g := got[id]; g.OK != ok || fmt.Sprint(g.Rates) != fmt.Sprint(r) {
			t.Errorf("%s: read at once %v %v, alone %v %v", id, g.Rates, g.OK, r, ok)
		}
	}
	tail := long[len(long)-logTail:]
	tail = tail[bytes.IndexByte(tail, '\n')+1:]
	want, _ := ratesFromJSONLog(tail)
	if r := got["long"]; !r.OK || fmt.Sprint(r.Rates) != fmt.Sprint(want) {
		t.Errorf("long: %v %v, want the last %d bytes' %v", r.Rates, r.OK, logTail, want)
	}
	if r := got["short"]; !r.OK || math.Abs(r.Rates["stderr"]-5.5) > 1e-9 || r.Rates["stdout"] != 0 {
		t.Errorf("short: %v %v, want stderr 5.5 B/s", r.Rates, r.OK)
	}
	if got["missing"].OK {
		t.Error("a missing log gave a rate")
	}
}
