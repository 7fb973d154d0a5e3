package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/docker-liverestore/dlr/atomicfile"
	"github.com/docker-liverestore/dlr/guard"
)

// needrestartPerl is the script dlr gives `perl -e` to read needrestart's
// configuration as needrestart reads it: %nrconf starts with needrestart's
// defaults and the names needrestart has in scope there ($LOGPREF, the
// $opt_ variables), the main file is read whole (at most 1 MiB) and
// string-evaled under `use strict`, as needrestart does (so conf.d is read only if the
// main file reads it, with Perl's own glob, which skips dot files), then
// for each unit named after the file, the decision needrestart's restart
// loop takes: a unit matching blacklist_rc is never restarted; otherwise
// the override_rc keys are tried in sorted order and the first that
// matches decides; with none, !defno. It prints one line per fact, fields
// separated by tabs, every byte outside printable ASCII escaped as \xHH:
//
//	restart	<mode>
//	defno	<0|1>
//	unit	<name>	<0|1>	<the key that decided, "blacklist_rc", or "">
//	error	<message>
//
// The script itself reads nothing but that file and uses no network; what
// the configuration does is needrestart's configuration's own doing (root's
// files: ReadNeedrestart refuses files another user can change).
const needrestartPerl = `use strict;
sub esc { my $s = shift; $s = '' unless defined $s; $s =~ s/([^\x20-\x7e]|\\)/sprintf("\\x%02x", ord($1))/ge; return $s; }
our %nrconf = (verbosity => 1, hook_d => '/etc/needrestart/hook.d', notify_d => '/etc/needrestart/notify.d',
    restart_d => '/etc/needrestart/restart.d', sendnotify => 1, restart => 'i', defno => 0, ui_mode => 'a',
    systemctl_combine => 0, blacklist => [], blacklist_interp => [], blacklist_rc => [], blacklist_mappings => [],
    override_rc => {}, override_cont => {}, skip_mapfiles => -1, interpscan => 1, perlcache => undef,
    kernelhints => 1, kernelfilter => qr(.), ucodehints => 1, has_pam_systemd => 1, tolerance => 2);
my $file = shift @ARGV;
# The names needrestart has in scope where it evals its configuration:
# Debian's needrestart.conf prints with $LOGPREF in its conf.d loop.
my $LOGPREF = '[main]';
my $is_systemd = -d q(/run/systemd/system);
my $is_runit = -e q(/run/runit.stopit);
my $is_tty = 0;
my ($is_vm, $is_container);
our ($opt_c, $opt_v, $opt_r, $opt_n, $opt_m, $opt_b, $opt_f, $opt_k, $opt_l, $opt_p, $opt_o, $opt_q, $opt_t, $opt_u, $opt_w);
$opt_c = $file;
my $cfg;
{
    open(my $fh, '<', $file) or do { print "error\t", esc("$file: $!"), "\n"; exit 0; };
    my $n = read($fh, $cfg, 1048577);
    if (!defined $n) { print "error\t", esc("$file: $!"), "\n"; exit 0; }
    if ($n > 1048576) { print "error\t", esc("$file: larger than 1 MiB"), "\n"; exit 0; }
    close($fh);
}
eval $cfg;
if ($@) { print "error\t", esc("$file: $@"), "\n"; exit 0; }
print "restart\t", esc($nrconf{restart}), "\n";
print "defno\t", ($nrconf{defno} ? 1 : 0), "\n";
foreach my $unit (@ARGV) {
    my $restart = $nrconf{defno} ? 0 : 1;
    my $by = '';
    if (grep { $unit =~ /$_/ } @{$nrconf{blacklist_rc} || []}) {
        ($restart, $by) = (0, 'blacklist_rc');
    } else {
        foreach my $re (sort keys %{$nrconf{override_rc} || {}}) {
            next unless $unit =~ /$re/;
            $restart = $nrconf{override_rc}->{$re} ? 1 : 0;
            $by = $re;
            last;
        }
    }
    print "unit\t", esc($unit), "\t$restart\t", esc($by), "\n";
}
`

// needrestartUnits are the units whose fate the needrestart rule needs.
var needrestartUnits = []string{guard.ContainerdService, "docker.service"}

