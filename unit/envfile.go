package unit

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// ParseEnvironmentFile parses the contents of a file named by EnvironmentFile=
// the way systemd does (systemd.exec(5), and systemd's env-file.c, which this
// follows state for state), and returns the variables systemd would pass on.
//
// The rules:
//   - One assignment per line, KEY=VALUE. Whitespace around KEY, and around
//     an unquoted VALUE, is dropped; whitespace inside is kept. Empty lines,
//     lines without "=", and lines whose first non-blank character is "#" or
//     ";" are ignored (a "#" later in a line is part of the value).
//   - Unquoted values: a backslash keeps the next character ("\\" is "\"),
//     a backslash at the end of a line joins the next line, quotes after the
//     first character are kept as they are.
//   - 'single-quoted' values are verbatim and may span lines, no escapes.
//   - "double-quoted" values may span lines; a backslash before one of
//     " \ ` $ keeps that character, before a newline joins the lines, and
//     before anything else is kept together with that character.
//   - A quoted part may be followed by more text, which is appended:
//     A="x" y  gives "xy"; quotes not closed at the end of the file end there.
//   - A "\r" ends a line like "\n".
//   - KEY must be a valid variable name ([A-Za-z_][A-Za-z0-9_]*), otherwise
//     the assignment is dropped, as systemd drops it when starting the
//     service. So "export KEY=VALUE" sets nothing: "export" is not special.
//   - A later assignment of a KEY replaces an earlier one.
//
// A comment line ending in a backslash does not continue onto the next line;
// that is systemd 254 and later. Systemd 253 and earlier (Debian 12, RHEL 9)
// treat the next line as part of the comment: there, such a file sets fewer
// variables than the result says.
//
// It fails, as systemd does (the service then fails to start), on a NUL byte
// or on a key or value that is not valid UTF-8; the error names the line.
func ParseEnvironmentFile(b []byte) (map[string]string, error) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return nil, fmt.Errorf("line %d: NUL byte (systemd refuses such a file)", 1+bytes.Count(b[:i], []byte("\n")))
	}
	p := envParser{env: map[string]string{}, line: 1, lastKeyWS: -1, lastValueWS: -1}
	for _, c := range b {
		if err := p.step(c); err != nil {
			return nil, err
		}
		if c == '\n' {
			p.line++
		}
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	return p.env, nil
}

// envState is where envParser is in an assignment.
type envState int

const (
	envPreKey envState = iota
	envKey
	envPreValue
	envValue
	envValueEscape
	envSingleQuote
	envDoubleQuote
	envDoubleQuoteEscape
	envComment
	envCommentEscape
)

// envParser is the state machine of ParseEnvironmentFile.
type envParser struct {
	env   map[string]string
	state envState
	key   []byte
	value []byte
	// lastKeyWS and lastValueWS are where trailing whitespace of the key or
	// of an unquoted value starts, -1 when there is none.
	lastKeyWS, lastValueWS int
	line                   int // current line, 1-based
	keyLine                int // line where the current key started
}

func isEnvSpace(c byte) bool   { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isEnvNewline(c byte) bool { return c == '\n' || c == '\r' }

// step consumes one byte.
func (p *envParser) step(c byte) error {
	switch p.state {
	case envPreKey:
		if c == '#' || c == ';' {
			p.state = envComment
		} else if !isEnvSpace(c) {
			p.state = envKey
			p.keyLine = p.line
			p.lastKeyWS = -1
			p.key = append(p.key, c)
		}

	case envKey:
		switch {
		case isEnvNewline(c): // a line without "="
			p.state = envPreKey
			p.key = p.key[:0]
		case c == '=':
			p.state = envPreValue
			p.lastValueWS = -1
		default:
			if !isEnvSpace(c) {
				p.lastKeyWS = -1
			} else if p.lastKeyWS < 0 {
				p.lastKeyWS = len(p.key)
			}
			p.key = append(p.key, c)
		}

	case envPreValue:
		switch {
		case isEnvNewline(c):
			p.state = envPreKey
			return p.push()
		case c == '\'':
			p.state = envSingleQuote
		case c == '"':
			p.state = envDoubleQuote
		case c == '\\':
			p.state = envValueEscape
		case !isEnvSpace(c):
			p.state = envValue
			p.value = append(p.value, c)
		}

	case envValue:
		switch {
		case isEnvNewline(c):
			p.state = envPreKey
			p.chompValue()
			return p.push()
		case c == '\\':
			p.state = envValueEscape
			p.lastValueWS = -1
		default:
			if !isEnvSpace(c) {
				p.lastValueWS = -1
			} else if p.lastValueWS < 0 {
				p.lastValueWS = len(p.value)
			}
			p.value = append(p.value, c)
		}

	case envValueEscape:
		p.state = envValue
		if !isEnvNewline(c) { // an escaped newline joins the lines
			p.value = append(p.value, c)
		}

	case envSingleQuote:
		if c == '\'' {
			p.state = envPreValue
		} else {
			p.value = append(p.value, c)
		}

	case envDoubleQuote:
		switch c {
		case '"':
			p.state = envPreValue
		case '\\':
			p.state = envDoubleQuoteEscape
		default:
			p.value = append(p.value, c)
		}

	case envDoubleQuoteEscape:
		p.state = envDoubleQuote
		switch c {
		case '"', '\\', '`', '$':
			p.value = append(p.value, c)
		case '\n': // line continuation
		default:
			p.value = append(p.value, '\\', c)
		}

	case envComment:
		if c == '\\' {
			p.state = envCommentEscape
		} else if isEnvNewline(c) {
			p.state = envPreKey
		}

	case envCommentEscape: // systemd >= 254: the backslash changes nothing
		if isEnvNewline(c) {
			p.state = envPreKey
		} else {
			p.state = envComment
		}
	}
	return nil
}

// end finishes an assignment left open at the end of the input.
func (p *envParser) end() error {
	switch p.state {
	case envValue:
		p.chompValue()
		return p.push()
	case envPreValue, envValueEscape, envSingleQuote, envDoubleQuote, envDoubleQuoteEscape:
		return p.push()
	}
	return nil
}

// chompValue drops the trailing whitespace of an unquoted value.
func (p *envParser) chompValue() {
	if p.lastValueWS >= 0 {
		p.value = p.value[:p.lastValueWS]
	}
}

// push records the assignment built so far and starts a new one.
func (p *envParser) push() error {
	key := p.key
	if p.lastKeyWS >= 0 {
		key = key[:p.lastKeyWS]
	}
	if !validSystemdUTF8(key) {
		return fmt.Errorf("line %d: key is not valid UTF-8 (systemd refuses such a file)", p.keyLine)
	}
	if !validSystemdUTF8(p.value) {
		return fmt.Errorf("line %d: value of %s is not valid UTF-8 (systemd refuses such a file)", p.keyLine, key)
	}
	if validEnvName(string(key)) {
		p.env[string(key)] = string(p.value)
	}
	p.key, p.value = p.key[:0], p.value[:0]
	p.lastKeyWS, p.lastValueWS = -1, -1
	return nil
}

// validEnvName reports whether name is a variable name systemd accepts:
// ASCII letters, digits and "_", not starting with a digit, not empty.
func validEnvName(name string) bool {
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// validSystemdUTF8 reports whether b is UTF-8 that systemd accepts: Go's
// rules (no surrogates, nothing above U+10FFFF) and no Unicode noncharacters.
func validSystemdUTF8(b []byte) bool {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE {
			return false
		}
		b = b[n:]
	}
	return true
}
