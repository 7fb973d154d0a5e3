# matrix measures the upgrade matrix of issue 12 (e2e/matrix_test.go): in
# rig guests with six containers running (plain; logging 100 KB/s;
# --restart unless-stopped; a published port; an exec-form health check; a
# user-defined network), real Debian packages installed by the guest's own
# apt (downloaded on the host into /var/cache/dlr-rig/debs), each scenario
# with `dlr enable` done and on a stock Docker:
#
#   trixie-forky     trixie's Docker 26.1 -> forky's 28.5 (docker.io,
#                    docker-cli, containerd, runc, tini, tini-static), then
#                    `systemctl restart docker` onto 28.5
#   containerd       `systemctl restart containerd`, then forky's
#                    containerd 2.1 alone over trixie's 1.7
#   reinstall        trixie's docker.io, docker-cli, containerd and runc
#                    reinstalled at the same version, then a docker restart
#   bookworm-trixie  bookworm's Docker 20.10 -> trixie's 26.1 (and the libc
#                    it needs), then `systemctl restart docker` onto 26.1
#
# and, on the upstream suite (forky with upstream Docker Engine installed as
# a docker-ce-like package, e2e/rig/cepkg), each step a `apt-get install`
# of that package, whose postinst restarts dockerd as Docker CE's does, with
# three more containers (a bind mount, a named volume, --restart always):
#
#   ce-upgrade-day   docker-ce 28.5.2 (forky's dockerd) -> 29.6.0
#   ce-minor         docker-ce 29.6.0 -> 29.7.1
#   ce-patch         docker-ce 29.7.0 -> 29.7.1
#   ce-reinstall     docker-ce 29.7.1 reinstalled
#   ce-downgrade     docker-ce 29.7.1 -> 29.6.0
#
# It prints the table (also in .matrix.md; the whole log in .matrix.log):
# per container, PID kept, RestartCount, the longest log gap, port
# answering, a health probe after the event; per step, what apt changed and
# which daemon it restarted; FACT lines, the evidence per version skew.
# `make test` runs only trixie-forky and ce-upgrade-day (make e2e);
# MATRIX=name,name runs a selection.
MATRIX ?= all

.PHONY: matrix
matrix: deps
	@rm -f .matrix.md; DLR_MATRIX='$(MATRIX)' DLR_MATRIX_OUT=$(abspath .matrix.md) \
	$(GO) test -tags e2e -count=1 -timeout 60m -v -run '^TestUpgradeMatrix$$' ./e2e/ > .matrix.log 2>&1; \
	rc=$$?; grep -E -- '--- (PASS|FAIL)|^(ok|FAIL)|matrix_test.go:[0-9]+: (live restore|after|step|waited)' .matrix.log; \
	cat .matrix.md 2>/dev/null; exit $$rc
