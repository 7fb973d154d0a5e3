package engine

// A minimal HTTP/1.1 client for GET requests over the daemon's unix socket.
// It replaces net/http, which dlr does not link: importing net/http (and
// with it crypto/tls, crypto/x509, compress/*, http2...) costs every dlr
// process about 0.7 ms at start, and some commands must finish in a few.
//
// Each request has its own connection ("Connection: close"); nothing is
// pooled. The answer is parsed as RFC 9112 says, strictly enough for a
// daemon written with net/http (dockerd) and with bounds against a bogus
// peer: the status line and header together may not exceed maxHeader, and
// neither may a chunked body's trailer.
//
// Interim (1xx) answers are not skipped: dockerd sends none, since requests
// carry no "Expect: 100-continue", so one is returned like any final status
// that is not 2xx: as a *StatusError, without a body.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// maxHeader caps the status line and header of an answer, and separately
// the trailer of a chunked body.
const maxHeader = 64 << 10

// maxChunkLine caps a chunk's size line, extensions included.
const maxChunkLine = 4 << 10

// errTooLong is readLine's error when a line exceeds its budget; callers
// say which limit was hit.
var errTooLong = errors.New("line too long")

// response is the daemon's answer to a GET. Body is read to its end as the
// framing (chunked, Content-Length or the connection's end) says; closing
// it closes the connection.
type response struct {
	StatusCode int
	Header     header
	Body       io.ReadCloser
}

// header is an answer's header fields in the order received.
type header []headerField

type headerField struct{ name, value string }

// Get returns the value of the first field named name, compared without
// regard to case, or "".
func (h header) Get(name string) string {
	v, _ := h.lookup(name)
	return v
}

func (h header) lookup(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			return f.value, true
		}
	}
	return "", false
}

// values returns the values of every field named name, compared without
// regard to case.
func (h header) values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.name, name) {
			vs = append(vs, f.value)
		}
	}
	return vs
}

// roundTrip sends GET path on a new connection to the client's socket and
// returns the answer once its header has arrived, whatever its status; the
// caller closes its Body. ctx bounds the whole exchange, reading the body
// included: its deadline is the connection's, and its cancellation unblocks
// any read or write in progress, which then fails with ctx's error.
// Failures to connect are *dialError.
func (c *Client) roundTrip(ctx context.Context, path string) (*response, error) {
	return c.exchange(ctx, "GET", path)
}

// exchange is roundTrip with another method: GET, or POST without a body
// (pause, unpause).
func (c *Client) exchange(ctx context.Context, method, path string) (*response, error) {
	if method != "GET" && method != "POST" {
		return nil, fmt.Errorf("method %q: want GET or POST", method)
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return nil, &dialError{err}
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// A deadline in the past wakes up blocked reads and writes at once.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	closeConn := func() error {
		stop()
		return conn.Close()
	}
	rw := ctxConn{ctx: ctx, conn: conn}
	req := method + " " + path + " HTTP/1.1\r\nHost: docker\r\nUser-Agent: dlr\r\nConnection: close\r\n"
	if method == "POST" {
		req += "Content-Length: 0\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(rw, req); err != nil {
		closeConn()
		return nil, fmt.Errorf("sending the request: %w", err)
	}
	resp, err := readResponse(bufio.NewReader(rw), closeConn)
	if err != nil {
		closeConn()
		return nil, err
	}
	return resp, nil
}

// checkPath refuses a request target that would break the request line: it
// must start with "/" and hold printable ASCII without spaces only.
func checkPath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("invalid request path %q: it does not start with /", path)
	}
	for i := 0; i < len(path); i++ {
		if path[i] <= ' ' || path[i] >= 0x7f {
			return fmt.Errorf("invalid request path %q: byte %#02x at %d", path, path[i], i)
		}
	}
	return nil
}

// ctxConn is conn reporting ctx's error instead of the connection's once
// ctx has ended, so that a cancelled or expired call says so.
type ctxConn struct {
	ctx  context.Context
	conn net.Conn
}

func (c ctxConn) Read(p []byte) (int, error) {
	n, err := c.conn.Read(p)
	return n, c.why(err)
}

