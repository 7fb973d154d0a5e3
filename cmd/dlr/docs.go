package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/docker-liverestore/dlr/host"
	"github.com/spf13/pflag"
)

// The shell completions (`dlr completion bash|zsh|fish`) and the manual page
// (`dlr man`, roff for dlr(8)) are generated from the same definitions as
// --help: the commands below and each command's FlagSet from
// cliFlags.flagSet. Flags hidden from --help (--root, --docker-socket) are left out.
// Both commands are hidden: the package build runs them (mk/packaging.mk).

// cmdDoc is one command as the manual and the completions show it.
type cmdDoc struct {
	name    string
	args    string // positional arguments, e.g. "FILE"
	summary string // one line, lowercase, no full stop
	text    string // the manual's paragraph
}

// commandDocs lists dlr's commands in the order of `dlr help`.
// TestDocsCoverCommands checks it against usageText and run().
var commandDocs = []cmdDoc{
	{"enable", "", "turn live restore on and reload dockerd",
		"Merges \"live-restore\": true into dockerd's daemon.json without changing another byte, writes /etc/sysctl.d/60-docker-liverestore.conf for a larger fs.pipe-max-size and applies it, reloads docker.service over D-Bus (never a restart) and verifies through the Engine API that dockerd took it; on failure every file is put back. In a chroot, with --no-reload, or when Docker is not running, it writes the files only."},
	{"disable", "", "undo what dlr enable changed",
		"Reverts only what dlr changed, from its record in /var/lib/docker-liverestore, and reloads dockerd; containers keep running. Live restore that was on before dlr stays on unless --force."},
	{"status", "", "show whether live restore is configured and in effect",
		"Shows daemon.json and its value, docker.service's state, MainPID and KillMode, the running daemon's LiveRestoreEnabled, fs.pipe-max-size, and whether dlr manages the setting. With --quiet it prints nothing and exits 0 only if live restore is enabled and effective, for unless/onlyif guards in configuration management."},
	{"check", "", "check the host for what defeats live restore",
		"A checklist, each item PASS, WARN or FAIL with its fix. Exits 3 when an item FAILs. Changes nothing."},
	{"drill", "", "stop Docker for a few seconds and show which containers survive",
		"Refuses unless live restore is active in the running daemon and docker.service has KillMode=process. Asks for confirmation on a terminal (--yes for scripts; without a terminal and without --yes it refuses). Grows the containers' log FIFOs, stops docker.service and docker.socket over D-Bus for --seconds, starts them again, and reports for every container that was running whether it still runs with the same PID, and the daemon's downtime. An interrupt (SIGINT, SIGTERM) during the outage starts Docker again at once. Then it checks each restored container as dlr watch does after every restore (health checks probing again, re-armed with pause/unpause before Docker 23.0 unless --rearm-health=false; published ports answering and their firewall rules; the embedded DNS; logs flowing) and records the result (dlr status --json). Exits 1 when a container did not survive, a check found a problem, or the drill was interrupted."},
	{"buffers", "", "grow the log FIFOs of running containers",
		"Grows each running container's stdout and stderr FIFO to --size within --budget, so that an application that logs while dockerd is down does not block. Changes no file and talks to no daemon."},
	{"watch", "", "grow the log FIFOs of every container as it starts",
		"Follows the Engine API's events and grows the FIFOs of each new container and exec session (as dlr buffers); runs as a service. It keeps a view of the running containers in /var/lib/docker-liverestore and, when dockerd comes back after a restart or a crash, checks every restored container in the background and logs one line per problem (see dlr drill for the checks). Where /var/lib/prometheus/node-exporter exists it writes dlr metrics there as docker-liverestore.prom, atomically."},
	{"metrics", "", "print live restore's state and the last restore as Prometheus metrics",
		"Prints, in Prometheus' text exposition format: live restore on in the file and in the daemon, drift pending, dlr check's findings by severity, the last restore's time, containers, kept, mended and problems by kind, the log buffers' coverage in seconds at the recent log rate, and whether the watcher runs. Changes nothing."},
	{"preflight", "[FILE.deb|FILE.rpm...]", "say what a change of Docker's packages will do to the running containers",
		"Before an upgrade of docker.io, docker-ce, moby-engine, containerd, containerd.io or runc: for each daemon the change touches, whether its package restarts it now and what the restart onto the new version will do, judged from dlr's measured upgrade matrix (a measured restore PASSes naming it, a release known to break restores FAILs naming the upstream issue, anything else WARNs \"not proven\"), and the host's restart path (docker.service bound to containerd.service, debconf's docker.io/restart); then for each running container: kept, restored by live restore, or at risk and why. The candidate versions are apt's (apt-cache policy), the files given, or, with --apt-hook, what apt is about to unpack (the package installs it as a DPkg::Pre-Install-Pkgs hook; STRICT=yes in /etc/docker-liverestore/settings stops apt on a FAIL). Exits 3 when a finding FAILs. Changes nothing."},
	{"validate", "FILE", "check a daemon.json candidate against the running daemon",
		"Says whether FILE can be read the way dockerd reads it and whether applying it would break live restore for the running containers; for validate_cmd/verify/check_cmd guards in configuration management."},
	{"set", "KEY=VALUE...", "set keys in daemon.json, guarded, and reload",
		"Sets members of daemon.json byte-preservingly, refuses a change that would break live restore while containers run (unless --force), reloads and verifies."},
	{"unset", "KEY...", "remove keys from daemon.json, guarded, and reload",
		"Removes members of daemon.json, with the same guard as set."},
	{"version", "", "print dlr's version", "Prints the version."},
}

