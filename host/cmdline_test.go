package host

import "testing"

func TestCmdlineFlags(t *testing.T) {
	for _, tc := range []struct {
		args         []string
		lrSet, lrVal bool
		config, sock string
	}{
		{[]string{"/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"}, false, false, "", ""},
		{[]string{"dockerd", "--live-restore"}, true, true, "", ""},
		{[]string{"dockerd", "--live-restore=false"}, true, false, "", ""},
		{[]string{"dockerd", "--live-restore", "--config-file", "/etc/d.json"}, true, true, "/etc/d.json", ""},
		{[]string{"dockerd", "--config-file=/x/y.json", "-H", "unix:///var/run/d.sock"}, false, false, "/x/y.json", "/var/run/d.sock"},
		{[]string{"dockerd", "--host=unix:///a.sock"}, false, false, "", "/a.sock"},
		{[]string{"dockerd", "-Hunix:///b.sock"}, false, false, "", "/b.sock"},
		{[]string{"dockerd", "--live-restore-x"}, false, false, "", ""},
		{[]string{"dockerd", "--live-restore=true", "--live-restore=false"}, true, false, "", ""},
	} {
		c := Cmdline{Args: tc.args}
		set, val, _ := c.LiveRestore()
		if set != tc.lrSet || val != tc.lrVal {
			t.Errorf("%v: liveRestore = %v, %v; want %v, %v", tc.args, set, val, tc.lrSet, tc.lrVal)
		}
		if got := c.ConfigFile(); got != tc.config {
			t.Errorf("%v: configFile = %q; want %q", tc.args, got, tc.config)
		}
		if got := c.Socket(); got != tc.sock {
			t.Errorf("%v: socket = %q; want %q", tc.args, got, tc.sock)
		}
	}
}

func TestSplitCmdline(t *testing.T) {
	got := splitCmdline([]byte("/usr/sbin/dockerd\x00-H\x00fd://\x00"))
	if len(got) != 3 || got[2] != "fd://" {
		t.Errorf("splitCmdline = %q", got)
	}
}

func TestJournalErrors(t *testing.T) {
	log := `Reloading docker.service - Docker Application Container Engine...
time="2026-11-25T20:13:03.574958329Z" level=warning msg="Unable to find cpu controller"
time="2026-11-25T20:13:04.885633929Z" level=error msg="unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives don't match any configuration option: no-such-option"
Reloaded docker.service - Docker Application Container Engine.
`
	// Docker 28: the reason in its own error= field.
	log28 := `time="2026-12-01T14:00:00Z" level=error msg="Error reloading configuration" error="unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives don't match any configuration option: no-such-option"`
	if got := JournalErrors(log28); len(got) != 1 || got[0] != "Error reloading configuration: unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives don't match any configuration option: no-such-option" {
		t.Errorf("JournalErrors (Docker 28) = %q", got)
	}
	got := JournalErrors(log)
	want := "unable to configure the Docker daemon with file /etc/docker/daemon.json: the following directives don't match any configuration option: no-such-option"
	if len(got) != 1 || got[0] != want {
		t.Errorf("JournalErrors = %q", got)
	}
}
