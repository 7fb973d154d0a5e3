package unit

import (
	"context"
	"errors"
	"fmt"
)

// jobMode is the mode of every job dlr queues: "replace" replaces conflicting
// jobs already queued for the unit, as systemctl does by default.
const jobMode = "replace"

// errConnLost is the cause given when the bus went away while waiting.
var errConnLost = errors.New("connection to the bus lost while waiting for the job's result")

// Reload asks systemd to reload the unit (Manager.ReloadUnit, mode
// "replace") and waits for the job's result. It returns nil only for the
// result "done"; any other result is a [*JobError] holding it ("failed",
// "timeout", "canceled", "invalid" when the unit is not active...). Systemd
// refusing the job outright is an [*Error] (e.g. [ErrNoSuchUnit], or the
// name org.freedesktop.systemd1.JobTypeNotApplicable for a unit without
// ExecReload).
//
// For docker.service "done" means that ExecReload (kill -s HUP $MAINPID) ran,
// not that dockerd accepted its configuration.
//
// ctx bounds both the call and the wait ([ErrTimeout]). A job systemd has
// queued is not cancelled when ctx ends or the connection is lost: it may
// still run later.
func (c *Conn) Reload(ctx context.Context, name string) error {
	return c.runJob(ctx, "ReloadUnit", name, c.sd.ReloadUnitContext)
}

// Start asks systemd to start the unit (Manager.StartUnit, mode "replace")
// and waits for the job's result, like [Conn.Reload]. Starting an active unit
// is a job that finishes "done" at once.
func (c *Conn) Start(ctx context.Context, name string) error {
	return c.runJob(ctx, "StartUnit", name, c.sd.StartUnitContext)
}

// StartQueued asks systemd to start the unit (Manager.StartUnit, mode
// "replace") and returns once systemd has queued the job, without waiting
// for its result: the job runs whether or not the caller is still there.
func (c *Conn) StartQueued(ctx context.Context, name string) error {
	if name == "" {
		return &Error{Op: "StartUnit", Kind: ErrNoSuchUnit, Err: errors.New("empty unit name")}
	}
	if _, err := c.sd.StartUnitContext(ctx, name, jobMode, nil); err != nil {
		return c.callError("StartUnit "+name, err)
	}
	return nil
}

// Stop asks systemd to stop the unit (Manager.StopUnit, mode "replace") and
// waits for the job's result, like [Conn.Reload]. What is stopped follows
// the unit's KillMode: with KillMode=process only the main process.
func (c *Conn) Stop(ctx context.Context, name string) error {
	return c.runJob(ctx, "StopUnit", name, c.sd.StopUnitContext)
}

// DaemonReload asks systemd to reload all unit files (Manager.Reload, as
// systemctl daemon-reload) and returns when systemd has answered, which it
// does once the reload is over. ctx bounds the call ([ErrTimeout]).
func (c *Conn) DaemonReload(ctx context.Context) error {
	if err := c.sd.ReloadContext(ctx); err != nil {
		return c.callError("Reload (daemon-reload)", err)
	}
	return nil
}

// enqueueFunc is go-systemd's way to queue a job: the job's result is sent
// on ch once systemd reports it (signal JobRemoved).
type enqueueFunc func(ctx context.Context, name, mode string, ch chan<- string) (int, error)

// runJob queues a job with enqueue and waits for its result.
func (c *Conn) runJob(ctx context.Context, method, name string, enqueue enqueueFunc) error {
	op := method + " " + name
	if name == "" {
		return &Error{Op: method, Kind: ErrNoSuchUnit, Err: errors.New("empty unit name")}
	}
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Kind: kindOf("", err), Err: err}
	}
	// Buffered: go-systemd's signal dispatcher must never block on us, even
	// when we have stopped waiting.
	ch := make(chan string, 1)
	id, err := enqueue(ctx, name, jobMode, ch)
	if err != nil {
		return c.callError(op, err)
	}
	result := func(res string) error {
		if res == "done" {
			return nil
		}
		return &JobError{Op: op, Unit: name, JobID: id, Result: res}
	}
	select {
	case res := <-ch:
		return result(res)
	case <-ctx.Done():
	case <-c.lost:
	}
	select { // a result that arrived together with the deadline still counts
	case res := <-ch:
		return result(res)
	default:
	}
	waiting := fmt.Sprintf("%s (job %d queued, waiting for its result)", op, id)
	if err := ctx.Err(); err != nil {
		return &Error{Op: waiting, Kind: kindOf("", err), Err: err}
	}
	return &Error{Op: waiting, Kind: ErrNoBus, Err: errConnLost}
}
