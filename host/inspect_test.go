package host

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker-liverestore/dlr/engine"
)

// A fake dockerd on a unix socket: /_ping, and inspect for ids "c0".."cN",
// each answer delayed; "gone" is a 404 (removed since the listing). It
// records the most calls in flight at once.
func fakeInspectDaemon(t *testing.T, delay time.Duration) (*engine.Client, *atomic.Int32) {
	t.Helper()
	var inFlight, most atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Api-Version", "1.45")
			fmt.Fprint(w, "OK")
			return
		}
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(delay)
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path[strings.Index(r.URL.Path, "/containers/"):], "/containers/"), "/json")
		if id == "gone" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No such container"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"Id":%q,"Name":"/%s","State":{"Running":true,"Pid":1}}`, id, id)
	})
	sock := filepath.Join(t.TempDir(), "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return engine.New(sock), &most
}

func TestInspectAll(t *testing.T) {
	c, most := fakeInspectDaemon(t, 5*time.Millisecond)
	var list []engine.Container
	for i := range 20 {
		list = append(list, engine.Container{ID: fmt.Sprintf("c%d", i)})
	}
	list[7].ID = "gone"
	got, err := inspectAll(context.Background(), c, list)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range got {
		switch {
		case i == 7 && d != nil:
			t.Errorf("a removed container inspected: %+v", d)
		case i != 7 && (d == nil || d.ID != list[i].ID):
			t.Errorf("entry %d = %+v, want %s (the listing's order)", i, d, list[i].ID)
		}
	}
	if m := most.Load(); m < 2 || m > inspectWorkers {
		t.Errorf("at most %d calls at once, want 2..%d", m, inspectWorkers)
	}
}
