package buffers

import (
	"errors"
	"fmt"
)

// ErrBadSize is a size or budget that is not what dlr accepts (a usage
// error); ErrAbovePipeMax a size above fs.pipe-max-size or a
// fs.pipe-max-size below the 64K a pipe already has (dlr enable raises it).
var (
	ErrBadSize      = errors.New("bad size")
	ErrAbovePipeMax = errors.New("fs.pipe-max-size too low")
)

// sizeError is an error of kind (ErrBadSize, ErrAbovePipeMax) with its
// own message.
type sizeError struct {
	kind error
	msg  string
}

func (e *sizeError) Error() string        { return e.msg }
func (e *sizeError) Is(target error) bool { return target == e.kind }

func sizeErr(kind error, format string, args ...any) error {
	return &sizeError{kind, fmt.Sprintf(format, args...)}
}

// Sizes works out the size of each stream and the budget for all of them:
// size (a power of two from 64K to 2G, at most pipeMax), else pipeMax
// rounded down to a power of two; budget, else [DefaultBudget] of memTotal
// (asked for only when needed). sizeText and budgetText are the options as
// given ("" when not given).
func Sizes(size, budget uint64, sizeText, budgetText string, pipeMax uint64, memTotal func() (int64, error)) (target, total int64, err error) {
	if sizeText != "" {
		n := size
		if n > 1<<31 || !IsPow2(int64(n)) || n < MinSize {
			return 0, 0, sizeErr(ErrBadSize, "--size %s: want a power of two from 64K to 2G", sizeText)
		}
		if n > pipeMax {
			return 0, 0, sizeErr(ErrAbovePipeMax, "--size %s is above fs.pipe-max-size (%s): run `dlr enable --pipe-max-size %s` first, or ask for less", sizeText, SizeText(int64(pipeMax)), SizeText(int64(n)))
		}
		target = int64(n)
	} else {
		target = int64(min(pipeMax, 1<<31))
		for target > 0 && !IsPow2(target) {
			target &= target - 1 // round down to a power of two
		}
		if target < MinSize {
			return 0, 0, sizeErr(ErrAbovePipeMax, "fs.pipe-max-size is %d bytes, below the 64K a pipe already has: run `dlr enable` first", pipeMax)
		}
	}
	if budgetText != "" {
		if budget < MinSize || budget > 1<<50 {
			return 0, 0, sizeErr(ErrBadSize, "--budget %s: want at least 64K", budgetText)
		}
		return target, int64(budget), nil
	}
	mem, err := memTotal()
	if err != nil {
		return 0, 0, fmt.Errorf("reading the memory size for the default budget: %v (give one with --budget)", err)
	}
	return target, DefaultBudget(mem), nil
}
