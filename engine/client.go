package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// DefaultSocket is where dockerd listens on systemd hosts.
const DefaultSocket = "/run/docker.sock"

// DefaultTimeout bounds a call whose context has no deadline. /info, the
// slowest call dlr makes, takes milliseconds on a healthy daemon; a daemon
// that needs longer than this is not one to change settings under.
const DefaultTimeout = 10 * time.Second

// maxBody caps how much of an answer is read: /containers/json for a few
// thousand containers is a few megabytes.
const maxBody = 64 << 20

// Client talks to one Docker daemon. It is safe for concurrent use. The zero
// value is not usable; call [New].
type Client struct {
	socket  string
	timeout time.Duration

	mu      sync.Mutex
	version string // API version for paths, "" until learned or if unusable
	learned bool   // version has been learned from /_ping
}

// New returns a client for the daemon listening on socketPath
// ([DefaultSocket] when empty). It does not connect.
func New(socketPath string) *Client {
	if socketPath == "" {
		socketPath = DefaultSocket
	}
	return &Client{socket: socketPath, timeout: DefaultTimeout}
}

// Socket returns the socket path the client connects to.
func (c *Client) Socket() string { return c.socket }

// Close does nothing: every call has its own connection, closed when the
// call ends. It is kept for callers written when the client pooled idle
// connections. The client stays usable.
func (c *Client) Close() {}

// UnreachableError means the daemon could not be reached at all: the socket
// is missing, nothing listens on it, or it may not be opened. Err is the
// underlying error (errors.Is works with fs.ErrNotExist,
// syscall.ECONNREFUSED, fs.ErrPermission).
type UnreachableError struct {
	Socket string
	Err    error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("connecting to the docker daemon at %s: %v", e.Socket, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// StatusError means the daemon answered Endpoint ("GET /v1.45/info") with a
// status other than 2xx. Message is the daemon's "message" field, or the
// start of the body when it is not JSON.
type StatusError struct {
	Socket     string
	Endpoint   string
	StatusCode int
	Message    string
}

// Error names the status with its usual reason phrase ("404 Not Found"),
// not the one the daemon sent, which is not kept: dockerd sends the usual
// ones.
func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("%s on %s: daemon answered %d %s: %s", e.Endpoint, e.Socket, e.StatusCode, statusText(e.StatusCode), msg)
}

// TimeoutError means Endpoint ("GET /v1.45/info") had not been fully
// answered when the call's deadline passed, After the call started.
// errors.Is(err, context.DeadlineExceeded) holds.
type TimeoutError struct {
	Socket   string
	Endpoint string
	After    time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s on %s: no answer after %v", e.Endpoint, e.Socket, e.After)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// Timeout reports true, as net.Error does for timeouts.
func (e *TimeoutError) Timeout() bool { return true }

// dialError marks errors from connecting, so that they can be told from
// errors later in the exchange.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// call is the state of one public call: its bounded context and start.
type call struct {
	ctx   context.Context
	start time.Time
}

// begin bounds ctx with DefaultTimeout when it has no deadline. It is the
// one place timeouts are chosen.
func (c *Client) begin(ctx context.Context) (call, context.CancelFunc) {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	return call{ctx: ctx, start: time.Now()}, cancel
}

// get sends GET path and decodes the 2xx JSON answer into out. versioned
// puts the API version in front of path.
func (c *Client) get(cl call, path string, versioned bool, out any) error {
	if versioned {
		v, err := c.apiVersion(cl)
		if err != nil {
			return err
		}
		if v != "" {
			path = "/v" + v + path
		}
	}
	resp, endpoint, err := c.send(cl, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		if ctxCause(cl.ctx, err) != nil {
			return c.fail(cl, endpoint, err)
		}
		return fmt.Errorf("%s on %s: decoding the answer: %w", endpoint, c.socket, err)
	}
	return nil
}

// send sends GET path and returns the response when the daemon answered
// 2xx; the caller closes its body. Any other status is a *StatusError: a
// redirect (3xx) is not followed, as it would leave the socket.
func (c *Client) send(cl call, path string) (*response, string, error) {
	return c.sendMethod(cl, "GET", path)
}

// sendMethod is send with another method (POST without a body).
func (c *Client) sendMethod(cl call, method, path string) (*response, string, error) {
	endpoint := method + " " + path
	resp, err := c.exchange(cl.ctx, method, path)
	if err != nil {
		return nil, endpoint, c.fail(cl, endpoint, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if err != nil {
			return nil, endpoint, c.fail(cl, endpoint, err)
		}
		return nil, endpoint, &StatusError{Socket: c.socket, Endpoint: endpoint, StatusCode: resp.StatusCode, Message: daemonMessage(data)}
	}
	return resp, endpoint, nil
}

// fail classifies an error from the exchange.
func (c *Client) fail(cl call, endpoint string, err error) error {
	switch ctxErr := ctxCause(cl.ctx, err); {
	case errors.Is(ctxErr, context.DeadlineExceeded):
		return &TimeoutError{Socket: c.socket, Endpoint: endpoint, After: time.Since(cl.start).Round(time.Millisecond)}
	case ctxErr != nil:
		return fmt.Errorf("%s on %s: %w", endpoint, c.socket, ctxErr)
	}
	var de *dialError
	if errors.As(err, &de) {
		cause := de.err
		var op *net.OpError
		if errors.As(cause, &op) && op.Err != nil {
			cause = op.Err // drop "dial unix <socket>:", which repeats the socket
		}
		return &UnreachableError{Socket: c.socket, Err: cause}
	}
	return fmt.Errorf("%s on %s: %w", endpoint, c.socket, err)
}

// daemonMessage extracts the daemon's {"message": "..."} from an error
// answer, or returns the start of the body.
func daemonMessage(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		return e.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// usableVersion reports whether v is an API version to put in paths: "1."
// and one to three digits.
func usableVersion(v string) bool {
	minor, ok := strings.CutPrefix(v, "1.")
	if !ok || len(minor) < 1 || len(minor) > 3 {
		return false
	}
	for i := 0; i < len(minor); i++ {
		if !isDigit(minor[i]) {
			return false
		}
	}
	return true
}

// apiVersion returns the API version to put in paths, learning it from
// /_ping on first use.
func (c *Client) apiVersion(cl call) (string, error) {
	c.mu.Lock()
	v, learned := c.version, c.learned
	c.mu.Unlock()
	if learned {
		return v, nil
	}
	if err := c.ping(cl); err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.version, nil
}

// ping sends GET /_ping and records the daemon's API version.
func (c *Client) ping(cl call) error {
	resp, endpoint, err := c.send(cl, "/_ping")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return c.fail(cl, endpoint, err)
	}
	v := resp.Header.Get("Api-Version")
	if !usableVersion(v) {
		v = "" // unversioned paths
	}
	c.mu.Lock()
	c.version, c.learned = v, true
	c.mu.Unlock()
	return nil
}
