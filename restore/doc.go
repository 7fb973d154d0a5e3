// Package restore knows each live restore: what ran before dockerd went
// away (a [View]), and, once dockerd is back, whether every container came
// back whole, not just alive ([Check], giving a [Record]).
//
// Per container it checks, in this order:
//
//   - pid: running again with the same PID (not "lost", not "restarted");
//   - restart-count: RestartCount unchanged;
//   - health: where the container has a health check, a probe that started
//     after dockerd came back, within interval + timeout (+ Waits.Probe).
//     Docker 17.11 to 22.x never probes a restored container again
//     (moby/moby#41871, fixed in 23.0 by moby/moby#41935): the status stays
//     what it was, frozen. With Options.Rearm, and only on those versions,
//     the health monitor is re-armed with `docker pause` + `docker unpause`
//     (seen to work on 20.10, same PID) and a new probe is awaited within
//     two intervals (+ Waits.Probe): "mended";
//   - port: each published TCP port accepts a connection on the host side
//     (127.0.0.1 for a port bound to every address), within Waits.Port:
//     dockerd restarts its docker-proxy processes after it is back;
//   - firewall: the nat DOCKER chain has a DNAT rule for each published
//     port (iptables), within Waits.Port;
//   - dns: on a user-defined network, Docker's embedded DNS server
//     (127.0.0.11) answers a question for the container's name, asked from
//     inside the container's network namespace, within Waits.DNS;
//   - logs: a json-file log that was written in the Waits.Logs before the
//     outage has been written since dockerd came back, or grows within
//     Waits.Logs of the check (a quiet or empty log is not judged).
//
// The comparison is pure ([Compare], [Summarize]); the probes are
// functions in [Probes], so that tests run every rule against fakes and the
// real ones do I/O at the edges (package host).
package restore
