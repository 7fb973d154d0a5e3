package daemonjson

import (
	"errors"
	"strings"
	"testing"
)

// refusals is shared by TestParseRefuses and the fuzz seeds.
var refusals = []struct {
	name      string
	in        string
	kind      Kind
	line, col int
}{
	{"syntax missing comma", "{\n  \"a\": 1\n  \"b\": 2\n}\n", KindSyntax, 3, 3},
	{"syntax truncated", "{\n  \"a\": 1,\n", KindSyntax, 3, 1},
	{"syntax garbage braces", "{{registry-mirrors: [https://x ]}}\n", KindSyntax, 1, 2},
	{"line comment", "{\n  // mirrors\n  \"a\": 1\n}\n", KindComment, 2, 3},
	{"block comment after value", "{\n  \"a\": 1 /* x */\n}\n", KindComment, 2, 10},
	{"comment before object", "// hi\n{}\n", KindComment, 1, 1},
	{"comment after object", "{}\n// bye\n", KindComment, 2, 1},
	{"comment in empty object", "{ /* x */ }", KindComment, 1, 3},
	{"comment in array", "{\"a\": [1, /* x */ 2]}", KindComment, 1, 11},
	{"trailing comma object", "{\n  \"a\": 1,\n}\n", KindTrailingComma, 2, 9},
	{"trailing comma array", "{\"a\": [1, 2 , ]}", KindTrailingComma, 1, 13},
	{"trailing comma nested", "{\"a\": {\"b\": 1,}}", KindTrailingComma, 1, 14},
	{"duplicate top", "{\n  \"a\": 1,\n  \"a\": 2\n}", KindDuplicateKey, 3, 3},
	{"duplicate nested", "{\"log-opts\": {\"max-size\": \"1m\", \"max-size\": \"2m\"}}", KindDuplicateKey, 1, 33},
	{"duplicate in array object", "{\"p\": [{\"base\": \"a\", \"base\": \"b\"}]}", KindDuplicateKey, 1, 22},
	{"duplicate escaped", "{\"live-restore\": true, \"live\\u002drestore\": false}", KindDuplicateKey, 1, 24},
	{"top array", "[\"live-restore\"]", KindNotObject, 1, 1},
	{"top string", "  \"x\"\n", KindNotObject, 1, 3},
	{"top null", "null", KindNotObject, 1, 1},
	{"live-restore string", "{\"live-restore\": \"true\"}", KindType, 1, 18},
	{"live-restore number", "{\n\t\"live-restore\": 1\n}", KindType, 2, 18},
	{"live-restore null", "{\"live-restore\": null}", KindType, 1, 18},
	{"live-restore object", "{\"live-restore\": {}}", KindType, 1, 18},
	{"utf16le bom", "\xff\xfe{\x00}\x00", KindEncoding, 1, 1},
	{"utf16be bom", "\xfe\xff\x00{\x00}", KindEncoding, 1, 1},
	{"utf16 no bom", "{\x00\"\x00a\x00\"\x00:\x001\x00}\x00", KindEncoding, 1, 2},
	{"nul byte", "{\"a\": \"x\x00y\"}", KindEncoding, 1, 9},
	{"invalid utf8", "{\n\"a\": \"\xc3\x28\"}", KindEncoding, 2, 7},
	{"invalid utf8 after bom", "\xef\xbb\xbf{\"a\": \"\xff\"}", KindEncoding, 1, 8},
	{"jinja expression", "{\n  \"live-restore\": {{ lr | to_json }}\n}", KindTemplate, 2, 19},
	{"jinja whole file", "{{ docker_daemon_opts | to_nice_json }}\n", KindTemplate, 1, 1},
	{"jinja statement", "{\n  {% if x %}\n  \"a\": 1\n  {% endif %}\n}", KindTemplate, 2, 3},
	{"jinja header", "#jinja2: lstrip_blocks: True\n{}", KindTemplate, 1, 1},
	{"erb", "{\n  \"userland-proxy\": <%= @p %>\n}", KindTemplate, 2, 21},
	{"terraform directive", "%{ if x ~}\n{}\n%{ endif }", KindTemplate, 1, 1},
	{"terraform interpolation", "{\"mtu\": ${mtu}}", KindTemplate, 1, 9},
	{"handlebars", "{\n  \"a\": 1\n  {{#if x}},\n  \"b\": 2\n  {{/if}}\n}", KindTemplate, 3, 3},
	{"two objects", "{}\n{}\n", KindSyntax, 2, 1},
	{"too deep", strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), KindTooDeep, 1, MaxDepth + 1},
	{"too deep hostile", "{\"a\":" + strings.Repeat("[", 100000), KindTooDeep, 1, 5 + MaxDepth},
	// dockerd decodes every number into a float64 first (issue 14).
	{"number out of range", "{\"f\": 1e400}", KindType, 1, 7},
	{"too large", "{\"a\": \"" + strings.Repeat("x", MaxSize) + "\"}", KindTooLarge, 0, 0},
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse = %v, %v; want *Error of kind %v", d, err, tc.kind)
			}
			if e.Kind != tc.kind || e.Line != tc.line || e.Column != tc.col {
				t.Errorf("got %v at %d:%d (%v); want %v at %d:%d", e.Kind, e.Line, e.Column, e, tc.kind, tc.line, tc.col)
			}
			if e.Hint == "" {
				t.Errorf("refusal without a hint: %v", e)
			}
		})
	}
}

