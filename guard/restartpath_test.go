package guard

import (
	"strings"
	"testing"
)

func TestContainerdBond(t *testing.T) {
	const c = "containerd.service"
	tests := []struct {
		name                  string
		req, bind, part, reqs []string
		sources               []string
		sev                   Severity
		msg, fix              string
	}{
		{"debian's unit", []string{"docker.socket", "sysinit.target"}, nil, nil, nil, nil, Pass, "", ""},
		{"other units", nil, []string{"other.service"}, []string{"x.service"}, []string{"y.service"}, nil, Pass, "", ""},
		{"drop-in under /etc", nil, []string{c}, nil, nil,
			[]string{"/etc/systemd/system/docker.service.d/bind.conf: BindsTo=containerd.service"}, Fail,
			"BindsTo=containerd.service: a stop or restart of containerd",
			"replace `BindsTo=containerd.service` with `Wants=containerd.service` in /etc/systemd/system/docker.service.d/bind.conf, then systemctl daemon-reload"},
		{"vendor unit", []string{"docker.socket", c}, nil, nil, nil,
			[]string{"/lib/systemd/system/docker.service: Requires=docker.socket containerd.service"}, Fail,
			"Requires=containerd.service",
			"systemctl edit --full docker.service and replace `Requires=docker.socket containerd.service` with `Wants=containerd.service` (a drop-in cannot remove a dependency)"},
		{"full copy under /etc", nil, nil, []string{c}, nil,
			[]string{"/etc/systemd/system/docker.service: PartOf=containerd.service"}, Fail,
			"PartOf=", "in /etc/systemd/system/docker.service, then systemctl daemon-reload"},
		{"vendor drop-in", nil, nil, nil, []string{c},
			[]string{"/usr/lib/systemd/system/docker.service.d/10-c.conf: Requisite=containerd.service"}, Fail,
			"Requisite=", "copy /usr/lib/systemd/system/docker.service.d/10-c.conf to /etc/systemd/system/docker.service.d/10-c.conf"},
		{"two kinds, two files", []string{c}, []string{c}, nil, nil,
			[]string{"/etc/systemd/system/docker.service.d/a.conf: Requires=containerd.service", "/etc/systemd/system/docker.service.d/b.conf: BindsTo=containerd.service"}, Fail,
			"Requires=containerd.service, BindsTo=containerd.service", "in /etc/systemd/system/docker.service.d/a.conf, then systemctl daemon-reload; replace `BindsTo"},
		{"sources unknown", nil, []string{c}, nil, nil, nil, Fail, "BindsTo=", "systemctl cat docker.service"},
	}
	for _, tt := range tests {
		f := ContainerdBond(tt.req, tt.bind, tt.part, tt.reqs, tt.sources)
		if f.Rule != "containerd-bond" || f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || !strings.Contains(f.Fix, tt.fix) || (tt.fix == "" && f.Fix != "") {
			t.Errorf("%s: %s %q fix %q", tt.name, f.Severity, f.Message, f.Fix)
		}
	}
}

// debianOverrides is the part of Debian's needrestart.conf that matters.
var debianOverrides = []NeedrestartOverride{{"^dbus", false}, {"^docker", false}, {"^libvirt", false}, {"^systemd-nspawn", false}}

func TestNeedrestartRestarts(t *testing.T) {
	tests := []struct {
		name      string
		c         NeedrestartConf
		unit      string
		want      bool
		decidedBy string
	}{
		{"no override", NeedrestartConf{}, "containerd.service", true, ""},
		{"defno", NeedrestartConf{DefNo: true}, "containerd.service", false, ""},
		{"debian: docker", NeedrestartConf{Overrides: debianOverrides}, "docker.service", false, "^docker"},
		{"debian: containerd", NeedrestartConf{Overrides: debianOverrides}, "containerd.service", true, ""},
		{"exempted", NeedrestartConf{Overrides: append(debianOverrides, NeedrestartOverride{"^containerd", false})}, "containerd.service", false, "^containerd"},
		// Lexical order: "^c" sorts before "^containerd", so it decides.
		{"first in lexical order", NeedrestartConf{Overrides: []NeedrestartOverride{{"^containerd", false}, {"^c", true}}}, "containerd.service", true, "^c"},
		{"suffix anchored", NeedrestartConf{Overrides: []NeedrestartOverride{{`^containerd\.service$`, false}}}, "containerd.service", false, `^containerd\.service$`},
		{"anchored without suffix misses", NeedrestartConf{Overrides: []NeedrestartOverride{{`^containerd$`, false}}}, "containerd.service", true, ""},
		{"bad regexp skipped", NeedrestartConf{Overrides: []NeedrestartOverride{{`^(?<=x)`, false}}}, "containerd.service", true, ""},
	}
	for _, tt := range tests {
		got, by := tt.c.Restarts(tt.unit)
		if got != tt.want || by != tt.decidedBy {
			t.Errorf("%s: Restarts(%s) = %v, %q; want %v, %q", tt.name, tt.unit, got, by, tt.want, tt.decidedBy)
		}
	}
}

