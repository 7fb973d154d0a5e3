// Package rig boots a real Debian (systemd, D-Bus, dockerd) under
// systemd-nspawn for dlr's end-to-end tests.
//
// It is test-support code: it uses only the standard library, needs root,
// and is meant to be called from tests built with the "e2e" build tag
// (go test -tags e2e ./e2e/...).
//
// # Root filesystems
//
// [Rootfs] builds a Debian root filesystem once per suite ("bookworm",
// "trixie", "forky" or "fleet": [Suites], [FleetSuite]) with debootstrap and caches it under
// /var/cache/dlr-rig/<suite>
// (or $DLR_RIG_CACHE/<suite>). The cache is read-only by convention: nothing
// in this package writes to it after it is built. A stamp file next to it,
// <cache>/<suite>.stamp, records how it was built; a missing or different
// stamp (an interrupted build, a changed package list) makes the next call
// rebuild it. Builders are serialised by a flock on <cache>/<suite>.lock, and
// a booted guest holds a shared lock on the same file, so a rebuild never
// happens under a running guest.
//
// # Guests
//
// [Boot] gives each test its own copy-on-write view of the cached rootfs (an
// overlayfs mount, or a full "cp -a" copy if overlayfs cannot be mounted),
// boots it with systemd-nspawn, and waits until docker.service is active and
// systemd is on the D-Bus system bus. [Guest.Exec] and friends run commands
// inside with nsenter. The guest has its own network namespace with no route
// out (unless a test attaches it to a [Network], whose only other members
// are the host and other guests): no registry or mirror is reachable from inside, so images are made
// with [Guest.ImportImage] from a static binary such as the one
// [BuildLogger] builds.
//
// When the test ends, the guest is powered off (SIGTERM to nspawn, which
// asks the guest's systemd for an orderly shutdown), killed if that takes
// too long, and the test fails if any of its processes survive. The overlay
// is unmounted and every temporary directory removed. If the test binary is
// interrupted by SIGINT, SIGTERM or SIGHUP, running guests are killed and
// cleaned up before the process exits. If it is killed outright (or "go
// test -timeout" ends it), the kernel kills every guest process anyway:
// nspawn runs as PID 1 of a PID namespace of its own under unshare, which
// has a parent-death signal. Only the guest's mounts and temporary
// directory are left then, and the next [Boot] removes them.
//
// # Fleets
//
// [FleetSuite] is trixie with sshd, an ssh client, Debian's node_exporter
// and curl, cached like the others but not in [Suites]. [NewNetwork] makes
// a private IPv4 network for several guests and the host: a bridge on the
// host holding the first address of the prefix, refused if the host
// already uses any of it. [Network.Attach] gives a guest an interface
// [GuestIface] on it. [Guest.SSHHostKey] gives a guest host keys of its
// own (all guests of a rootfs boot with the same) and returns the public
// ed25519 key for a known_hosts file. The network's cleanup deletes its
// bridge and veths; a killed run's are deleted by the next NewNetwork.
//
// # Packages of another suite
//
// [Debs] downloads .deb files of a suite on the host (apt-get download with
// an apt state of its own, cached under <cache>/debs), for tests that
// upgrade a guest's packages with the guest's own apt: the guest has no
// network.
//
// # Host requirements
//
// Root, a kernel with overlayfs (optional), and the Debian packages
// debootstrap, debian-archive-keyring and systemd-container; util-linux
// (nsenter) and mount are always present on Debian. Missing packages are
// installed with apt-get on first use. Building a rootfs needs Debian's
// package archive; booting needs no network.
package rig
