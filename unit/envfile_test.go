package unit

import (
	"reflect"
	"strings"
	"testing"
)

// debianDefaultDocker is /etc/default/docker as Debian's docker.io ships it.
const debianDefaultDocker = `# Docker Upstart and SysVinit configuration file

#
# THIS FILE DOES NOT APPLY TO SYSTEMD
#
#   Please see the documentation for "systemd drop-ins":
#   https://docs.docker.com/engine/admin/systemd/
#

# Customize location of Docker binary (especially for development testing).
#DOCKERD="/usr/local/bin/dockerd"

# Use DOCKER_OPTS to modify the daemon startup options.
#DOCKER_OPTS="--dns 8.8.8.8 --dns 8.8.4.4"

# If you need Docker to use an HTTP proxy, it can also be specified here.
#export http_proxy="http://127.0.0.1:3128/"

# This is also a handy place to tweak where Docker's temporary files go.
#export DOCKER_TMPDIR="/mnt/bigdrive/docker-tmp"
`

// rhelSysconfigDocker is the shape of RHEL/CentOS 7's /etc/sysconfig/docker:
// shell code that systemd reads line by line.
const rhelSysconfigDocker = `# /etc/sysconfig/docker

# Modify these options if you want to change the way the docker daemon runs
OPTIONS='--selinux-enabled --log-driver=journald --signature-verification=false'
if [ -z "${DOCKER_CERT_PATH}" ]; then
    DOCKER_CERT_PATH=/etc/docker
fi

# Do not add registries in this file anymore. Use /etc/containers/registries.conf
# instead. For more information reference the registries.conf(5) man page.

# Location used for temporary files, such as those created by
# docker load and build operations. Default is /var/lib/docker/tmp
# Can be overriden by setting the following environment variable.
# DOCKER_TMPDIR=/var/tmp
`

