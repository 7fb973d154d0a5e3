// Command pipesz prints the buffer size of log FIFOs, independently of dlr:
// for each directory argument, every entry named *-stdout or *-stderr that
// is a FIFO, as "SIZE NAME" (F_GETPIPE_SZ). It opens each one read-only and
// non-blocking and reads nothing. dlr's end-to-end tests copy it into the
// guest (build it with CGO_ENABLED=0).
//
// Two more modes, for the scale benchmark (e2e/scale_test.go):
//
//	pipesz -set SIZE DIR...       set each FIFO's size (F_SETPIPE_SZ), e.g.
//	                              back to the stock 65536 between rounds
//	pipesz -grown SIZE -for D ROOT
//	                              for D, every 2 ms, look at each container
//	                              directory that appears under ROOT after
//	                              the start, and print "MICROS ID" (Unix time
//	                              in µs) once both its FIFOs are SIZE or more
package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	set := flag.Int("set", 0, "set every FIFO to this size")
	grown := flag.Int("grown", 0, "report when each new container's FIFOs reach this size")
	dur := flag.Duration("for", time.Minute, "how long -grown watches")
	flag.Parse()
	if *grown > 0 {
		os.Exit(watchGrown(flag.Arg(0), *grown, *dur))
	}
	code := 0
	for _, dir := range flag.Args() {
		sizes, err := fifos(dir, *set)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pipesz:", err)
			code = 1
		}
		for _, s := range sizes {
			fmt.Printf("%d %s\n", s.size, s.name)
		}
	}
	os.Exit(code)
}

type fifo struct {
	name string
	size int
}

// fifos reads (and, with set > 0, first sets) the size of each log FIFO in dir.
func fifos(dir string, set int) ([]fifo, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) && set > 0 {
		// -set over a shell glob of container directories: one that
		// ended between the glob and here has no FIFOs left to set.
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []fifo
	var errs []string
	for _, e := range ents {
		n := e.Name()
		if e.Type()&os.ModeNamedPipe == 0 || !(strings.HasSuffix(n, "-stdout") || strings.HasSuffix(n, "-stderr")) {
			continue
		}
		fd, err := unix.Open(filepath.Join(dir, n), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			errs = append(errs, n+": "+err.Error())
			continue
		}
		if set > 0 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, set); err != nil {
				errs = append(errs, n+": set: "+err.Error())
			}
		}
		sz, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
		unix.Close(fd)
		if err != nil {
			errs = append(errs, n+": "+err.Error())
			continue
		}
		out = append(out, fifo{n, sz})
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// watchGrown polls root's container directories that were not there at the
// start and prints when each one's two FIFOs first reach size.
func watchGrown(root string, size int, d time.Duration) int {
	old := map[string]bool{}
	if ents, err := os.ReadDir(root); err == nil {
		for _, e := range ents {
			old[e.Name()] = true
		}
	}
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			id := e.Name()
			if old[id] {
				continue
			}
			sizes, _ := fifos(filepath.Join(root, id), 0)
			ok := len(sizes) >= 2
			for _, s := range sizes {
				ok = ok && s.size >= size
			}
			if ok {
				fmt.Printf("%d %s\n", time.Now().UnixMicro(), id)
				old[id] = true
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0
}
