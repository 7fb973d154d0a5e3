package unit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	godbus "github.com/godbus/dbus/v5"
)

// sentinels are the error kinds, by name, for kindsOf.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrNoBus", ErrNoBus},
	{"ErrAccessDenied", ErrAccessDenied},
	{"ErrNoSuchUnit", ErrNoSuchUnit},
	{"ErrTimeout", ErrTimeout},
	{"ErrJobFailed", ErrJobFailed},
}

// kindsOf lists the sentinels err matches, e.g. "ErrTimeout", "" for none.
func kindsOf(err error) string {
	var names []string
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			names = append(names, s.name)
		}
	}
	return strings.Join(names, ",")
}

func TestCallErrorKinds(t *testing.T) {
	dbusErr := func(name string) error {
		return godbus.Error{Name: name, Body: []any{"message text that must not matter"}}
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"access denied", dbusErr("org.freedesktop.DBus.Error.AccessDenied"), "ErrAccessDenied"},
		{"interactive authorization", dbusErr("org.freedesktop.DBus.Error.InteractiveAuthorizationRequired"), "ErrAccessDenied"},
		{"pointer error", &godbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied"}, "ErrAccessDenied"},
		{"wrapped", fmt.Errorf("x: %w", dbusErr("org.freedesktop.systemd1.NoSuchUnit")), "ErrNoSuchUnit"},
		{"unknown object is not a unit's absence in general", dbusErr("org.freedesktop.DBus.Error.UnknownObject"), ""},
		{"invalid args", dbusErr("org.freedesktop.DBus.Error.InvalidArgs"), ""},
		{"systemd not on the bus", dbusErr("org.freedesktop.DBus.Error.ServiceUnknown"), "ErrNoBus"},
		{"activation failed", dbusErr("org.freedesktop.DBus.Error.Spawn.ChildExited"), "ErrNoBus"},
		{"no reply", dbusErr("org.freedesktop.DBus.Error.NoReply"), "ErrTimeout"},
		{"deadline", context.DeadlineExceeded, "ErrTimeout"},
		{"wrapped deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), "ErrTimeout"},
		{"canceled", context.Canceled, ""},
		{"closed connection", godbus.ErrClosed, "ErrNoBus"},
		{"other systemd error", dbusErr("org.freedesktop.systemd1.JobTypeNotApplicable"), ""},
		// The name decides, even if the message says otherwise.
		{"message text is ignored", godbus.Error{Name: "org.freedesktop.systemd1.UnitMasked", Body: []any{"Access denied"}}, ""},
		{"plain error", io.EOF, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := callError("ReloadUnit docker.service", tt.err)
			if got := kindsOf(err); got != tt.want {
				t.Errorf("kinds of %v = %q, want %q", err, got, tt.want)
			}
			if name := dbusErrorName(tt.err); name != "" {
				if err.Name != name {
					t.Errorf("Name = %q, want %q", err.Name, name)
				}
			} else if !errors.Is(err, tt.err) {
				t.Errorf("%v does not wrap its cause %v", err, tt.err)
			}
			if !strings.HasPrefix(err.Error(), "systemd: ReloadUnit docker.service: ") {
				t.Errorf("message %q does not name the call", err)
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{Op: "StopUnit x.service", Name: "org.freedesktop.DBus.Error.AccessDenied", Kind: ErrAccessDenied,
			Err: godbus.Error{Name: "org.freedesktop.DBus.Error.AccessDenied", Body: []any{"Rejected send message"}}},
			"systemd: StopUnit x.service: access denied (only root may manage units: run dlr as root): Rejected send message (org.freedesktop.DBus.Error.AccessDenied)"},
		{&Error{Op: "ReloadUnit x.service", Kind: ErrTimeout, Err: context.DeadlineExceeded},
			"systemd: ReloadUnit x.service: timed out: context deadline exceeded"},
		{&JobError{Op: "ReloadUnit docker.service", Unit: "docker.service", JobID: 7, Result: "failed"},
			`systemd: ReloadUnit docker.service: job 7 finished with result "failed", not "done" (see: systemctl status docker.service; journalctl -u docker.service)`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}
