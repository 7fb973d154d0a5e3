package engine

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

// readResponseTests are raw answers and what readResponse makes of them.
var readResponseTests = []struct {
	name     string
	in       string
	code     int
	body     string // read before bodyErr, if any
	parseErr string // readResponse fails with an error containing this
	bodyErr  string // reading the body fails with an error containing this
	eof      bool   // bodyErr wraps io.ErrUnexpectedEOF
}{
	// Framing.
	{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello, and more", code: 200, body: "hello"},
	{name: "content-length zero", in: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nmore", code: 200},
	{name: "content-length repeated, same value", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi!", code: 200, body: "hi"},
	{name: "until eof", in: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of\r\nit", code: 200, body: "all of\r\nit"},
	{name: "until eof, http/1.0, no header", in: "HTTP/1.0 404 Not Found\r\n\r\ngone", code: 404, body: "gone"},
	{name: "bare LF line ends", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", code: 200, body: "hi"},
	{name: "no reason phrase", in: "HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", code: 200, body: "hi"},
	{name: "empty reason phrase", in: "HTTP/1.1 500 \r\n\r\n", code: 500},
	{name: "other reason phrase", in: "HTTP/1.1 404 Nothing Here\r\n\r\n", code: 404},
	{name: "no body for 204", in: "HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\njunk", code: 204},
	{name: "no body for 304", in: "HTTP/1.1 304 Not Modified\r\n\r\njunk", code: 304},
	{name: "no body for 1xx", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", code: 100},
	{name: "blanks around a value", in: "HTTP/1.1 200 OK\r\nContent-Length: \t 3 \t\r\n\r\nabcd", code: 200, body: "abc"},

	// Chunked bodies.
	{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n", code: 200, body: "hello, world"},
	{name: "chunked, names and values in other cases, hex sizes", in: "HTTP/1.1 200 OK\r\ntransfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n00\r\n\r\n", code: 200, body: "0123456789abcdefghijklmnopqrstuvwxyz"},
	{name: "chunked, extensions", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n3 ; a ; b=\"c;d\"\r\nabc\r\n0;last\r\n\r\n", code: 200, body: "helloabc"},
	{name: "chunked, trailer", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Checksum: 42\r\nOther: yes\r\n\r\nafter the end", code: 200, body: "hi"},
	{name: "chunked, bare LF", in: "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n2\nhi\n0\n\n", code: 200, body: "hi"},
	{name: "chunked overrides content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", code: 200, body: "abc"},
	{name: "chunked, no chunks", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", code: 200},
	{name: "chunked, largest size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7ffffffffffffff\r\nabc", code: 200, body: "abc", bodyErr: "unexpected EOF in a chunk's data", eof: true},

	// Malformed chunked bodies.
	{name: "chunk size not hex", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: `malformed chunk size line "zz"`},
	{name: "chunk size empty", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: `malformed chunk size line ""`},
	{name: "chunk size only an extension", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", code: 200, bodyErr: `malformed chunk size line ";x"`},
	{name: "chunk size negative", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "malformed chunk size"},
	{name: "chunk size with 0x", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "malformed chunk size"},
	{name: "chunk size with a leading blank", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "malformed chunk size"},
	{name: "chunk size, blank, junk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "malformed chunk size"},
	{name: "chunk size overflows", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "too large"},
	{name: "chunk size far too large", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", code: 200, bodyErr: "too large"},
	{name: "chunk data longer than its size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", code: 200, body: "hel", bodyErr: "longer than its size"},
	{name: "chunk data truncated", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", code: 200, body: "hel", bodyErr: "unexpected EOF in a chunk's data", eof: true},
	{name: "chunk CRLF missing at the end", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", code: 200, body: "hello", bodyErr: "unexpected EOF before the last chunk", eof: true},
	{name: "last chunk missing", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", code: 200, body: "hello", bodyErr: "unexpected EOF before the last chunk", eof: true},
	{name: "size line truncated", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1", code: 200, body: "hello", bodyErr: "unexpected EOF before the last chunk", eof: true},
	{name: "trailer end missing", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n", code: 200, bodyErr: "reading the trailer: unexpected EOF", eof: true},
	{name: "trailer malformed", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nnot a field\r\n\r\n", code: 200, bodyErr: `reading the trailer: malformed header line "not a field"`},
	{name: "content-length body truncated", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", code: 200, body: "short", bodyErr: "body shorter than its Content-Length: unexpected EOF", eof: true},

	// Malformed status lines.
	{name: "no answer", in: "", parseErr: "connection closed before an answer"},
	{name: "status line truncated", in: "HTTP/1.1 200 O", parseErr: "reading the status line: unexpected EOF"},
	{name: "http/2", in: "HTTP/2 200 OK\r\n\r\n", parseErr: `malformed status line "HTTP/2 200 OK"`},
	{name: "http/1.x version not a digit", in: "HTTP/1.x 200 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "not http", in: "ICY 200 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "lower-case http", in: "http/1.1 200 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "no status code", in: "HTTP/1.1 OK\r\n\r\n", parseErr: `malformed status line "HTTP/1.1 OK"`},
	{name: "two-digit code", in: "HTTP/1.1 20 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "four-digit code", in: "HTTP/1.1 2000 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "signed code", in: "HTTP/1.1 +20 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "two spaces", in: "HTTP/1.1  200 OK\r\n\r\n", parseErr: "malformed status line"},
	{name: "code too small", in: "HTTP/1.1 099 Odd\r\n\r\n", parseErr: "status code 99 out of range"},
	{name: "code too large", in: "HTTP/1.1 600 Odd\r\n\r\n", parseErr: "status code 600 out of range"},
	{name: "garbage", in: "\x00\x01\x02\n", parseErr: "malformed status line"},
	{name: "a JSON body instead", in: "{\"message\":\"hi\"}\n", parseErr: "malformed status line"},

	// Malformed headers.
	{name: "header cut short", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", parseErr: "reading the header: unexpected EOF"},
	{name: "header line cut short", in: "HTTP/1.1 200 OK\r\nContent-Len", parseErr: "reading the header: unexpected EOF"},
	{name: "no colon", in: "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", parseErr: `malformed header line "No colon here"`},
	{name: "empty name", in: "HTTP/1.1 200 OK\r\n: value\r\n\r\n", parseErr: "malformed header line"},
	{name: "blank in name", in: "HTTP/1.1 200 OK\r\nContent Length: 2\r\n\r\nhi", parseErr: "malformed header line"},
	{name: "blank before colon", in: "HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nhi", parseErr: "malformed header line"},
	{name: "folded line", in: "HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\n\r\n", parseErr: `malformed header line " b"`},
	{name: "NUL in value", in: "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", parseErr: "malformed header line"},
	{name: "CR in value", in: "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", parseErr: "malformed header line"},
	{name: "unsupported transfer-encoding", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", parseErr: `unsupported Transfer-Encoding "gzip"`},
	{name: "transfer-encoding list", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", parseErr: "unsupported Transfer-Encoding"},
	{name: "transfer-encoding twice", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", parseErr: `unsupported Transfer-Encoding "chunked, chunked"`},
	{name: "content-length not a number", in: "HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", parseErr: `malformed Content-Length "five"`},
	{name: "content-length negative", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", parseErr: "malformed Content-Length"},
	{name: "content-length signed", in: "HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx", parseErr: "malformed Content-Length"},
	{name: "content-length empty", in: "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", parseErr: "malformed Content-Length"},
	{name: "content-length list", in: "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", parseErr: "malformed Content-Length"},
	{name: "content-length overflows", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", parseErr: "malformed Content-Length"},
	{name: "content-length conflicting", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", parseErr: `conflicting Content-Length values "1" and "2"`},
}

// readAll reads an answer from r and all of its body.
func readAll(r io.Reader) (resp *response, body []byte, parseErr, bodyErr error) {
	resp, parseErr = readResponse(bufio.NewReader(r), nil)
	if parseErr != nil {
		return resp, nil, parseErr, nil
	}
	body, bodyErr = io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, nil, bodyErr
}

func TestReadResponse(t *testing.T) {
	for _, tt := range readResponseTests {
		t.Run(tt.name, func(t *testing.T) {
			// The result must not depend on how the bytes arrive.
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				resp, body, parseErr, bodyErr := readAll(r)
				if tt.parseErr != "" {
					if parseErr == nil || !strings.Contains(parseErr.Error(), tt.parseErr) {
						t.Fatalf("readResponse error = %v; want one containing %q", parseErr, tt.parseErr)
					}
					if resp != nil {
						t.Errorf("readResponse returned an answer with its error")
					}
					continue
				}
				if parseErr != nil {
					t.Fatalf("readResponse: %v", parseErr)
				}
				if resp.StatusCode != tt.code {
					t.Errorf("StatusCode = %d; want %d", resp.StatusCode, tt.code)
				}
				if string(body) != tt.body {
					t.Errorf("body = %q; want %q", body, tt.body)
				}
				switch {
				case tt.bodyErr == "" && bodyErr != nil:
					t.Errorf("reading the body: %v", bodyErr)
				case tt.bodyErr != "" && (bodyErr == nil || !strings.Contains(bodyErr.Error(), tt.bodyErr)):
					t.Errorf("reading the body: error = %v; want one containing %q", bodyErr, tt.bodyErr)
				case errors.Is(bodyErr, io.ErrUnexpectedEOF) != tt.eof:
					t.Errorf("reading the body: error %v: errors.Is(io.ErrUnexpectedEOF) = %t; want %t", bodyErr, !tt.eof, tt.eof)
				}
			}
		})
	}
}

func TestChunkedStopsAtLastChunk(t *testing.T) {
	// What follows the end of a chunked body is not read as part of it.
	in := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nNEXT"
	br := bufio.NewReader(strings.NewReader(in))
	resp, err := readResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "hi" {
		t.Fatalf("body = %q, %v", body, err)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NEXT" {
		t.Errorf("left after the body: %q; want %q", rest, "NEXT")
	}
	// io.EOF itself, as json.Decoder needs to tell a clean end.
	if n, err := resp.Body.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Errorf("Read after the end = %d, %v; want 0, io.EOF", n, err)
	}
}

func TestChunkedReturnsDataAtOnce(t *testing.T) {
	// A chunk's data is returned without waiting for the next size line,
	// which for an event stream may come much later.
	pr, pw := io.Pipe()
	defer pw.Close()
	go io.WriteString(pw, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello")
	resp, err := readResponse(bufio.NewReader(pr), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string)
	go func() {
		buf := make([]byte, 100)
		n, _ := io.ReadAtLeast(resp.Body, buf, 5)
		got <- string(buf[:n])
	}()
	select {
	case s := <-got:
		if s != "hello" {
			t.Errorf("read %q; want %q", s, "hello")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a chunk's data was held back until more arrived")
	}
}

func TestHeaderGet(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\napi-VERSION: 1.45\r\nX-Dup: first\r\nx-dup: second\r\nX-Empty:\r\n\r\n"
	resp, err := readResponse(bufio.NewReader(strings.NewReader(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"Api-Version": "1.45", "API-VERSION": "1.45", "x-dup": "first", "X-DUP": "first", "Missing": "", "X-Empty": ""} {
		if got := resp.Header.Get(name); got != want {
			t.Errorf("Get(%q) = %q; want %q", name, got, want)
		}
	}
	if _, ok := resp.Header.lookup("X-Empty"); !ok {
		t.Error("an empty field is reported missing")
	}
	if _, ok := resp.Header.lookup("Missing"); ok {
		t.Error("a missing field is reported present")
	}
	if got := resp.Header.values("X-DUP"); len(got) != 2 || got[0] != "first" || got[1] != "second" {
		t.Errorf("values(X-DUP) = %q", got)
	}
}

// endless reads as pattern repeated, counting the bytes read. It gives up
// after 1 MiB, far more than any cap, so that a missing cap fails the test
// rather than exhausting memory.
type endless struct {
	pattern string
	n       int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.n > 1<<20 {
		return 0, errors.New("endless: 1 MiB read and still going")
	}
	for i := range p {
		p[i] = e.pattern[(e.n+i)%len(e.pattern)]
	}
	e.n += len(p)
	return len(p), nil
}

func TestHeaderCap(t *testing.T) {
	field := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
	big := func(n int) string {
		return "HTTP/1.1 200 OK\r\n" + strings.Repeat(field, n) + "Content-Length: 2\r\n\r\nhi"
	}
	// Just under 64 KiB is fine...
	if _, err := readResponse(bufio.NewReader(strings.NewReader(big(60))), nil); err != nil {
		t.Errorf("a 60 KiB header: %v", err)
	}
	// ...one field more than 64 KiB is not.
	if _, err := readResponse(bufio.NewReader(strings.NewReader(big(66))), nil); err == nil || !strings.Contains(err.Error(), "header larger than 64 KiB") {
		t.Errorf("a 66 KiB header: error = %v; want it to be too large", err)
	}

	// A peer sending without end is cut off after the cap, not read (and
	// kept) forever.
	for _, tt := range []struct{ name, prefix, pattern, want string }{
		{"status line without end", "", "HTTP", "header larger than 64 KiB"},
		{"header line without end", "HTTP/1.1 200 OK\r\nX: ", "a", "header larger than 64 KiB"},
		{"header fields without end", "HTTP/1.1 200 OK\r\n", "X: y\r\n", "header larger than 64 KiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &endless{pattern: tt.pattern}
			_, err := readResponse(bufio.NewReader(io.MultiReader(strings.NewReader(tt.prefix), src)), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want one containing %q", err, tt.want)
			}
			if src.n > maxHeader+8192 {
				t.Errorf("read %d bytes; want about %d at most", src.n, maxHeader)
			}
		})
	}
	for _, tt := range []struct{ name, prefix, pattern, want string }{
		{"chunk size line without end", "5;", "a", "chunk size line longer than 4 KiB"},
		{"trailer without end", "0\r\n", "X: y\r\n", "trailer larger than 64 KiB"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := &endless{pattern: tt.pattern}
			head := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			resp, err := readResponse(bufio.NewReader(io.MultiReader(strings.NewReader(head+tt.prefix), src)), nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(resp.Body)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v; want one containing %q", err, tt.want)
			}
			if src.n > maxHeader+8192 {
				t.Errorf("read %d bytes; want about %d at most", src.n, maxHeader)
			}
		})
	}
}

// FuzzReadResponse feeds arbitrary bytes to readResponse as a daemon's
// answer. It must not panic or hang; it must return either an error or an
// answer whose body reads to an end or an error, the same however the bytes
// arrive; and where net/http also reads the answer in full, both must agree
// on the status and the body.
func FuzzReadResponse(f *testing.F) {
	for _, tt := range readResponseTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, body, parseErr, bodyErr := readAll(bytes.NewReader(data))
		if (resp == nil) == (parseErr == nil) {
			t.Fatalf("readResponse = %v, %v; want an answer or an error", resp, parseErr)
		}
		resp2, body2, parseErr2, bodyErr2 := readAll(iotest.OneByteReader(bytes.NewReader(data)))
		if fmt.Sprint(parseErr) != fmt.Sprint(parseErr2) || fmt.Sprint(bodyErr) != fmt.Sprint(bodyErr2) || !bytes.Equal(body, body2) {
			t.Fatalf("read at once: %v, %v, %q; read a byte at a time: %v, %v, %q", parseErr, bodyErr, body, parseErr2, bodyErr2, body2)
		}
		if parseErr != nil {
			return
		}
		if resp.StatusCode != resp2.StatusCode || resp.StatusCode < 100 || resp.StatusCode > 599 {
			t.Fatalf("StatusCode = %d and %d", resp.StatusCode, resp2.StatusCode)
		}
		if len(body) > len(data) {
			t.Fatalf("a %d-byte body from %d bytes", len(body), len(data))
		}
		if bodyErr != nil || bytes.HasPrefix(data, []byte("HTTP/1.0")) {
			return // net/http ignores Transfer-Encoding in HTTP/1.0
		}
		hresp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), nil)
		if err != nil {
			return
		}
		hbody, err := io.ReadAll(hresp.Body)
		if err != nil {
			return
		}
		if hresp.StatusCode != resp.StatusCode || !bytes.Equal(hbody, body) {
			t.Fatalf("net/http reads %d %q; readResponse reads %d %q", hresp.StatusCode, hbody, resp.StatusCode, body)
		}
	})
}

// rawDaemon serves a unix socket with answer: it is called for each
// connection with the request (its request line and header, as sent), and
// the connection is closed when it returns. ctx ends when the test does. It
// returns a client for the socket.
func rawDaemon(t *testing.T, answer func(ctx context.Context, conn net.Conn, request string)) *Client {
	t.Helper()
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				var req strings.Builder
				for {
					line, err := br.ReadString('\n')
					req.WriteString(line)
					if err != nil {
						return
					}
					if line == "\r\n" {
						break
					}
				}
				answer(ctx, conn, req.String())
			})
		}
	})
	t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	return New(sock)
}

// requestPath returns the path of a request's request line.
func requestPath(request string) string {
	f := strings.Fields(request)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

const pingAnswer = "HTTP/1.1 200 OK\r\nApi-Version: 1.45\r\nContent-Length: 2\r\n\r\nOK"

func TestRequest(t *testing.T) {
	requests := make(chan string, 2)
	c := rawDaemon(t, func(_ context.Context, conn net.Conn, req string) {
		requests <- req
		io.WriteString(conn, pingAnswer)
	})
	if err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, want := <-requests, "GET /_ping HTTP/1.1\r\nHost: docker\r\nUser-Agent: dlr\r\nConnection: close\r\n\r\n"; got != want {
		t.Errorf("request = %q; want %q", got, want)
	}
}

func TestInvalidPath(t *testing.T) {
	c := New(filepath.Join(t.TempDir(), "docker.sock")) // nothing there
	for _, path := range []string{"/a b", "/a\r\nX: y", "no-slash", "/\x7f", "/é"} {
		_, err := c.roundTrip(t.Context(), path)
		var de *dialError
		if err == nil || errors.As(err, &de) || !strings.Contains(err.Error(), "invalid request path") {
			t.Errorf("roundTrip(%q) = %v; want an invalid path error before connecting", path, err)
		}
	}
}

func TestAnswersOverSocket(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		check  func(t *testing.T, c *Client, info Info, err error)
	}{
		{
			name:   "lower-case api-version, chunked body",
			answer: "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n{\"Name\":\"chunky\"\r\n1\r\n}\r\n0\r\n\r\n",
			check: func(t *testing.T, c *Client, info Info, err error) {
				if err != nil || info.Name != "chunky" {
					t.Errorf("Info = %+v, %v", info, err)
				}
			},
		},
		{
			name:   "redirect not followed",
			answer: "HTTP/1.1 301 Moved Permanently\r\nLocation: http://example.com/info\r\nContent-Length: 0\r\n\r\n",
			check: func(t *testing.T, c *Client, info Info, err error) {
				var se *StatusError
				if !errors.As(err, &se) || se.StatusCode != 301 || se.Endpoint != "GET /v1.45/info" {
					t.Errorf("Info = %v; want a 301 StatusError", err)
				}
			},
		},
		{
			name:   "interim status",
			answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
			check: func(t *testing.T, c *Client, info Info, err error) {
				want := "GET /v1.45/info on " + c.Socket() + ": daemon answered 100 Continue: no message"
				if err == nil || err.Error() != want {
					t.Errorf("Info = %v; want %q", err, want)
				}
			},
		},
		{
			name:   "reason phrase of the usual table",
			answer: "HTTP/1.1 404 Nothing Here\r\nContent-Length: 29\r\n\r\n{\"message\":\"no such thing\"}\n\n",
			check: func(t *testing.T, c *Client, info Info, err error) {
				want := "GET /v1.45/info on " + c.Socket() + ": daemon answered 404 Not Found: no such thing"
				if err == nil || err.Error() != want {
					t.Errorf("Info = %v; want %q", err, want)
				}
			},
		},
		{
			name:   "malformed status line",
			answer: "HTTP/1.1 OK\r\n\r\n{}",
			check: func(t *testing.T, c *Client, info Info, err error) {
				want := `GET /v1.45/info on ` + c.Socket() + `: malformed status line "HTTP/1.1 OK"`
				if err == nil || err.Error() != want {
					t.Errorf("Info = %v; want %q", err, want)
				}
				var se *StatusError
				var te *TimeoutError
				var ue *UnreachableError
				if errors.As(err, &se) || errors.As(err, &te) || errors.As(err, &ue) {
					t.Errorf("a malformed answer is a %T", errors.Unwrap(err))
				}
			},
		},
		{
			name:   "no answer",
			answer: "",
			check: func(t *testing.T, c *Client, info Info, err error) {
				want := "GET /v1.45/info on " + c.Socket() + ": connection closed before an answer"
				if err == nil || err.Error() != want {
					t.Errorf("Info = %v; want %q", err, want)
				}
			},
		},
		{
			name:   "body cut short",
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"Name\":",
			check: func(t *testing.T, c *Client, info Info, err error) {
				want := "GET /v1.45/info on " + c.Socket() + ": decoding the answer: body shorter than its Content-Length: unexpected EOF"
				if err == nil || err.Error() != want || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("Info = %v; want %q", err, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			c := rawDaemon(t, func(_ context.Context, conn net.Conn, req string) {
				mu.Lock()
				paths = append(paths, requestPath(req))
				mu.Unlock()
				if requestPath(req) == "/_ping" {
					io.WriteString(conn, strings.Replace(pingAnswer, "Api-Version", "api-version", 1))
					return
				}
				io.WriteString(conn, tt.answer)
			})
			info, err := c.Info(t.Context())
			tt.check(t, c, info, err)
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"/_ping", "/v1.45/info"}; fmt.Sprint(paths) != fmt.Sprint(want) {
				t.Errorf("requests = %q; want %q", paths, want)
			}
		})
	}
}

// eventDaemon answers GET /events with one event, then holds the stream
// open without sending more until the test ends.
func eventDaemon(t *testing.T) *Client {
	return rawDaemon(t, func(ctx context.Context, conn net.Conn, req string) {
		if requestPath(req) == "/_ping" {
			io.WriteString(conn, pingAnswer)
			return
		}
		event := `{"Type":"container","Action":"start","Actor":{"ID":"abc"}}` + "\n"
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(event), event)
		<-ctx.Done()
	})
}

func TestEventsBlockedReadEnds(t *testing.T) {
	tests := []struct {
		name string
		end  func(s *EventStream, cancel context.CancelFunc)
		ctx  func(t *testing.T) (context.Context, context.CancelFunc)
		want error
	}{
		{
			name: "context cancelled",
			ctx:  func(t *testing.T) (context.Context, context.CancelFunc) { return context.WithCancel(t.Context()) },
			end:  func(_ *EventStream, cancel context.CancelFunc) { cancel() },
			want: context.Canceled,
		},
		{
			name: "stream closed",
			ctx:  func(t *testing.T) (context.Context, context.CancelFunc) { return context.WithCancel(t.Context()) },
			end:  func(s *EventStream, _ context.CancelFunc) { s.Close() },
			want: context.Canceled,
		},
		{
			name: "context deadline",
			ctx: func(t *testing.T) (context.Context, context.CancelFunc) {
				return context.WithTimeout(t.Context(), 300*time.Millisecond)
			},
			end:  func(*EventStream, context.CancelFunc) {},
			want: context.DeadlineExceeded,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := eventDaemon(t)
			ctx, cancel := tt.ctx(t)
			defer cancel()
			s, err := c.Events(ctx, map[string][]string{"type": {"container"}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if e, err := s.Next(); err != nil || e.Actor.ID != "abc" {
				t.Fatalf("Next = %+v, %v", e, err)
			}
			// The next Next blocks: nothing more comes.
			time.AfterFunc(100*time.Millisecond, func() { tt.end(s, cancel) })
			done := make(chan error, 1)
			go func() { _, err := s.Next(); done <- err }()
			select {
			case err = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Next still blocked 5s after the stream should have ended")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("Next = %v; want %v", err, tt.want)
			}
			if want := "reading GET /events on " + c.Socket() + ": "; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Next = %v; want it to start with %q", err, want)
			}
		})
	}
}

func TestEventsStreamCutShort(t *testing.T) {
	// The daemon goes away mid-stream, without the last chunk: io.EOF.
	c := rawDaemon(t, func(ctx context.Context, conn net.Conn, req string) {
		if requestPath(req) == "/_ping" {
			io.WriteString(conn, pingAnswer)
			return
		}
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"Typ")
	})
	s, err := c.Events(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next = %v; want io.EOF", err)
	}
}

// pastDeadline is a context whose deadline has passed but which has not
// noticed yet, as happens for a moment when its timer fires after the
// connection's.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }
func (pastDeadline) Err() error                  { return nil }

func TestCtxCause(t *testing.T) {
	timeout := &net.OpError{Op: "read", Net: "unix", Err: os.ErrDeadlineExceeded}
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	future, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"live context", context.Background(), timeout, nil},
		{"cancelled", canceled, io.ErrUnexpectedEOF, context.Canceled},
		{"deadline ahead, connection timeout", future, timeout, nil},
		{"deadline passed, not noticed, connection timeout", pastDeadline{context.Background()}, timeout, context.DeadlineExceeded},
		{"deadline passed, not noticed, other error", pastDeadline{context.Background()}, io.ErrUnexpectedEOF, nil},
	}
	for _, tt := range tests {
		if got := ctxCause(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: ctxCause = %v; want %v", tt.name, got, tt.want)
		}
	}
}

func TestStatusText(t *testing.T) {
	for code := range 1000 {
		if got, want := statusText(code), http.StatusText(code); got != want {
			t.Errorf("statusText(%d) = %q; net/http says %q", code, got, want)
		}
	}
}

func TestEscape(t *testing.T) {
	inputs := []string{"", "web", "no/such", "a b+c&d=e", "é", `{"event":{"start":true},"type":{"container":true}}`, "$&+,/:;=?@#[]%"}
	for c := range 256 {
		inputs = append(inputs, string([]byte{byte(c)}))
	}
	for _, s := range inputs {
		if got, want := pathEscape(s), url.PathEscape(s); got != want {
			t.Errorf("pathEscape(%q) = %q; net/url says %q", s, got, want)
		}
		if got, want := queryEscape(s), url.QueryEscape(s); got != want {
			t.Errorf("queryEscape(%q) = %q; net/url says %q", s, got, want)
		}
	}
}

func TestUsableVersion(t *testing.T) {
	re := regexp.MustCompile(`^1\.[0-9]{1,3}$`)
	// Every string of up to 6 bytes from an alphabet that makes near misses.
	const alphabet = "1.09a\n"
	var check func(prefix string)
	n := 0
	check = func(s string) {
		if got, want := usableVersion(s), re.MatchString(s); got != want {
			t.Errorf("usableVersion(%q) = %t; want %t", s, got, want)
		}
		if got := usableVersion(s); got {
			n++
		}
		if len(s) < 6 {
			for i := range len(alphabet) {
				check(s + alphabet[i:i+1])
			}
		}
	}
	check("")
	if n == 0 {
		t.Error("no usable version among the strings tried")
	}
	for _, s := range []string{"1.41", "1.45", "1.100", "1.4", "1.1000", "2.0", "1.", "01.41", " 1.41", "1.41 ", "v1.41"} {
		if got, want := usableVersion(s), re.MatchString(s); got != want {
			t.Errorf("usableVersion(%q) = %t; want %t", s, got, want)
		}
	}
}

// TestImports keeps net/http and the like out of the package itself: they
// are what the hand-written client is for.
func TestImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "regexp" || path == "net/url" || path == "net/http" || strings.HasPrefix(path, "net/http/") || strings.HasPrefix(path, "crypto/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
	if checked == 0 {
		t.Error("no files checked")
	}
}
