package sysctl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// tree creates files under root: a value starting with "->" makes a symlink
// to the rest, "/" at the end of a name makes a directory.
func tree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(name, "/"):
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(content, "->"):
			err = os.Symlink(strings.TrimPrefix(content, "->"), p)
		default:
			err = os.WriteFile(p, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// at is a setting of Key read from root/file.
func at(root, file string, line int, value string) Setting {
	return set(filepath.Join(root, file), line, "fs.pipe-max-size", value)
}

// debian is what a Debian 12 host has, none of it touching the key.
var debian = map[string]string{
	"etc/sysctl.conf":                      "#\n# /etc/sysctl.conf - Configuration file for setting system variables\n#\n#kernel.domainname = example.com\n#net.ipv4.ip_forward=1\n",
	"etc/sysctl.d/99-sysctl.conf":          "->../sysctl.conf",
	"etc/sysctl.d/README.sysctl":           "fs.pipe-max-size = 1\n",
	"usr/lib/sysctl.d/50-default.conf":     "kernel.sysrq = 0x01b6\n-net.ipv4.conf.all.rp_filter = 2\nfs.protected_regular = 1\n",
	"usr/lib/sysctl.d/50-pid-max.conf":     "kernel.pid_max = 4194304\n",
	"usr/lib/sysctl.d/protect-links.conf":  "fs.protected_fifos = 1\n",
	"lib/sysctl.d/50-default.conf":         "fs.pipe-max-size = 1\n", // shadowed: same name as in /usr/lib
	"usr/local/lib/sysctl.d/.hidden.conf":  "fs.pipe-max-size = 1\n",
	"usr/local/lib/sysctl.d/notconf.conf~": "fs.pipe-max-size = 1\n",
}

func TestConfigured(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		key    string
		winner func(root string) Setting
		seen   func(root string) []Setting
	}{
		{
			name:   "no configuration at all",
			files:  map[string]string{},
			winner: func(string) Setting { return Setting{} },
			seen:   func(string) []Setting { return nil },
		},
		{
			name:   "debian defaults leave the key alone",
			files:  debian,
			winner: func(string) Setting { return Setting{} },
			seen:   func(string) []Setting { return nil },
		},
		{
			name: "files sorted by name across directories",
			files: map[string]string{
				"run/sysctl.d/30-c.conf":     "fs.pipe-max-size = 4194304\n",
				"etc/sysctl.d/20-b.conf":     "# b\nfs/pipe-max-size=2097152\n",
				"usr/lib/sysctl.d/10-a.conf": "fs.pipe-max-size = 1048576\n",
			},
			winner: func(r string) Setting { return at(r, "run/sysctl.d/30-c.conf", 1, "4194304") },
			seen: func(r string) []Setting {
				b := at(r, "etc/sysctl.d/20-b.conf", 2, "2097152")
				b.Key = "fs/pipe-max-size"
				return []Setting{at(r, "usr/lib/sysctl.d/10-a.conf", 1, "1048576"), b, at(r, "run/sysctl.d/30-c.conf", 1, "4194304")}
			},
		},
		{
			name: "same name in a higher-priority directory shadows",
			files: map[string]string{
				"etc/sysctl.d/50-x.conf":           "fs.pipe-max-size = 8388608\n",
				"usr/lib/sysctl.d/50-x.conf":       "fs.pipe-max-size = 67108864\n",
				"run/sysctl.d/51-y.conf":           "",
				"usr/local/lib/sysctl.d/51-y.conf": "fs.pipe-max-size = 67108864\n",
			},
			winner: func(r string) Setting { return at(r, "etc/sysctl.d/50-x.conf", 1, "8388608") },
			seen:   func(r string) []Setting { return []Setting{at(r, "etc/sysctl.d/50-x.conf", 1, "8388608")} },
		},
		{
			name: "symlink to /dev/null masks",
			files: map[string]string{
				"etc/sysctl.d/70-vendor.conf":     "->/dev/null",
				"usr/lib/sysctl.d/70-vendor.conf": "fs.pipe-max-size = 67108864\n",
			},
			winner: func(string) Setting { return Setting{} },
			seen:   func(string) []Setting { return nil },
		},
		{
			name: "dangling symlinks, directories and hidden files are skipped",
			files: map[string]string{
				"etc/sysctl.d/10-gone.conf":     "->nowhere.conf",
				"usr/lib/sysctl.d/10-gone.conf": "fs.pipe-max-size = 4096\n", // systemd reads neither
				"etc/sysctl.d/20-dir.conf/":     "",
				"usr/lib/sysctl.d/20-dir.conf":  "fs.pipe-max-size = 8192\n", // a directory does not shadow
				"etc/sysctl.d/.30-hidden.conf":  "fs.pipe-max-size = 16384\n",
			},
			winner: func(r string) Setting { return at(r, "usr/lib/sysctl.d/20-dir.conf", 1, "8192") },
			seen:   func(r string) []Setting { return []Setting{at(r, "usr/lib/sysctl.d/20-dir.conf", 1, "8192")} },
		},
		{
			name: "sysctl.conf is read last when no sysctl.d file is it",
			files: map[string]string{
				"etc/sysctl.d/zz-last.conf": "fs.pipe-max-size = 2097152\n",
				"etc/sysctl.conf":           "fs.pipe-max-size = 1048576\n",
			},
			winner: func(r string) Setting { return at(r, "etc/sysctl.conf", 1, "1048576") },
			seen: func(r string) []Setting {
				return []Setting{at(r, "etc/sysctl.d/zz-last.conf", 1, "2097152"), at(r, "etc/sysctl.conf", 1, "1048576")}
			},
		},
		{
			name: "sysctl.conf linked as 99-sysctl.conf is read once, in its place",
			files: map[string]string{
				"etc/sysctl.conf":              "\nfs.pipe-max-size = 1048576\n",
				"etc/sysctl.d/99-sysctl.conf":  "->../sysctl.conf",
				"usr/lib/sysctl.d/99-zzz.conf": "fs.pipe-max-size = 2097152\n",
			},
			winner: func(r string) Setting { return at(r, "usr/lib/sysctl.d/99-zzz.conf", 1, "2097152") },
			seen: func(r string) []Setting {
				return []Setting{at(r, "etc/sysctl.d/99-sysctl.conf", 2, "1048576"), at(r, "usr/lib/sysctl.d/99-zzz.conf", 1, "2097152")}
			},
		},
		{
			name: "globs and exclusions are seen; explicit key wins",
			files: map[string]string{
				"usr/lib/sysctl.d/10-g.conf": "fs.* = 1048576\nfs.file-max = 9\nkernel.* = 1\n",
				"etc/sysctl.d/20-x.conf":     "fs.pipe-max-size = 2097152\n-fs.pipe-max-size\n-fs.pipe-max-size = 4194304\n",
			},
			key: "fs/pipe-max-size",
			winner: func(r string) Setting {
				return Setting{File: filepath.Join(r, "etc/sysctl.d/20-x.conf"), Line: 3, Key: "fs.pipe-max-size", Value: "4194304", IgnoreFailure: true}
			},
			seen: func(r string) []Setting {
				return []Setting{
					set(filepath.Join(r, "usr/lib/sysctl.d/10-g.conf"), 1, "fs.*", "1048576"),
					at(r, "etc/sysctl.d/20-x.conf", 1, "2097152"),
					at(r, "etc/sysctl.d/20-x.conf", 2, "-"),
					{File: filepath.Join(r, "etc/sysctl.d/20-x.conf"), Line: 3, Key: "fs.pipe-max-size", Value: "4194304", IgnoreFailure: true},
				}
			},
		},
		{
			name: "a trailing exclusion leaves the key unset",
			files: map[string]string{
				"usr/lib/sysctl.d/10-a.conf": "fs.pipe-max-size = 1048576\n",
				"etc/sysctl.d/20-b.conf":     "-fs.pipe-max-size\n",
			},
			winner: func(string) Setting { return Setting{} },
			seen: func(r string) []Setting {
				return []Setting{at(r, "usr/lib/sysctl.d/10-a.conf", 1, "1048576"), at(r, "etc/sysctl.d/20-b.conf", 1, "-")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			tree(t, root, tt.files)
			key := tt.key
			if key == "" {
				key = Key
			}
			winner, seen, err := Configured(Dirs{Root: root}, key)
			if err != nil {
				t.Fatalf("Configured: %v", err)
			}
			if want := tt.winner(root); winner != want {
				t.Errorf("winner = %+v\nwant %+v", winner, want)
			}
			if want := tt.seen(root); !reflect.DeepEqual(seen, want) {
				t.Errorf("seen =\n%+v\nwant\n%+v", seen, want)
			}
		})
	}
}

func TestConfiguredErrors(t *testing.T) {
	root := t.TempDir()
	for _, key := range []string{"", "fs.*", "/"} {
		if _, _, err := Configured(Dirs{Root: root}, key); err == nil || !strings.Contains(err.Error(), "is not a sysctl key") {
			t.Errorf("Configured(key %q) error = %v; want one saying it is not a sysctl key", key, err)
		}
	}

	// /etc/sysctl.d being a plain file is as good as missing.
	tree(t, root, map[string]string{"etc/sysctl.d": "x", "usr/lib/sysctl.d/10-a.conf": "fs.pipe-max-size = 4096\n"})
	if w, _, err := Configured(Dirs{Root: root}, Key); err != nil || w.Value != "4096" {
		t.Errorf("Configured with /etc/sysctl.d a file = %+v, %v; want the /usr/lib value", w, err)
	}

	if os.Geteuid() == 0 {
		t.Skip("running as root: permission errors cannot be provoked")
	}
	unreadable := filepath.Join(root, "usr/lib/sysctl.d/10-a.conf")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err := Configured(Dirs{Root: root}, Key)
	if err == nil || !strings.Contains(err.Error(), unreadable) {
		t.Errorf("Configured with an unreadable file: %v; want an error naming %s", err, unreadable)
	}
}

func TestDirsPaths(t *testing.T) {
	if got, want := (Dirs{}).DropInPath(), "/etc/sysctl.d/60-docker-liverestore.conf"; got != want {
		t.Errorf("DropInPath() = %q; want %q", got, want)
	}
	if got, want := (Dirs{Root: "/tmp/x"}).DropInPath(), "/tmp/x/etc/sysctl.d/60-docker-liverestore.conf"; got != want {
		t.Errorf("DropInPath() = %q; want %q", got, want)
	}
	if got, want := (Dirs{Root: "/tmp/x"}).SysctlConf(), "/tmp/x/etc/sysctl.conf"; got != want {
		t.Errorf("SysctlConf() = %q; want %q", got, want)
	}
	if got := (Dirs{}).sysctlDirs(); !reflect.DeepEqual(got, []string{"/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d"}) {
		t.Errorf("sysctlDirs() = %q", got)
	}
}

func TestSources(t *testing.T) {
	root := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/sysctl.conf", "fs.pipe-max-size = 1048576\n")
	write("usr/lib/sysctl.d/50-x.conf", "kernel.pid_max = 4194304\n")
	os.MkdirAll(filepath.Join(root, "etc/sysctl.d"), 0o755)
	os.Symlink("../sysctl.conf", filepath.Join(root, "etc/sysctl.d/99-sysctl.conf"))
	got, err := Dirs{Root: root}.Sources()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(root, "etc/sysctl.d"), filepath.Join(root, "run/sysctl.d"),
		filepath.Join(root, "usr/local/lib/sysctl.d"), filepath.Join(root, "usr/lib/sysctl.d"),
		filepath.Join(root, "lib/sysctl.d"),
		filepath.Join(root, "usr/lib/sysctl.d/50-x.conf"),
		filepath.Join(root, "etc/sysctl.d/99-sysctl.conf"), filepath.Join(root, "etc/sysctl.conf"),
		filepath.Join(root, "etc/sysctl.conf"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sources:\n got %q\nwant %q", got, want)
	}
}
