# lint: go vet and staticcheck on every package (the e2e tests included),
# as CI runs them. staticcheck is installed from the Go module proxy into
# ./.cache/bin (gitignored) at a fixed version that builds with Go 1.26.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(CURDIR)/.cache/bin/staticcheck

.PHONY: lint

$(STATICCHECK):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK)
	@$(STATICCHECK) -version | grep -q '($(STATICCHECK_VERSION:v%=%))' || GOBIN=$(CURDIR)/.cache/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	$(STATICCHECK) ./...
	$(STATICCHECK) -tags e2e ./e2e/...

EXTRA_TESTS += lint
