package buffers

import "math/bits"

// MinSize is the smallest stream size dlr plans: the kernel's default pipe
// size (16 pages of 4 KiB). A level below it would not grow anything.
const MinSize = 64 << 10

// Plan returns the size each stream should have, given the streams' current
// sizes, the target size of one stream and the budget for all of them
// together, and the level: the size every stream smaller than it is grown
// to.
//
// The level is the largest power of two from MinSize up to target (target
// rounded down to a power of two) for which the streams fit in the budget,
// each counted at the larger of its current size and the level. Streams
// already at or above the level keep their size: nothing is shrunk. When
// even MinSize does not fit (the streams already use the budget), the level
// is 0 and every size is left as it is. Plan does no I/O.
func Plan(current []int64, target, budget int64) (sizes []int64, level int64) {
	sizes = append([]int64(nil), current...)
	if target < MinSize {
		return sizes, 0
	}
	for l := floorPow2(target); l >= MinSize; l /= 2 {
		var total int64
		for _, c := range current {
			total += max(c, l)
			if total > budget {
				break
			}
		}
		if total <= budget {
			for i, c := range current {
				sizes[i] = max(c, l)
			}
			return sizes, l
		}
	}
	return sizes, 0
}

// Short reports which streams the budget keeps below target, and the
// level [Plan] gives them. When the level is below target (the budget does
// not allow every stream the target size), every stream smaller than
// target is short. A stream below target while the level reaches target is
// not short: it is only not grown yet (the watcher grows it, or dlr
// buffers). Short does no I/O.
func Short(current []int64, target, budget int64) (short []bool, level int64) {
	_, level = Plan(current, target, budget)
	short = make([]bool, len(current))
	if level >= target {
		return short, level
	}
	for i, c := range current {
		short[i] = c < target
	}
	return short, level
}

// floorPow2 returns the largest power of two not above n (n > 0).
func floorPow2(n int64) int64 {
	return 1 << (63 - bits.LeadingZeros64(uint64(n)))
}

// IsPow2 reports whether n is a power of two.
func IsPow2(n int64) bool { return n > 0 && n&(n-1) == 0 }
