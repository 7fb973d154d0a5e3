# bench-outage measures what a dockerd outage does to containers that log
# (issue 4): in the rig, on Debian bookworm (Docker 20.10) and trixie (Docker
# 26.1), containers writing 100 KB/s of self-timestamped lines, dockerd down
# for 20 s (stopped, or SIGKILLed), stock Docker vs with dlr's buffers. It
# prints a table (also written to .bench-outage.md); it is a measurement, not
# a pass/fail test. BENCH_OUTAGE and BENCH_RATE change the outage and rate.
BENCH_OUTAGE ?= 20s
BENCH_RATE ?= 100000

.PHONY: bench-outage
bench-outage: deps
	DLR_BENCH=1 DLR_BENCH_OUTAGE=$(BENCH_OUTAGE) DLR_BENCH_RATE=$(BENCH_RATE) DLR_BENCH_OUT=$(abspath .bench-outage.md) \
	$(GO) test -tags e2e -count=1 -timeout 30m -v -run '^TestBenchOutage$$' ./e2e/ > .bench-outage.log 2>&1; \
	rc=$$?; grep -E '^(\||Log FIFO|--- |ok|FAIL)' .bench-outage.log; exit $$rc
