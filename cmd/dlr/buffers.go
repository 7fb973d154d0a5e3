package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/docker-liverestore/dlr/buffers"
	"github.com/docker-liverestore/dlr/daemonjson"
	"github.com/docker-liverestore/dlr/sysctl"
	"github.com/spf13/pflag"
)

// bufferOptions are the options of `dlr buffers` and `dlr watch`.
type bufferOptions struct {
	size     string // per stream; "" = fs.pipe-max-size
	budget   string // all streams; "" = MemTotal / 64
	execRoot string // "" = from dockerd's flags and daemon.json
}

// addBufferFlags adds the options of `dlr buffers` and `dlr watch`.
func (o *options) addBufferFlags(fs *pflag.FlagSet, cmd string) {
	if cmd != "buffers" && cmd != "watch" {
		return
	}
	fs.StringVar(&o.buf.size, "size", "", "size of each log FIFO, a power of two, at most fs.pipe-max-size (default: fs.pipe-max-size)")
	fs.StringVar(&o.buf.budget, "budget", "", "memory for all log FIFOs together (default: 1/64 of RAM)")
	fs.StringVar(&o.buf.execRoot, "exec-root", "", "dockerd's exec root (default: from dockerd's flags and daemon.json, else "+buffers.DefaultExecRoot+")")
	if cmd == "buffers" {
		fs.BoolVar(&o.quiet, "quiet", false, "print nothing; exit 0 only if every log FIFO is as planned")
	}
}

// bufHost is the part of host that `dlr buffers` and `dlr watch` use.
type bufHost struct {
	getenv func(string) string
	// events opens the Engine API's event stream (watch).
	events func(socket string) eventSource
	// growTimeout bounds one `dlr buffers` run, and each growth by the
	// watcher. `dlr buffers` runs as docker.service's ExecStop, where it
	// must never hold up a stop: it opens FIFOs without blocking and reads
	// nothing from D-Bus, so it takes milliseconds; this is the backstop.
	growTimeout     time.Duration
	defaultExecRoot string
	// poll is how often the watcher looks at docker.service while dockerd
	// is down; backoffMin and backoffMax bound the wait after a failed
	// connection.
	poll, backoffMin, backoffMax time.Duration
}

func newBufHost() bufHost {
	return bufHost{
		getenv:      os.Getenv,
		events:      engineEvents,
		growTimeout: 5 * time.Second,
		// dockerd's default exec root; a host path like the others.
		defaultExecRoot: buffers.DefaultExecRoot,
		poll:            time.Second,
		backoffMin:      time.Second,
		backoffMax:      10 * time.Second,
	}
}

// bufferSizes is a target and a budget, checked.
type bufferSizes struct {
	target, budget int64
	pipeMax        uint64
}

// bufferSizes works out the size of each stream and the budget from the
// options, fs.pipe-max-size and MemTotal.
func (h *host) bufferSizes(o options) (bufferSizes, error) {
	var s bufferSizes
	pipeMax, err := sysctl.Running(h.procSys, sysctl.Key)
	if err != nil {
		return s, failed("reading fs.pipe-max-size: %v", err)
	}
	s.pipeMax = pipeMax
	if o.buf.size != "" {
		n, err := sysctl.ParseSize(o.buf.size)
		if err != nil {
			return s, usage("--size: %v", err)
		}
		if n > 1<<31 || !buffers.IsPow2(int64(n)) || n < buffers.MinSize {
			return s, usage("--size %s: want a power of two from 64K to 2G", o.buf.size)
		}
		if n > pipeMax {
			return s, refused("--size %s is above fs.pipe-max-size (%s): run `dlr enable --pipe-max-size %s` first, or ask for less", o.buf.size, sizeText(int64(pipeMax)), sizeText(int64(n)))
		}
		s.target = int64(n)
	} else {
		s.target = int64(min(pipeMax, 1<<31))
		for s.target > 0 && !buffers.IsPow2(s.target) {
			s.target &= s.target - 1 // round down to a power of two
		}
		if s.target < buffers.MinSize {
			return s, refused("fs.pipe-max-size is %d bytes, below the 64K a pipe already has: run `dlr enable` first", pipeMax)
		}
	}
	if o.buf.budget != "" {
		n, err := sysctl.ParseSize(o.buf.budget)
		if err != nil {
			return s, usage("--budget: %v", err)
		}
		if n < buffers.MinSize || n > 1<<50 {
			return s, usage("--budget %s: want at least 64K", o.buf.budget)
		}
		s.budget = int64(n)
	} else {
		mem, err := buffers.MemTotal(h.proc)
		if err != nil {
			return s, failed("reading the memory size for the default budget: %v (give one with --budget)", err)
		}
		s.budget = buffers.DefaultBudget(mem)
	}
	return s, nil
}

