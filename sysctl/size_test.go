package sysctl

import (
	"strconv"
	"strings"
	"testing"
)

var parseSizeTests = []struct {
	in      string
	want    uint64
	wantErr string // substring; "" means no error
}{
	{"1048576", 1 << 20, ""},
	{"16M", 16 << 20, ""},
	{"16MiB", 16 << 20, ""},
	{"16MB", 16 << 20, ""},
	{"16mib", 16 << 20, ""},
	{"16 MiB", 16 << 20, ""},
	{"  64K\n", 64 << 10, ""},
	{"64KiB", 64 << 10, ""},
	{"1G", 1 << 30, ""},
	{"2GiB", 2 << 30, ""},
	{"4096B", 4096, ""},
	{"0", 0, ""},
	{"", 0, "want a number of bytes"},
	{"M", 0, "want a number of bytes"},
	{"-16M", 0, "want a number of bytes"},
	{"+16M", 0, "want a number of bytes"},
	{"1.5M", 0, `unknown unit ".5M"`},
	{"16T", 0, `unknown unit "T"`},
	{"16Mi", 0, `unknown unit "Mi"`},
	{"16 M B", 0, `unknown unit "M B"`},
	{"0x10", 0, `unknown unit "x10"`},
	{"18446744073709551616", 0, "number too large"},
	{"17179869184G", 0, "number too large"},
}

func TestParseSize(t *testing.T) {
	for _, tt := range parseSizeTests {
		got, err := ParseSize(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, tt := range parseSizeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parsing size ") {
				t.Errorf("ParseSize(%q): error %q does not start with \"parsing size \"", s, err)
			}
			return
		}
		// A parsed size, written as plain bytes, parses to itself.
		if again, err := ParseSize(strconv.FormatUint(n, 10)); err != nil || again != n {
			t.Errorf("ParseSize(%q) = %d, but its decimal form parses to %d, %v", s, n, again, err)
		}
	})
}

func TestValidatePipeMaxSize(t *testing.T) {
	tests := []struct {
		n, page uint64
		ok      bool
	}{
		{16 << 20, 4096, true},
		{4096, 4096, true},
		{1 << 31, 4096, true},
		{2048, 4096, false},    // below one page
		{4096, 65536, false},   // below one 64 KiB page (arm64, ppc64le)
		{65536, 65536, true},   // one 64 KiB page
		{1 << 32, 4096, false}, // above 2^31
		{3 << 20, 4096, false}, // not a power of two
		{16<<20 + 1, 4096, false},
		{0, 4096, false},
	}
	for _, tt := range tests {
		err := validatePipeMaxSize(tt.n, tt.page)
		if (err == nil) != tt.ok {
			t.Errorf("validatePipeMaxSize(%d, page %d) = %v; want ok=%v", tt.n, tt.page, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "power of two from one page") {
			t.Errorf("validatePipeMaxSize(%d): error %q does not state the range", tt.n, err)
		}
	}
	if err := ValidatePipeMaxSize(DefaultPipeMaxSize); err != nil {
		t.Errorf("ValidatePipeMaxSize(DefaultPipeMaxSize) = %v", err)
	}
	want := "fs.pipe-max-size = 3000 is not allowed: want a power of two from one page, 4096 (4 KiB), to 2147483648 (2 GiB)"
	if err := validatePipeMaxSize(3000, 4096); err == nil || err.Error() != want {
		t.Errorf("validatePipeMaxSize(3000) = %v; want %q", err, want)
	}
}

func TestKernelRound(t *testing.T) {
	tests := []struct {
		v, page, want uint64
		ok            bool
	}{
		{0, 4096, 4096, true},
		{1, 4096, 4096, true},
		{4096, 4096, 4096, true},
		{4097, 4096, 8192, true},
		{1048576, 4096, 1048576, true},
		{20000000, 4096, 33554432, true},
		{1 << 31, 4096, 1 << 31, true},
		{1<<31 + 1, 4096, 0, false},
		{100, 65536, 65536, true},
	}
	for _, tt := range tests {
		got, ok := kernelRound(tt.v, tt.page)
		if got != tt.want || ok != tt.ok {
			t.Errorf("kernelRound(%d, %d) = %d, %v; want %d, %v", tt.v, tt.page, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseKernelValue(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"16777216", 16777216, true},
		{"0x1000000", 16777216, true},
		{"0X1000000", 16777216, true},
		{"0100", 64, true},
		{"0", 0, true},
		{"", 0, false},
		{"16M", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1_000", 0, false},
		{"0x", 0, false},
		{"09", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseKernelValue(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseKernelValue(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		n    uint64
		want string
	}{
		{16 << 20, "16777216 (16 MiB)"},
		{1 << 31, "2147483648 (2 GiB)"},
		{4096, "4096 (4 KiB)"},
		{1536 << 10, "1572864 (1536 KiB)"},
		{3000, "3000"},
		{0, "0"},
	}
	for _, tt := range tests {
		if got := describe(tt.n); got != tt.want {
			t.Errorf("describe(%d) = %q; want %q", tt.n, got, tt.want)
		}
	}
}
