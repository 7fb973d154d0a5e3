package daemonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/tailscale/hujson"
)

// MaxSize is the largest daemon.json Parse accepts. Real files are a few
// kilobytes; anything this large is not a daemon configuration an edit should
// be trusted with.
const MaxSize = 4 << 20

// MaxDepth is the deepest nesting Parse accepts: encoding/json, and so dockerd,
// refuses deeper input. The limit is checked before the tree is built, so a
// hostile file cannot exhaust the stack.
const MaxDepth = 10000

// LiveRestoreKey is the daemon.json key dlr manages.
const LiveRestoreKey = "live-restore"

var bom = []byte("\xef\xbb\xbf")

// Doc is a parsed daemon.json. It keeps the bytes it was parsed from; edits
// return new bytes and never modify the Doc.
type Doc struct {
	src   []byte         // the input as given, byte order mark included
	body  int            // offset of the JSON text in src (3 after a BOM)
	root  hujson.Value   // the parsed text; zero when empty
	obj   *hujson.Object // root's object; nil when empty
	empty bool           // empty or whitespace-only input
	index map[string]int // top-level key -> its member in obj

	// Warnings lists things that are legal but probably a mistake, such as
	// an unrendered template expression inside a string value.
	Warnings []Warning
}

// Warning is a remark about a legal input, with its position.
type Warning struct {
	Line, Column int
	Msg          string
}

func (w Warning) String() string {
	return fmt.Sprintf("line %d, column %d: %s", w.Line, w.Column, w.Msg)
}

// Parse checks b the way dockerd will read it, and more strictly where an edit
// could otherwise go wrong (see the package documentation). An empty or
// whitespace-only input gives an empty Doc, as dockerd treats it as an empty
// configuration. Errors are of type *Error and carry a line and column.
func Parse(b []byte) (*Doc, error) {
	if len(b) > MaxSize {
		return nil, &Error{Kind: KindTooLarge,
			Msg:  fmt.Sprintf("the file is larger than the %d bytes dlr accepts", MaxSize),
			Hint: "a daemon.json is a few kilobytes; check that this is the right file"}
	}
	if err := checkEncoding(b); err != nil {
		return nil, err
	}
	d := &Doc{src: b}
	if bytes.HasPrefix(b, bom) {
		d.body = len(bom)
	}
	body := b[d.body:]
	if len(bytes.TrimSpace(body)) == 0 {
		d.empty = true
		return d, nil
	}
	if err := scan(body); err != nil {
		return nil, err
	}
	v, err := hujson.Parse(body)
	if err != nil {
		return nil, syntaxError(body, err)
	}
	d.root = v
	obj, ok := v.Value.(*hujson.Object)
	if !ok {
		line, col := position(body, v.StartOffset)
		return nil, &Error{Kind: KindNotObject, Line: line, Column: col,
			Msg:  "the top level is not a JSON object",
			Hint: `daemon.json must be one object such as { "live-restore": true }`}
	}
	d.obj = obj
	d.index = make(map[string]int, len(obj.Members))
	for i := range obj.Members {
		name := obj.Members[i].Name.Value.(hujson.Literal).String()
		if _, dup := d.index[name]; !dup {
			d.index[name] = i // the first, as a linear search finds it
		}
	}
	if err := checkTree(body, &d.root); err != nil {
		return nil, err
	}
	if !json.Valid(body) {
		// Every way hujson is laxer than JSON is checked above; this is a
		// last line of defence so that nothing non-JSON is ever edited.
		return nil, &Error{Kind: KindSyntax, Msg: "not valid JSON", Hint: "fix the file so that dockerd can read it"}
	}
	if m := d.member(LiveRestoreKey); m != nil {
		lit, _ := m.Value.Value.(hujson.Literal)
		if k := kindOf(m.Value); k != 't' && k != 'f' {
			line, col := position(body, m.Value.StartOffset)
			return nil, &Error{Kind: KindType, Line: line, Column: col,
				Msg:  fmt.Sprintf(`"live-restore" is %s, not a boolean`, describe(m.Value, lit)),
				Hint: `write true or false without quotes; dockerd refuses anything else`}
		}
	}
	d.Warnings = stringWarnings(body, &d.root)
	return d, nil
}

