// Command pipesz prints the buffer size of log FIFOs, independently of dlr:
// for each directory argument, every entry named *-stdout or *-stderr that
// is a FIFO, as "SIZE NAME" (F_GETPIPE_SZ). It opens each one read-only and
// non-blocking and reads nothing. dlr's end-to-end tests copy it into the
// guest (build it with CGO_ENABLED=0).
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	code := 0
	for _, dir := range os.Args[1:] {
		ents, err := os.ReadDir(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pipesz:", err)
			code = 1
			continue
		}
		for _, e := range ents {
			n := e.Name()
			if e.Type()&os.ModeNamedPipe == 0 || !(strings.HasSuffix(n, "-stdout") || strings.HasSuffix(n, "-stderr")) {
				continue
			}
			fd, err := unix.Open(filepath.Join(dir, n), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				fmt.Fprintln(os.Stderr, "pipesz:", n, err)
				code = 1
				continue
			}
			sz, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
			unix.Close(fd)
			if err != nil {
				fmt.Fprintln(os.Stderr, "pipesz:", n, err)
				code = 1
				continue
			}
			fmt.Printf("%d %s\n", sz, n)
		}
	}
	os.Exit(code)
}
