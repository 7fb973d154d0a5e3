package daemonjson

import "fmt"

// Kind says why a daemon.json was refused.
type Kind int

// The reasons Parse refuses a file.
const (
	KindSyntax        Kind = iota + 1 // not JSON
	KindEncoding                      // UTF-16, NUL bytes, invalid UTF-8
	KindComment                       // a // or /* */ comment
	KindTrailingComma                 // a comma before } or ]
	KindDuplicateKey                  // the same key twice in one object
	KindNotObject                     // the top level is not an object
	KindType                          // "live-restore" is not a boolean
	KindTemplate                      // an unrendered template
	KindTooDeep                       // nesting deeper than MaxDepth
	KindTooLarge                      // larger than MaxSize
)

var kindNames = map[Kind]string{
	KindSyntax:        "syntax",
	KindEncoding:      "encoding",
	KindComment:       "comment",
	KindTrailingComma: "trailing-comma",
	KindDuplicateKey:  "duplicate-key",
	KindNotObject:     "not-object",
	KindType:          "type",
	KindTemplate:      "template",
	KindTooDeep:       "too-deep",
	KindTooLarge:      "too-large",
}

// String returns a short stable name, used in dlr's JSON output.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a refusal of a daemon.json: what is wrong, where (1-based line and
// column in characters, not counting a byte order mark; 0 when there is no
// single place), and what to do about it.
type Error struct {
	Kind         Kind
	Line, Column int
	Msg          string
	Hint         string
}

func (e *Error) Error() string {
	s := e.Msg
	if e.Line > 0 {
		s = fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}
