package unit

import "strings"

// ExpandArgv expands environment variables in a command's argv the way
// systemd expands ExecStart= and the other Exec*= lines (systemd.service(5),
// "Command lines"; systemd's replace_env_argv), given the variables systemd
// would set (see MergeEnvironment). Every word is expanded, argv[0] too.
//
//   - A word that is "$NAME" and nothing else is replaced by NAME's value
//     split into words: at spaces, tabs and newlines, with '…' and "…"
//     quoting respected and removed and a backslash keeping the next
//     character. That gives zero or more words: an unset or empty NAME
//     gives none, nor does a word like "$NAME.x", which is not a valid name.
//   - "${NAME}", alone or inside a word, is replaced by NAME's value as it
//     is, never split; unset means empty. A word stays one word.
//   - "$$" is a literal "$".
//   - Anything else is kept: "$NAME" inside a longer word, a lone "$",
//     "${NAME" without "}", and "${NAME:-default}" (systemd does not expand
//     these forms in command lines).
//
// Specifiers such as %n are not expanded; systemd has already replaced them
// in the argv it reports over D-Bus.
func ExpandArgv(argv []string, env map[string]string) []string {
	out := make([]string, 0, len(argv))
	for _, word := range argv {
		if len(word) > 0 && word[0] == '$' && (len(word) == 1 || word[1] != '{' && word[1] != '$') {
			name := word[1:]
			if value, ok := env[name]; ok && validEnvName(name) {
				out = append(out, splitQuoted(value)...)
			}
			continue
		}
		out = append(out, expandWord(word, env))
	}
	return out
}

// expandWord replaces ${NAME} with NAME's value and $$ with $ in one word.
func expandWord(word string, env map[string]string) string {
	const (
		plain    = iota // copying
		dollar          // after a "$"
		variable        // inside "${"
	)
	var b strings.Builder
	state, start := plain, 0 // word[start:] is not yet written
	for i := 0; i < len(word); i++ {
		c := word[i]
		switch state {
		case plain:
			if c == '$' {
				state = dollar
			}
		case dollar:
			switch c {
			case '{':
				b.WriteString(word[start : i-1])
				start = i - 1
				state = variable
			case '$': // "$$": keep the first, drop the second
				b.WriteString(word[start:i])
				start = i + 1
				state = plain
			default:
				state = plain
			}
		case variable:
			switch c {
			case '}':
				if name := word[start+2 : i]; validEnvName(name) {
					b.WriteString(env[name])
				}
				start = i + 1
				state = plain
			case ':': // ${NAME:-x} and ${NAME:+x}: kept as written
				state = plain
			}
		}
	}
	b.WriteString(word[start:])
	return b.String()
}

// splitQuoted splits s into words as systemd's extract_first_word does with
// EXTRACT_UNQUOTE|EXTRACT_RELAX: separators are space, tab, newline and
// carriage return; quotes may start anywhere in a word and are removed; a
// backslash, inside quotes or not, keeps the next character; an unclosed
// quote or a trailing backslash ends the word at the end of s. A quoted
// empty string (two quotes) is an empty word.
func splitQuoted(s string) []string {
	var words []string
	i := 0
	for {
		for i < len(s) && isEnvSpace(s[i]) {
			i++
		}
		if i >= len(s) {
			return words
		}
		var b strings.Builder
		var quote byte
	word:
		for i < len(s) {
			c := s[i]
			i++
			switch {
			case c == '\\':
				if i < len(s) {
					b.WriteByte(s[i])
					i++
				}
			case quote != 0:
				if c == quote {
					quote = 0
				} else {
					b.WriteByte(c)
				}
			case c == '\'' || c == '"':
				quote = c
			case isEnvSpace(c):
				break word
			default:
				b.WriteByte(c)
			}
		}
		words = append(words, b.String())
	}
}
