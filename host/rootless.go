package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// RootlessRunDir is where rootless dockerds keep their pid files:
// $XDG_RUNTIME_DIR/docker.pid, /run/user/UID/docker.pid.
const RootlessRunDir = "/run/user"

// RootlessDockerds lists the rootless dockerds running on the host: a
// /run/user/UID/docker.pid naming a live dockerd (a glob and two small
// reads per user with one; no process scan).
func (e *Env) RootlessDockerds() []string {
	pids, _ := filepath.Glob(filepath.Join(e.Path(RootlessRunDir), "*", "docker.pid"))
	var out []string
	for _, p := range pids {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 32 {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !e.IsDockerd(pid) {
			continue
		}
		rel := strings.TrimPrefix(p, e.Path("/"))
		out = append(out, fmt.Sprintf("/%s (PID %d)", strings.TrimPrefix(rel, "/"), pid))
	}
	sort.Strings(out)
	return out
}
