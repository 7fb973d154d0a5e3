package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"
)

// Event is one message of GET /events.
type Event struct {
	// Type is "container", "image", "network", ...
	Type string `json:"Type"`
	// Action is "start", "die", ...; for exec events the daemon appends
	// the command: "exec_start: sh -c date". See [Event.Verb].
	Action string `json:"Action"`
	Actor  Actor  `json:"Actor"`
	// TimeNano is when it happened, in Unix nanoseconds.
	TimeNano int64 `json:"timeNano"`
}

// Actor is the object of an event: for a container, its full ID and
// attributes (image, name, ...; for exec events "execID").
type Actor struct {
	ID         string            `json:"ID"`
	Attributes map[string]string `json:"Attributes"`
}

// Verb returns the Action without what follows a colon: "exec_start" for
// "exec_start: sh -c date".
func (e Event) Verb() string {
	v, _, _ := strings.Cut(e.Action, ":")
	return v
}

// EventStream is an open GET /events stream. Close it when done.
type EventStream struct {
	body   io.ReadCloser
	dec    *json.Decoder
	cancel context.CancelFunc
	socket string
}

// Events opens GET /events with filters (such as {"type": {"container"},
// "event": {"start", "exec_start"}}) and returns the stream of events from
// now on. The daemon's answer to the request must arrive within
// [DefaultTimeout]; the stream then lasts until ctx ends, Close is called
// or the daemon goes away. See the package documentation about socket
// activation before calling it: a stream is usually reopened after dockerd
// restarts, which is exactly when connecting may start it.
func (c *Client) Events(ctx context.Context, filters map[string][]string) (*EventStream, error) {
	q := ""
	if len(filters) > 0 {
		// The daemon's own form: {"key": {"value": true}}.
		m := map[string]map[string]bool{}
		for k, vs := range filters {
			m[k] = map[string]bool{}
			for _, v := range vs {
				m[k][v] = true
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		q = "?filters=" + queryEscape(string(b))
	}
	sctx, cancel := context.WithCancel(ctx)
	var timedOut atomic.Bool
	timer := time.AfterFunc(c.timeout, func() { timedOut.Store(true); cancel() })
	cl := call{ctx: sctx, start: time.Now()}
	v, err := c.apiVersion(cl)
	if err == nil {
		path := "/events" + q
		if v != "" {
			path = "/v" + v + path
		}
		r, _, serr := c.send(cl, path)
		if serr == nil && timer.Stop() {
			return &EventStream{body: r.Body, dec: json.NewDecoder(r.Body), cancel: cancel, socket: c.socket}, nil
		}
		if serr == nil {
			r.Body.Close()
		}
		err = serr
	}
	timer.Stop()
	cancel()
	if timedOut.Load() && ctx.Err() == nil {
		return nil, &TimeoutError{Socket: c.socket, Endpoint: "GET /events", After: time.Since(cl.start).Round(time.Millisecond)}
	}
	if err == nil {
		err = fmt.Errorf("GET /events on %s: %w", c.socket, context.DeadlineExceeded)
	}
	return nil, err
}

// Next waits for the next event. It fails with an error wrapping io.EOF when
// the daemon ends the stream (it stopped), or with the context's error when
// the stream's context ended or Close was called.
func (s *EventStream) Next() (Event, error) {
	var e Event
	if err := s.dec.Decode(&e); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		return Event{}, fmt.Errorf("reading GET /events on %s: %w", s.socket, err)
	}
	return e, nil
}

// Close ends the stream.
func (s *EventStream) Close() error {
	s.cancel()
	return s.body.Close()
}
