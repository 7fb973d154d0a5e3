package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/docker-liverestore/dlr/host"
	"github.com/docker-liverestore/dlr/metrics"
	"github.com/docker-liverestore/dlr/ops"
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
  dlr watch   [--size SIZE] [--budget SIZE] [--exec-root DIR] [--rearm-health=false]
  dlr check   [--json]
  dlr drill   [--seconds N] [--yes] [--force] [--json] [--rearm-health=false]
  dlr metrics [--json]
  dlr preflight [--json] [--apt-hook] [FILE.deb|FILE.rpm...]
  dlr validate [--json] [--if-unknown=fail|pass] FILE
  dlr set     [--dry-run] [--force] [--json] KEY=VALUE...
  dlr unset   [--dry-run] [--force] [--json] KEY...
  dlr version

Run 'dlr COMMAND --help' for a command's options.
Exit codes: 0 done, 1 failed, 2 usage, 3 refused, 4 invalid daemon.json, 5 busy.
`

// run is dlr's whole program: it parses args, runs one command against e,
// prints to stdout and stderr, and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, e *ops.Env) int {
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
	case "completion", "man":
		return runDocs(cmd, rest, stdout, stderr)
	case "services-blocked", "daemon-reload":
		return runHidden(ctx, cmd, e, stdout, stderr)
	case "enable", "disable", "status", "validate", "set", "unset", "snapshot", "check", "buffers", "watch", "drill", "metrics", "preflight":
	default:
		fmt.Fprintf(stderr, "dlr: unknown command %q\n\n%s", cmd, usageText)
		return exitUsage
	}
	var fl cliFlags
	fs := fl.flagSet(cmd, e.Env, io.Discard)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return write(stdout, stderr, cmd, func(w io.Writer) error { return writeHelp(w, cmd, fs) }, exitOK)
		}
		return usageError(stdout, stderr, cmd, rest, err.Error(), fs)
	}
	if msg := checkArgs(cmd, fl, fs); msg != "" {
		return usageError(stdout, stderr, cmd, rest, msg, nil)
	}
	if fl.root != "" {
		e.Root = fl.root
	}
	fl.o.NoRearm = !fl.rearm
	if cmd == "drill" {
		e.Progress = newProgress(stderr, e.Terminal)
	}

	r := ops.NewReport(cmd)
	r.DryRun = fl.o.DryRun
	stopWaiting := waitingLine(stderr, cmd, fl)
	switch cmd {
	case "enable": // it catches signals after its fast path
	case "disable", "set", "unset", "drill", "watch":
		e.CatchSignals()
	default:
		e.QuitOnSignal(cmd)
	}
	err := dispatch(ctx, e, cmd, fl.o, fs.Args(), r, stderr)
	stopWaiting()
	code, kind := codeOf(err)
	r.OK = err == nil
	if err != nil {
		r.Error = &ops.ErrorReport{ExitCode: code, Kind: kind, Message: err.Error()}
	}
	if fl.o.Quiet && err == nil && r.Status != nil && !r.Status.Effective {
		code = exitFailed
	}
	switch {
	case fl.o.Quiet:
		return code
	case fl.json:
		return write(stdout, stderr, cmd, func(w io.Writer) error { return writeJSON(w, r) }, code)
	case cmd == "metrics" && r.Error == nil:
		return write(stdout, stderr, cmd, func(w io.Writer) error { return metrics.Write(w, r.Metrics) }, code)
	}
	return write(stdout, stderr, cmd, func(w io.Writer) error { return writeText(w, stderr, r) }, code)
}

// write prints the report with print; when stdout cannot be written (a
// full disk, a closed pipe) it says so on stderr and exits 1, so that a
// script never takes a lost report for a success.
func write(stdout, stderr io.Writer, cmd string, print func(io.Writer) error, code int) int {
	if err := print(stdout); err != nil {
		fmt.Fprintf(stderr, "dlr %s: writing the report: %v\n", cmd, err)
		if code == exitOK {
			return exitFailed
		}
	}
	return code
}

// checkArgs checks the arguments and flag values against each other; ""
// when they are fine.
func checkArgs(cmd string, fl cliFlags, fs *pflag.FlagSet) string {
	switch {
	case cmd == "validate" && fs.NArg() != 1:
		return "name one file: dlr validate FILE"
	case (cmd == "set" || cmd == "unset") && fs.NArg() == 0:
		return "name at least one key"
	case cmd == "preflight" && fl.o.AptHook && fs.NArg() > 0:
		return "--apt-hook reads apt's protocol on stdin: name no file"
	case cmd != "validate" && cmd != "set" && cmd != "unset" && cmd != "preflight" && fs.NArg() > 0:
		return fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case cmd == "validate" && fl.o.IfUnknown != "fail" && fl.o.IfUnknown != "pass":
		return fmt.Sprintf("--if-unknown %q: want fail or pass", fl.o.IfUnknown)
	}
	if err := ops.CheckConfigFlag(fl.o.Config, fs.Changed("config")); err != nil {
		return err.Error()
	}
	return ""
}

// usageError reports a bad command line: on stderr, with the command's
// usage when fs is given; and, when --json was asked for, as a JSON report
// on stdout too (a script reading JSON gets JSON).
func usageError(stdout, stderr io.Writer, cmd string, args []string, msg string, fs *pflag.FlagSet) int {
	fmt.Fprintf(stderr, "dlr %s: %s\n", cmd, msg)
	if fs != nil {
		writeHelp(stderr, cmd, fs)
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			r := ops.NewReport(cmd)
			r.Error = &ops.ErrorReport{ExitCode: exitUsage, Kind: string(ops.Usage), Message: msg}
			return write(stdout, stderr, cmd, func(w io.Writer) error { return writeJSON(w, r) }, exitUsage)
		}
	}
	return exitUsage
}

// writeHelp prints a command's usage line (with its arguments) and flags.
func writeHelp(w io.Writer, cmd string, fs *pflag.FlagSet) error {
	args := ""
	for _, c := range commandDocs {
		if c.name == cmd && c.args != "" {
			args = " " + c.args
		}
	}
	_, err := fmt.Fprintf(w, "Usage: dlr %s [flags]%s\n\nFlags:\n%s", cmd, args, fs.FlagUsages())
	return err
}

// dispatch runs the command.
func dispatch(ctx context.Context, e *ops.Env, cmd string, o ops.Options, args []string, r *ops.Report, stderr io.Writer) error {
	switch cmd {
	case "enable":
		return ops.Enable(ctx, e, o, r)
	case "disable":
		return ops.Disable(ctx, e, o, r)
	case "status":
		return ops.Status(ctx, e, o, r)
	case "buffers":
		return ops.Buffers(ctx, e, o, r)
	case "watch":
		return ops.Watch(ctx, e, o, stderr)
	case "validate":
		return ops.Validate(ctx, e, o, args[0], r)
	case "set", "unset":
		return ops.Set(ctx, e, o, args, cmd == "unset", r)
	case "snapshot":
		return ops.Snapshot(ctx, e, o, r)
	case "check":
		return ops.Check(ctx, e, o, r)
	case "drill":
		return ops.Drill(ctx, e, o, r)
	case "metrics":
		return ops.Metrics(ctx, e, o, r)
	case "preflight":
		return ops.Preflight(ctx, e, o, args, r)
	}
	return nil
}

// cliFlags are the options of every command, and the CLI's own.
type cliFlags struct {
	o     ops.Options
	json  bool
	root  string
	rearm bool
}

// flagSet builds the command's own flag set. Two flags are hidden from
// --help: --root (every path dlr uses, under another root: tests and image
// builds) and --docker-socket.
func (fl *cliFlags) flagSet(cmd string, e *host.Env, stderr io.Writer) *pflag.FlagSet {
	o := &fl.o
	fs := pflag.NewFlagSet("dlr "+cmd, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.SortFlags = false
	fs.StringVar(&o.Config, "config", "", "daemon.json to use (default: dockerd's --config-file, else "+host.DefaultConfig+")")
	fs.BoolVar(&fl.json, "json", false, "print the result as JSON (schema: docs/json.md)")
	switch cmd {
	case "enable", "disable", "set", "unset":
		fs.BoolVar(&o.DryRun, "dry-run", false, "print the diff of every file and the actions, change nothing")
		fs.BoolVar(&o.NoReload, "no-reload", false, "write the files but touch no daemon (image builds, scripts)")
	}
	switch cmd {
	case "set", "unset":
		fs.BoolVar(&o.Force, "force", false, "write a change that would break live restore while containers run")
	case "enable":
		fs.BoolVar(&o.Force, "force", false, "enable even when daemon.json holds a restore-breaking edit the running daemon does not use")
		fs.StringVar(&o.PipeMaxSize, "pipe-max-size", "16M", "fs.pipe-max-size to configure: a power of two, 4K to 2G")
	case "disable":
		fs.BoolVar(&o.Force, "force", false, "turn live restore off even if it was on before dlr")
	case "status":
		fs.BoolVar(&o.Quiet, "quiet", false, "print nothing; exit 0 only if live restore is enabled and effective")
	case "validate":
		fs.StringVar(&o.IfUnknown, "if-unknown", "fail", "when dlr cannot tell (dockerd down or unreachable): fail (exit 1) or pass (exit 0)")
	case "buffers", "watch":
		fs.StringVar(&o.Size, "size", "", "size of each log FIFO, a power of two, at most fs.pipe-max-size (default: fs.pipe-max-size)")
		fs.StringVar(&o.Budget, "budget", "", "memory for all log FIFOs together (default: 1/64 of RAM)")
		fs.StringVar(&o.ExecRoot, "exec-root", "", "dockerd's exec root (default: from dockerd's flags and daemon.json, else "+host.DefaultExecRoot+")")
		if cmd == "buffers" {
			fs.BoolVar(&o.Quiet, "quiet", false, "print nothing; exit 0 only if every log FIFO is as planned")
		}
	case "drill":
		fs.IntVar(&o.Seconds, "seconds", 10, "how long docker.service and docker.socket stay stopped (1 to 600)")
		fs.BoolVar(&o.Yes, "yes", false, "do not ask for confirmation (needed when stdin is not a terminal)")
		fs.BoolVar(&o.Force, "force", false, "drill even when a known restore bug of the running dockerd would remove a container, lose its data or crash dockerd")
	case "preflight":
		fs.BoolVar(&o.AptHook, "apt-hook", false, "read the transaction from apt's DPkg::Pre-Install-Pkgs protocol (VERSION 3) on stdin")
	}
	fl.rearm = true
	if cmd == "watch" || cmd == "drill" {
		fs.BoolVar(&fl.rearm, "rearm-health", true, "after a restore on Docker before 23.0, re-arm a frozen health check with docker pause + unpause (false: only report it)")
	}
	if cmd == "enable" || cmd == "disable" || cmd == "set" || cmd == "unset" {
		fs.DurationVar(&e.T.Verify, "timeout", e.T.Verify, "how long to wait for dockerd to show the change")
		fs.DurationVar(&e.T.Lock, "lock-timeout", e.T.Lock, "how long to wait for another dlr run to finish")
	}
	fs.StringVar(&fl.root, "root", "", "the root every path dlr uses is under")
	fs.MarkHidden("root")
	fs.StringVar(&e.Socket, "docker-socket", e.Socket, "the Docker API socket")
	fs.MarkHidden("docker-socket")
	fs.Usage = func() {} // run prints help and usage errors itself
	return fs
}

// runHidden runs the hidden commands of the packages' maintainer scripts:
// services-blocked prints why services must not be touched (nothing when
// they may); daemon-reload has systemd re-read its units unless services
// may not be touched or GPU containers would lose their devices, and
// prints why not (nothing when done).
func runHidden(ctx context.Context, cmd string, e *ops.Env, stdout, stderr io.Writer) int {
	var why string
	if cmd == "services-blocked" {
		why = e.ServicesBlocked(ctx, true)
	} else {
		var err error
		if why, err = ops.SystemdReload(ctx, e); err != nil {
			fmt.Fprintf(stderr, "dlr daemon-reload: %v\n", err)
			return exitFailed
		}
	}
	if why != "" {
		fmt.Fprintln(stdout, why)
	}
	return exitOK
}
