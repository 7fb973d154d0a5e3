package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// ErrNoDockerChain means iptables has no nat DOCKER chain: dockerd never
// made it (iptables off in dockerd) or something deleted it.
var ErrNoDockerChain = errors.New("iptables has no DOCKER chain in its nat table")

// realNATPorts runs `iptables -w 5 -t nat -S DOCKER` and returns the
// destination ports of its DNAT rules: dockerd writes one per published
// port, and a firewall reload that flushes the chain leaves the port
// unreachable from other hosts until dockerd writes them again.
func (e *Env) realNATPorts(ctx context.Context) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.T.Call)
	defer cancel()
	path, err := exec.LookPath("iptables")
	if err != nil {
		return nil, fmt.Errorf("no iptables command on $PATH: %w", err)
	}
	var stderr bytes.Buffer
	var stdout bytes.Buffer
	cmd := Command(ctx, path, "-w", "5", "-t", "nat", "-S", "DOCKER")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = Run(cmd)
	out := stdout.Bytes()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "No chain") || strings.Contains(msg, "does not exist") {
			return nil, ErrNoDockerChain
		}
		return nil, fmt.Errorf("iptables -t nat -S DOCKER: %v: %s", err, msg)
	}
	return ParseNATPorts(string(out)), nil
}

// ParseNATPorts reads `iptables -t nat -S DOCKER` and returns the
// destination ports (--dport) of its DNAT rules, e.g. from
//
//	-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:8080
func ParseNATPorts(out string) map[int]bool {
	ports := map[int]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" || !hasPair(f, "-j", "DNAT") {
			continue
		}
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "--dport" {
				if n, err := strconv.Atoi(f[i+1]); err == nil {
					ports[n] = true
				}
			}
		}
	}
	return ports
}

func hasPair(f []string, k, v string) bool {
	for i := 0; i+1 < len(f); i++ {
		if f[i] == k && f[i+1] == v {
			return true
		}
	}
	return false
}
