package buffers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"golang.org/x/sys/unix"
)

// Options say what [Grow] does.
type Options struct {
	// ExecRoot is dockerd's exec root; "" means [DefaultExecRoot].
	ExecRoot string
	// Target is the size to grow each stream to: a power of two, at least
	// [MinSize]. Keep it within fs.pipe-max-size (see the package doc).
	Target int64
	// Budget bounds the sum of the sizes of all streams, in bytes.
	Budget int64
	// Containers, when not empty, limits growing to the streams of these
	// containers (full IDs). Every stream still counts against the budget.
	Containers []string
}

// Result is what happened to one stream.
type Result struct {
	Container string `json:"container"`
	Name      string `json:"name"`
	Path      string `json:"path"`
	Exec      bool   `json:"exec"`
	// Old and New are the buffer sizes before and after, in bytes (New ==
	// Old when nothing was done; both 0 when the size could not be read).
	Old int64 `json:"old"`
	New int64 `json:"new"`
	// Grown is true when the stream was grown by this call.
	Grown bool `json:"grown"`
	// Gone is true when the stream disappeared (its container or exec
	// session ended) between the scan and the growth: not an error.
	Gone bool `json:"gone,omitempty"`
	// Error says why the stream could not be read or grown.
	Error string `json:"error,omitempty"`
}

// Report is the outcome of [Grow].
type Report struct {
	ExecRoot string `json:"exec_root"`
	Target   int64  `json:"target"`
	Budget   int64  `json:"budget"`
	// Level is the size planned for every stream (see [Plan]): Target
	// when the budget allows it, smaller when it is short, 0 when nothing
	// could be grown.
	Level int64 `json:"level"`
	// Total is the sum of all streams' sizes afterwards.
	Total   int64    `json:"total"`
	Streams []Result `json:"streams"`
	// Failed counts streams with an Error.
	Failed int `json:"failed"`
}

// Grown returns the number of streams grown.
func (r *Report) Grown() int {
	n := 0
	for _, s := range r.Streams {
		if s.Grown {
			n++
		}
	}
	return n
}

// Grow scans every stream under the exec root, plans their sizes within the
// budget ([Plan]) and grows those below their planned size (of the given
// containers only, if any). It never shrinks a stream and never reads from
// one. A stream that cannot be opened or grown is reported in its Result
// and the others are still done; the report's Failed counts them. Grow
// returns an error (with a report of what was done so far) only if the
// exec root cannot be read, the options are invalid, or ctx ends.
func Grow(ctx context.Context, o Options) (*Report, error) {
	if o.ExecRoot == "" {
		o.ExecRoot = DefaultExecRoot
	}
	r := &Report{ExecRoot: o.ExecRoot, Target: o.Target, Budget: o.Budget, Streams: []Result{}}
	if !IsPow2(o.Target) || o.Target < MinSize {
		return r, fmt.Errorf("target size %d: must be a power of two of at least %d", o.Target, MinSize)
	}
	if o.Budget <= 0 {
		return r, fmt.Errorf("budget %d: must be positive", o.Budget)
	}
	streams, err := Scan(ctx, o.ExecRoot)
	if err != nil {
		return r, err
	}
	var cur []int64
	var idx []int // index into streams of each planned size
	for i, s := range streams {
		if s.Err == nil {
			cur = append(cur, s.Size)
			idx = append(idx, i)
		}
	}
	sizes, level := Plan(cur, o.Target, o.Budget)
	r.Level = level
	want := make([]int64, len(streams))
	for j, i := range idx {
		want[i] = sizes[j]
	}
	for i, s := range streams {
		res := Result{Container: s.Container, Name: s.Name, Path: s.Path, Exec: s.Exec, Old: s.Size, New: s.Size}
		switch {
		case s.Err != nil:
			res.Error = errText(s.Err)
		case want[i] > s.Size && (len(o.Containers) == 0 || slices.Contains(o.Containers, s.Container)):
			if err := ctx.Err(); err != nil {
				r.add(res)
				return r, err
			}
			old, now, err := SetSize(s.Path, want[i])
			switch {
			case errors.Is(err, unix.ENOENT):
				res.Gone, res.New = true, 0
			case err != nil:
				res.Error = errText(err)
			default:
				res.Old, res.New, res.Grown = old, now, now > old
			}
		}
		r.add(res)
	}
	return r, nil
}

func (r *Report) add(res Result) {
	r.Streams = append(r.Streams, res)
	r.Total += res.New
	if res.Error != "" {
		r.Failed++
	}
}

// errText is err's message; an *os.PathError keeps its path.
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + " " + pe.Path + ": " + pe.Err.Error()
	}
	return err.Error()
}