func kindOf(v hujson.Value) hujson.Kind {
	if v.Value == nil {
		return 0
	}
	return v.Value.Kind()
}

func describe(v hujson.Value, lit hujson.Literal) string {
	switch kindOf(v) {
	case '"':
		return "the string " + string(lit)
	case '0':
		return "the number " + string(lit)
	case 'n':
		return "null"
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "not a boolean"
}

// checkEncoding refuses what is not UTF-8 text: UTF-16 and UTF-32 (with or
// without a byte order mark), NUL bytes and invalid UTF-8 sequences.
func checkEncoding(b []byte) error {
	switch {
	case bytes.HasPrefix(b, []byte{0xff, 0xfe}), bytes.HasPrefix(b, []byte{0xfe, 0xff}):
		return &Error{Kind: KindEncoding, Line: 1, Column: 1,
			Msg:  "the file is UTF-16 (it starts with a UTF-16 byte order mark)",
			Hint: "save it as UTF-8; Docker 20.10 cannot read UTF-16 and dlr edits only UTF-8"}
	case bytes.HasPrefix(b, []byte{0, 0, 0xfe, 0xff}):
		return &Error{Kind: KindEncoding, Line: 1, Column: 1,
			Msg: "the file is UTF-32", Hint: "save it as UTF-8"}
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		line, col := srcPosition(b, i)
		if looksUTF16(b) {
			return &Error{Kind: KindEncoding, Line: line, Column: col,
				Msg:  "the file looks like UTF-16 without a byte order mark (NUL bytes between characters)",
				Hint: "save it as UTF-8"}
		}
		return &Error{Kind: KindEncoding, Line: line, Column: col,
			Msg: "the file contains a NUL byte", Hint: "a daemon.json is text; remove the NUL bytes or restore the file from a backup"}
	}
	if !utf8.Valid(b) {
		i := 0
		for i < len(b) {
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		line, col := srcPosition(b, i)
		return &Error{Kind: KindEncoding, Line: line, Column: col,
			Msg:  fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", b[i]),
			Hint: "save the file as UTF-8; Docker 23 and later refuse other encodings"}
	}
	return nil
}

// looksUTF16 reports whether b has the NUL-every-other-byte pattern of
// ASCII text encoded as UTF-16.
func looksUTF16(b []byte) bool {
	n := min(len(b), 64)
	if n < 4 {
		return false
	}
	even, odd := 0, 0
	for i := 0; i < n; i++ {
		if b[i] == 0 {
			if i%2 == 0 {
				even++
			} else {
				odd++
			}
		}
	}
	return even > n/4 || odd > n/4
}

// scan walks the text once, outside string literals, to refuse nesting deeper
// than MaxDepth (before a recursive parser sees it) and unrendered templates.
// Every marker it looks for is invalid JSON outside a string, so it can never
// refuse a file dockerd would accept; it only gives a better reason.
func scan(b []byte) error {
	depth := 0
	inStr, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		next := byte(0)
		if i+1 < len(b) {
			next = b[i+1]
		}
		var engine string
		switch {
		case c == '"':
			inStr = true
		case c == '{' && (next == '%' || next == '#'):
			engine = "Jinja"
		case c == '{' && next == '{' && isTemplateExpr(b[i+2:]):
			engine = "Jinja or Handlebars"
		case c == '<' && next == '%':
			engine = "ERB"
		case (c == '$' || c == '%') && next == '{':
			engine = "Terraform"
		case c == '#' && bytes.HasPrefix(b[i:], []byte("#jinja2:")):
			engine = "Jinja"
		case c == '{' || c == '[':
			depth++
			if depth > MaxDepth {
				line, col := position(b, i)
				return &Error{Kind: KindTooDeep, Line: line, Column: col,
					Msg:  fmt.Sprintf("nesting deeper than %d levels", MaxDepth),
					Hint: "dockerd refuses such input; restore the file from a backup"}
			}
		case c == '}' || c == ']':
			depth--
		}
		if engine != "" {
			line, col := position(b, i)
			end := min(len(b), i+2)
			return &Error{Kind: KindTemplate, Line: line, Column: col,
				Msg:  fmt.Sprintf("this is an unrendered %s template (%q outside a string value)", engine, b[i:end]),
				Hint: "render the template first, and check the result with 'dlr validate FILE'"}
		}
	}
	return nil
}

// isTemplateExpr reports whether b, the text after "{{", holds a template
// expression: a closing "}}" on the same line and no ':' before it (a ':'
// means the braces are a broken JSON object, not a template).
func isTemplateExpr(b []byte) bool {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	end := bytes.Index(b, []byte("}}"))
	return end >= 0 && !bytes.ContainsAny(b[:end], ":")
}

// syntaxError turns a parse failure into an *Error at the position where
// encoding/json (dockerd's parser) stops.
func syntaxError(body []byte, herr error) error {
	var v any
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off := int(se.Offset) - 1
		if off < 0 {
			off = 0
		}
		if int(se.Offset) >= len(body) {
			off = len(body)
		}
		line, col := position(body, off)
		return &Error{Kind: KindSyntax, Line: line, Column: col, Msg: se.Error(),
			Hint: "fix the JSON so that dockerd can read it"}
	}
	return &Error{Kind: KindSyntax, Msg: herr.Error(), Hint: "fix the JSON so that dockerd can read it"}
}

