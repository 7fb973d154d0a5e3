//go:build linux

package unit

import (
	"encoding/hex"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"

	godbus "github.com/godbus/dbus/v5"
)

// fakeSystemd plays systemd's manager on a test bus, as far as go-systemd
// and this package use it: it owns org.freedesktop.systemd1, serves
// org.freedesktop.systemd1.Manager's StartUnit, StopUnit, ReloadUnit and
// Reload on /org/freedesktop/systemd1, answers
// org.freedesktop.DBus.Properties on every unit path (loading unknown units
// as "not-found", as systemd does), and reports job results with the
// JobRemoved signal, which go-systemd subscribes to with AddMatch.
type fakeSystemd struct {
	conn *godbus.Conn

	mu        sync.Mutex
	units     map[string]*fakeUnit
	calls     []string      // "ReloadUnit docker.service replace", ...
	nextJob   uint32        // last job number handed out
	block     chan struct{} // when set, job calls wait for it to close
	reloadErr *godbus.Error // reply to Manager.Reload
	emitted   []godbus.ObjectPath
}

// fakeUnit is one unit of the fake. Zero-valued fields are reported as
// systemd would report an unset property.
type fakeUnit struct {
	id, loadState, activeState, subState string
	fragmentPath                         string
	dropIns                              []string
	mainPID                              uint32
	killMode                             string
	execStart, execReload                []fakeExec
	envFiles                             []fakeEnvFile
	environment                          []string
	needDaemonReload                     bool
	controlGroup, slice                  string
	requires, bindsTo, partOf, requisite []string

	// jobResult is the result JobRemoved reports for jobs on this unit;
	// "" means the job never finishes.
	jobResult string
	// jobErr, if set, is the reply to any job call for this unit.
	jobErr *godbus.Error
	// propsErr, if set, is the reply to Properties calls for this unit.
	propsErr *godbus.Error
}

// fakeExec is systemd's (sasbttttuii) command description, declared apart
// from the package's own type so that the wire format is checked, not assumed.
type fakeExec struct {
	Path                  string
	Argv                  []string
	IgnoreErrors          bool
	StartUsec, StartMono  uint64
	ExitUsec, ExitMono    uint64
	PID                   uint32
	CodeField, StatusCode int32
}

// fakeEnvFile is systemd's (sb) EnvironmentFiles element.
type fakeEnvFile struct {
	Path        string
	IgnoreError bool
}

const (
	managerPath = godbus.ObjectPath("/org/freedesktop/systemd1")
	unitRoot    = godbus.ObjectPath("/org/freedesktop/systemd1/unit")
)

// startFakeSystemd connects the fake to the bus at addr and takes systemd's
// name. It is closed when the test ends.
func startFakeSystemd(t *testing.T, addr string, units map[string]*fakeUnit) *fakeSystemd {
	t.Helper()
	conn, err := godbus.Connect(addr)
	if err != nil {
		t.Fatalf("fake systemd: connect: %v", err)
	}
	f := &fakeSystemd{conn: conn, units: units}
	t.Cleanup(func() {
		f.mu.Lock()
		if f.block != nil {
			close(f.block)
			f.block = nil
		}
		f.mu.Unlock()
		conn.Close()
	})
	if err := conn.Export(fakeManager{f}, managerPath, systemdManagerIface); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(fakeManagerProperties{}, managerPath, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	if err := conn.ExportSubtree(fakeProperties{f}, unitRoot, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	reply, err := conn.RequestName(systemdBusName, godbus.NameFlagDoNotQueue)
	if err != nil || reply != godbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("fake systemd: request name: %v, %v", reply, err)
	}
	return f
}

// setBlock makes job calls hang (on) or answer again (off).
func (f *fakeSystemd) setBlock(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.block == nil:
		f.block = make(chan struct{})
	case !on && f.block != nil:
		close(f.block)
		f.block = nil
	}
}

// callLog returns the calls received so far.
func (f *fakeSystemd) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// fakeManager is exported as org.freedesktop.systemd1.Manager.
type fakeManager struct{ f *fakeSystemd }

func (m fakeManager) StartUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	return m.f.job("StartUnit", name, mode)
}

func (m fakeManager) StopUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	return m.f.job("StopUnit", name, mode)
}

func (m fakeManager) ReloadUnit(name, mode string) (godbus.ObjectPath, *godbus.Error) {
	return m.f.job("ReloadUnit", name, mode)
}

// Reload is daemon-reload.
func (m fakeManager) Reload() *godbus.Error {
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	m.f.calls = append(m.f.calls, "Reload")
	return m.f.reloadErr
}

// job queues a job the way systemd answers: a job path now, JobRemoved later.
func (f *fakeSystemd) job(method, name, mode string) (godbus.ObjectPath, *godbus.Error) {
	f.mu.Lock()
	f.calls = append(f.calls, method+" "+name+" "+mode)
	u := f.units[name]
	block := f.block
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	if u == nil || u.loadState == "not-found" {
		return "", &godbus.Error{Name: nameNoSuchUnit, Body: []any{"Unit " + name + " not found."}}
	}
	if u.jobErr != nil {
		return "", u.jobErr
	}
	f.mu.Lock()
	f.nextJob++
	id := f.nextJob
	f.mu.Unlock()
	job := godbus.ObjectPath(fmt.Sprintf("/org/freedesktop/systemd1/job/%d", id))
	if u.jobResult != "" {
		// Systemd sends this after the reply; here it may also come first,
		// which go-systemd must handle too.
		go func() {
			_ = f.conn.Emit(managerPath, systemdManagerIface+".JobRemoved", id, job, name, u.jobResult)
			f.mu.Lock()
			f.emitted = append(f.emitted, job)
			f.mu.Unlock()
		}()
	}
	return job, nil
}

