// Package unit talks to systemd's service manager over D-Bus, and knows how
// systemd turns a service's configuration into the command line it runs.
//
// # Talking to systemd
//
// [Dial] connects to the D-Bus system bus (the address in
// $DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket) and checks that
// systemd (org.freedesktop.systemd1) is on it. It never falls back to
// systemd's private socket (/run/systemd/private): what dlr does must go
// through the bus and its access checks, like systemctl's. [DialAddress] does
// the same for any bus address; tests use it with a private dbus-daemon.
//
// A [Conn] offers only the calls dlr needs:
//
//   - [Conn.Unit] reads a unit's state and the parts of its configuration that
//     decide dockerd's command line (ExecStart, Environment,
//     EnvironmentFiles). Reading a unit never starts anything: in particular it
//     does not touch /run/docker.sock, which docker.socket would answer by
//     starting dockerd. Callers read ActiveState first.
//   - [Conn.Reload], [Conn.Start] and [Conn.Stop] queue a job in mode
//     "replace" and wait for systemd to report its result. For docker.service
//     a "done" reload only means that systemd ran ExecReload (kill -s HUP
//     $MAINPID): whether dockerd accepted its new configuration must be
//     checked elsewhere.
//   - [Conn.DaemonReload] is systemctl daemon-reload.
//
// Every call takes a context; its deadline bounds the whole call, including
// the wait for a job's result. The connection itself lives until
// [Conn.Close], whatever context was given to Dial.
//
// # Errors
//
// Failures are [*Error] or [*JobError] values. They match, with errors.Is,
// one of [ErrNoBus], [ErrAccessDenied], [ErrNoSuchUnit], [ErrTimeout] or
// [ErrJobFailed], decided from the D-Bus error name (never its message text)
// or from the context's error. The D-Bus error name is kept in [Error.Name].
//
// # Command lines
//
// [ParseEnvironmentFile], [MergeEnvironment] and [ExpandArgv] are pure: they
// follow systemd.exec(5) and systemd.service(5) to compute the argv systemd
// passes to a service's process, for example dockerd's flags from Debian's
//
//	EnvironmentFile=-/etc/default/docker
//	ExecStart=/usr/sbin/dockerd -H fd:// $DOCKER_OPTS
//
// Reading the files is left to the caller.
package unit
