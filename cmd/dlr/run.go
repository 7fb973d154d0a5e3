package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usageText = `dlr turns Docker's live restore on and off safely.

Usage:
  dlr enable  [--dry-run] [--no-reload] [--json] [--config PATH] [--pipe-max-size SIZE]
  dlr disable [--dry-run] [--no-reload] [--json] [--force]
  dlr status  [--json] [--quiet]
  dlr buffers [--size SIZE] [--budget SIZE] [--json] [--quiet] [--exec-root DIR]
  dlr watch   [--size SIZE] [--budget SIZE] [--exec-root DIR]
  dlr check   [--json]
  dlr drill   [--seconds N] [--yes] [--json]
  dlr validate [--json] [--if-unknown=fail|pass] FILE
  dlr set     [--dry-run] [--force] [--json] KEY=VALUE...
  dlr unset   [--dry-run] [--force] [--json] KEY...
  dlr version

Run 'dlr COMMAND --help' for a command's options.
Exit codes: 0 done, 1 failed, 2 usage, 3 refused, 4 invalid daemon.json, 5 busy.
`

// run is dlr's whole program: it parses args, runs one command against h,
// prints to stdout and stderr, and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, h *host) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	case "version", "--version":
		fmt.Fprintf(stdout, "dlr %s\n", version)
		return exitOK
	case "enable", "disable", "status", "validate", "set", "unset", "snapshot", "check":
	case "buffers", "watch": // buffers.go, watch.go
	case "drill": // drill.go
	case "completion", "man": // completion.go, man.go
		return runDocs(cmd, rest, stdout, stderr, h)
	default:
		fmt.Fprintf(stderr, "dlr: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}

	o := options{}
	fs := o.flagSet(cmd, h, stderr)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "dlr %s: %v\n", cmd, err)
		return exitUsage
	}
	switch {
	case cmd == "validate" && fs.NArg() != 1:
		fmt.Fprintf(stderr, "dlr validate: name one file: dlr validate FILE\n")
		return exitUsage
	case (cmd == "set" || cmd == "unset") && fs.NArg() == 0:
		fmt.Fprintf(stderr, "dlr %s: name at least one key\n", cmd)
		return exitUsage
	case cmd != "validate" && cmd != "set" && cmd != "unset" && fs.NArg() > 0:
		fmt.Fprintf(stderr, "dlr %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitUsage
	}

	r := newReport(cmd)
	r.DryRun = o.dryRun
	var err error
	stopWaiting := waitingLine(stderr, cmd, o) // colour.go: terminals only
	if cmd != "enable" {
		h.catchSignals() // enable does it after its fast path (fastpath.go)
	}
	switch cmd {
	case "enable":
		err = enable(ctx, h, o, r)
	case "disable":
		err = disable(ctx, h, o, r)
	case "status":
		err = status(ctx, h, o, r)
	case "buffers":
		err = runBuffers(ctx, h, o, r)
	case "watch":
		err = watch(ctx, h, o, stderr)
	case "validate":
		err = validate(ctx, h, o, fs.Arg(0), r)
	case "set", "unset":
		err = setKeys(ctx, h, o, fs.Args(), cmd == "unset", r)
	case "snapshot":
		err = snapshot(ctx, h, o, r)
	case "check":
		err = check(ctx, h, o, r)
	case "drill":
		err = drill(ctx, h, o, r, os.Stdin, stderr)
	}
	stopWaiting()
	code, kind := codeOf(err)
	r.OK = err == nil
	if err != nil {
		r.Error = &errorReport{ExitCode: code, Kind: kind, Message: err.Error()}
	}
	switch {
	case o.quiet:
	case o.json:
		r.writeJSON(stdout)
	default:
		r.writeText(stdout, stderr)
	}
	if o.quiet && err == nil && r.Status != nil && !r.Status.Effective {
		return exitFailed
	}
	return code
}

// options are the command-line options of enable, disable and status.
type options struct {
	config      string
	dryRun      bool
	noReload    bool
	json        bool
	quiet       bool
	force       bool
	pipeMaxSize string
	buf         bufferOptions // buffers and watch (buffers.go)
	ifUnknown   string
	// drill (drill.go)
	drillSeconds int
	yes          bool
}

// flagSet builds the command's own flag set. The host paths are options too
// (hidden from --help): tests and unusual hosts point them elsewhere.
func (o *options) flagSet(cmd string, h *host, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("dlr "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&o.config, "config", "", "daemon.json to use (default: dockerd's --config-file, else "+defaultConfig+")")
	fs.BoolVar(&o.json, "json", false, "print the result as JSON (see README, \"JSON output\")")
	switch cmd {
	case "enable", "disable", "set", "unset":
		fs.BoolVar(&o.dryRun, "dry-run", false, "print the diff of every file and the actions, change nothing")
		fs.BoolVar(&o.noReload, "no-reload", false, "write the files but touch no daemon (image builds, scripts)")
	}
	switch cmd {
	case "set", "unset":
		fs.BoolVar(&o.force, "force", false, "write a change that would break live restore while containers run")
	case "enable":
		fs.BoolVar(&o.force, "force", false, "enable even when daemon.json holds a restore-breaking edit the running daemon does not use")
	case "validate":
		fs.StringVar(&o.ifUnknown, "if-unknown", "fail", "when dlr cannot tell (dockerd down or unreachable): fail (exit 1) or pass (exit 0)")
	}
	switch cmd {
	case "enable":
		fs.StringVar(&o.pipeMaxSize, "pipe-max-size", "16M", "fs.pipe-max-size to configure: a power of two, 4K to 2G")
	case "disable":
		fs.BoolVar(&o.force, "force", false, "turn live restore off even if it was on before dlr")
	case "status":
		fs.BoolVar(&o.quiet, "quiet", false, "print nothing; exit 0 only if live restore is enabled and effective")
	}
	o.addBufferFlags(fs, cmd)
	o.addDrillFlags(fs, cmd)
	hidden := func(p *string, name, usage string) {
		fs.StringVar(p, name, *p, usage)
		fs.MarkHidden(name)
	}
	hidden(&h.stateDir, "state-dir", "dlr's state directory")
	hidden(&h.lockPath, "lock-file", "dlr's lock file")
	hidden(&h.sysctlRoot, "sysctl-root", "root under which sysctl.d directories are read")
	hidden(&h.procSys, "proc-sys", "/proc/sys")
	hidden(&h.proc, "proc", "/proc")
	hidden(&h.runSystemd, "run-systemd", "/run/systemd/system")
	hidden(&h.dockerSocket, "docker-socket", "the Docker API socket")
	hidden(&h.pidFile, "pidfile", "dockerd's pid file, used without systemd")
	hidden(&h.unitDir, "unit-dir", "where dlr's docker.service drop-in goes")
	hidden(&h.vendorUnitDir, "vendor-unit-dir", "where the packages install their copy of the drop-in")
	if cmd == "enable" || cmd == "disable" || cmd == "set" || cmd == "unset" {
		fs.DurationVar(&h.verifyTimeout, "timeout", h.verifyTimeout, "how long to wait for dockerd to show the change")
		fs.DurationVar(&h.lockTimeout, "lock-timeout", h.lockTimeout, "how long to wait for another dlr run to finish")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage of dlr %s:\n%s", cmd, strings.TrimRight(fs.FlagUsages(), "\n")+"\n")
	}
	return fs
}
