// Package engine is a small client for the Docker Engine API over its unix
// socket. It covers what dlr reads from the daemon: [Client.Ping],
// [Client.Info], [Client.Containers], [Client.Inspect], [Client.Network] and
// [Client.Events]. It never changes anything in the daemon.
//
// It speaks HTTP/1.1 itself (GET only, one connection per request) rather
// than through net/http, whose import alone (with crypto/tls, crypto/x509,
// compress/* and http2) slows the start of every dlr process by about
// 0.7 ms. Keep net/http, net/url and regexp out of this package's non-test
// files.
//
// # Socket activation: check docker.service first
//
// On systemd hosts /run/docker.sock usually belongs to docker.socket, and
// connecting to it starts dockerd when docker.service is stopped. Every
// method of this package connects, so calling one can start the daemon.
// This package knows nothing of systemd: callers that must not start the
// daemon (for example while it is deliberately stopped) must check that
// docker.service's ActiveState is "active" (over D-Bus) before calling
// anything here.
//
// # Timeouts
//
// Every call takes a context and is bounded by it, connecting and reading
// the answer included. When the context has no deadline, the call gets
// [DefaultTimeout]; this is the only place timeouts are chosen. A daemon
// that accepts the connection but never answers ends in a [*TimeoutError]
// naming the endpoint, never in a hang.
//
// # Errors
//
// Failures come in three kinds, told apart with errors.As:
//
//   - [*UnreachableError]: nothing to talk to (socket missing, connection
//     refused, permission denied).
//   - [*StatusError]: the daemon answered with an error status; it carries
//     the code and the daemon's "message".
//   - [*TimeoutError]: the context's deadline (or DefaultTimeout) passed
//     before the answer was complete.
//
// A caller's own cancellation is returned as an error wrapping
// context.Canceled. Anything else (a malformed answer, a connection dropped
// mid-answer) is a plain error naming the endpoint and socket.
//
// # API version
//
// Paths are versioned with the daemon's own API version, learned once per
// Client from the Api-Version header of GET /_ping: "/v1.41/info" on Docker
// 20.10, "/v1.45/info" on 26.1. A fixed version cannot serve every daemon
// dlr meets: Docker 20.10 refuses anything above 1.41, and Docker 29
// refuses anything below 1.44. Unversioned paths mean the same as the
// daemon's own version but are deprecated by Docker; they are used only if
// a daemon sends no usable Api-Version. The fields decoded here have the
// same names and meaning in every API version from Docker 20.10 (1.41) to
// Docker 29 (1.52); older daemons may leave some of them empty. The version
// is learned once: a Client outliving a daemon upgrade may be refused with a
// *StatusError (400); make a new Client then.
package engine
