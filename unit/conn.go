package unit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	godbus "github.com/godbus/dbus/v5"
)

// Conn is a connection to systemd's manager on a D-Bus bus. Its methods may
// be called from several goroutines at once. Close it when done.
type Conn struct {
	sd *sdbus.Conn
	// buses are the two bus connections go-systemd opened (one for calls,
	// one for signals); they are watched so that a lost bus ends every wait.
	buses []*godbus.Conn
	// kill ends the lifetime of every bus connection.
	kill context.CancelFunc
	// lost is closed when any bus connection has closed.
	lost chan struct{}
}

// Dial connects to systemd on the system bus: the address in
// $DBUS_SYSTEM_BUS_ADDRESS if set, else unix:path=/var/run/dbus/system_bus_socket
// or /run/dbus/system_bus_socket (as godbus finds it). It never uses
// systemd's private socket. It authenticates as the effective uid (EXTERNAL,
// no user name lookup), then checks that systemd owns
// org.freedesktop.systemd1 on the bus.
//
// ctx bounds the connection attempt only; the connection lasts until Close.
// Failures match [ErrNoBus], or [ErrAccessDenied] if the bus refused us.
func Dial(ctx context.Context) (*Conn, error) {
	where := "the system bus (/run/dbus/system_bus_socket)"
	if addr := os.Getenv("DBUS_SYSTEM_BUS_ADDRESS"); addr != "" {
		where = fmt.Sprintf("the system bus at %s (from $DBUS_SYSTEM_BUS_ADDRESS)", addr)
	}
	return dial(ctx, where, godbus.SystemBusPrivate)
}

// DialAddress is [Dial] for the bus at addr, a D-Bus address such as
// "unix:path=/tmp/test-bus". Tests use it to reach a private bus.
func DialAddress(ctx context.Context, addr string) (*Conn, error) {
	return dial(ctx, "the bus at "+addr, func(opts ...godbus.ConnOption) (*godbus.Conn, error) {
		return godbus.Dial(addr, opts...)
	})
}

// dial builds a go-systemd connection from open, which creates an
// unauthenticated bus connection. The bus connections live until the
// returned Conn is closed; ctx only bounds their setup.
func dial(ctx context.Context, where string, open func(...godbus.ConnOption) (*godbus.Conn, error)) (*Conn, error) {
	op := "connect to " + where
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: op, Kind: ErrNoBus, Err: err}
	}

	// The connections' own context is their lifetime: go-systemd keeps
	// them for as long as the Conn lives. Cancelling it closes them, which
	// also unblocks a setup step (Auth, Hello, AddMatch) that hangs.
	life, kill := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		buses []*godbus.Conn
	)
	setup := func() (*godbus.Conn, error) {
		bc, err := open(godbus.WithContext(life))
		if err != nil {
			return nil, err
		}
		mu.Lock()
		buses = append(buses, bc)
		mu.Unlock()
		// nil: EXTERNAL as the effective uid, by number (no user lookup).
		if err := bc.Auth(nil); err != nil {
			bc.Close()
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		if err := bc.Hello(); err != nil {
			bc.Close()
			return nil, fmt.Errorf("hello: %w", err)
		}
		return bc, nil
	}
	// go-systemd opens its two connections one after the other; each
	// takes several round trips (authentication, Hello). Set both up at
	// the same time and hand them over as it asks.
	type bus struct {
		c   *godbus.Conn
		err error
	}
	ready := make(chan bus, 2)
	for range 2 {
		go func() {
			c, err := setup()
			ready <- bus{c, err}
		}()
	}
	dialBus := func() (*godbus.Conn, error) {
		b := <-ready
		return b.c, b.err
	}

	type result struct {
		sd  *sdbus.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		sd, err := sdbus.NewConnection(dialBus)
		done <- result{sd, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		kill()
		go func() { // the setup now fails fast; drop whatever it built
			if r := <-done; r.sd != nil {
				r.sd.Close()
			}
		}()
		return nil, &Error{Op: op, Kind: ErrNoBus, Err: fmt.Errorf("no answer from the bus: %w", ctx.Err())}
	}
	if r.err != nil {
		kill()
		e := callError(op, r.err)
		if e.Kind != ErrAccessDenied {
			e.Kind = ErrNoBus
		}
		return nil, e
	}

	mu.Lock()
	c := &Conn{sd: r.sd, buses: buses, kill: kill, lost: make(chan struct{})}
	mu.Unlock()
	var once sync.Once
	for _, bc := range c.buses {
		go func() {
			<-bc.Context().Done()
			once.Do(func() { close(c.lost) })
		}()
	}

	// Check that systemd is there, without activating anything: on a host
	// not booted with systemd the bus may exist while nobody owns the name.
	var owner string
	err := c.buses[0].BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, systemdBusName).Store(&owner)
	if err != nil {
		c.Close()
		e := callError("look up "+systemdBusName+" on "+where, err)
		switch {
		case e.Kind == ErrAccessDenied:
		case e.Name == nameNameHasNoOwner:
			e.Err = fmt.Errorf("systemd is not connected to this bus: %w", err)
			e.Kind = ErrNoBus
		default:
			e.Kind = ErrNoBus
		}
		return nil, e
	}
	return c, nil
}

// Close closes the bus connections. Jobs already queued keep running in
// systemd. Calls in progress fail with [ErrNoBus].
func (c *Conn) Close() error {
	c.kill()
	c.sd.Close()
	var errs []error
	for _, bc := range c.buses {
		errs = append(errs, bc.Close())
	}
	return errors.Join(errs...)
}

// connLost reports whether a bus connection has closed.
func (c *Conn) connLost() bool {
	select {
	case <-c.lost:
		return true
	default:
		return false
	}
}

// callError wraps the failure of call op; when the bus connection is gone the
// failure is ErrNoBus whatever the call saw (EOF, closed connection).
func (c *Conn) callError(op string, err error) *Error {
	e := callError(op, err)
	if e.Name == "" && c.connLost() && !errors.Is(err, context.DeadlineExceeded) {
		e.Kind = ErrNoBus
		e.Err = fmt.Errorf("connection to the bus lost or closed: %w", err)
	}
	return e
}
