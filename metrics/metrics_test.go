package metrics

import (
	"bytes"
	"math"
	"os/exec"
	"strings"
	"testing"
)

func sample() []Metric {
	return []Metric{
		Gauge("dlr_up", "whether it runs", 1),
		{Name: "dlr_problems", Help: "problems by kind;\na \\ backslash", Type: "gauge", Samples: []Sample{
			{Labels: [][2]string{{"kind", "port"}}, Value: 2},
			{Labels: [][2]string{{"kind", `a"b\c` + "\n"}, {"node", "x"}}, Value: 0.25},
		}},
		{Name: "dlr_empty", Help: "left out", Type: "gauge"},
		Gauge("dlr_coverage_seconds", "inf", math.Inf(1)),
	}
}

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	want := `# HELP dlr_up whether it runs
# TYPE dlr_up gauge
dlr_up 1
# HELP dlr_problems problems by kind;\na \\ backslash
# TYPE dlr_problems gauge
dlr_problems{kind="port"} 2
dlr_problems{kind="a\"b\\c\n",node="x"} 0.25
# HELP dlr_coverage_seconds inf
# TYPE dlr_coverage_seconds gauge
dlr_coverage_seconds +Inf
`
	if b.String() != want {
		t.Errorf("Write:\n%s\nwant\n%s", b.String(), want)
	}
	for _, bad := range []Metric{Gauge("1abc", "", 1), Gauge("a-b", "", 1), {Name: "a", Type: "summary", Samples: []Sample{{}}},
		{Name: "a", Type: "gauge", Samples: []Sample{{Labels: [][2]string{{"__x", "v"}}}}}} {
		if err := Write(&bytes.Buffer{}, []Metric{bad}); err == nil {
			t.Errorf("Write(%+v) accepted", bad)
		}
	}
}

// Promtool runs Debian's promtool (package prometheus) on text: its exit
// status and output. The test is skipped, saying so, where it is not
// installed.
func Promtool(t *testing.T, text string) (int, string) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus): the exposition is not checked by a real parser here")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestPromtool: Prometheus' own parser and linter accept Write's output,
// escapes included, and reject a broken text (so that its verdict means
// something).
func TestPromtool(t *testing.T) {
	var b bytes.Buffer
	if err := Write(&b, sample()); err != nil {
		t.Fatal(err)
	}
	if code, out := Promtool(t, b.String()); code != 0 {
		t.Errorf("promtool check metrics: exit %d\n%s\n%s", code, out, b.String())
	}
	broken := strings.Replace(b.String(), `\"`, `"`, 1)
	if code, _ := Promtool(t, broken); code == 0 {
		t.Errorf("promtool accepted an unescaped quote:\n%s", broken)
	}
}
