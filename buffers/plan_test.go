package buffers

import (
	"slices"
	"testing"
)

const (
	k = int64(1) << 10
	m = int64(1) << 20
)

var planTests = []struct {
	name      string
	current   []int64
	target    int64
	budget    int64
	want      []int64
	wantLevel int64
}{
	{"no streams", nil, 16 * m, 1 * m, nil, 16 * m},
	{"budget allows the target", []int64{64 * k, 64 * k}, 16 * m, 32 * m, []int64{16 * m, 16 * m}, 16 * m},
	{"budget short: equal share rounded down", []int64{64 * k, 64 * k, 64 * k}, 16 * m, 32 * m, []int64{8 * m, 8 * m, 8 * m}, 8 * m},
	{"never shrink; big stream counts", []int64{32 * m, 64 * k, 64 * k}, 16 * m, 40 * m, []int64{32 * m, 4 * m, 4 * m}, 4 * m},
	{"already grown stays", []int64{16 * m, 16 * m}, 16 * m, 32 * m, []int64{16 * m, 16 * m}, 16 * m},
	{"budget used up: nothing grows", []int64{64 * k, 64 * k}, 16 * m, 100 * k, []int64{64 * k, 64 * k}, 0},
	{"exactly the minimum", []int64{64 * k, 64 * k}, 16 * m, 128 * k, []int64{64 * k, 64 * k}, 64 * k},
	{"target not a power of two rounds down", []int64{64 * k}, 3 * m, 100 * m, []int64{2 * m}, 2 * m},
	{"target below minimum", []int64{64 * k}, 4 * k, 100 * m, []int64{64 * k}, 0},
	{"smaller than minimum grows to level", []int64{4 * k}, 1 * m, 1 * m, []int64{1 * m}, 1 * m},
	{"many containers", slices.Repeat([]int64{64 * k}, 200), 16 * m, 256 * m, slices.Repeat([]int64{1 * m}, 200), 1 * m},
}

func TestPlan(t *testing.T) {
	for _, tt := range planTests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.current)
			got, level := Plan(tt.current, tt.target, tt.budget)
			if !slices.Equal(got, tt.want) || level != tt.wantLevel {
				t.Errorf("Plan(%v, %d, %d) = %v, %d; want %v, %d", tt.current, tt.target, tt.budget, got, level, tt.want, tt.wantLevel)
			}
			if !slices.Equal(in, tt.current) {
				t.Errorf("Plan changed its input")
			}
		})
	}
}

// FuzzPlan checks Plan's promises: never shrink, within budget whenever
// anything grows, every grown stream at the level, the level a power of two.
func FuzzPlan(f *testing.F) {
	for _, tt := range planTests {
		var a, b int64
		if len(tt.current) > 0 {
			a = tt.current[0]
		}
		if len(tt.current) > 1 {
			b = tt.current[1]
		}
		f.Add(a, b, uint8(len(tt.current)), tt.target, tt.budget)
	}
	f.Fuzz(func(t *testing.T, a, b int64, n uint8, target, budget int64) {
		if a < 0 || b < 0 || a > 1<<31 || b > 1<<31 || target > 1<<31 || budget < 0 {
			return
		}
		cur := make([]int64, n)
		for i := range cur {
			cur[i] = a
			if i%2 == 1 {
				cur[i] = b
			}
		}
		got, level := Plan(cur, target, budget)
		var total, before int64
		for i := range cur {
			if got[i] < cur[i] {
				t.Fatalf("shrunk stream %d: %d -> %d", i, cur[i], got[i])
			}
			if got[i] > cur[i] && got[i] != level {
				t.Fatalf("stream %d grown to %d, level %d", i, got[i], level)
			}
			total += got[i]
			before += cur[i]
		}
		if level != 0 && (!IsPow2(level) || level < MinSize || level > target) {
			t.Fatalf("level %d (target %d)", level, target)
		}
		if total > before && total > budget {
			t.Fatalf("total %d over budget %d", total, budget)
		}
	})
}

func TestDefaultBudget(t *testing.T) {
	if got := DefaultBudget(8 << 30); got != 128*m {
		t.Errorf("DefaultBudget(8 GiB) = %d", got)
	}
	if got := DefaultBudget(1 << 20); got != 2*MinSize {
		t.Errorf("DefaultBudget(1 MiB) = %d", got)
	}
}

func TestParseMemTotal(t *testing.T) {
	got, err := parseMemTotal([]byte("MemTotal:       24684092 kB\nMemFree:  1 kB\n"))
	if err != nil || got != 24684092<<10 {
		t.Errorf("parseMemTotal = %d, %v", got, err)
	}
	for _, bad := range []string{"", "MemFree: 1 kB\n", "MemTotal: x kB\n", "MemTotal: 5 MB\n", "MemTotal: -5 kB\n"} {
		if _, err := parseMemTotal([]byte(bad)); err == nil {
			t.Errorf("parseMemTotal(%q) succeeded", bad)
		}
	}
}

// TestShort: a stream is short only when the budget keeps the level below
// the target; one that is below the target while the level reaches it is
// only not grown yet.
func TestShort(t *testing.T) {
	for _, tt := range []struct {
		name           string
		current        []int64
		target, budget int64
		want           []bool
	}{
		{"no streams", nil, 16 * m, 1 * m, []bool{}},
		{"not grown yet, budget allows the target", []int64{64 * k, 64 * k}, 16 * m, 32 * m, []bool{false, false}},
		{"budget allows half the target", []int64{64 * k, 64 * k, 64 * k}, 16 * m, 32 * m, []bool{true, true, true}},
		{"a big stream is not short", []int64{32 * m, 64 * k, 64 * k}, 16 * m, 40 * m, []bool{false, true, true}},
		{"grown to the level, still short", []int64{8 * m, 8 * m, 8 * m}, 16 * m, 32 * m, []bool{true, true, true}},
		{"budget used up", []int64{64 * k, 64 * k}, 16 * m, 100 * k, []bool{true, true}},
		{"all at the target", []int64{16 * m, 16 * m}, 16 * m, 32 * m, []bool{false, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, level := Short(tt.current, tt.target, tt.budget)
			_, want := Plan(tt.current, tt.target, tt.budget)
			if !slices.Equal(got, tt.want) || level != want {
				t.Errorf("Short(%v, %d, %d) = %v, %d; want %v, %d", tt.current, tt.target, tt.budget, got, level, tt.want, want)
			}
		})
	}
}
