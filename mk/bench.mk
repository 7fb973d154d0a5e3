# bench prints the speed figures of issue 7 (a measurement, not part of
# `make test`): `dlr enable` on an already enabled host (the path config
# management hits every run) against `jq -e` + `cmp`, on the host with
# scratch paths and in the rig (bookworm, trixie: real systemd, D-Bus,
# dockerd, with the .deb installed as users get it: its drop-in and the
# watcher); `dlr enable` from off to verified on against a bare
# `systemctl reload docker` plus polling `docker info`, in the same guest;
# the static binary's size (`make build`); peak RSS of `dlr enable` and
# `dlr status` (/usr/bin/time -v). BENCH_RUNS and BENCH_ROUNDS set the
# sample sizes. Lines starting with FIGURE are the results (also written
# to .cache/bench.txt).
BENCH_RUNS ?= 51
BENCH_ROUNDS ?= 7
BENCH_APT := time jq

.PHONY: bench bench-deps

bench-deps:
	@missing=""; for p in $(BENCH_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sh mk/apt-install.sh --no-install-recommends $$missing; \
	fi

BENCH_PKG := $(abspath .cache/bench-pkg)
BENCH_ARCH := $(shell $(GO) env GOARCH)

bench: deps bench-deps build
	@mkdir -p .cache; echo "FIGURE static binary size (make build): $$(stat -c %s bin/dlr) bytes ($$(numfmt --to=iec-i --suffix=B $$(stat -c %s bin/dlr)))" | tee .cache/bench.txt
	@rm -rf $(BENCH_PKG); $(MAKE) --no-print-directory packages PKG_ARCHES=$(BENCH_ARCH) DIST_DIR=$(BENCH_PKG) >/dev/null
	@DLR_SPEED=1 DLR_SPEED_RUNS=$(BENCH_RUNS) DLR_SPEED_ROUNDS=$(BENCH_ROUNDS) DLR_SPEED_BIN=$(abspath bin/dlr) \
	DLR_SPEED_DEB=$$(ls $(BENCH_PKG)/*_$(BENCH_ARCH).deb) \
	$(GO) test -tags e2e -count=1 -timeout 30m -v -run '^TestSpeed$$' ./e2e/ > .cache/bench.log 2>&1; \
	rc=$$?; grep -E 'FIGURE| (dlr|shell): |installed |note: |--- FAIL|^FAIL' .cache/bench.log | sed 's/^ *speed_test.go:[0-9]*: //' | tee -a .cache/bench.txt; exit $$rc

# bench-apt-hook prints what apt's hook (/etc/apt/apt.conf.d/50docker-liverestore)
# costs a transaction without Docker's packages: the hook against a bare
# `sh -c 'cat >/dev/null'` on the same apt input (tools/benchhook).
BENCH_HOOK_RUNS ?= 300
.PHONY: bench-apt-hook
bench-apt-hook:
	@$(MAKE) --no-print-directory packages PKG_ARCHES=$(BENCH_ARCH) DIST_DIR=.cache/bench-hook-pkg >/dev/null
	@echo "bench-apt-hook: $$(git rev-parse --short HEAD), $$(date -u +%FT%TZ), $$(nproc) cores, load $$(cut -d' ' -f1-3 /proc/loadavg)"
	@$(GO) run ./tools/benchhook -script $(PKG_BUILD_DIR)/scripts/apt-preflight -n $(BENCH_HOOK_RUNS)