// dockerdCmdline returns the command line of the running dockerd: the
// process pid if it is given and alive, else $MAINPID (which systemd sets
// for ExecStop), else the one in dockerd's pid file. It returns an empty
// cmdline when none is found. It reads /proc only.
func (h *host) dockerdCmdline(pid int) cmdline {
	cands := []int{pid}
	if p, err := strconv.Atoi(h.bufs.getenv("MAINPID")); err == nil {
		cands = append(cands, p)
	}
	if b, err := os.ReadFile(h.pidFile); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			cands = append(cands, p)
		}
	}
	for _, p := range cands {
		if p <= 0 || !h.isDockerd(p) {
			continue
		}
		if c := h.procCmdline(p); len(c.args) > 0 {
			return c
		}
	}
	return cmdline{}
}

// isDockerd reports whether pid is a live (not zombie) process called
// dockerd.
func (h *host) isDockerd(pid int) bool {
	b, err := os.ReadFile(filepath.Join(h.proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// "PID (comm) S ...": comm may hold spaces and parentheses.
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || len(s) < end+3 {
		return false
	}
	state := s[end+2]
	return s[open+1:end] == "dockerd" && state != 'Z' && state != 'X'
}

// execRoot finds dockerd's exec root: --exec-root, else dockerd's own
// --exec-root flag, else "exec-root" in its daemon.json, else the default.
// It returns the directory, where it came from, and warnings.
func (h *host) execRoot(o options, c cmdline) (dir, source string, warnings []string) {
	if o.buf.execRoot != "" {
		return o.buf.execRoot, "--exec-root", nil
	}
	if v, ok := c.flag("exec-root", false); ok && v != "" {
		return v, "--exec-root of " + c.source, nil
	}
	config, from := o.config, "--config"
	if config == "" {
		if f := c.configFile(); f != "" {
			config, from = f, "--config-file of "+c.source
		} else {
			config, from = h.defaultConfig, "default"
		}
	}
	b, err := os.ReadFile(config)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		warnings = append(warnings, fmt.Sprintf("cannot read %s (%s): %v; assuming exec-root %s", config, from, errText(err), h.bufs.defaultExecRoot))
	default:
		d, err := daemonjson.Parse(b)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: %v; assuming exec-root %s", config, err, h.bufs.defaultExecRoot))
			break
		}
		if raw, ok := d.Lookup("exec-root"); ok {
			var v string
			if json.Unmarshal(raw, &v) == nil && v != "" {
				return v, "\"exec-root\" in " + config, warnings
			}
		}
	}
	return h.bufs.defaultExecRoot, "default", warnings
}

// buffers is `dlr buffers`: grow the log FIFOs of every running container
// and exec session to the target size within the budget. It changes no
// file and talks to no daemon. Streams that could not be grown make it
// fail (exit 1) after the others were grown.
func runBuffers(ctx context.Context, h *host, o options, r *report) error {
	sizes, err := h.bufferSizes(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, h.bufs.growTimeout)
	defer cancel()
	dir, source, warnings := h.execRoot(o, h.dockerdCmdline(0))
	for _, w := range warnings {
		r.warn("%s", w)
	}
	rep, err := buffers.Grow(ctx, buffers.Options{ExecRoot: dir, Target: sizes.target, Budget: sizes.budget})
	r.Buffers = rep
	describeGrowth(r, rep, source)
	if err != nil {
		return failed("growing the log FIFOs under %s: %v", buffers.Dir(dir), err)
	}
	if rep.Failed > 0 {
		return failed("%d of %d log FIFOs could not be grown (see above)", rep.Failed, len(rep.Streams))
	}
	return nil
}

// describeGrowth puts a growth report into r's actions, notes and warnings.
func describeGrowth(r *report, rep *buffers.Report, source string) {
	for _, s := range rep.Streams {
		switch {
		case s.Grown:
			r.Changed = true
			r.action("grew %s/%s from %s to %s", shortID(s.Container), s.Name, sizeText(s.Old), sizeText(s.New))
		case s.Error != "":
			r.warn("%s", s.Error)
		}
	}
	n := len(rep.Streams) - rep.Failed
	switch {
	case len(rep.Streams) == 0:
		r.note("no log FIFOs under %s (exec root from %s): no container is running", buffers.Dir(rep.ExecRoot), source)
	case rep.Level == 0:
		r.note("%d log FIFOs use %s, the whole budget of %s: none grown (raise --budget)", n, sizeText(rep.Total), sizeText(rep.Budget))
	case rep.Level < rep.Target:
		r.note("%d log FIFOs, %s in all: the budget of %s allows %s each, not %s (raise --budget)", n, sizeText(rep.Total), sizeText(rep.Budget), sizeText(rep.Level), sizeText(rep.Target))
	default:
		r.note("%d log FIFOs at %s or more, %s in all (budget %s)", n, sizeText(rep.Target), sizeText(rep.Total), sizeText(rep.Budget))
	}
}

// shortID shortens a container ID as docker ps does.
func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// sizeText prints a byte count in the unit it is a whole number of: 64K,
// 16M, 1G, 1000.
func sizeText(n int64) string {
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

// buffersReport is the "buffers" member of --json output.
type buffersReport = buffers.Report
