package buffers

import (
	"math"
	"testing"
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