// envFileTests are shared with FuzzParseEnvironmentFile as seeds.
var envFileTests = []struct {
	name string
	in   string
	want map[string]string
}{
	{"empty", "", map[string]string{}},
	{"debian default file sets nothing", debianDefaultDocker, map[string]string{}},
	{"debian DOCKER_OPTS uncommented", debianDefaultDocker + `DOCKER_OPTS="--dns 8.8.8.8 --dns 8.8.4.4"` + "\n",
		map[string]string{"DOCKER_OPTS": "--dns 8.8.8.8 --dns 8.8.4.4"}},
	{"rhel sysconfig", rhelSysconfigDocker, map[string]string{
		"OPTIONS":          "--selinux-enabled --log-driver=journald --signature-verification=false",
		"DOCKER_CERT_PATH": "/etc/docker",
	}},
	{"export is not special", "export http_proxy=\"http://127.0.0.1:3128/\"\nexport DOCKER_TMPDIR=/tmp\n", map[string]string{}},
	{"no trailing newline", "A=1", map[string]string{"A": "1"}},
	{"whitespace around key and value", "  KEY \t=  value with  spaces \t \n", map[string]string{"KEY": "value with  spaces"}},
	{"empty values", "A=\nB=   \nC=''\nD=\"\"", map[string]string{"A": "", "B": "", "C": "", "D": ""}},
	{"lines without =", "NOEQUALS\nB=1\nC", map[string]string{"B": "1"}},
	{"comments", "# A=1\n; B=2\n   # C=3\n\t;D=4\nE=5 # not a comment\nF=x;y", map[string]string{"E": "5 # not a comment", "F": "x;y"}},
	{"later assignment wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
	{"invalid names dropped", "1A=x\nA-B=x\nA.B=x\n=x\n_A9=ok\na=lower\n", map[string]string{"_A9": "ok", "a": "lower"}},
	{"unquoted backslash", `A=a\\b` + "\n" + `B=a\ b\"c` + "\n", map[string]string{"A": `a\b`, "B": `a b"c`}},
	{"unquoted continuation", "A=one \\\ntwo\nB=3", map[string]string{"A": "one two", "B": "3"}},
	{"escaped trailing space kept", "A=x\\ \nB=y\\  \n", map[string]string{"A": "x ", "B": "y "}},
	{"quotes inside unquoted value kept", `A=x"y z"` + "\n" + `B=it's`, map[string]string{"A": `x"y z"`, "B": "it's"}},
	{"single quotes verbatim", `A='x "y" \n $z'`, map[string]string{"A": `x "y" \n $z`}},
	{"single quotes span lines", "A='line1\nline2'\nB=2", map[string]string{"A": "line1\nline2", "B": "2"}},
	{"double quote escapes", `A="a\"b\\c\$d` + "\\`" + `e\qf"`, map[string]string{"A": `a"b\c$d` + "`" + `e\qf`}},
	{"double quotes span lines", "A=\"one\ntwo\"", map[string]string{"A": "one\ntwo"}},
	{"double quote continuation", "A=\"one \\\ntwo\"", map[string]string{"A": "one two"}},
	{"quoted part then more text", `A="x" y ` + "\n" + `B='a'"b"c`, map[string]string{"A": "xy", "B": "abc"}},
	{"space inside quotes kept", `A="  padded  "  `, map[string]string{"A": "  padded  "}},
	{"unterminated quote ends at EOF", `A="abc`, map[string]string{"A": "abc"}},
	{"unterminated single quote swallows lines", "A='abc\nB=2", map[string]string{"A": "abc\nB=2"}},
	{"trailing backslash at EOF", `A=abc\`, map[string]string{"A": "abc"}},
	{"CRLF line ends", "A=1\r\nB=\"2\"\r\n", map[string]string{"A": "1", "B": "2"}},
	{"comment ending in backslash does not continue (systemd >= 254)", "# note \\\nA=1\n", map[string]string{"A": "1"}},
	{"utf-8 value", "A=héllo wörld", map[string]string{"A": "héllo wörld"}},
	{"equals in value", "A=b=c==d", map[string]string{"A": "b=c==d"}},
}

func TestParseEnvironmentFile(t *testing.T) {
	for _, tt := range envFileTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvironmentFile([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseEnvironmentFile(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseEnvironmentFile(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseEnvironmentFileErrors(t *testing.T) {
	tests := []struct {
		name, in, wantErr string
	}{
		{"NUL byte", "A=1\nB=2\x00\n", "line 2: NUL byte"},
		{"invalid UTF-8 value", "A=1\n\nB=\xff\n", "line 3: value of B is not valid UTF-8"},
		{"invalid UTF-8 key", "\xc3=1", "line 1: key is not valid UTF-8"},
		{"noncharacter", "A=\uFFFE", "line 1: value of A is not valid UTF-8"},
		{"invalid UTF-8 even under an invalid name", "A-B=\xff", "value of A-B is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvironmentFile([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseEnvironmentFile(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
		})
	}
}

// FuzzParseEnvironmentFile checks that parsing never panics, yields only
// valid names, and that a value written single-quoted reads back unchanged.
func FuzzParseEnvironmentFile(f *testing.F) {
	for _, tt := range envFileTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		env, err := ParseEnvironmentFile([]byte(in))
		if err == nil {
			for k := range env {
				if !validEnvName(k) {
					t.Fatalf("invalid name %q from %q", k, in)
				}
			}
		}
		if strings.ContainsAny(in, "'\x00") || !validSystemdUTF8([]byte(in)) {
			return
		}
		file := "# written by the test\nKEY='" + in + "'\n"
		env, err = ParseEnvironmentFile([]byte(file))
		if err != nil {
			t.Fatalf("ParseEnvironmentFile(%q): %v", file, err)
		}
		if env["KEY"] != in {
			t.Fatalf("KEY='%s' read back as %q", in, env["KEY"])
		}
	})
}
