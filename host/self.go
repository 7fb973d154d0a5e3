package host

import (
	"bytes"
	"fmt"
	"github.com/docker-liverestore/dlr/atomicfile"
	"path/filepath"
	"strings"
)

// StableDirs are the directories a binary is installed in: a path there
// outlasts the run, so dlr's drop-in and watcher unit may name it.
var StableDirs = []string{"/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"}

// UnstableSelfError: dlr runs from a path that may be gone tomorrow (a
// temporary directory, a home directory, a build tree), and no installed
// copy of the same binary was found.
type UnstableSelfError struct{ Path string }

func (e *UnstableSelfError) Error() string {
	return fmt.Sprintf("dlr runs from %s, which is not an installed path (%s): docker.service's hooks and the watcher unit would name it, "+
		"and stop working once it is gone. Install it first (install -m 0755 %s /usr/local/bin/dlr) and run /usr/local/bin/dlr enable",
		e.Path, "/usr/bin, /usr/local/bin, /usr/sbin, /usr/local/sbin", e.Path)
}

// StableSelf returns the path that dlr's drop-in and watcher unit name:
// dlr's own (SelfPath) when it lies in one of [StableDirs]; else an
// installed dlr there (under Root) with the very same bytes, and a note
// saying so; else an [*UnstableSelfError].
func (e *Env) StableSelf() (path, note string, err error) {
	self := e.SelfPath()
	if stableDir(filepath.Dir(self)) && !strings.ContainsAny(self, " \t\n\\\"'%$;") {
		return self, "", nil
	}
	mine, err := atomicfile.ReadFile(self, maxBinary)
	if err != nil {
		return "", "", &UnstableSelfError{self}
	}
	for _, d := range StableDirs {
		p := filepath.Join(d, "dlr")
		b, err := atomicfile.ReadFile(e.Path(p), maxBinary)
		if err == nil && bytes.Equal(b, mine) {
			return p, fmt.Sprintf("dlr runs from %s; the hooks and the watcher name the same binary installed at %s", self, p), nil
		}
	}
	return "", "", &UnstableSelfError{self}
}

func stableDir(d string) bool {
	for _, s := range StableDirs {
		if d == s {
			return true
		}
	}
	return false
}

// maxBinary bounds what StableSelf reads of dlr's binary and of an
// installed copy to compare (dlr is about 10 MB).
const maxBinary = 256 << 20
