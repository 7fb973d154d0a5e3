# Crash safety and concurrency (issue 6). tools/crashtest runs `dlr enable`
# and `dlr disable` against a scratch host and kills them with SIGKILL at
# random moments, checking after each kill that daemon.json is the old or the
# new file, the state and backups agree with it, and the next run cleans up.
# TestConcurrentRuns runs 8 dlr processes against one host at once.
#
# `make crash` is the long run (CRASH_CYCLES kills, 8x100 concurrent rounds);
# `make crash-short` is the one `make test` runs. Both end with a line
# "crash: N passed, M failed".
CRASH_CYCLES ?= 1000
CRASH_SHORT_CYCLES ?= 50

.PHONY: crash crash-short

crash:
	DLR_CONCURRENCY_ROUNDS=100 $(GO) test -count=1 -run '^TestConcurrentRuns$$' -v ./cmd/dlr/
	$(GO) run ./tools/crashtest -cycles $(CRASH_CYCLES)

crash-short:
	$(GO) run ./tools/crashtest -cycles $(CRASH_SHORT_CYCLES)

EXTRA_TESTS += crash-short
