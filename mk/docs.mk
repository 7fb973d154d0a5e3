# The manual page and shell completions are generated from dlr's command
# definitions (`dlr man`, `dlr completion bash|zsh|fish`; cmd/dlr/docs.go).
# docs-test checks them with the real tools: bash -n, zsh -n, fish
# --no-execute, groff -ww and man -l without warnings, and that every
# command and flag of --help is in each. docs-deps installs the tools.
DOCS_APT := zsh fish groff-base man-db

.PHONY: docs-deps docs-test

docs-deps:
	@missing=""; for p in $(DOCS_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sh mk/apt-install.sh --no-install-recommends $$missing; \
	fi

docs-test: docs-deps
	$(GO) test -count=1 -run 'Docs|Completion|Man' -v ./cmd/dlr/ | grep -E '^(---|ok|FAIL|PASS|\s+docs_test)'; exit $${PIPESTATUS[0]}

EXTRA_TESTS += docs-test