// valueNames name some flags' values in the synopsis.
var valueNames = map[string]string{"config": "PATH", "exec-root": "DIR", "pipe-max-size": "SIZE", "if-unknown": "fail|pass"}

// docFlag is one visible flag of a command.
type docFlag struct {
	name, usage, valueName string // valueName "" for a boolean
}

// visibleFlags returns a command's flags as --help shows them, in order.
func visibleFlags(cmd string) []docFlag {
	if cmd == "version" {
		return nil
	}
	var fl cliFlags
	fs := fl.flagSet(cmd, host.New(), io.Discard)
	var out []docFlag
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		vn, usage := pflag.UnquoteUsage(f)
		switch {
		case f.Value.Type() == "bool":
			vn = ""
		case valueNames[f.Name] != "":
			vn = valueNames[f.Name]
		case vn == "int":
			vn = "N"
		case vn == "" || vn == "string":
			vn = strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		default:
			vn = strings.ToUpper(vn) // DURATION
		}
		if f.DefValue != "" && f.Value.Type() != "bool" && f.DefValue != "0" {
			usage += " (default " + f.DefValue + ")"
		}
		out = append(out, docFlag{f.Name, usage, vn})
	})
	return out
}

// runDocs runs the hidden commands `dlr completion SHELL` and `dlr man`.
func runDocs(cmd string, args []string, stdout, stderr io.Writer) int {
	switch {
	case cmd == "man" && len(args) == 0:
		writeMan(stdout)
	case cmd == "completion" && len(args) == 1 && args[0] == "bash":
		writeBash(stdout)
	case cmd == "completion" && len(args) == 1 && args[0] == "zsh":
		writeZsh(stdout)
	case cmd == "completion" && len(args) == 1 && args[0] == "fish":
		writeFish(stdout)
	case cmd == "man":
		fmt.Fprintf(stderr, "dlr man: takes no arguments (it prints dlr(8) in roff)\n")
		return exitUsage
	default:
		fmt.Fprintf(stderr, "dlr completion: name one shell: dlr completion bash|zsh|fish\n")
		return exitUsage
	}
	return exitOK
}

func commandNames() []string {
	var out []string
	for _, c := range commandDocs {
		out = append(out, c.name)
	}
	return out
}

// fileFlags take a path: the completions offer files for them.
var fileFlags = map[string]bool{"config": true, "exec-root": true}

// flagChoices are the values a flag accepts, where they are few.
var flagChoices = map[string][]string{"if-unknown": {"fail", "pass"}}