// ReadNeedrestart reads needrestart's configuration as needrestart itself
// would: whether it is installed, then its verdict for containerd.service
// and docker.service, from perl evaluating needrestart.conf (see
// needrestartPerl; bounded by Timeouts.Version and 64 KiB of output). An
// approximation of Perl in Go cannot be exact (issue 21, item 4), so where
// perl is missing (needrestart cannot run without it either), or the files
// could be changed by a user other than root, the result says why in Skip.
func (e *Env) ReadNeedrestart() guard.NeedrestartConf {
	var c guard.NeedrestartConf
	if _, err := os.Stat(e.Path(NeedrestartBin)); err != nil {
		return c
	}
	c.Installed = true
	conf := e.Path(NeedrestartConf)
	if _, err := os.Stat(conf); errors.Is(err, fs.ErrNotExist) {
		// needrestart refuses to run without it (unless in batch mode): its
		// defaults apply.
		c.Files = nil
	} else if why := untrustedConfig(conf, e.Path(NeedrestartConfDir)); why != "" {
		c.Skip = why
		return c
	}
	path, err := exec.LookPath("perl")
	if err != nil {
		c.Skip = "perl is not installed, so needrestart's configuration (Perl) cannot be evaluated (needrestart cannot run without perl either)"
		return c
	}
	if _, err := os.Stat(conf); errors.Is(err, fs.ErrNotExist) {
		conf = os.DevNull
	} else {
		c.Files = []string{NeedrestartConf}
	}
	limit := e.T.Version
	if limit <= 0 {
		limit = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	out, err := PerlOutput(ctx, path, needrestartPerl, append([]string{conf}, needrestartUnits...)...)
	if err != nil {
		c.Skip = "evaluating " + NeedrestartConf + " with perl: " + err.Error()
		return c
	}
	if err := parseNeedrestartPerl(&c, out); err != nil {
		c.Skip = err.Error()
	}
	return c
}

// PerlOutput runs perl -e script with args, with no input, a minimal
// environment, in its own process group, bounded by ctx, keeping at most
// 64 KiB of its output.
func PerlOutput(ctx context.Context, perl, script string, args ...string) ([]byte, error) {
	cmd := Command(ctx, perl, append([]string{"-e", script, "--"}, args...)...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var out, errOut capped
	out.max, errOut.max = 64<<10, 4<<10
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := Run(cmd)
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("no answer within %v", time.Since(start).Round(time.Second))
	case err != nil:
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(errOut.b.String()))
	}
	return out.b.Bytes(), nil
}

// parseNeedrestartPerl reads needrestartPerl's output into c.
func parseNeedrestartPerl(c *guard.NeedrestartConf, out []byte) error {
	c.Verdicts = map[string]guard.NeedrestartVerdict{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		for i := range f {
			f[i] = unescapePerl(f[i])
		}
		switch {
		case f[0] == "error" && len(f) == 2:
			return errors.New("needrestart's configuration does not evaluate: " + strings.Join(strings.Fields(f[1]), " ") + " (needrestart itself stops on it)")
		case f[0] == "restart" && len(f) == 2:
			c.Mode = f[1]
		case f[0] == "defno" && len(f) == 2:
			c.DefNo = f[1] == "1"
		case f[0] == "unit" && len(f) == 4:
			c.Verdicts[f[1]] = guard.NeedrestartVerdict{Restart: f[2] == "1", By: f[3]}
		}
	}
	for _, u := range needrestartUnits {
		if _, ok := c.Verdicts[u]; !ok {
			return fmt.Errorf("perl gave no verdict for %s", u)
		}
	}
	return nil
}

func unescapePerl(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// untrustedConfig says why needrestart's files must not be evaluated: a
// file or directory another user could change (needrestart would run
// their code as root; dlr will not). "" when they are root's alone.
func untrustedConfig(conf, confDir string) string {
	paths := []string{conf}
	if d, err := atomicfile.OpenDir(filepath.Dir(conf)); err != nil {
		return "not evaluated: " + err.Error()
	} else {
		d.Close()
	}
	if _, err := os.Stat(confDir); err == nil {
		if d, err := atomicfile.OpenDir(confDir); err != nil {
			return "not evaluated: " + err.Error()
		} else {
			d.Close()
		}
		m, _ := filepath.Glob(filepath.Join(confDir, "*"))
		paths = append(paths, m...)
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		switch {
		case st.Uid != 0 && int(st.Uid) != os.Geteuid():
			return fmt.Sprintf("not evaluated: %s is owned by uid %d, not root (needrestart would run it as root)", p, st.Uid)
		case st.Mode&0o022 != 0:
			return fmt.Sprintf("not evaluated: %s is writable by users other than its owner (mode %04o; needrestart would run it as root)", p, st.Mode&0o7777)
		}
	}
	return ""
}
