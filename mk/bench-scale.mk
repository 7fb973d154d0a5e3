# bench-scale prints the scale figures of issue 14 (a measurement, not part
# of `make test`: it starts hundreds of containers and takes several
# minutes). In one rig guest (Debian trixie: real systemd, D-Bus, dockerd)
# with the .deb installed as the Ansible role installs it
# (ENABLE_ON_INSTALL=no) and SCALE_CONTAINERS running containers, each
# logging 5 lines/s: full `dlr enable` (every log FIFO back at 64 KiB
# before each round) against a bare `systemctl reload docker` + polling
# `docker info`; the no-op enable, `dlr status` and `dlr check`; issue 20's
# ratios, in turn in the same minute: `dlr check` and `dlr status` against
# `docker inspect $(docker ps -q)`, the no-op enable against /bin/true;
# the watcher during a burst of SCALE_BURST
# `docker run`s and idle; `dlr buffers` with a budget the pipes' total
# would pass; then (TestScaleDrill) `dlr drill`'s refusal in a bookworm
# guest with SCALE_CONTAINERS containers, one started with --rm. Lines
# starting with FIGURE are the results (also written to
# .cache/bench-scale.txt); each names its target.
SCALE_CONTAINERS ?= 300
SCALE_BURST ?= 100
SCALE_ROUNDS ?= 3
SCALE_RUNS ?= 11
SCALE_SUITE ?= trixie
SCALE_PKG := $(abspath .cache/bench-scale-pkg)

.PHONY: bench-scale

bench-scale: deps build
	@rm -rf $(SCALE_PKG); $(MAKE) --no-print-directory packages PKG_ARCHES=$(BENCH_ARCH) DIST_DIR=$(SCALE_PKG) >/dev/null
	@mkdir -p .cache; echo "bench-scale: $$(git rev-parse --short HEAD), $$(date -u +%FT%TZ), $$(nproc) cores, load $$(cut -d' ' -f1-3 /proc/loadavg)" | tee .cache/bench-scale.txt
	@DLR_SCALE=1 DLR_SCALE_DEB=$$(ls $(SCALE_PKG)/*_$(BENCH_ARCH).deb) DLR_BIN=$(abspath bin/dlr) \
	DLR_SCALE_CONTAINERS=$(SCALE_CONTAINERS) DLR_SCALE_BURST=$(SCALE_BURST) DLR_SCALE_ROUNDS=$(SCALE_ROUNDS) \
	DLR_SCALE_RUNS=$(SCALE_RUNS) DLR_SCALE_SUITE=$(SCALE_SUITE) \
	$(GO) test -tags e2e -count=1 -timeout 60m -v -run '^TestScale(Drill)?$$' ./e2e/ > .cache/bench-scale.log 2>&1; \
	rc=$$?; grep -E 'FIGURE|  (enable said|FIFO sizes)|note: |--- FAIL|^FAIL' .cache/bench-scale.log | sed 's/^ *scale_test.go:[0-9]*: //' | tee -a .cache/bench-scale.txt; exit $$rc