func TestNeedrestart(t *testing.T) {
	exempt := append(append([]NeedrestartOverride{}, debianOverrides...), NeedrestartOverride{"^containerd", false})
	tests := []struct {
		name     string
		c        NeedrestartConf
		lr       bool
		sev      Severity
		msg, fix string
	}{
		{"not installed", NeedrestartConf{}, true, Pass, "not installed", ""},
		{"list only", NeedrestartConf{Installed: true, Mode: "l"}, false, Pass, "only lists", ""},
		{"debian default", NeedrestartConf{Installed: true, Overrides: debianOverrides}, true, Warn,
			"restart mode 'i' (interactive: preselected, restarted on Enter) restarts containerd.service after",
			`printf '%s\n' '$nrconf{override_rc}{qr(^containerd)} = 0;' > /etc/needrestart/conf.d/docker-liverestore.conf`},
		{"exempted", NeedrestartConf{Installed: true, Mode: "a", Overrides: exempt}, false, Pass, "exempted", ""},
		{"docker, live restore on", NeedrestartConf{Installed: true, Mode: "a", Overrides: []NeedrestartOverride{{"^containerd", false}}}, true, Warn,
			"restarts docker.service after a library update; a docker restart restores", `'$nrconf{override_rc}{qr(^docker)} = 0;' >`},
		{"docker, live restore off", NeedrestartConf{Installed: true, Mode: "a"}, false, Fail,
			"containerd.service and docker.service", `'$nrconf{override_rc}{qr(^containerd)} = 0;' '$nrconf{override_rc}{qr(^docker)} = 0;' >`},
		{"defno", NeedrestartConf{Installed: true, Mode: "a", DefNo: true}, false, Pass, "exempted", ""},
	}
	for _, tt := range tests {
		f := Needrestart(tt.c, tt.lr)
		if f.Rule != "needrestart" || f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || !strings.Contains(f.Fix, tt.fix) || (tt.fix == "" && f.Fix != "") {
			t.Errorf("%s: %s %q fix %q", tt.name, f.Severity, f.Message, f.Fix)
		}
	}
}

func TestDebconfRestart(t *testing.T) {
	const fix = "echo 'docker.io docker.io/restart boolean false' | debconf-set-selections"
	tests := []struct {
		name     string
		q        DebconfQuestion
		lr       bool
		sev      Severity
		msg, fix string
	}{
		{"no database", DebconfQuestion{}, true, Skip, "no debconf database", ""},
		{"unreadable", DebconfQuestion{FileFound: true, Err: "permission denied"}, true, Skip, "permission denied", ""},
		{"debian", DebconfQuestion{FileFound: true}, false, Pass, "Debian's package never restarts dockerd", ""},
		{"false", DebconfQuestion{FileFound: true, Found: true, Value: "false"}, false, Pass, "is false", ""},
		{"unset", DebconfQuestion{FileFound: true, Found: true}, false, Pass, "is unset", ""},
		{"true, live restore off", DebconfQuestion{FileFound: true, Found: true, Value: "true"}, false, Fail, "stops every container", fix},
		{"true, live restore on", DebconfQuestion{FileFound: true, Found: true, Value: "true"}, true, Warn, "restore across versions", fix},
	}
	for _, tt := range tests {
		f := DebconfRestart(tt.q, tt.lr)
		if f.Rule != "debconf-restart" || f.Severity != tt.sev || !strings.Contains(f.Message, tt.msg) || f.Fix != tt.fix {
			t.Errorf("%s: %s %q fix %q", tt.name, f.Severity, f.Message, f.Fix)
		}
	}
}
