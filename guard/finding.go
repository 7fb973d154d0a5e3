package guard

import "strings"

// Severity is how much a finding matters.
type Severity int

const (
	Pass Severity = iota // the rule holds
	Note                 // worth saying; nothing is wrong
	Skip                 // the rule could not be checked (what was missing is said)
	Warn                 // a risk, or something dlr cannot tell
	Fail                 // unsafe: a change is refused, a check FAILs
)

func (s Severity) String() string {
	return [...]string{"PASS", "NOTE", "SKIP", "WARN", "FAIL"}[s]
}

// Finding is what one rule says about the host or a configuration. Every
// command renders findings its own way (a check line, a refusal, a
// validate line, a status conflict); the rule is written once, here.
type Finding struct {
	// Rule is a stable id ("swarm", "flag-conflict", "drift", ...).
	Rule     string
	Severity Severity
	// Title is the rule as a checklist line ("not a swarm node").
	Title string
	// Subject is what it is about: a key, a unit, a file ("" for the host).
	Subject string
	// Where is where it was seen (a command line, a file), if that matters.
	Where string
	// Message says what was found; Fix what to do about it ("" if
	// nothing).
	Message string
	Fix     string
}

// Sentence is the message and the fix as one sentence, for a refusal.
func (f Finding) Sentence() string {
	if f.Fix == "" {
		return f.Message
	}
	return strings.TrimSuffix(f.Message, ".") + ". " + strings.ToUpper(f.Fix[:1]) + f.Fix[1:]
}

// Highest returns the most severe finding's severity (Pass for none).
func Highest(fs []Finding) Severity {
	w := Pass
	for _, f := range fs {
		w = max(w, f.Severity)
	}
	return w
}

// Only returns the findings of severity s.
func Only(fs []Finding, s Severity) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}