func (c ctxConn) Write(p []byte) (int, error) {
	n, err := c.conn.Write(p)
	return n, c.why(err)
}

func (c ctxConn) why(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if cerr := ctxCause(c.ctx, err); cerr != nil {
		return cerr
	}
	return err
}

// ctxCause returns ctx's error when it has ended, else nil. The connection's
// deadline is ctx's, and the two timers may fire in either order: a
// connection timeout at or after ctx's deadline counts as
// context.DeadlineExceeded even before ctx itself notices.
func ctxCause(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	dl, ok := ctx.Deadline()
	if ok && !time.Now().Before(dl) && (errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)) {
		return context.DeadlineExceeded
	}
	return nil
}

// readResponse reads an answer's status line and header from br, and
// returns it with a Body reading the rest of br as the header frames it.
// Closing the Body calls closeBody, when not nil.
func readResponse(br *bufio.Reader, closeBody func() error) (*response, error) {
	budget := maxHeader
	line, err := readLine(br, &budget)
	switch {
	case err == io.EOF:
		return nil, errors.New("connection closed before an answer")
	case err == errTooLong:
		return nil, fmt.Errorf("status line and header larger than %d KiB", maxHeader>>10)
	case err != nil:
		return nil, fmt.Errorf("reading the status line: %w", err)
	}
	code, err := parseStatusLine(line)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(br, &budget)
	if err == errTooLong {
		return nil, fmt.Errorf("status line and header larger than %d KiB", maxHeader>>10)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	body, err := bodyReader(br, code, h)
	if err != nil {
		return nil, err
	}
	return &response{StatusCode: code, Header: h, Body: &bodyCloser{Reader: body, close: closeBody}}, nil
}

type bodyCloser struct {
	io.Reader
	close func() error
}

func (b *bodyCloser) Close() error {
	if b.close == nil {
		return nil
	}
	return b.close()
}

// readLine reads a line ended by "\n" and returns it without its "\n" or
// "\r\n". It counts the line's bytes against *budget and fails with
// errTooLong, having kept no more than the budget, when they exceed it. At
// the end of br it returns io.EOF when no byte was read, else
// io.ErrUnexpectedEOF.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(frag) > *budget {
			return "", errTooLong
		}
		*budget -= len(frag)
		line = append(line, frag...)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return string(line), nil
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(line) == 0:
			return "", io.EOF
		case err == io.EOF:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// parseStatusLine parses "HTTP/1.x CODE REASON" (REASON may be empty, and
// so may the space before it) and returns CODE, from 100 to 599. The reason
// phrase is not used: see [StatusError.Error].
func parseStatusLine(line string) (int, error) {
	proto, rest, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(rest, " ")
	if len(proto) != len("HTTP/1.1") || !strings.HasPrefix(proto, "HTTP/1.") || !isDigit(proto[7]) ||
		len(code) != 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) {
		return 0, fmt.Errorf("malformed status line %q", clip(line))
	}
	n, _ := strconv.Atoi(code)
	if n < 100 || n > 599 {
		return 0, fmt.Errorf("status line %q: status code %d out of range", clip(line), n)
	}
	return n, nil
}

// readHeader reads header fields up to the empty line that ends them,
// counting their bytes against *budget (errTooLong when exceeded). Folded
// lines (obs-fold) are refused as malformed.
func readHeader(br *bufio.Reader, budget *int) (header, error) {
	var h header
	for {
		line, err := readLine(br, budget)
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		if line == "" {
			return h, nil
		}
		name, value, ok := strings.Cut(line, ":")
		value = strings.Trim(value, " \t")
		if !ok || !isToken(name) || !isFieldValue(value) {
			return nil, fmt.Errorf("malformed header line %q", clip(line))
		}
		h = append(h, headerField{name: name, value: value})
	}
}

