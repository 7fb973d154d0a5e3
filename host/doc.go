// Package host answers one question: what is this machine? It finds
// dockerd (PID, command line, version), docker.service (or Snap's dockerd
// unit) as systemd sees it, where daemon.json is and how that was decided,
// the Docker API socket, the exec root and data root, whether this node was
// in a swarm, and whether dlr runs in a chroot. It changes nothing.
//
// Every path it reads derives from one root ([Env.Root], "/" on a real
// host), so tests run the real code against a temporary directory; the
// connections to the outside (systemd over D-Bus, the Engine API,
// journalctl, dockerd --validate) are function fields of [Env], and every
// timeout dlr uses is named once, in [Timeouts].
//
// [Observe] looks at the host once per command and returns [Facts]. It
// never connects to the Docker socket: a connection to docker.socket would
// start dockerd. Callers ask the API (through [Env.Info]) only when
// [Facts.Active] says dockerd runs.
package host
