package unit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	godbus "github.com/godbus/dbus/v5"
)

// EnvFile is one EnvironmentFile= entry of a unit.
type EnvFile struct {
	// Path is the file name as configured; systemd also accepts a glob.
	Path string
	// Optional is true when the entry had a "-" prefix
	// (EnvironmentFile=-/etc/default/docker): a missing file is no error.
	Optional bool
}

// Unit is what dlr needs to know about a unit, as systemd's manager reports it
// (the unit's loaded configuration, which may be older than the files on
// disk until a daemon-reload).
type Unit struct {
	// Name is the unit's primary name (systemd's Id property), which differs
	// from the name asked for when that was an alias.
	Name string
	// LoadState is "loaded", "not-found", "bad-setting", "error", "masked"...
	LoadState string
	// ActiveState is "active", "reloading", "inactive", "failed",
	// "activating", "deactivating"...
	ActiveState string
	// SubState is the type-specific state, e.g. "running" or "dead".
	SubState string
	// MainPID is the service's main process, 0 if none.
	MainPID uint32
	// KillMode is "control-group", "mixed", "process" or "none".
	KillMode string
	// FragmentPath is the unit file, "" if none was found.
	FragmentPath string
	// DropInPaths are the drop-in files applied to the unit, in order.
	DropInPaths []string
	// ExecStart holds each ExecStart= command's argv as configured: not
	// expanded (see ExpandArgv), argv[0] as written.
	ExecStart [][]string
	// ExecReload holds each ExecReload= command's argv, like ExecStart.
	ExecReload [][]string
	// EnvironmentFiles are the EnvironmentFile= entries, in order.
	EnvironmentFiles []EnvFile
	// Environment holds the Environment= assignments, "KEY=VALUE", in order.
	Environment []string
	// UnitFileState is "enabled", "disabled", "static", "masked"... (whether
	// the unit starts at boot, as `systemctl is-enabled` says).
	UnitFileState string
	// RequiredBy, BoundBy and ConsistsOf name the units that have
	// Requires=, BindsTo= or PartOf= on this one: systemd stops them with
	// it (and, for BindsTo=/PartOf=, restarts them with it).
	RequiredBy, BoundBy, ConsistsOf []string
	// Requires, BindsTo, PartOf and Requisite name the units this one has
	// those dependencies on (the forward lists, after systemd merged the
	// unit file, its drop-ins and implicit dependencies): a stop or restart
	// of one of them stops or restarts this unit too.
	Requires, BindsTo, PartOf, Requisite []string
	// Slice is the slice unit the unit's processes go in ("system.slice").
	Slice string
	// ControlGroup is the unit's cgroup ("/system.slice/docker.service"),
	// "" while it has none (not running).
	ControlGroup string
	// NeedDaemonReload is true when the unit's files changed on disk since
	// systemd loaded them (what it uses is then not what they say).
	NeedDaemonReload bool
}

// Unit reads the unit called name, a full unit name such as
// "docker.service". It reads properties only: it starts nothing and does not
// touch the sockets the unit listens on.
//
// Like systemctl show, it asks for the unit's object path, so systemd loads
// the unit on demand: a unit that does not exist is reported with LoadState
// "not-found" and no error. A name systemd rejects (such as "docker", without
// a suffix) fails with [ErrNoSuchUnit]. For a unit that is not a service,
// the service fields (MainPID, KillMode, Exec*, Environment*) are left empty.
// Systemd lets any user read units; root is not needed.
func (c *Conn) Unit(ctx context.Context, name string) (Unit, error) {
	if name == "" {
		return Unit{}, &Error{Op: "read unit", Kind: ErrNoSuchUnit, Err: errors.New("empty unit name")}
	}
	// The two interfaces are read at the same time: one round trip's wait.
	var sp map[string]any
	var spErr error
	spDone := make(chan struct{})
	isService := strings.HasSuffix(name, systemdServiceSuffix)
	go func() {
		defer close(spDone)
		if isService {
			sp, spErr = c.sd.GetUnitTypePropertiesContext(ctx, name, "Service")
		}
	}()
	up, err := c.sd.GetUnitPropertiesContext(ctx, name)
	<-spDone
	if err != nil {
		e := c.callError("GetAll "+systemdUnitIface+" "+name, err)
		// On a unit's path these mean systemd could not make a unit of
		// the name: systemd 252 says InvalidArgs ("Unit name docker is
		// neither a valid invocation ID nor unit name.").
		if e.Name == nameInvalidArgs || e.Name == nameUnknownObject {
			e.Kind = ErrNoSuchUnit
		}
		return Unit{}, e
	}
	if spErr != nil {
		return Unit{}, c.callError("GetAll org.freedesktop.systemd1.Service "+name, spErr)
	}
	u, err := parseUnit(name, up, sp)
	if err != nil {
		return Unit{}, &Error{Op: "read unit " + name, Err: err}
	}
	return u, nil
}