// bodyReader returns a reader of the body that follows the header h of an
// answer with status code: none for 1xx, 204 and 304; chunked when
// Transfer-Encoding says so (overriding Content-Length); Content-Length
// bytes; or else everything up to the connection's end.
func bodyReader(br *bufio.Reader, code int, h header) (io.Reader, error) {
	if code < 200 || code == 204 || code == 304 {
		return strings.NewReader(""), nil
	}
	if te := h.values("Transfer-Encoding"); len(te) > 0 {
		if len(te) > 1 || !strings.EqualFold(te[0], "chunked") {
			return nil, fmt.Errorf("unsupported Transfer-Encoding %q", clip(strings.Join(te, ", ")))
		}
		return &chunkedReader{br: br}, nil
	}
	if cl := h.values("Content-Length"); len(cl) > 0 {
		n, err := parseContentLength(cl)
		if err != nil {
			return nil, err
		}
		return &lengthReader{r: br, left: n}, nil
	}
	return br, nil
}

// parseContentLength parses the Content-Length field values vs, which must
// agree.
func parseContentLength(vs []string) (int64, error) {
	for _, v := range vs[1:] {
		if v != vs[0] {
			return 0, fmt.Errorf("conflicting Content-Length values %q and %q", clip(vs[0]), clip(v))
		}
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || !isDigit(vs[0][0]) { // ParseInt accepts a sign
		return 0, fmt.Errorf("malformed Content-Length %q", clip(vs[0]))
	}
	return n, nil
}

// lengthReader reads the left bytes of a body with a Content-Length.
type lengthReader struct {
	r    io.Reader
	left int64
}

func (l *lengthReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if err == io.EOF && l.left > 0 {
		err = fmt.Errorf("body shorter than its Content-Length: %w", io.ErrUnexpectedEOF)
	}
	return n, err
}

// chunkedReader decodes a chunked body (RFC 9112, section 7.1): chunks of
// "SIZE[;EXTENSIONS]\r\nDATA\r\n" with SIZE in hex, ended by a chunk of size
// 0, trailer fields and an empty line. Extensions and trailer fields are
// read and ignored. A chunk's data is returned as soon as it arrives, which
// an event stream needs: the next size line is only waited for by the next
// Read.
type chunkedReader struct {
	br   *bufio.Reader
	left int64 // bytes of the current chunk's data not yet read
	crlf bool  // the current chunk's data has been read; its CRLF is next
	err  error // io.EOF after the last chunk, or the first error; sticky
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.err == nil && c.left == 0 {
		c.err = c.nextChunk()
	}
	if c.err != nil {
		return 0, c.err
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	c.crlf = c.left == 0
	if err == io.EOF {
		err = fmt.Errorf("chunked body: %w in a chunk's data", io.ErrUnexpectedEOF)
	}
	if err != nil {
		c.err = err
		if n == 0 {
			return 0, err
		}
	}
	return n, nil
}

// nextChunk reads the CRLF ending the previous chunk's data, if any, and the
// next chunk's size line. It returns io.EOF after the last chunk and its
// trailer.
func (c *chunkedReader) nextChunk() error {
	if c.crlf {
		line, err := c.line()
		if err != nil {
			return err
		}
		if line != "" {
			return errors.New("chunked body: a chunk's data is longer than its size")
		}
		c.crlf = false
	}
	line, err := c.line()
	if err != nil {
		return err
	}
	size, err := parseChunkSize(line)
	if err != nil {
		return err
	}
	if size > 0 {
		c.left = size
		return nil
	}
	budget := maxHeader
	switch _, err := readHeader(c.br, &budget); {
	case err == errTooLong:
		return fmt.Errorf("chunked body: trailer larger than %d KiB", maxHeader>>10)
	case err != nil:
		return fmt.Errorf("chunked body: reading the trailer: %w", err)
	}
	return io.EOF
}

// line reads a line of the chunked framing.
func (c *chunkedReader) line() (string, error) {
	budget := maxChunkLine
	line, err := readLine(c.br, &budget)
	switch {
	case err == errTooLong:
		return "", fmt.Errorf("chunked body: chunk size line longer than %d KiB", maxChunkLine>>10)
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return "", fmt.Errorf("chunked body: %w before the last chunk", io.ErrUnexpectedEOF)
	case err != nil:
		return "", err
	}
	return line, nil
}

// parseChunkSize parses a chunk's size line: hex digits, then optionally
// blanks and ";" with extensions, which are ignored.
func parseChunkSize(line string) (int64, error) {
	s, _, _ := strings.Cut(line, ";")
	s = strings.TrimRight(s, " \t")
	if s == "" {
		return 0, fmt.Errorf("chunked body: malformed chunk size line %q", clip(line))
	}
	var n int64
	for i := 0; i < len(s); i++ {
		d := unhex(s[i])
		if d < 0 {
			return 0, fmt.Errorf("chunked body: malformed chunk size line %q", clip(line))
		}
		if n >= 1<<59 { // n<<4 would overflow
			return 0, fmt.Errorf("chunked body: chunk size %q too large", clip(s))
		}
		n = n<<4 | int64(d)
	}
	return n, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isToken reports whether s is a non-empty token (RFC 9110, section 5.6.2),
// as a field name must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s holds no control characters but tabs.
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}

// pathEscape escapes s for use as one path segment, as net/url's
// PathEscape does: every byte but letters, digits and "-_.~$&+:=@"
// becomes %XX.
func pathEscape(s string) string { return escape(s, false) }

// queryEscape escapes s for use as a query value, as net/url's QueryEscape
// does: every byte but letters, digits and "-_.~" becomes %XX, except a
// space, which becomes "+".
func queryEscape(s string) string { return escape(s, true) }

func escape(s string, query bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || strings.IndexByte("-_.~", c) >= 0,
			!query && strings.IndexByte("$&+:=@", c) >= 0:
			b.WriteByte(c)
		case query && c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// statusText returns the usual reason phrase for code, as net/http's
// StatusText does, or "" for codes it does not know.
func statusText(code int) string {
	for _, s := range statusTexts {
		if s.code == code {
			return s.text
		}
	}
	return ""
}

var statusTexts = [...]struct {
	code int
	text string
}{
	{100, "Continue"},
	{101, "Switching Protocols"},
	{102, "Processing"},
	{103, "Early Hints"},
	{200, "OK"},
	{201, "Created"},
	{202, "Accepted"},
	{203, "Non-Authoritative Information"},
	{204, "No Content"},
	{205, "Reset Content"},
	{206, "Partial Content"},
	{207, "Multi-Status"},
	{208, "Already Reported"},
	{226, "IM Used"},
	{300, "Multiple Choices"},
	{301, "Moved Permanently"},
	{302, "Found"},
	{303, "See Other"},
	{304, "Not Modified"},
	{305, "Use Proxy"},
	{307, "Temporary Redirect"},
	{308, "Permanent Redirect"},
	{400, "Bad Request"},
	{401, "Unauthorized"},
	{402, "Payment Required"},
	{403, "Forbidden"},
	{404, "Not Found"},
	{405, "Method Not Allowed"},
	{406, "Not Acceptable"},
	{407, "Proxy Authentication Required"},
	{408, "Request Timeout"},
	{409, "Conflict"},
	{410, "Gone"},
	{411, "Length Required"},
	{412, "Precondition Failed"},
	{413, "Request Entity Too Large"},
	{414, "Request URI Too Long"},
	{415, "Unsupported Media Type"},
	{416, "Requested Range Not Satisfiable"},
	{417, "Expectation Failed"},
	{418, "I'm a teapot"},
	{421, "Misdirected Request"},
	{422, "Unprocessable Entity"},
	{423, "Locked"},
	{424, "Failed Dependency"},
	{425, "Too Early"},
	{426, "Upgrade Required"},
	{428, "Precondition Required"},
	{429, "Too Many Requests"},
	{431, "Request Header Fields Too Large"},
	{451, "Unavailable For Legal Reasons"},
	{500, "Internal Server Error"},
	{501, "Not Implemented"},
	{502, "Bad Gateway"},
	{503, "Service Unavailable"},
	{504, "Gateway Timeout"},
	{505, "HTTP Version Not Supported"},
	{506, "Variant Also Negotiates"},
	{507, "Insufficient Storage"},
	{508, "Loop Detected"},
	{510, "Not Extended"},
	{511, "Network Authentication Required"},
}
