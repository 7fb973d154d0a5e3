package buffers

import (
	"bytes"
	"encoding/json"
	"github.com/docker-liverestore/dlr/atomicfile"
	"io"
	"path/filepath"
	"time"
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
	b, err := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	if err != nil {
		return nil, false
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:] // the first line may be cut
		}
	}
	return ratesFromJSONLog(b)
}

// ratesFromJSONLog is the pure part of RecentLogRates.
func ratesFromJSONLog(b []byte) (map[string]float64, bool) {
	var first, last time.Time
	bytesPer := map[string]int{}
	lines := 0
	for _, l := range bytes.Split(b, []byte("\n")) {
		var e struct {
			Log    string    `json:"log"`
			Stream string    `json:"stream"`
			Time   time.Time `json:"time"`
		}
		if len(l) == 0 || json.Unmarshal(l, &e) != nil || e.Time.IsZero() {
			continue
		}
		if first.IsZero() {
			first = e.Time
		}
		last = e.Time
		lines++
		if lines > 1 { // the first line's bytes came before the span starts
			bytesPer[e.Stream] += len(e.Log)
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