// fakeUnitPath is what the fake manager reports as UnitPath.
var fakeUnitPath = []string{"/etc/systemd/system.control", "/etc/systemd/system", "/run/systemd/system", "/usr/lib/systemd/system"}

// fakeManagerProperties is exported as org.freedesktop.DBus.Properties on
// the manager's path.
type fakeManagerProperties struct{}

func (fakeManagerProperties) Get(iface, prop string) (godbus.Variant, *godbus.Error) {
	if iface == systemdManagerIface && prop == "UnitPath" {
		return godbus.MakeVariant(fakeUnitPath), nil
	}
	return godbus.Variant{}, &godbus.Error{Name: "org.freedesktop.DBus.Error.UnknownProperty", Body: []any{"Unknown property " + prop}}
}

// fakeProperties is exported as org.freedesktop.DBus.Properties on every
// path under /org/freedesktop/systemd1/unit.
type fakeProperties struct{ f *fakeSystemd }

func (p fakeProperties) GetAll(msg godbus.Message, iface string) (map[string]godbus.Variant, *godbus.Error) {
	return p.f.properties(msg, iface)
}

func (p fakeProperties) Get(msg godbus.Message, iface, prop string) (godbus.Variant, *godbus.Error) {
	all, err := p.f.properties(msg, iface)
	if err != nil {
		return godbus.Variant{}, err
	}
	v, ok := all[prop]
	if !ok {
		return godbus.Variant{}, &godbus.Error{Name: "org.freedesktop.DBus.Error.UnknownProperty", Body: []any{"Unknown property " + prop}}
	}
	return v, nil
}

// properties returns a unit's properties for one interface, as systemd does.
func (f *fakeSystemd) properties(msg godbus.Message, iface string) (map[string]godbus.Variant, *godbus.Error) {
	objPath, _ := msg.Headers[godbus.FieldPath].Value().(godbus.ObjectPath)
	name := busUnescape(path.Base(string(objPath)))
	if !strings.Contains(name, ".") { // what systemd 252 answers for an invalid unit name
		return nil, &godbus.Error{Name: nameInvalidArgs,
			Body: []any{fmt.Sprintf("Unit name %s is neither a valid invocation ID nor unit name.", name)}}
	}
	f.mu.Lock()
	u := f.units[name]
	f.mu.Unlock()
	if u == nil { // loaded on demand: a unit without a file
		u = &fakeUnit{id: name, loadState: "not-found", activeState: "inactive", subState: "dead"}
	}
	if u.propsErr != nil {
		return nil, u.propsErr
	}
	v := godbus.MakeVariant
	sig := func(value any, signature string) godbus.Variant {
		return godbus.MakeVariantWithSignature(value, godbus.ParseSignatureMust(signature))
	}
	switch {
	case iface == systemdUnitIface:
		return map[string]godbus.Variant{
			"Id":               v(u.id),
			"Names":            v([]string{u.id}),
			"Description":      v("fake " + u.id),
			"LoadState":        v(u.loadState),
			"ActiveState":      v(u.activeState),
			"SubState":         v(u.subState),
			"FragmentPath":     v(u.fragmentPath),
			"DropInPaths":      sig(nonNil(u.dropIns), "as"),
			"NeedDaemonReload": v(u.needDaemonReload),
			"Requires":         sig(nonNil(u.requires), "as"),
			"BindsTo":          sig(nonNil(u.bindsTo), "as"),
			"PartOf":           sig(nonNil(u.partOf), "as"),
			"Requisite":        sig(nonNil(u.requisite), "as"),
			"CanReload":        v(len(u.execReload) > 0),
		}, nil
	case iface == "org.freedesktop.systemd1.Service" && strings.HasSuffix(name, ".service"):
		return map[string]godbus.Variant{
			"Type":             v("notify"),
			"MainPID":          sig(u.mainPID, "u"),
			"ControlPID":       sig(uint32(0), "u"),
			"KillMode":         v(u.killMode),
			"ExecStart":        sig(nonNil(u.execStart), "a(sasbttttuii)"),
			"ExecReload":       sig(nonNil(u.execReload), "a(sasbttttuii)"),
			"EnvironmentFiles": sig(nonNil(u.envFiles), "a(sb)"),
			"Environment":      sig(nonNil(u.environment), "as"),
			"Slice":            v(u.slice),
			"ControlGroup":     v(u.controlGroup),
		}, nil
	}
	return nil, &godbus.Error{Name: "org.freedesktop.DBus.Error.UnknownInterface",
		Body: []any{fmt.Sprintf("Unknown interface %s.", iface)}}
}

// nonNil returns s, or an empty slice for nil (godbus sends both the same
// way, but be explicit about the empty array).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// busUnescape undoes systemd's object path escaping ("_2e" is ".").
func busUnescape(s string) string {
	if s == "_" {
		return ""
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '_' && i+2 < len(s) {
			if c, err := hex.DecodeString(s[i+1 : i+3]); err == nil {
				b.Write(c)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
