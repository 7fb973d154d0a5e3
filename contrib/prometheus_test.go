package contrib

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// promDir holds the alerting rules, their tests and the example config.
const promDir = "prometheus"

// promtool runs Debian's promtool (package prometheus) with args in dir;
// a missing promtool skips, saying what to install.
func promtool(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus, or make deps): the alerting rules are not checked here")
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestPrometheusRules: promtool accepts the rules and the example config,
// and the rules pass their unit tests.
func TestPrometheusRules(t *testing.T) {
	for _, args := range [][]string{
		{"check", "rules", "dlr-alerts.yml"},
		{"test", "rules", "dlr-alerts_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		out, err := promtool(t, promDir, args...)
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		} else {
			t.Logf("promtool %s: ok", strings.Join(args, " "))
		}
	}
}

// alertNames are the alerts dlr-alerts.yml defines, in its order.
func alertNames(t *testing.T, rules string) []string {
	t.Helper()
	var names []string
	for _, m := range regexp.MustCompile(`(?m)^\s+- alert: (\w+)$`).FindAllStringSubmatch(rules, -1) {
		names = append(names, m[1])
	}
	if len(names) < 8 {
		t.Fatalf("want the alerts of dlr-alerts.yml, found %v", names)
	}
	return names
}

// TestPrometheusRulesTestsCanFail: the unit tests hold every alert both
// ways. Each alert has a test where it must stay quiet (exp_alerts: []),
// and one where it must fire: with the alerts renamed in a copy of the
// rules, promtool test rules fails on each of them. A copy of the tests
// that expects a healthy host to fire is rejected too.
func TestPrometheusRulesTestsCanFail(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(promDir, "dlr-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(promDir, "dlr-alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	names := alertNames(t, string(rules))
	for _, n := range names {
		if !regexp.MustCompile(`alertname: ` + n + `, exp_alerts: \[\]`).Match(tests) {
			t.Errorf("no test that %s stays quiet (exp_alerts: [])", n)
		}
	}
	// The copies run from a temporary directory: the real files stay.
	run := func(rules, tests string) (string, error) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "dlr-alerts.yml"), []byte(rules), 0o644)
		os.WriteFile(filepath.Join(dir, "dlr-alerts_test.yml"), []byte(tests), 0o644)
		return promtool(t, dir, "test", "rules", "dlr-alerts_test.yml")
	}
	if out, err := run(string(rules), string(tests)); err != nil {
		t.Fatalf("the unchanged copy fails: %v\n%s", err, out)
	}
	// Every alert renamed in one copy: none fires under its own name, so
	// each test that expects it to fire fails, and promtool names it.
	renamed := string(rules)
	for _, n := range names {
		renamed = strings.Replace(renamed, "- alert: "+n+"\n", "- alert: "+n+"Renamed\n", 1)
	}
	out, err := run(renamed, string(tests))
	if err == nil {
		t.Errorf("every alert renamed in the rules: promtool test rules passed\n%s", out)
	}
	for _, n := range names {
		if !strings.Contains(out, "alertname: "+n+",") {
			t.Errorf("%s renamed in the rules: no test failed on it, so none expects it to fire\n%s", n, out)
		}
	}
	// A wrong expectation: the healthy host's DlrCheckFailing expected to
	// fire.
	quiet := "{eval_time: 15m, alertname: DlrCheckFailing, exp_alerts: []}"
	if !strings.Contains(string(tests), quiet) {
		t.Fatalf("dlr-alerts_test.yml lacks %q", quiet)
	}
	wrong := strings.Replace(string(tests), quiet, `{eval_time: 15m, alertname: DlrCheckFailing, exp_alerts: [{exp_labels: {severity: critical, instance: "a:9100", job: docker-hosts}}]}`, 1)
	if out, err := run(string(rules), wrong); err == nil {
		t.Errorf("a healthy host expected to fire DlrCheckFailing: promtool test rules passed\n%s", out)
	}
}
