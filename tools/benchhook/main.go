// Command benchhook measures what apt's DPkg::Pre-Install-Pkgs hook of the
// docker-liverestore package costs a transaction without Docker's packages
// (the hook then only reads apt's input and greps it): the median and 90th
// percentile wall time of the hook against `cat >/dev/null` on the same
// input, over -n alternating runs. `make bench-apt-hook` runs it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	script := flag.String("script", ".cache/pkg/scripts/apt-preflight", "the generated hook script")
	n := flag.Int("n", 300, "runs of each command")
	pkgs := flag.Int("packages", 40, "package lines in the transaction (none of them Docker's)")
	flag.Parse()
	if _, err := os.Stat(*script); err != nil {
		fmt.Fprintf(os.Stderr, "benchhook: %v (run make packages first)\n", err)
		os.Exit(1)
	}
	input := aptInput(*pkgs)
	hook := []string{"sh", *script}
	base := []string{"sh", "-c", "cat >/dev/null"}
	var th, tb []time.Duration
	for i := 0; i < *n; i++ { // alternate, so that drift hits both alike
		th = append(th, timed(hook, input))
		tb = append(tb, timed(base, input))
	}
	fmt.Printf("apt input: %d bytes, %d package lines, none of Docker's; %d runs each\n", len(input), *pkgs, *n)
	fmt.Printf("FIGURE apt hook, no Docker package: median %s, p90 %s\n", pct(th, 50), pct(th, 90))
	fmt.Printf("FIGURE sh -c 'cat >/dev/null' (what any hook costs): median %s, p90 %s\n", pct(tb, 50), pct(tb, 90))
	fmt.Printf("FIGURE the hook's own cost: median %s\n", pct(th, 50)-pct(tb, 50))
}

// aptInput is apt's VERSION 3 protocol: the configuration (about 150
// lines, as apt 2.6 sends), a blank line, then the package actions.
func aptInput(pkgs int) []byte {
	var b bytes.Buffer
	b.WriteString("VERSION 3\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&b, "APT::Config::Item%d=some value %d\n", i, i)
	}
	b.WriteString("\n")
	for i := 0; i < pkgs; i++ {
		fmt.Fprintf(&b, "libexample%d 1.0-1 amd64 same < 1.0-2 amd64 same /var/cache/apt/archives/libexample%d_1.0-2_amd64.deb\n", i, i)
	}
	return b.Bytes()
}

func timed(argv []string, input []byte) time.Duration {
	c := exec.Command(argv[0], argv[1:]...)
	c.Stdin = bytes.NewReader(input)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	start := time.Now()
	if err := c.Run(); err != nil || strings.TrimSpace(out.String()) != "" {
		fmt.Fprintf(os.Stderr, "benchhook: %s: %v %q\n", strings.Join(argv, " "), err, out.String())
		os.Exit(1)
	}
	return time.Since(start)
}

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100].Round(10 * time.Microsecond)
}