// accepted is shared by TestParseAccepts and the fuzz seeds.
var accepted = []struct {
	name     string
	in       string
	lr, has  bool
	warnings int
}{
	{"empty", "", false, false, 0},
	{"whitespace", " \n\t\r\n", false, false, 0},
	{"bom only", "\xef\xbb\xbf", false, false, 0},
	{"empty object", "{}", false, false, 0},
	{"bom object", "\xef\xbb\xbf{\"live-restore\": true}\n", true, true, 0},
	{"false", "{\"live-restore\": false}", false, true, 0},
	{"nested live-restore only", "{\"x\": {\"live-restore\": true}}", false, false, 0},
	{"big numbers", "{\"n\": 12345678901234567890123, \"f\": 1e300, \"g\": -0.000000000000000000001}", false, false, 0},
	{"go template in string", "{\"log-opts\": {\"tag\": \"{{.ImageName}}/{{ .Name }}\"}}", false, false, 0},
	{"go template json func", "{\"log-opts\": {\"tag\": \"{{json .Name}}\"}}", false, false, 0},
	{"jinja in string", "{\"labels\": [\"c={{ cluster_name }}\"]}", false, false, 1},
	{"erb in string", "{\"data-root\": \"<%= @root %>\"}", false, false, 1},
	{"terraform in string", "{\"data-root\": \"${dir}\"}", false, false, 1},
	{"braces in string", "{\"a\": \"{{{{[[[[\"}", false, false, 0},
	{"deep but allowed", "{\"a\": " + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + "}", false, false, 0},
	{"unicode", "{\"labels\": [\"名前=値\"], \"live-restore\": true}", true, true, 0},
	{"crlf", "{\r\n  \"live-restore\": true\r\n}\r\n", true, true, 0},
}

func TestParseAccepts(t *testing.T) {
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			lr, has := d.LiveRestore()
			if lr != tc.lr || has != tc.has {
				t.Errorf("LiveRestore() = %v, %v; want %v, %v", lr, has, tc.lr, tc.has)
			}
			if len(d.Warnings) != tc.warnings {
				t.Errorf("warnings = %v; want %d", d.Warnings, tc.warnings)
			}
			if string(d.Bytes()) != tc.in {
				t.Errorf("Bytes() changed the input")
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse([]byte("{\n  \"a\": 1,\n  \"a\": 2\n}"))
	want := `line 3, column 3: duplicate key "a" (first at line 2, column 3); dockerd silently keeps the last one (remove one of them)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}
