// Package e2e holds dlr's end-to-end tests. They boot real Debian guests
// (systemd, D-Bus, dockerd) under systemd-nspawn with package
// [github.com/docker-liverestore/dlr/e2e/rig], need root, and are built
// only with the "e2e" build tag:
//
//	go test -tags e2e -count=1 -timeout 60m -run TestRig -v ./e2e/...
//
// The first run builds each suite's root filesystem with debootstrap (about
// a minute each, cached under /var/cache/dlr-rig, or $DLR_RIG_CACHE) and
// installs debootstrap, debian-archive-keyring and systemd-container with
// apt-get if they are missing.
package e2e