func writeBash(w io.Writer) {
	fmt.Fprintf(w, "# bash completion for dlr(8); generated by `dlr completion bash`: do not edit.\n")
	fmt.Fprintf(w, "_dlr() {\n")
	fmt.Fprintf(w, "    local cur prev cmd i\n")
	fmt.Fprintf(w, "    cur=${COMP_WORDS[COMP_CWORD]}\n    prev=${COMP_WORDS[COMP_CWORD-1]}\n    cmd=\n")
	fmt.Fprintf(w, "    for ((i = 1; i < COMP_CWORD; i++)); do\n")
	fmt.Fprintf(w, "        case ${COMP_WORDS[i]} in -*) ;; *) cmd=${COMP_WORDS[i]}; break ;; esac\n    done\n")
	fmt.Fprintf(w, "    if [[ -z $cmd ]]; then\n        COMPREPLY=($(compgen -W '%s help --help' -- \"$cur\"))\n        return\n    fi\n", strings.Join(commandNames(), " "))
	fmt.Fprintf(w, "    case $prev in\n")
	var files, valued []string
	for _, c := range commandDocs {
		for _, f := range visibleFlags(c.name) {
			switch {
			case f.valueName == "":
			case fileFlags[f.name]:
				files = appendOnce(files, "--"+f.name)
			case flagChoices[f.name] != nil:
				valued = appendOnce(valued, "--"+f.name)
			}
		}
	}
	if len(files) > 0 {
		fmt.Fprintf(w, "        %s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", strings.Join(files, "|"))
	}
	for _, v := range valued {
		fmt.Fprintf(w, "        %s) COMPREPLY=($(compgen -W '%s' -- \"$cur\")); return ;;\n", v, strings.Join(flagChoices[strings.TrimPrefix(v, "--")], " "))
	}
	fmt.Fprintf(w, "    esac\n")
	fmt.Fprintf(w, "    local opts=\n    case $cmd in\n")
	for _, c := range commandDocs {
		var names []string
		for _, f := range visibleFlags(c.name) {
			names = append(names, "--"+f.name)
		}
		names = append(names, "--help")
		fmt.Fprintf(w, "        %s) opts='%s' ;;\n", c.name, strings.Join(names, " "))
	}
	fmt.Fprintf(w, "    esac\n")
	fmt.Fprintf(w, "    if [[ $cur != -* && ( $cmd == validate ) ]]; then\n        COMPREPLY=($(compgen -f -- \"$cur\"))\n        return\n    fi\n")
	fmt.Fprintf(w, "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n}\n")
	fmt.Fprintf(w, "complete -F _dlr dlr\n")
}

func appendOnce(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

// zshQuote escapes s for a single-quoted _arguments spec, where [ ] : and \
// are special too.
func zshQuote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `[`, `\[`, `]`, `\]`, `:`, `\:`).Replace(s)
	return strings.ReplaceAll(s, "'", `'\''`)
}

func writeZsh(w io.Writer) {
	fmt.Fprintf(w, "#compdef dlr\n# zsh completion for dlr(8); generated by `dlr completion zsh`: do not edit.\n\n")
	fmt.Fprintf(w, "_dlr() {\n    local -a commands\n    commands=(\n")
	for _, c := range commandDocs {
		fmt.Fprintf(w, "        '%s:%s'\n", c.name, zshQuote(c.summary))
	}
	fmt.Fprintf(w, "    )\n    if (( CURRENT == 2 )); then\n        _describe -t commands 'dlr command' commands\n        return\n    fi\n")
	fmt.Fprintf(w, "    local cmd=$words[2]\n    shift words\n    (( CURRENT-- ))\n    case $cmd in\n")
	for _, c := range commandDocs {
		fmt.Fprintf(w, "        %s)\n            _arguments -s \\\n", c.name)
		for _, f := range visibleFlags(c.name) {
			spec := fmt.Sprintf("--%s[%s]", f.name, zshQuote(f.usage))
			switch {
			case f.valueName == "":
			case fileFlags[f.name]:
				spec += ":" + strings.ToLower(f.valueName) + ":_files"
			case flagChoices[f.name] != nil:
				spec += ":" + strings.ToLower(f.valueName) + ":(" + strings.Join(flagChoices[f.name], " ") + ")"
			default:
				spec += ":" + strings.ToLower(f.valueName) + ": "
			}
			fmt.Fprintf(w, "                '%s' \\\n", spec)
		}
		fmt.Fprintf(w, "                '--help[show the options]'")
		if c.name == "validate" {
			fmt.Fprintf(w, " \\\n                ':daemon.json candidate:_files'")
		}
		fmt.Fprintf(w, "\n            ;;\n")
	}
	fmt.Fprintf(w, "    esac\n}\n\n_dlr \"$@\"\n")
}

// fishQuote quotes s for fish in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func writeFish(w io.Writer) {
	fmt.Fprintf(w, "# fish completion for dlr(8); generated by `dlr completion fish`: do not edit.\n")
	fmt.Fprintf(w, "complete -c dlr -f\n")
	for _, c := range commandDocs {
		fmt.Fprintf(w, "complete -c dlr -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.summary))
	}
	for _, c := range commandDocs {
		cond := fishQuote("__fish_seen_subcommand_from " + c.name)
		for _, f := range visibleFlags(c.name) {
			extra := ""
			switch {
			case f.valueName == "":
			case fileFlags[f.name]:
				extra = " -r -F"
			case flagChoices[f.name] != nil:
				extra = " -x -a " + fishQuote(strings.Join(flagChoices[f.name], " "))
			default:
				extra = " -x"
			}
			fmt.Fprintf(w, "complete -c dlr -n %s -l %s%s -d %s\n", cond, f.name, extra, fishQuote(f.usage))
		}
		if c.name == "validate" {
			fmt.Fprintf(w, "complete -c dlr -n %s -F\n", cond)
		}
	}
}

