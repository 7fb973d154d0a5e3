package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/daemonjson"
)

// Config is daemon.json as read: its bytes, whether it exists, and the file
// an edit will replace (a symlink's target).
type Config struct {
	Path   string
	Target string
	Exists bool
	Data   []byte
	Doc    *daemonjson.Doc
	// Links is the target's number of hard links (1 for a plain file).
	Links int
}

// ReadConfig reads and parses daemon.json with ReadFile's guards. Whatever
// makes an edit unsafe (not a regular file, a symlink loop, unreadable, too
// large, not what dockerd would parse) is an error naming the file, with
// the file untouched. A missing file is an empty configuration
// (Exists false).
func ReadConfig(path string) (*Config, error) {
	target, fi, err := atomicfile.Resolve(path, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	c := &Config{Path: path, Target: target, Exists: fi != nil}
	if fi != nil {
		if s, ok := fi.Sys().(*syscall.Stat_t); ok {
			c.Links = int(s.Nlink)
		}
	}
	if c.Exists {
		if c.Data, err = ReadFile(target); err != nil {
			return nil, err
		}
	}
	c.Doc, err = daemonjson.Parse(c.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ReadFile reads a configuration file dlr is given (daemon.json, a
// candidate for `dlr validate`, the file dockerd is about to start with)
// with [atomicfile.ReadFile]'s guards (only a regular file, never blocking
// on a FIFO), and at most one byte more than daemonjson.MaxSize (a larger
// file is refused by Parse without reading it all).
func ReadFile(path string) ([]byte, error) {
	b, err := atomicfile.ReadFile(path, daemonjson.MaxSize)
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return b, nil // Parse refuses it in its own words
	}
	return b, err
}

// LiveRestoreWord describes "live-restore" in the file: "true", "false",
// "absent" or "no-file".
func (c *Config) LiveRestoreWord() string {
	if !c.Exists {
		return "no-file"
	}
	v, has := c.Doc.LiveRestore()
	switch {
	case !has:
		return "absent"
	case v:
		return "true"
	}
	return "false"
}

// stringKey returns a string member of the file ("" when absent or not a
// string).
func (c *Config) stringKey(key string) string {
	if c == nil {
		return ""
	}
	raw, ok := c.Doc.Lookup(key)
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

// ExecRoot finds dockerd's exec root (where its containers' log FIFOs
// are): flag (--exec-root), else dockerd's own --exec-root, else
// "exec-root" in its daemon.json (found as every command finds it:
// [Env.ConfigLocation], Snap included), else the default. It reads no
// D-Bus and no API: it runs as docker.service's ExecStop. It returns the
// directory, where it came from, and warnings.
func (e *Env) ExecRoot(flag, configFlag string, c Cmdline) (dir, source string, warnings []string) {
	if flag != "" {
		return flag, "--exec-root", nil
	}
	if v, ok := c.Flag("exec-root", false); ok && v != "" {
		return v, "--exec-root of " + c.Source, nil
	}
	var sources []Cmdline
	if len(c.Args) > 0 {
		sources = append(sources, c)
	}
	config, from := e.ConfigLocation(configFlag, sources, false)
	def := e.Path(DefaultExecRoot)
	cfg, err := ReadConfig(config)
	switch {
	case err == nil && !cfg.Exists:
	case err != nil && errors.Is(err, os.ErrNotExist):
	case err != nil:
		warnings = append(warnings, fmt.Sprintf("cannot use %s (%s): %v; assuming exec-root %s", config, from, err, def))
	default:
		if v := cfg.stringKey("exec-root"); v != "" {
			return v, "\"exec-root\" in " + config, warnings
		}
	}
	return def, "default", warnings
}

// DataRoot is dockerd's data root: its --data-root flag, else "data-root"
// (or the old "graph") in daemon.json, else the default; under Root.
func (e *Env) DataRoot(f *Facts, cfg *Config) string {
	root := ""
	for _, c := range f.FlagSources() {
		if v, ok := c.Flag("data-root", false); ok {
			root = v
			break
		}
	}
	for _, k := range []string{"data-root", "graph"} {
		if root == "" {
			root = cfg.stringKey(k)
		}
	}
	if root == "" {
		root = DefaultDataRoot
	}
	return e.Path(root)
}

// SwarmStateFile returns the path of dockerd's swarm state when it exists
// (<data-root>/swarm/docker-state.json): how a node that was in a swarm is
// known without asking dockerd.
func (e *Env) SwarmStateFile(f *Facts, cfg *Config) string {
	p := filepath.Join(e.DataRoot(f, cfg), "swarm", "docker-state.json")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

// IptablesOff reports whether the file tells dockerd not to manage
// iptables ("iptables": false): then it writes no DNAT rules.
func (c *Config) IptablesOff() bool {
	if c == nil {
		return false
	}
	raw, ok := c.Doc.Lookup("iptables")
	return ok && strings.TrimSpace(string(raw)) == "false"
}

// Ip6tablesOff reports whether the file tells dockerd not to write IPv6
// rules ("ip6tables": false).
func (c *Config) Ip6tablesOff() bool {
	if c == nil {
		return false
	}
	raw, ok := c.Doc.Lookup("ip6tables")
	return ok && strings.TrimSpace(string(raw)) == "false"
}

// FirewallBackend is the file's "firewall-backend" ("" when absent).
func (c *Config) FirewallBackend() string { return c.stringKey("firewall-backend") }
