package rig

import "time"

// Every timeout the rig uses, in one place.
const (
	// toolInstallTimeout bounds "apt-get update && apt-get install" of the
	// host tools.
	toolInstallTimeout = 10 * time.Minute

	// buildTimeout bounds one debootstrap run (about 50 s when measured).
	buildTimeout = 20 * time.Minute

	// bootTimeout bounds the wait from starting systemd-nspawn until
	// docker.service is active and systemd is on the bus (about 4 s when
	// measured).
	bootTimeout = 90 * time.Second

	// probeTimeout bounds each readiness probe run while booting.
	probeTimeout = 10 * time.Second

	// execTimeout is the timeout given to [Guest.Exec] when its context has
	// no deadline, and to [Guest.MustExec], [Guest.Sh] and friends.
	execTimeout = 2 * time.Minute

	// execWaitDelay is how long Exec waits for the output pipes to close
	// after the command was killed or exited (a background child inside the
	// guest may hold them open).
	execWaitDelay = 5 * time.Second

	// poweroffTimeout bounds the orderly shutdown of a guest before it is
	// killed.
	poweroffTimeout = 45 * time.Second

	// killTimeout bounds the wait for processes to disappear after SIGKILL.
	killTimeout = 15 * time.Second

	// upstreamBuildTimeout bounds one `go install` of upstream dockerd and
	// docker-proxy (about 2 minutes on 2 idle cores, more with the module
	// downloads of a first build).
	upstreamBuildTimeout = 20 * time.Minute

	// pollInterval is how often the rig re-checks a condition it waits for.
	pollInterval = 250 * time.Millisecond
)
