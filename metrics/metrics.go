// Package metrics writes Prometheus' text exposition format (version
// 0.0.4), the format node_exporter's textfile collector reads: for each
// metric a "# HELP" and a "# TYPE" line, then its samples. It does no I/O
// but writing to the io.Writer it is given.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Metric is one metric family: all its samples share name, help and type.
type Metric struct {
	Name    string   `json:"name"`
	Help    string   `json:"help"`
	Type    string   `json:"type"` // "gauge" or "counter"
	Samples []Sample `json:"samples"`
}

// Sample is one value, with its labels as name/value pairs in order.
type Sample struct {
	Labels [][2]string `json:"labels,omitempty"`
	Value  float64     `json:"value"`
}

// Gauge is a gauge with one unlabelled sample.
func Gauge(name, help string, v float64) Metric {
	return Metric{Name: name, Help: help, Type: "gauge", Samples: []Sample{{Value: v}}}
}

// Bool is 1 for true, 0 for false.
func Bool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Write writes the metrics in order. A metric without samples is left
// out; an invalid metric or label name is an error and nothing more is
// written after it.
func Write(w io.Writer, ms []Metric) error {
	bw := bufio.NewWriter(w)
	for _, m := range ms {
		if len(m.Samples) == 0 {
			continue
		}
		if !validName(m.Name, true) {
			return fmt.Errorf("metric name %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", m.Name)
		}
		if m.Type != "gauge" && m.Type != "counter" {
			return fmt.Errorf("metric %s: type %q: want gauge or counter", m.Name, m.Type)
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", m.Name, escapeHelp(m.Help), m.Name, m.Type)
		for _, s := range m.Samples {
			bw.WriteString(m.Name)
			if len(s.Labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.Labels {
					if !validName(l[0], false) || strings.HasPrefix(l[0], "__") {
						return fmt.Errorf("metric %s: label name %q: want [a-zA-Z_][a-zA-Z0-9_]*, not starting with __", m.Name, l[0])
					}
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, "%s=\"%s\"", l[0], escapeLabel(l[1]))
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(formatValue(s.Value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func validName(s string, colon bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		ok := c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (colon && c == ':') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			return false
		}
	}
	return true
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