// roff escapes text for the body of a roff line: backslashes, hyphens
// (which would become typographic hyphens), and a leading dot or quote.
func roff(s string) string {
	s = strings.NewReplacer(`\`, `\e`, "-", `\-`, `"`, `\(dq`, "'", `\(aq`).Replace(s)
	if strings.HasPrefix(s, ".") {
		s = `\&` + s
	}
	return s
}

// writeMan prints dlr(8). The date and version are left empty for the
// package build to fill in (mk/packaging.mk), so the page is reproducible.
func writeMan(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	p(`.\" dlr(8); generated by ` + "`dlr man`" + ` from dlr's own command definitions: do not edit.`)
	p(`.TH DLR 8 "" "docker-liverestore" "System Administration"`)
	p(".SH NAME")
	p(`dlr \- turn Docker's live restore on and off safely`)
	p(".SH SYNOPSIS")
	for i, c := range commandDocs {
		if i > 0 {
			p(".br")
		}
		p(".B dlr %s", c.name)
		for _, f := range visibleFlags(c.name) {
			if f.valueName == "" {
				p(".RB [ %s ]", roff("--"+f.name))
			} else {
				p(".RB [ %s", roff("--"+f.name))
				p(".IR %s ]", roff(f.valueName))
			}
		}
		if c.args != "" {
			p(".I %s", roff(c.args))
		}
	}
	p(".SH DESCRIPTION")
	p("When dockerd stops (a crash, or a package upgrade restarting it), every container stops with it, unless Docker's live restore is on. %s", roff("dlr turns it on and off safely on a systemd host, and shows whether it will work."))
	p(".SH COMMANDS")
	for _, c := range commandDocs {
		head := "dlr " + c.name
		if c.args != "" {
			head += " " + c.args
		}
		p(".SS %s", roff(head))
		p("%s", roff(c.text))
		for _, f := range visibleFlags(c.name) {
			p(".TP")
			if f.valueName == "" {
				p(".B %s", roff("--"+f.name))
			} else {
				p(".BI %s \" \" %s", roff("--"+f.name), roff(f.valueName))
			}
			p("%s", roff(f.usage))
		}
	}
	p(".SH EXIT STATUS")
	codes := []struct {
		code int
		text string
	}{
		{exitOK, "done, whether or not anything changed"},
		{exitFailed, "failed; whatever dlr had changed was put back (the message lists it)"},
		{exitUsage, "usage: bad command line"},
		{exitRefused, "refused: not root, swarm node, a --live-restore flag conflict, a drill without live restore"},
		{exitInvalid, "daemon.json cannot be read the way dockerd reads it; nothing changed"},
		{exitBusy, "busy: another dlr run holds the lock"},
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i].code < codes[j].code })
	for _, c := range codes {
		p(".TP\n.B %d\n%s", c.code, roff(c.text))
	}
	p(".SH ENVIRONMENT")
	p(".TP\n.B NO_COLOR\n%s", roff("When set and not empty, output is never coloured. Colour and progress lines are only ever written to a terminal."))
	p(".SH FILES")
	for _, f := range [][2]string{
		{"/etc/docker/daemon.json", "dockerd's configuration; dlr changes only its live-restore member."},
		{"/etc/docker-liverestore/settings", "What the package runs on install, upgrade and removal (ENABLE_ON_INSTALL, PIPE_MAX_SIZE, STRICT)."},
		{"/etc/sysctl.d/60-docker-liverestore.conf", "The fs.pipe-max-size drop-in dlr writes."},
		{"/usr/lib/systemd/system/docker.service.d/zz-docker-liverestore.conf", "docker.service's hooks (ExecStartPre snapshot, ExecStop log buffers), installed by the package (/lib in the .deb)."},
		{"/etc/systemd/system/docker.service.d/zz-docker-liverestore.conf", "dlr's own copy of the hooks, with KillMode=process where needed, written by dlr enable only where the packaged one does not fit; dlr disable removes it."},
		{"/var/lib/docker-liverestore", "What dlr changed (state.json), backups of daemon.json, and the record of dlr enable's last full check (verified), which lets a later enable answer without D-Bus or the Docker API while nothing it covers has changed."},
		{"/run/docker-liverestore/lock", "The lock that serialises dlr runs (the directory is root's, mode 0700)."},
	} {
		p(".TP\n%s\n%s", roff(f[0]), roff(f[1]))
	}
	p(".SH SEE ALSO")
	p(".BR dockerd (8),\n.BR systemctl (1),\n.BR sysctl.d (5)")
}