// checkTree refuses what hujson accepts but dockerd does not (comments and
// trailing commas), and duplicate keys, which dockerd resolves silently by
// keeping the last one while editors and tools act on the first.
func checkTree(body []byte, v *hujson.Value) error {
	if err := checkExtra(body, v.BeforeExtra, v.StartOffset-len(v.BeforeExtra)); err != nil {
		return err
	}
	if err := checkExtra(body, v.AfterExtra, v.EndOffset); err != nil {
		return err
	}
	switch t := v.Value.(type) {
	case *hujson.Object:
		if err := checkExtra(body, t.AfterExtra, v.EndOffset-1-len(t.AfterExtra)); err != nil {
			return err
		}
		if n := len(t.Members); n > 0 {
			last := t.Members[n-1].Value
			if last.AfterExtra != nil {
				return trailingComma(body, last)
			}
		}
		seen := make(map[string]int, len(t.Members))
		for i := range t.Members {
			m := &t.Members[i]
			name := m.Name.Value.(hujson.Literal).String()
			if first, dup := seen[name]; dup {
				line, col := position(body, m.Name.StartOffset)
				fl, fc := position(body, first)
				return &Error{Kind: KindDuplicateKey, Line: line, Column: col,
					Msg:  fmt.Sprintf("duplicate key %q (first at line %d, column %d); dockerd silently keeps the last one", name, fl, fc),
					Hint: "remove one of them"}
			}
			seen[name] = m.Name.StartOffset
			if err := checkTree(body, &m.Name); err != nil {
				return err
			}
			if err := checkTree(body, &m.Value); err != nil {
				return err
			}
		}
	case *hujson.Array:
		if err := checkExtra(body, t.AfterExtra, v.EndOffset-1-len(t.AfterExtra)); err != nil {
			return err
		}
		if n := len(t.Elements); n > 0 && t.Elements[n-1].AfterExtra != nil {
			return trailingComma(body, t.Elements[n-1])
		}
		for i := range t.Elements {
			if err := checkTree(body, &t.Elements[i]); err != nil {
				return err
			}
		}
	case hujson.Literal:
		// dockerd first decodes the whole file into map[string]any, where
		// every number is a float64: one it cannot hold (1e999) makes it
		// refuse the file, whatever the key.
		if t.Kind() == '0' {
			if _, err := strconv.ParseFloat(string(t), 64); err != nil {
				line, col := position(body, v.StartOffset)
				return &Error{Kind: KindType, Line: line, Column: col,
					Msg:  fmt.Sprintf("the number %s is out of range for dockerd (it reads every number as a 64-bit float)", string(t)),
					Hint: "write a number dockerd can hold"}
			}
		}
	}
	return nil
}

