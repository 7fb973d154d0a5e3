package guard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readScript(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pkgscripts", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func debScripts(t *testing.T, prefix string) PkgScripts {
	s := PkgScripts{Format: "deb", Scripts: map[string]string{}}
	for _, n := range []string{"postinst", "prerm"} {
		if _, err := os.Stat(filepath.Join("testdata", "pkgscripts", prefix+"."+n)); err == nil {
			s.Scripts[n] = readScript(t, prefix+"."+n)
		}
	}
	return s
}

// TestScriptRole reads real Debian scripts and Docker CE's (written to the
// facts of its packaging, testdata/pkgscripts/README.md).
func TestScriptRole(t *testing.T) {
	tests := []struct {
		name     string
		s        PkgScripts
		daemon   Daemon
		restarts bool
		known    string
	}{
		{"Debian docker.io 28.5.2", debScripts(t, "debian-docker.io-28.5.2"), Dockerd, false, "never restart docker.service on upgrade (only a start"},
		{"Debian docker.io 20.10.24", debScripts(t, "debian-docker.io-20.10.24"), Dockerd, false, "never restart"},
		{"Debian containerd 2.1.9", debScripts(t, "debian-containerd-2.1.9"), Containerd, true, "its postinst restarts containerd.service on upgrade (deb-systemd-invoke $_dh_action 'containerd.service')"},
		{"Debian containerd 1.6.20", debScripts(t, "debian-containerd-1.6.20"), Containerd, true, "restarts containerd.service on upgrade"},
		{"docker-ce 24.0.5 .deb", debScripts(t, "dockerce-24.0.5"), Dockerd, true, "its postinst restarts docker.service on upgrade"},
		{"docker-ce 20.10 .deb", debScripts(t, "dockerce-20.10"), Dockerd, true, "invoke-rc.d docker $_dh_action"},
		{"docker-ce .rpm", ParseRPMScripts(readScript(t, "dockerce.rpm-scripts")), Dockerd, true, "its postuninstall restarts docker.service on upgrade (/usr/lib/systemd/systemd-update-helper mark-restart-system-units docker.service)"},
		{"docker-ce .rpm, older systemd", ParseRPMScripts(readScript(t, "dockerce-el7.rpm-scripts")), Dockerd, true, "systemctl try-restart docker.service"},
		{"stop on upgrade", PkgScripts{"deb", map[string]string{"prerm": "#!/bin/sh\nsystemctl stop docker.service || true\n", "postinst": "#!/bin/sh\nsystemctl start docker.service\n"}}, Dockerd, true, "its prerm stops docker.service on upgrade"},
		{"stop on remove, one line", PkgScripts{"deb", map[string]string{"prerm": "#!/bin/sh\nif [ \"$1\" = remove ]; then systemctl stop docker.service; fi\n"}}, Dockerd, false, "never restart"},
		{"stop in a remove arm", PkgScripts{"deb", map[string]string{"prerm": "#!/bin/sh\ncase \"$1\" in\n  remove)\n    invoke-rc.d docker stop\n    ;;\nesac\n"}}, Dockerd, false, "never restart"},
		{"skip-systemd-native", PkgScripts{"deb", map[string]string{"postinst": "invoke-rc.d --skip-systemd-native docker restart\ndeb-systemd-invoke start docker.service\n"}}, Dockerd, false, "never restart"},
	}
	for _, tt := range tests {
		r, ok := ScriptRole(tt.s)
		if !ok || r.Daemon != tt.daemon || r.Restarts != tt.restarts || !strings.Contains(r.Known, tt.known) {
			t.Errorf("%s: ScriptRole = %v %+v, want %s restarts=%v known ~ %q", tt.name, ok, r, tt.daemon, tt.restarts, tt.known)
		}
	}
	if r, ok := ScriptRole(PkgScripts{"deb", map[string]string{"postinst": "#!/bin/sh\nldconfig\n"}}); ok {
		t.Errorf("scripts naming no unit: %+v, want ok=false (judged by name)", r)
	}
}

func TestParseRPMScripts(t *testing.T) {
	s := ParseRPMScripts(readScript(t, "dockerce.rpm-scripts"))
	if len(s.Scripts) != 3 || !strings.Contains(s.Scripts["postuninstall"], "mark-restart-system-units docker.service") || strings.Contains(s.Scripts["postuninstall"], "remove-system-units") {
		t.Errorf("ParseRPMScripts = %q", s.Scripts)
	}
}
