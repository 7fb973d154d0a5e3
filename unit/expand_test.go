package unit

import (
	"reflect"
	"strings"
	"testing"
)

// debianExecStart is docker.service's ExecStart= in Debian's docker.io.
var debianExecStart = []string{"/usr/sbin/dockerd", "-H", "fd://", "$DOCKER_OPTS"}

// rhelExecStart is docker.service's ExecStart= in RHEL/CentOS 7's docker.
var rhelExecStart = []string{
	"/usr/bin/dockerd-current",
	"--add-runtime", "docker-runc=/usr/libexec/docker/docker-runc-current",
	"--default-runtime=docker-runc",
	"--exec-opt", "native.cgroupdriver=systemd",
	"--userland-proxy-path=/usr/libexec/docker/docker-proxy-current",
	"--init-path=/usr/libexec/docker/docker-init-current",
	"--seccomp-profile=/etc/docker/seccomp.json",
	"$OPTIONS", "$DOCKER_STORAGE_OPTIONS", "$DOCKER_NETWORK_OPTIONS",
	"$ADD_REGISTRY", "$BLOCK_REGISTRY", "$INSECURE_REGISTRY", "$REGISTRIES",
}

var expandTests = []struct {
	name string
	argv []string
	env  map[string]string
	want []string
}{
	{"debian, DOCKER_OPTS unset", debianExecStart, nil,
		[]string{"/usr/sbin/dockerd", "-H", "fd://"}},
	{"debian, DOCKER_OPTS set", debianExecStart, map[string]string{"DOCKER_OPTS": "--dns 8.8.8.8  --dns\t8.8.4.4 "},
		[]string{"/usr/sbin/dockerd", "-H", "fd://", "--dns", "8.8.8.8", "--dns", "8.8.4.4"}},
	{"debian, DOCKER_OPTS empty", debianExecStart, map[string]string{"DOCKER_OPTS": ""},
		[]string{"/usr/sbin/dockerd", "-H", "fd://"}},
	{"debian, DOCKER_OPTS blank", debianExecStart, map[string]string{"DOCKER_OPTS": " \t\n"},
		[]string{"/usr/sbin/dockerd", "-H", "fd://"}},
	{"rhel", rhelExecStart, map[string]string{
		"OPTIONS":          "--selinux-enabled --log-driver=journald --signature-verification=false",
		"DOCKER_CERT_PATH": "/etc/docker",
	}, []string{
		"/usr/bin/dockerd-current",
		"--add-runtime", "docker-runc=/usr/libexec/docker/docker-runc-current",
		"--default-runtime=docker-runc",
		"--exec-opt", "native.cgroupdriver=systemd",
		"--userland-proxy-path=/usr/libexec/docker/docker-proxy-current",
		"--init-path=/usr/libexec/docker/docker-init-current",
		"--seccomp-profile=/etc/docker/seccomp.json",
		"--selinux-enabled", "--log-driver=journald", "--signature-verification=false",
	}},
	// The two examples of systemd.service(5), "Command lines".
	{"man page example 1", []string{"echo", "$ONE", "$TWO", "${TWO}"},
		map[string]string{"ONE": "one", "TWO": "two two"},
		[]string{"echo", "one", "two", "two", "two two"}},
	{"man page example 2, braces", []string{"/bin/echo", "${ONE}", "${TWO}", "${THREE}"},
		map[string]string{"ONE": "'one'", "TWO": "'two two' too", "THREE": ""},
		[]string{"/bin/echo", "'one'", "'two two' too", ""}},
	{"man page example 2, split", []string{"/bin/echo", "$ONE", "$TWO", "$THREE"},
		map[string]string{"ONE": "'one'", "TWO": "'two two' too", "THREE": ""},
		[]string{"/bin/echo", "one", "two two", "too"}},
	{"braces inside a word", []string{"x", "--data-root=${ROOT}/docker", "a${A}b${B}c"},
		map[string]string{"ROOT": "/srv data", "A": "1"},
		[]string{"x", "--data-root=/srv data/docker", "a1bc"}},
	{"unset in braces is an empty word", []string{"x", "${NOPE}"}, nil, []string{"x", ""}},
	{"dollar dollar", []string{"x", "$$", "a$$b", "$$A", "$${A}", "$$$$"},
		map[string]string{"A": "v"},
		[]string{"x", "$", "a$b", "$A", "${A}", "$$"}},
	{"bare $NAME inside a word is kept", []string{"x", "--opt=$A", "a$A"}, map[string]string{"A": "v"},
		[]string{"x", "--opt=$A", "a$A"}},
	{"lone dollar is dropped", []string{"x", "$"}, nil, []string{"x"}},
	{"invalid name as a word is dropped", []string{"x", "$A.b", "$1A", "$A-B"},
		map[string]string{"A": "v", "A.b": "w", "1A": "z"},
		[]string{"x"}},
	{"invalid name in braces is empty", []string{"x", "${A.b}", "<${1A}>"},
		map[string]string{"A.b": "w", "1A": "z"},
		[]string{"x", "", "<>"}},
	{"unclosed brace kept", []string{"x", "${A", "a${A"}, map[string]string{"A": "v"},
		[]string{"x", "${A", "a${A"}},
	{"default-value forms are not expanded", []string{"x", "${A:-d}", "${B:+alt}y"}, map[string]string{"B": "v"},
		[]string{"x", "${A:-d}", "${B:+alt}y"}},
	{"argv[0] is expanded too", []string{"${BIN}", "$ARGS"}, map[string]string{"BIN": "/bin/true", "ARGS": "a b"},
		[]string{"/bin/true", "a", "b"}},
	{"split respects quotes and backslashes", []string{"x", "$V"},
		map[string]string{"V": `--label "a b" --label='c d' e\ f g"h i"j "" '' k\`},
		[]string{"x", "--label", "a b", "--label=c d", "e f", "gh ij", "", "", "k"}},
	{"split: backslash inside quotes", []string{"x", "$V"},
		map[string]string{"V": `"a\"b" 'c\'d' "e\\f"`},
		[]string{"x", `a"b`, `c'd`, `e\f`}},
	{"split: unclosed quote runs to the end", []string{"x", "$V"},
		map[string]string{"V": `a "b c`},
		[]string{"x", "a", "b c"}},
	{"empty argv", nil, nil, []string{}},
}

func TestExpandArgv(t *testing.T) {
	for _, tt := range expandTests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]string(nil), tt.argv...)
			got := ExpandArgv(tt.argv, tt.env)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ExpandArgv(%q, %q)\n got %q\nwant %q", tt.argv, tt.env, got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.argv) && tt.argv != nil {
				t.Errorf("ExpandArgv changed its input to %q", tt.argv)
			}
		})
	}
}

// TestDebianFlow is what a caller does for Debian's docker.service: read the
// EnvironmentFile, merge, expand.
func TestDebianFlow(t *testing.T) {
	file := debianDefaultDocker + "DOCKER_OPTS=\"--live-restore --dns 8.8.8.8\"\n"
	fileEnv, err := ParseEnvironmentFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	env := MergeEnvironment([]string{"DOCKER_OPTS=--from-environment", "OTHER=1"}, fileEnv)
	got := ExpandArgv(debianExecStart, env)
	want := []string{"/usr/sbin/dockerd", "-H", "fd://", "--live-restore", "--dns", "8.8.8.8"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// FuzzSplitQuoted checks that a word written double-quoted, with " and \
// escaped, splits back into exactly that word.
func FuzzSplitQuoted(f *testing.F) {
	for _, s := range []string{"", "a", "a b", `a"b`, `a\b`, "'", "\t\n", "$A ${B}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
		got := splitQuoted(q)
		if len(got) != 1 || got[0] != s {
			t.Fatalf("splitQuoted(%s) = %q, want [%q]", q, got, s)
		}
		_ = ExpandArgv([]string{s, "$" + s, "x" + s}, map[string]string{s: s, "A": s})
	})
}
