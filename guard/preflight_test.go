package guard

import (
	"strings"
	"testing"
)

// The trixie -> forky upgrade of issue 12 as apt unpacks it.
var trixieForky = []PkgChange{
	{Package: "containerd", Old: "1.7.24~ds1-6+deb13u1", New: "2.1.9+ds1-5"},
	{Package: "docker.io", Old: "26.1.5+dfsg1-9+deb13u1+b1", New: "28.5.2+dfsg4-5"},
	{Package: "runc", Old: "1.1.15+ds1-2+b4", New: "1.3.6+ds1-1"},
}

func byRule(fs []Finding) map[string]Finding {
	m := map[string]Finding{}
	for _, f := range fs {
		m[f.Rule+"/"+f.Subject] = f
	}
	return m
}

func TestPreflight(t *testing.T) {
	bound := Finding{Rule: "containerd-bond", Severity: Fail, Message: "docker.service has BindsTo=containerd.service", Fix: "replace it with Wants="}
	for _, tc := range []struct {
		name string
		t    Transaction
		want map[string]Severity // rule/subject -> severity
		says []string
	}{
		{"trixie-forky, live restore on: what the matrix measured", Transaction{Changes: trixieForky, Dockerd: "26.1.5+dfsg1", LiveRestore: true, Containers: []string{"web", "db"}},
			map[string]Severity{"preflight-dockerd/docker.io": Pass, "preflight-containerd/containerd": Pass, "preflight-runc/runc": Pass, "preflight-container/web": Pass, "preflight-container/db": Pass},
			[]string{"dockerd keeps running 26.1.5", "trixie-forky/restart-docker", "kept now; restored by live restore at the next docker restart onto 28.5.2"}},
		{"trixie-forky, live restore off: kept now, lost at the next restart", Transaction{Changes: trixieForky, Dockerd: "26.1.5+dfsg1", Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker.io": Warn, "preflight-container/web": Warn},
			[]string{"the next docker restart stops every container: live restore is off", "kept now; stopped by the next docker restart"}},
		{"docker-ce restarts dockerd now, live restore off", Transaction{Changes: []PkgChange{{Package: "docker-ce", Old: "5:26.1.5-1~debian.12~bookworm", New: "5:28.5.2-1~debian.12~bookworm"}}, Dockerd: "26.1.5", Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker-ce": Fail, "preflight-container/web": Fail},
			[]string{"its restart now stops every container", "at risk: stopped when dockerd stops or restarts"}},
		{"docker-ce onto a known-bad release", Transaction{Changes: []PkgChange{{Package: "docker-ce", Old: "5:24.0.2-1~debian.12~bookworm", New: "5:24.0.3-1~debian.12~bookworm"}}, Dockerd: "24.0.2", LiveRestore: true, Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker-ce": Fail, "preflight-container/web": Fail},
			[]string{"moby/moby#45903", "at risk: dockerd 24.0.3 panics"}},
		{"docker-ce onto an unmeasured release", Transaction{Changes: []PkgChange{{Package: "docker-ce", Old: "5:27.5.1-1", New: "5:28.0.0-1"}}, Dockerd: "27.5.1", LiveRestore: true, Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker-ce": Warn, "preflight-container/web": Warn},
			[]string{"not proven", "at risk: dockerd 27.5.1 -> 28.0.0: not proven"}},
		{"containerd restarts and docker.service is bound to it", Transaction{Changes: trixieForky[:1], Dockerd: "26.1.5+dfsg1", LiveRestore: true, Containers: []string{"web"}, Bond: bound},
			map[string]Severity{"preflight-containerd/containerd": Fail, "preflight-container/web": Warn},
			[]string{"docker.service goes down with it: docker.service has BindsTo=containerd.service", "at risk: dockerd is restarted with containerd; live restore restores it"}},
		{"containerd restarts, docker.service bound to it, live restore off", Transaction{Changes: trixieForky[:1], Dockerd: "26.1.5+dfsg1", Containers: []string{"web"}, Bond: bound},
			map[string]Severity{"preflight-containerd/containerd": Fail, "preflight-container/web": Fail},
			[]string{"with live restore off that stops it"}},
		{"containerd alone, not bound", Transaction{Changes: trixieForky[:1], Dockerd: "26.1.5+dfsg1", LiveRestore: true, Containers: []string{"web"}},
			map[string]Severity{"preflight-containerd/containerd": Pass, "preflight-container/web": Pass},
			[]string{"containerd restarts (measured", "kept: its processes and shim outlive the change"}},
		{"Ubuntu's docker.io with docker.io/restart true", Transaction{Changes: []PkgChange{{Package: "docker.io", Old: "26.1.5-0ubuntu1", New: "28.5.2-0ubuntu1"}}, Dockerd: "26.1.5", LiveRestore: true, Containers: []string{"web"}, DockerIORestart: true},
			map[string]Severity{"preflight-dockerd/docker.io": Pass, "preflight-container/web": Pass},
			[]string{"its restart now", "docker.io/restart is true in debconf", "restored by live restore"}},
		{"docker.io removed, live restore off", Transaction{Changes: []PkgChange{{Package: "docker.io", Old: "26.1.5", Remove: true}}, Dockerd: "26.1.5", Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker.io": Fail, "preflight-container/web": Fail},
			[]string{"stops every container"}},
		{"docker.io removed, live restore on", Transaction{Changes: []PkgChange{{Package: "docker.io", Old: "26.1.5", Remove: true}}, Dockerd: "26.1.5", LiveRestore: true, Containers: []string{"web"}},
			map[string]Severity{"preflight-dockerd/docker.io": Warn, "preflight-container/web": Warn},
			[]string{"at risk: dockerd stops with its package: live restore keeps the container running, unmanaged"}},
		{"a renamed package whose postinst restarts docker.service: read from its scripts", Transaction{Changes: []PkgChange{{Package: "acme-docker", Old: "28.5.2", New: "29.7.1"}}, Dockerd: "28.5.2", Containers: []string{"web"},
			Scripts: map[string]Role{"acme-docker": {Dockerd, true, "read from the package: its postinst restarts docker.service on upgrade (deb-systemd-invoke $_dh_action 'docker.service')"}}},
			map[string]Severity{"preflight-dockerd/acme-docker": Fail, "preflight-container/web": Fail},
			[]string{"its restart now stops every container", "at risk: stopped when dockerd stops or restarts"}},
		{"docker-ce whose scripts only start dockerd: the scripts win over the name", Transaction{Changes: []PkgChange{{Package: "docker-ce", Old: "5:28.5.2-1", New: "5:29.7.1-1"}}, Dockerd: "28.5.2", LiveRestore: true, Containers: []string{"web"},
			Scripts: map[string]Role{"docker-ce": {Dockerd, false, "read from the package: its scripts never restart docker.service on upgrade"}}},
			map[string]Severity{"preflight-dockerd/docker-ce": Warn},
			[]string{"dockerd keeps running 28.5.2 (read from the package: its scripts never restart docker.service on upgrade)"}},
		{"dockerd not running", Transaction{Changes: trixieForky},
			map[string]Severity{"preflight-dockerd/docker.io": Pass},
			[]string{"dockerd does not run"}},
	} {
		fs := Preflight(tc.t)
		got := byRule(fs)
		var text []string
		for _, f := range fs {
			text = append(text, f.Severity.String()+" "+f.Title+": "+f.Message)
		}
		all := strings.Join(text, "\n")
		for k, sev := range tc.want {
			if f, ok := got[k]; !ok || f.Severity != sev {
				t.Errorf("%s: %s = %v (present %v), want %v\n%s", tc.name, k, f.Severity, ok, sev, all)
			}
		}
		for _, s := range tc.says {
			if !strings.Contains(all, s) {
				t.Errorf("%s: no %q in\n%s", tc.name, s, all)
			}
		}
	}
	if fs := Preflight(Transaction{Changes: []PkgChange{{Package: "docker-cli", Old: "1", New: "2"}}, Containers: []string{"web"}}); fs != nil {
		t.Errorf("nothing of Docker's daemons: %v", fs)
	}
}

// TestPreflightTwoDockerds is issue 21 item 5: docker-ce 24.0.3 installed
// while docker.io is removed. The installed package decides (24.0.3
// restores the containers now and panics on a bind mount), not the last
// package in name order ("unmanaged until Docker is installed again").
func TestPreflightTwoDockerds(t *testing.T) {
	changes := []PkgChange{
		{Package: "docker-ce", New: "5:24.0.3-1~debian.12~bookworm"},
		{Package: "docker.io", Old: "20.10.24+dfsg1-1+deb12u1", Remove: true},
	}
	for _, order := range [][]PkgChange{changes, {changes[1], changes[0]}} {
		tr := Transaction{Changes: order, Dockerd: "20.10.24+dfsg1", LiveRestore: true, Containers: []string{"web", "db"},
			Props: map[string]Props{"db": {Mounts: []Mount{{Type: "bind"}}, NetworkMode: "default"}, "web": {NetworkMode: "default"}}}
		got := byRule(Preflight(tr))
		web, db := got["preflight-container/web"], got["preflight-container/db"]
		if strings.Contains(web.Message+db.Message, "unmanaged") {
			t.Errorf("the removal decided: web %q, db %q", web.Message, db.Message)
		}
		if web.Severity != Fail || !strings.Contains(web.Message, "24.0.3") {
			t.Errorf("web on 24.0.3 (known bad): %v %q", web.Severity, web.Message)
		}
		if db.Severity != Fail || !strings.Contains(db.Message, "daemon panic") || !strings.Contains(db.Fix, "24.0.4") {
			t.Errorf("db (bind mount) on 24.0.3: %v %q fix %q", db.Severity, db.Message, db.Fix)
		}
		if rm := got["preflight-dockerd/docker.io"]; !strings.Contains(rm.Message, "docker-ce 5:24.0.3") {
			t.Errorf("docker.io's removal does not name its replacement: %q", rm.Message)
		}
	}
}

// TestPreflightHazards: the release the transaction installs decides a
// container's verdict by the hazard table: FAIL for removed, WARN for
// degraded, the fix names the release that fixes it.
func TestPreflightHazards(t *testing.T) {
	props := map[string]Props{"rmme": {AutoRemove: true}, "hc": {Health: true, RestartPolicy: "unless-stopped"}, "plain": {}}
	tr := Transaction{Changes: []PkgChange{{Package: "docker.io", Old: "20.10.24+dfsg1-1+deb12u1", New: "20.10.24+dfsg1-1+deb12u1"}},
		Dockerd: "20.10.24+dfsg1", LiveRestore: true, Containers: []string{"rmme", "hc", "plain"}, Props: props}
	got := byRule(Preflight(tr))
	if f := got["preflight-container/rmme"]; f.Severity != Fail || !strings.Contains(f.Message, "moby/moby#46308") || !strings.Contains(f.Fix, "24.0.8") {
		t.Errorf("rmme: %v %q fix %q", f.Severity, f.Message, f.Fix)
	}
	if f := got["preflight-container/hc"]; f.Severity != Warn || !strings.Contains(f.Message, "moby/moby#41871") {
		t.Errorf("hc: %v %q", f.Severity, f.Message)
	}
	if f := got["preflight-container/plain"]; f.Severity != Pass {
		t.Errorf("plain: %v %q", f.Severity, f.Message)
	}
	// upstream 29.3.1 restoring a container with a spaced extra host
	tr = Transaction{Changes: []PkgChange{{Package: "docker-ce", Old: "5:26.1.5-1", New: "5:29.3.1-1~debian.13~trixie"}},
		Dockerd: "26.1.5+dfsg1", LiveRestore: true, Containers: []string{"spacey"},
		Props: map[string]Props{"spacey": {ExtraHosts: []string{"foo: 1.2.3.4"}, NetworkMode: "bridge"}}}
	if f := byRule(Preflight(tr))["preflight-container/spacey"]; f.Severity != Fail || !strings.Contains(f.Message, "daemon panic") || !strings.Contains(f.Fix, "29.4.0") {
		t.Errorf("spacey onto 29.3.1: %v %q fix %q", f.Severity, f.Message, f.Fix)
	}
}

// TestPreflightContainerdDowngrade: 2.x -> 1.x with running containers
// FAILs (containerd/containerd#11720); 1.x -> 2.x does not.
func TestPreflightContainerdDowngrade(t *testing.T) {
	down := Transaction{Changes: []PkgChange{{Package: "containerd", Old: "2.1.9~ds1-5", New: "1.7.24~ds1-6+deb13u1"}},
		Dockerd: "28.5.2", LiveRestore: true, Containers: []string{"web"}}
	got := byRule(Preflight(down))
	if f := got["preflight-containerd/containerd"]; f.Severity != Fail || !strings.Contains(f.Message, "containerd/containerd#11720") {
		t.Errorf("downgrade: %v %q", f.Severity, f.Message)
	}
	if f := got["preflight-container/web"]; f.Severity != Fail {
		t.Errorf("web under a downgrade: %v %q", f.Severity, f.Message)
	}
	up := down
	up.Changes = []PkgChange{{Package: "containerd", Old: "1.7.24~ds1", New: "2.1.9~ds1"}}
	if f := byRule(Preflight(up))["preflight-containerd/containerd"]; f.Severity == Fail {
		t.Errorf("upgrade failed: %q", f.Message)
	}
}
