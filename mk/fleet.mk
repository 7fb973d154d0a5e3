# fleet-test parses the Puppet, Chef and Salt snippets of docs/fleet.md and
# contrib/'s Puppet, Chef and Salt files that install from the package
# repository (puppet parser validate, ruby -c, a YAML load) and the Ansible
# role's YAML (contrib/), and contrib/prometheus: promtool check rules, test rules
# (dlr-alerts_test.yml) and check config (prometheus.yml). fleet-deps installs the
# tools (promtool comes with Debian's prometheus). The role itself is proven in
# the rig by TestAnsibleRole (make e2e).
FLEET_APT := puppet ruby python3-yaml prometheus

.PHONY: fleet-deps fleet-test

fleet-deps:
	@missing=""; for p in $(FLEET_APT); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		sh mk/apt-install.sh --no-install-recommends $$missing; \
	fi

fleet-test: fleet-deps
	$(GO) test -count=1 -v ./contrib/ | grep -E '^(---|ok|FAIL|PASS|\s+\w+_test\.go)'; exit $${PIPESTATUS[0]}

EXTRA_TESTS += fleet-test
