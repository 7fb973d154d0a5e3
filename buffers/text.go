package buffers

import "strconv"

// ShortID shortens a container ID as docker ps does.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// SizeText prints a byte count in the unit it is a whole number of: 64K,
// 16M, 1G, 1000.
func SizeText(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "G"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "M"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "K"
	}
	return strconv.FormatInt(n, 10)
}
