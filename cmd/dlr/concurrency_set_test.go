package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
)

// TestConcurrentSets: 8 dlr processes each setting its own key, many times,
// at once. Runs are serialised by the lock, so every key ends with its
// worker's last value: a run that read the file before another's write and
// wrote after it would lose that key.
func TestConcurrentSets(t *testing.T) {
	p := newProcHost(t)
	os.WriteFile(p.path(daemonJSON), []byte(orig), 0o644)
	keys := []string{"max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts",
		"shutdown-timeout", "network-diagnostic-port", "default-shm-size", "debug", "labels"}
	value := func(key string, i int) string {
		switch key {
		case "debug":
			return fmt.Sprint(i%2 == 0)
		case "labels":
			return fmt.Sprintf(`["round=%d"]`, i)
		case "default-shm-size":
			return fmt.Sprintf("%dM", 64+i)
		}
		return fmt.Sprint(1 + i)
	}
	const rounds = 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	for _, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				if code, out, errOut := p.run("set", "--lock-timeout", "2m", key+"="+value(key, i)); code != 0 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("set %s: exit %d\n%s%s", key, code, out, errOut))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	b, _ := os.ReadFile(p.path(daemonJSON))
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("final daemon.json does not parse: %v\n%s", err, b)
	}
	for _, key := range keys {
		var want any
		json.Unmarshal([]byte(value(key, rounds-1)), &want)
		if want == nil {
			want = value(key, rounds-1)
		}
		if fmt.Sprint(got[key]) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v: an update was lost", key, got[key], want)
		}
	}
	if got["log-driver"] != "journald" || got["data-root"] != "/srv/docker" {
		t.Errorf("the file's own keys were lost: %s", b)
	}
	if left := p.tempFiles(); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