func trailingComma(body []byte, last hujson.Value) error {
	line, col := position(body, last.EndOffset+len(last.AfterExtra))
	return &Error{Kind: KindTrailingComma, Line: line, Column: col,
		Msg: "trailing comma; dockerd refuses it", Hint: "remove the comma"}
}

// checkExtra refuses a comment in the whitespace x, which starts at offset
// off of body.
func checkExtra(body []byte, x hujson.Extra, off int) error {
	i := bytes.IndexByte(x, '/')
	if i < 0 {
		return nil
	}
	line, col := position(body, off+i)
	return &Error{Kind: KindComment, Line: line, Column: col,
		Msg: "comment; dockerd refuses comments in daemon.json", Hint: "remove the comment"}
}

// stringWarnings reports string values holding template markers that are
// legal JSON but probably unrendered (ERB, Jinja, Terraform). Go templates
// such as "{{.Name}}" are normal in log-opts and are not reported.
func stringWarnings(body []byte, root *hujson.Value) []Warning {
	var ws []Warning
	for v := range root.All() {
		lit, ok := v.Value.(hujson.Literal)
		if !ok || lit.Kind() != '"' {
			continue
		}
		if engine := templateInString(lit); engine != "" {
			line, col := position(body, v.StartOffset)
			ws = append(ws, Warning{Line: line, Column: col,
				Msg: fmt.Sprintf("the string %s looks like an unrendered %s template; dockerd will take it literally", lit, engine)})
		}
	}
	return ws
}

func templateInString(s []byte) string {
	switch {
	case bytes.Contains(s, []byte("<%")):
		return "ERB"
	case bytes.Contains(s, []byte("{%")):
		return "Jinja"
	case bytes.Contains(s, []byte("${")), bytes.Contains(s, []byte("%{")):
		return "Terraform"
	}
	for rest := s; ; {
		i := bytes.Index(rest, []byte("{{"))
		if i < 0 {
			return ""
		}
		rest = rest[i+2:]
		inner := bytes.TrimLeft(rest, " -")
		if len(inner) > 0 && inner[0] != '.' && !bytes.HasPrefix(inner, []byte("json")) {
			// A Go template action starts with a field (".Name") or a
			// function such as json; Jinja and Handlebars start with a
			// variable name or a '#' block.
			end := bytes.Index(inner, []byte("}}"))
			if end > 0 && !bytes.Contains(inner[:end], []byte(" .")) {
				return "Jinja or Handlebars"
			}
		}
	}
}

// position returns the 1-based line and column (in characters) of offset off
// in b.
func position(b []byte, off int) (line, col int) {
	off = min(max(off, 0), len(b))
	line = 1 + bytes.Count(b[:off], []byte("\n"))
	start := bytes.LastIndexByte(b[:off], '\n') + 1
	col = 1 + utf8.RuneCount(b[start:off])
	return line, col
}

// srcPosition is position for an offset into the whole input, which may start
// with a byte order mark that editors do not show as a column.
func srcPosition(src []byte, off int) (line, col int) {
	if bytes.HasPrefix(src, bom) && off >= len(bom) {
		return position(src[len(bom):], off-len(bom))
	}
	return position(src, off)
}