// execCommand is one element of systemd's ExecStart-like properties,
// D-Bus type (sasbttttuii).
type execCommand struct {
	Path           string
	Argv           []string
	IgnoreFailure  bool
	StartRealtime  uint64
	StartMonotonic uint64
	ExitRealtime   uint64
	ExitMonotonic  uint64
	PID            uint32
	Code           int32
	Status         int32
}

// envFileEntry is one element of systemd's EnvironmentFiles property, (sb).
type envFileEntry struct {
	Path     string
	Optional bool
}

// parseUnit builds a Unit from the property maps of the
// org.freedesktop.systemd1.Unit and .Service interfaces (values as godbus
// decodes them; service may be nil). A missing property is left zero; one
// of an unexpected type is an error. Empty lists are nil.
func parseUnit(name string, unit, service map[string]any) (Unit, error) {
	u := Unit{Name: name}
	var id string
	var errs []error
	get := func(m map[string]any, key string, dst any) {
		v, ok := m[key]
		if !ok {
			return
		}
		if err := godbus.Store([]any{v}, dst); err != nil {
			errs = append(errs, fmt.Errorf("property %s: %w", key, err))
		}
	}
	get(unit, "Id", &id)
	get(unit, "LoadState", &u.LoadState)
	get(unit, "ActiveState", &u.ActiveState)
	get(unit, "SubState", &u.SubState)
	get(unit, "FragmentPath", &u.FragmentPath)
	get(unit, "DropInPaths", &u.DropInPaths)
	get(unit, "UnitFileState", &u.UnitFileState)
	get(unit, "RequiredBy", &u.RequiredBy)
	get(unit, "BoundBy", &u.BoundBy)
	get(unit, "ConsistsOf", &u.ConsistsOf)
	get(unit, "Requires", &u.Requires)
	get(unit, "BindsTo", &u.BindsTo)
	get(unit, "PartOf", &u.PartOf)
	get(unit, "Requisite", &u.Requisite)
	get(unit, "NeedDaemonReload", &u.NeedDaemonReload)

	var start, reload []execCommand
	var files []envFileEntry
	get(service, "MainPID", &u.MainPID)
	get(service, "KillMode", &u.KillMode)
	get(service, "ExecStart", &start)
	get(service, "ExecReload", &reload)
	get(service, "EnvironmentFiles", &files)
	get(service, "Environment", &u.Environment)
	get(service, "Slice", &u.Slice)
	get(service, "ControlGroup", &u.ControlGroup)
	if err := errors.Join(errs...); err != nil {
		return Unit{}, err
	}

	if id != "" {
		u.Name = id
	}
	if len(u.DropInPaths) == 0 {
		u.DropInPaths = nil
	}
	if len(u.Environment) == 0 {
		u.Environment = nil
	}
	for _, l := range []*[]string{&u.RequiredBy, &u.BoundBy, &u.ConsistsOf, &u.Requires, &u.BindsTo, &u.PartOf, &u.Requisite} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	u.ExecStart = argvs(start)
	u.ExecReload = argvs(reload)
	for _, f := range files {
		u.EnvironmentFiles = append(u.EnvironmentFiles, EnvFile(f))
	}
	return u, nil
}

// argvs returns each command's argv.
func argvs(cmds []execCommand) [][]string {
	var out [][]string
	for _, c := range cmds {
		out = append(out, c.Argv)
	}
	return out
}

// UnitPath returns the directories systemd loads unit files and drop-ins
// from, most important first: the manager's UnitPath property (what
// `systemd-analyze unit-paths` prints).
func (c *Conn) UnitPath(ctx context.Context) ([]string, error) {
	var v godbus.Variant
	err := c.buses[0].Object(systemdBusName, "/org/freedesktop/systemd1").CallWithContext(ctx,
		"org.freedesktop.DBus.Properties.Get", 0, systemdManagerIface, "UnitPath").Store(&v)
	if err != nil {
		return nil, c.callError("Get "+systemdManagerIface+" UnitPath", err)
	}
	var dirs []string
	if err := godbus.Store([]any{v.Value()}, &dirs); err != nil {
		return nil, &Error{Op: "read systemd's UnitPath", Err: err}
	}
	return dirs, nil
}

// CgroupPath returns the cgroup (as in /proc/PID/cgroup, "/system.slice/x.service")
// systemd puts a unit's processes in: its slice's path, then its name.
// A slice "a-b.slice" lies in "a.slice"; "-.slice" is the root.
func CgroupPath(slice, name string) string {
	if slice == "" {
		slice = "system.slice"
	}
	path := "/"
	if slice != "-.slice" {
		base := strings.TrimSuffix(slice, ".slice")
		parts := strings.Split(base, "-")
		for i := range parts {
			path += strings.Join(parts[:i+1], "-") + ".slice/"
		}
	}
	return path + name
}
