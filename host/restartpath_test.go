package host

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/docker-liverestore/dlr/guard"
	"github.com/docker-liverestore/dlr/unit"
)

func writeUnder(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDependencyLines(t *testing.T) {
	tests := []struct {
		name, file string
		want       []string
	}{
		{"debian's unit", "[Unit]\nAfter=network-online.target docker.socket containerd.service\nWants=network-online.target containerd.service\nRequires=docker.socket\n[Service]\nExecStart=/usr/sbin/dockerd\n", nil},
		{"bind", "[Unit]\nBindsTo=containerd.service\n", []string{"BindsTo=containerd.service"}},
		{"all four, a list", "# BindsTo=containerd.service\n[Unit]\n; Requires=containerd.service\nRequires=docker.socket containerd.service\nPartOf = containerd.service\nRequisite=containerd.service\n", []string{"Requires=docker.socket containerd.service", "PartOf = containerd.service", "Requisite=containerd.service"}},
		{"other section", "[Service]\nBindsTo=containerd.service\n", nil},
		{"another unit", "[Unit]\nBindsTo=containerd.socket\n", nil},
	}
	for _, tt := range tests {
		if got := DependencyLines([]byte(tt.file), "containerd.service"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestDependencySources(t *testing.T) {
	root := t.TempDir()
	e := &Env{Root: root}
	writeUnder(t, root, "/lib/systemd/system/docker.service", "[Unit]\nRequires=docker.socket\n")
	writeUnder(t, root, "/etc/systemd/system/docker.service.d/bind.conf", "[Unit]\nBindsTo=containerd.service\n")
	u := &unit.Unit{FragmentPath: "/lib/systemd/system/docker.service",
		DropInPaths: []string{"/etc/systemd/system/docker.service.d/bind.conf", "/etc/systemd/system/docker.service.d/gone.conf"}}
	got := e.DependencySources(u, "containerd.service")
	want := []string{"/etc/systemd/system/docker.service.d/bind.conf: BindsTo=containerd.service"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if e.DependencySources(nil, "containerd.service") != nil {
		t.Error("nil unit")
	}
}

// debianNeedrestartConf is an excerpt of Debian trixie's needrestart.conf
// (needrestart 3.11-1).
const debianNeedrestartConf = `# needrestart - Restart daemons after library updates.
# Restart mode: (l)ist only, (i)nteractive or (a)utomatically.
#$nrconf{restart} = 'i';

# Set this to 1 to ...
#$nrconf{defno} = 1;

# Override service default selection (hash of regex).
# Regexes are checked in lexical order; the first matching regex will be used.
$nrconf{override_rc} = {
    # DBus
    qr(^dbus) => 0,

    qr(^(open|free|libre|strong)swan) => 0,
    # gettys
    qr(^getty@.+\.service) => 0,
    qr(^docker) => 0,
    qr(^systemd-nspawn) => 0,
};

# Override container default selection (hash of regex).
$nrconf{override_cont} = {
};

# Read additional config snippets.
if(-d q(/etc/needrestart/conf.d)) {
      foreach my $fn (sort </etc/needrestart/conf.d/*.conf>) {
	      eval do { local(@ARGV, $/) = $fn; <>};
      }
}
`

func TestParseNeedrestart(t *testing.T) {
	debian := []guard.NeedrestartOverride{{Pattern: "^dbus"}, {Pattern: "^(open|free|libre|strong)swan"}, {Pattern: `^getty@.+\.service`}, {Pattern: "^docker"}, {Pattern: "^systemd-nspawn"}}
	tests := []struct {
		name  string
		files []string
		want  guard.NeedrestartConf
	}{
		{"debian", []string{debianNeedrestartConf}, guard.NeedrestartConf{Overrides: debian}},
		{"one key added", []string{debianNeedrestartConf, "$nrconf{override_rc}{qr(^containerd)} = 0;\n"},
			guard.NeedrestartConf{Overrides: append(append([]guard.NeedrestartOverride{}, debian...), guard.NeedrestartOverride{Pattern: "^containerd"})}},
		{"arrow, a key replaced", []string{debianNeedrestartConf, "$nrconf{override_rc}->{qr(^docker)} = 1;\n"},
			guard.NeedrestartConf{Overrides: []guard.NeedrestartOverride{{Pattern: "^dbus"}, {Pattern: "^(open|free|libre|strong)swan"}, {Pattern: `^getty@.+\.service`}, {Pattern: "^docker", Restart: true}, {Pattern: "^systemd-nspawn"}}}},
		{"hash replaced later", []string{debianNeedrestartConf, "$nrconf{restart} = 'a';\n$nrconf{override_rc} = { qr{^containerd} => 0 };\n$nrconf{defno} = 1;\n"},
			guard.NeedrestartConf{Mode: "a", DefNo: true, Overrides: []guard.NeedrestartOverride{{Pattern: "^containerd"}}}},
		{"order within a file", []string{"$nrconf{override_rc}{'^x'} = 0;\n$nrconf{override_rc} = {};\n$nrconf{restart} = \"l\";\n"},
			guard.NeedrestartConf{Mode: "l"}},
	}
	for _, tt := range tests {
		var c guard.NeedrestartConf
		for _, f := range tt.files {
			ParseNeedrestart(&c, []byte(f))
		}
		if !reflect.DeepEqual(c, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, c, tt.want)
		}
	}
}

func TestReadNeedrestart(t *testing.T) {
	root := t.TempDir()
	e := &Env{Root: root}
	if c := e.ReadNeedrestart(); c.Installed {
		t.Fatal("installed without the binary")
	}
	writeUnder(t, root, NeedrestartBin, "#!/usr/bin/perl\n")
	writeUnder(t, root, NeedrestartConf, debianNeedrestartConf)
	c := e.ReadNeedrestart()
	if r, _ := c.Restarts("containerd.service"); !c.Installed || !r {
		t.Errorf("debian's default: %+v", c)
	}
	// conf.d in name order: b.conf undoes a.conf's exemption... then
	// z.conf exempts again.
	writeUnder(t, root, NeedrestartConfDir+"/a.conf", "$nrconf{override_rc}{qr(^containerd)} = 0;\n")
	writeUnder(t, root, NeedrestartConfDir+"/b.conf", "$nrconf{override_rc}{qr(^containerd)} = 1;\n")
	writeUnder(t, root, NeedrestartConfDir+"/README.needrestart", "$nrconf{restart} = 'l';\n")
	c = e.ReadNeedrestart()
	if r, _ := c.Restarts("containerd.service"); !r || c.Mode != "" {
		t.Errorf("a then b: %+v", c)
	}
	writeUnder(t, root, NeedrestartConfDir+"/z.conf", "$nrconf{override_rc}{qr(^containerd)} = 0;\n")
	c = e.ReadNeedrestart()
	if r, by := c.Restarts("containerd.service"); r || by != "^containerd" {
		t.Errorf("z last: %+v", c)
	}
	want := []string{NeedrestartConf, NeedrestartConfDir + "/a.conf", NeedrestartConfDir + "/b.conf", NeedrestartConfDir + "/z.conf"}
	if !reflect.DeepEqual(c.Files, want) {
		t.Errorf("files %q", c.Files)
	}
}

// ubuntuConfigDat is the shape of debconf's config.dat.
const ubuntuConfigDat = `Name: debconf/frontend
Template: debconf/frontend
Value: Noninteractive
Owners: debconf
Flags: seen

Name: docker.io/restart
Template: docker.io/restart
Value: true
Owners: docker.io
Flags: seen

Name: tzdata/Areas
Template: tzdata/Areas
Value: Etc
Owners: tzdata
`

func TestDebconfQuestion(t *testing.T) {
	root := t.TempDir()
	e := &Env{Root: root}
	if q := e.ReadDebconfQuestion("docker.io/restart"); q.FileFound || q.Found {
		t.Errorf("no file: %+v", q)
	}
	writeUnder(t, root, DebconfConfig, ubuntuConfigDat)
	if q := e.ReadDebconfQuestion("docker.io/restart"); !q.FileFound || !q.Found || q.Value != "true" {
		t.Errorf("ubuntu: %+v", q)
	}
	if q := e.ReadDebconfQuestion("docker.io/other"); !q.FileFound || q.Found {
		t.Errorf("absent: %+v", q)
	}
	if q := ParseDebconfQuestion([]byte("Name: docker.io/restart\nTemplate: docker.io/restart\nOwners: unknown\n"), "docker.io/restart"); !q.Found || q.Value != "" {
		t.Errorf("no value: %+v", q)
	}
}
