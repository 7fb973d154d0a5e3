package buffers

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
)

// logTail is how much of a container's json-file log is read to estimate
// its recent output rate.
const logTail = 256 << 10

// RecentLogRates estimates a container's recent output rate, per stream, in
// bytes per second, from the tail of its json-file log
// (<data-root>/containers/<id>/<id>-json.log): the payload bytes of the
// lines in the tail over the time they span. ok is false when the log is not
// a json-file log, cannot be read, or spans too little time to tell.
func RecentLogRates(dataRoot, id string) (rates map[string]float64, ok bool) {
	return recentLogRates(dataRoot, id, nil)
}

// recentLogRates is RecentLogRates reading into buf when it holds
// logTail bytes: one buffer per worker, not one per container.
func recentLogRates(dataRoot, id string, buf []byte) (rates map[string]float64, ok bool) {
	f, err := atomicfile.OpenRead(filepath.Join(dataRoot, "containers", id, id+"-json.log"))
	if err != nil {
		return nil, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false
	}
	off := max(fi.Size()-logTail, 0)
	if len(buf) < logTail {
		buf = make([]byte, logTail)
	}
	n, err := f.ReadAt(buf[:fi.Size()-off], off)
	if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
		return nil, false
	}
	b := buf[:n]
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:] // the first line may be cut
		}
	}
	return ratesFromJSONLog(b)
}

// ratesFromJSONLog is the pure part of RecentLogRates. A line in the form
// dockerd writes ({"log":"...","stream":"...","time":"..."}, ASCII) is read
// by hand; any other line by encoding/json, so both read the same values:
// a tail of 256 KiB is about 2,000 lines, and dlr status reads one per
// running container.
func ratesFromJSONLog(b []byte) (map[string]float64, bool) {
	var first, last time.Time
	bytesPer := map[string]int{}
	lines := 0
	stream := "" // the last line's, kept as a string: most lines repeat it
	for len(b) > 0 {
		l := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			l, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(l) == 0 {
			continue
		}
		e, ok := parseLogLine(l)
		if !ok || e.t.IsZero() {
			continue
		}
		if first.IsZero() {
			first = e.t
		}
		last = e.t
		lines++
		if lines > 1 { // the first line's bytes came before the span starts
			if string(e.stream) != stream {
				stream = string(e.stream)
			}
			bytesPer[stream] += e.logLen
		}
	}
	span := last.Sub(first).Seconds()
	if lines < 2 || span < 1 {
		return nil, false
	}
	rates := map[string]float64{"stdout": 0, "stderr": 0}
	for s, n := range bytesPer {
		rates[s] = float64(n) / span
	}
	return rates, true
}

// logEntry is what ratesFromJSONLog reads of a json-file log line: the
// decoded length of "log", "stream" and "time".
type logEntry struct {
	logLen int
	stream []byte
	t      time.Time
}

// parseLogLine reads one json-file log line; ok is false when
// encoding/json would not decode it.
func parseLogLine(l []byte) (logEntry, bool) {
	if e, ok := quickLogLine(l); ok {
		return e, true
	}
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

// quickLogLine reads a line of exactly the form
// {"log":"...","stream":"...","time":"..."} whose strings are printable
// ASCII with two-character escapes only; ok is false for anything else
// (then encoding/json decides), including a time that does not parse.
func quickLogLine(l []byte) (e logEntry, ok bool) {
	rest, ok := bytes.CutPrefix(l, []byte(`{"log":`))
	if !ok {
		return e, false
	}
	var n int
	if n, e.logLen, ok = quickString(rest); !ok {
		return e, false
	}
	if rest, ok = bytes.CutPrefix(rest[n:], []byte(`,"stream":`)); !ok {
		return e, false
	}
	if n, _, ok = quickString(rest); !ok || bytes.IndexByte(rest[:n], '\\') >= 0 {
		return e, false
	}
	e.stream = rest[1 : n-1]
	if rest, ok = bytes.CutPrefix(rest[n:], []byte(`,"time":`)); !ok {
		return e, false
	}
	if n, _, ok = quickString(rest); !ok || n != len(rest)-1 || rest[n] != '}' {
		return e, false
	}
	// The same parser encoding/json uses for a time.Time.
	if e.t.UnmarshalJSON(rest[:n]) != nil {
		return logEntry{}, false
	}
	return e, true
}

// quickString reads the JSON string at the start of b: its length in b
// (quotes included) and decoded. ok is false unless it is printable ASCII
// with escapes \" \\ \/ \b \f \n \r \t only.
func quickString(b []byte) (n, decoded int, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return 0, 0, false
	}
	for i := 1; i < len(b); i++ {
		switch plain[b[i]] {
		case 1:
			decoded++
		case 2: // the closing quote
			return i + 1, decoded, true
		case 3: // a backslash
			if i+1 >= len(b) || plain[b[i+1]] == 0 || !escapable[b[i+1]] {
				return 0, 0, false
			}
			i++
			decoded++
		default:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// plain classes the bytes of a string quickString reads: 1 printable ASCII,
// 2 the quote, 3 the backslash, 0 anything else.
var plain = func() (t [256]byte) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = 1
	}
	t['"'], t['\\'] = 2, 3
	return t
}()

// escapable are the characters after a backslash quickString takes.
var escapable = func() (t [256]bool) {
	for _, c := range []byte(`"\\/bfnrt`) {
		t[c] = true
	}
	return t
}()

// LogRates is RecentLogRates of one container.
type LogRates struct {
	Rates map[string]float64
	OK    bool
}

// RecentLogRatesOf is RecentLogRates for each of ids, as many at once as
// there are CPUs: the parse of 300 containers' tails is CPU work.
func RecentLogRatesOf(dataRoot string, ids []string) map[string]LogRates {
	out := make([]LogRates, len(ids))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ids)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, logTail)
			for i := int(next.Add(1)) - 1; i < len(ids); i = int(next.Add(1)) - 1 {
				out[i].Rates, out[i].OK = recentLogRates(dataRoot, ids[i], buf)
			}
		}()
	}
	wg.Wait()
	m := make(map[string]LogRates, len(ids))
	for i, id := range ids {
		m[id] = out[i]
	}
	return m
}
