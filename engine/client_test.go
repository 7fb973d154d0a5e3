package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeDaemon answers like dockerd: /_ping with an Api-Version header,
// versioned paths within [minVersion, apiVersion], unversioned paths too,
// and {"message": ...} bodies on errors.
type fakeDaemon struct {
	apiVersion string            // Api-Version header; "" sends none
	minVersion string            // oldest version accepted in paths
	routes     map[string]string // unversioned path -> testdata file

	mu   sync.Mutex
	seen []string // request paths, in order
}

func (f *fakeDaemon) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.URL.Path)
	f.mu.Unlock()
	if r.Method != http.MethodGet {
		http.Error(w, `{"message":"method not allowed"}`, http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if path == "/_ping" {
		if f.apiVersion != "" {
			w.Header().Set("Api-Version", f.apiVersion)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
		return
	}
	if rest, ok := strings.CutPrefix(path, "/v"); ok {
		v, p, _ := strings.Cut(rest, "/")
		path = "/" + p
		if f.apiVersion != "" && versionLess(f.apiVersion, v) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too new. Maximum supported API version is %s", v, f.apiVersion))
			return
		}
		if f.minVersion != "" && versionLess(v, f.minVersion) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", v, f.minVersion))
			return
		}
	}
	file, ok := f.routes[path]
	if !ok {
		writeError(w, http.StatusNotFound, "page not found")
		return
	}
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

func (f *fakeDaemon) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, "{\"message\":%q}\n", msg)
}

// versionLess compares "1.NN" versions.
func versionLess(a, b string) bool {
	var am, an, bm, bn int
	fmt.Sscanf(a, "%d.%d", &am, &an)
	fmt.Sscanf(b, "%d.%d", &bm, &bn)
	return am < bm || am == bm && an < bn
}

// socketPath returns a path for a unix socket in a fresh temporary
// directory.
func socketPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "docker.sock")
	if len(p) >= 104 {
		t.Fatalf("socket path %s too long for a unix socket", p)
	}
	return p
}

// serve runs h on a unix socket and returns a client for it.
func serve(t *testing.T, h http.Handler) *Client {
	t.Helper()
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	c := New(sock)
	t.Cleanup(c.Close)
	return c
}

// silent accepts connections on a unix socket and never answers. It returns
// the socket path.
func silent(t *testing.T) string {
	t.Helper()
	sock := socketPath(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, conn) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return sock
}

var (
	daemon2010 = func() *fakeDaemon {
		return &fakeDaemon{apiVersion: "1.41", minVersion: "1.12", routes: map[string]string{"/info": "info-20.10.json"}}
	}
	daemon261 = func() *fakeDaemon {
		return &fakeDaemon{apiVersion: "1.45", minVersion: "1.24", routes: map[string]string{
			"/info":                "info-26.1.json",
			"/containers/json":     "containers-26.1.json",
			"/containers/web/json": "inspect-26.1.json",
			"/networks/bridge":     "network-bridge-26.1.json",
		}}
	}
)

func TestInfo(t *testing.T) {
	tests := []struct {
		name     string
		daemon   *fakeDaemon
		wantPath string
		want     Info
	}{
		{
			name:     "docker 20.10, swarm manager",
			daemon:   daemon2010(),
			wantPath: "/v1.41/info",
			want: Info{
				ID:                 "3XJB:W4QH:7YQF:2L5T:CUZN:4XHD:LF3K:O6TS:GWJ6:D7MJ:RGQE:Q3PN",
				Name:               "bookworm-node1",
				ServerVersion:      "20.10.24+dfsg1",
				LiveRestoreEnabled: false,
				DockerRootDir:      "/var/lib/docker",
				Driver:             "overlay2",
				LoggingDriver:      "json-file",
				CgroupDriver:       "systemd",
				CgroupVersion:      "2",
				Containers:         3,
				ContainersRunning:  2,
				DefaultRuntime:     "runc",
				Swarm:              Swarm{NodeID: "qdaqgj2r6fudf6vn7xvlbdwzu", LocalNodeState: "active", ControlAvailable: true},
				SecurityOptions:    []string{"name=seccomp,profile=default", "name=cgroupns"},
			},
		},
		{
			name:     "docker 26.1, live-restore on",
			daemon:   daemon261(),
			wantPath: "/v1.45/info",
			want: Info{
				ID:                 "5a9b6a2e-3c1d-4f7e-8b2a-9d0c4e6f1a37",
				Name:               "trixie-web2",
				ServerVersion:      "26.1.5+dfsg1",
				LiveRestoreEnabled: true,
				DockerRootDir:      "/srv/docker",
				Driver:             "overlay2",
				LoggingDriver:      "local",
				CgroupDriver:       "systemd",
				CgroupVersion:      "2",
				Containers:         4,
				ContainersRunning:  3,
				DefaultRuntime:     "runc",
				Swarm:              Swarm{LocalNodeState: "inactive"},
				SecurityOptions:    []string{"name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"},
			},
		},
		{
			name:     "no Api-Version header: unversioned paths",
			daemon:   &fakeDaemon{routes: map[string]string{"/info": "info-26.1.json"}},
			wantPath: "/info",
			want: Info{ID: "5a9b6a2e-3c1d-4f7e-8b2a-9d0c4e6f1a37", Name: "trixie-web2", ServerVersion: "26.1.5+dfsg1", LiveRestoreEnabled: true, DockerRootDir: "/srv/docker", Driver: "overlay2", LoggingDriver: "local", CgroupDriver: "systemd", CgroupVersion: "2", Containers: 4, ContainersRunning: 3, Swarm: Swarm{LocalNodeState: "inactive"}, DefaultRuntime: "runc",
				SecurityOptions: []string{"name=apparmor", "name=seccomp,profile=builtin", "name=cgroupns"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, tt.daemon)
			got, err := c.Info(t.Context())
			if err != nil {
				t.Fatalf("Info: %v", err)
			}
			// Empty and absent lists are the same to dlr.
			if len(got.Labels) == 0 {
				got.Labels = nil
			}
			if len(got.RegistryConfig.Mirrors) == 0 {
				got.RegistryConfig.Mirrors = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Info =\n%+v\nwant\n%+v", got, tt.want)
			}
			if want := []string{"/_ping", tt.wantPath}; !reflect.DeepEqual(tt.daemon.paths(), want) {
				t.Errorf("requests = %q; want %q", tt.daemon.paths(), want)
			}
		})
	}
}

func TestSwarmError(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.45")
			return
		}
		io.WriteString(w, `{"Swarm":{"NodeID":"x1","LocalNodeState":"error","ControlAvailable":false,"Error":"manager stopped: can't initialize raft node"}}`)
	}))
	got, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := Swarm{NodeID: "x1", LocalNodeState: "error", Error: "manager stopped: can't initialize raft node"}
	if got.Swarm != want {
		t.Errorf("Swarm = %+v; want %+v", got.Swarm, want)
	}
}

func TestVersionLearnedOnce(t *testing.T) {
	d := daemon261()
	c := serve(t, d)
	if err := c.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := c.Containers(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"/_ping", "/v1.45/containers/json", "/v1.45/containers/json"}; !reflect.DeepEqual(d.paths(), want) {
		t.Errorf("requests = %q; want %q", d.paths(), want)
	}
}

func TestContainers(t *testing.T) {
	c := serve(t, daemon261())
	got, err := c.Containers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []Container{
		{ID: "e90e34656806c1c6e5b1f2b83e6c7d2b5a0f3e1d9c8b7a6f5e4d3c2b1a0f9e8d", Names: []string{"/logger"}, Image: "logger:1", State: "running", Status: "Up 2 minutes"},
		{ID: "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2", Names: []string{"/web"}, Image: "nginx:1.27", State: "running", Status: "Up 12 minutes", Ports: []Port{{PrivatePort: 80, PublicPort: 8080, Type: "tcp"}}},
	}
	for i := range got {
		if len(got[i].Ports) == 0 {
			got[i].Ports = nil // empty and absent are the same to dlr
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Containers =\n%+v\nwant\n%+v", got, want)
	}
}

func TestInspect(t *testing.T) {
	d := daemon261()
	c := serve(t, d)
	got, err := c.Inspect(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	want := ContainerDetail{
		ID:   "4fa6e0f0c6786287e131c3852c58a2e01cc697a68231826813597e4994f1d6e2",
		Name: "/web",
		State: ContainerState{Status: "running", Running: true, Pid: 23817,
			StartedAt: time.Date(2025, 8, 19, 7, 28, 20, 530131797, time.UTC)},
		HostConfig: HostConfig{
			RestartPolicy: RestartPolicy{Name: "unless-stopped"},
			LogConfig:     LogConfig{Type: "local", Config: map[string]string{"max-size": "20m"}},
			Runtime:       "runc",
			NetworkMode:   "default",
		},
	}
	// Empty and absent lists are the same to dlr.
	if len(got.HostConfig.ExtraHosts) == 0 {
		got.HostConfig.ExtraHosts = nil
	}
	if len(got.HostConfig.Mounts) == 0 {
		got.HostConfig.Mounts = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Inspect =\n%+v\nwant\n%+v", got, want)
	}
	if got.LogDriver() != "local" {
		t.Errorf("LogDriver() = %q", got.LogDriver())
	}

	// Unknown container: 404 with the daemon's message.
	_, err = c.Inspect(t.Context(), "no/such")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || se.Endpoint != "GET /v1.45/containers/no%2Fsuch/json" {
		t.Errorf("Inspect(no/such) = %v; want a 404 StatusError for the escaped path", err)
	}
	if _, err := c.Inspect(t.Context(), ""); err == nil {
		t.Error("Inspect(\"\") succeeded")
	}
}

func TestNetwork(t *testing.T) {
	c := serve(t, daemon261())
	got, err := c.Network(t.Context(), "bridge")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "bridge" || got.Driver != "bridge" || got.ID != "f2de39df4171b0dc801e8002d1d999b77256983dfc63041c0f34030aa3977566" {
		t.Errorf("Network = %+v", got)
	}
	if want := (IPAM{Driver: "default", Config: []IPAMConfig{{Subnet: "172.17.0.0/16", Gateway: "172.17.0.1"}}}); !reflect.DeepEqual(got.IPAM, want) {
		t.Errorf("IPAM = %+v; want %+v", got.IPAM, want)
	}
	if got.Options["com.docker.network.bridge.name"] != "docker0" {
		t.Errorf("Options = %v", got.Options)
	}
	if _, err := c.Network(t.Context(), ""); err == nil {
		t.Error("Network(\"\") succeeded")
	}
}

func TestUnreachable(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "docker.sock")

	refused := socketPath(t)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: refused, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close() // the socket file stays, nobody listens

	tests := []struct {
		name   string
		socket string
		errno  error
		text   string
	}{
		{"socket missing", missing, fs.ErrNotExist, "no such file or directory"},
		{"connection refused", refused, syscall.ECONNREFUSED, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(tt.socket)
			defer c.Close()
			for _, call := range []func() error{
				func() error { return c.Ping(t.Context()) },
				func() error { _, err := c.Info(t.Context()); return err },
			} {
				err := call()
				var ue *UnreachableError
				if !errors.As(err, &ue) || ue.Socket != tt.socket {
					t.Fatalf("error = %#v; want *UnreachableError for %s", err, tt.socket)
				}
				if !errors.Is(err, tt.errno) {
					t.Errorf("error %v is not %v", err, tt.errno)
				}
				want := "connecting to the docker daemon at " + tt.socket + ": connect: " + tt.text
				if err.Error() != want {
					t.Errorf("error = %q; want %q", err, want)
				}
				var te *TimeoutError
				var se *StatusError
				if errors.As(err, &te) || errors.As(err, &se) {
					t.Errorf("unreachable error is also a timeout or status error: %v", err)
				}
			}
		})
	}
}

func TestStatusError(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func(*Client) error
		want    StatusError // Socket is filled in
		text    string
	}{
		{
			name: "ping refused",
			handler: func(w http.ResponseWriter, r *http.Request) {
				writeError(w, http.StatusInternalServerError, "daemon is shutting down")
			},
			call: func(c *Client) error { return c.Ping(context.Background()) },
			want: StatusError{Endpoint: "GET /_ping", StatusCode: 500, Message: "daemon is shutting down"},
			text: "GET /_ping on SOCKET: daemon answered 500 Internal Server Error: daemon is shutting down",
		},
		{
			name:    "api version too old after a daemon upgrade",
			handler: (&fakeDaemon{apiVersion: "1.53", minVersion: "1.44"}).ServeHTTP,
			call: func(c *Client) error {
				c.version, c.learned = "1.41", true // as if learned before an upgrade
				_, err := c.Info(context.Background())
				return err
			},
			want: StatusError{Endpoint: "GET /v1.41/info", StatusCode: 400, Message: "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"},
		},
		{
			name:    "no such network",
			handler: (&fakeDaemon{apiVersion: "1.45"}).ServeHTTP,
			call:    func(c *Client) error { _, err := c.Network(context.Background(), "mynet"); return err },
			want:    StatusError{Endpoint: "GET /v1.45/networks/mynet", StatusCode: 404, Message: "page not found"},
			text:    "GET /v1.45/networks/mynet on SOCKET: daemon answered 404 Not Found: page not found",
		},
		{
			name: "body not json",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/_ping" {
					w.Header().Set("Api-Version", "1.45")
					return
				}
				w.WriteHeader(http.StatusBadGateway)
				io.WriteString(w, "  upstream went away\n")
			},
			call: func(c *Client) error { _, err := c.Containers(context.Background()); return err },
			want: StatusError{Endpoint: "GET /v1.45/containers/json", StatusCode: 502, Message: "upstream went away"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, tt.handler)
			err := tt.call(c)
			var se *StatusError
			if !errors.As(err, &se) {
				t.Fatalf("error = %v; want *StatusError", err)
			}
			tt.want.Socket = c.Socket()
			if *se != tt.want {
				t.Errorf("error = %+v; want %+v", *se, tt.want)
			}
			if tt.text != "" {
				if want := strings.ReplaceAll(tt.text, "SOCKET", c.Socket()); err.Error() != want {
					t.Errorf("message = %q; want %q", err, want)
				}
			}
		})
	}
}

func TestMalformedAnswer(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.45")
			return
		}
		io.WriteString(w, `{"ServerVersion": 26`)
	}))
	_, err := c.Info(t.Context())
	if err == nil || !strings.Contains(err.Error(), "GET /v1.45/info on "+c.Socket()+": decoding the answer") {
		t.Errorf("Info on a truncated answer = %v; want a decoding error naming the endpoint", err)
	}
}

// checkTimeout checks that err is a *TimeoutError for endpoint that came
// after about after (not much sooner, and not much later than slack).
func checkTimeout(t *testing.T, err error, socket, endpoint string, after, took time.Duration) {
	t.Helper()
	var te *TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v; want *TimeoutError", err)
	}
	if te.Endpoint != endpoint || te.Socket != socket {
		t.Errorf("timeout on %q at %s; want %q at %s", te.Endpoint, te.Socket, endpoint, socket)
	}
	// After counts from the call's start, which a loaded machine (and the
	// race detector) can delay after the context's deadline was set: a
	// quarter of slack below, two seconds above.
	if te.After < after-after/4 || te.After > after+2*time.Second {
		t.Errorf("After = %v; want about %v", te.After, after)
	}
	if took > after+2*time.Second {
		t.Errorf("call took %v; the deadline was %v", took, after)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !te.Timeout() {
		t.Errorf("timeout error %v is not context.DeadlineExceeded", err)
	}
	if want := fmt.Sprintf("%s on %s: no answer after %v", endpoint, socket, te.After); err.Error() != want {
		t.Errorf("message = %q; want %q", err, want)
	}
}

func TestTimeoutSilentSocket(t *testing.T) {
	sock := silent(t)
	c := New(sock)
	defer c.Close()
	const deadline = 200 * time.Millisecond

	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx)
	checkTimeout(t, err, sock, "GET /_ping", deadline-5*time.Millisecond, time.Since(start))

	// Info learns the version first: the ping is what times out.
	ctx, cancel = context.WithTimeout(t.Context(), deadline)
	defer cancel()
	start = time.Now()
	_, err = c.Info(ctx)
	checkTimeout(t, err, sock, "GET /_ping", deadline-5*time.Millisecond, time.Since(start))
}

func TestTimeoutDefault(t *testing.T) {
	sock := silent(t)
	c := New(sock)
	defer c.Close()
	c.timeout = 150 * time.Millisecond // DefaultTimeout, shortened

	start := time.Now()
	err := c.Ping(context.Background()) // no deadline
	checkTimeout(t, err, sock, "GET /_ping", c.timeout, time.Since(start))
}

func TestTimeoutNamesEndpoint(t *testing.T) {
	tests := []struct {
		name  string
		stall func(w http.ResponseWriter, r *http.Request)
	}{
		{"no headers", func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}},
		{"headers, then part of the body", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ID": "x", `)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/_ping" {
					w.Header().Set("Api-Version", "1.45")
					return
				}
				tt.stall(w, r)
			}))
			const deadline = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			_, err := c.Info(ctx)
			checkTimeout(t, err, c.Socket(), "GET /v1.45/info", deadline-5*time.Millisecond, time.Since(start))
		})
	}
}

func TestCanceled(t *testing.T) {
	sock := silent(t)
	c := New(sock)
	defer c.Close()
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, cancel)
	err := c.Ping(ctx)
	var te *TimeoutError
	if !errors.Is(err, context.Canceled) || errors.As(err, &te) {
		t.Errorf("Ping canceled = %v; want context.Canceled, not a timeout", err)
	}
	if !strings.HasPrefix(err.Error(), "GET /_ping on "+sock+": ") {
		t.Errorf("message = %q; want it to name the endpoint and socket", err)
	}
}

func TestNewDefaults(t *testing.T) {
	c := New("")
	if c.Socket() != DefaultSocket || c.timeout != DefaultTimeout {
		t.Errorf("New(\"\") = socket %q, timeout %v", c.Socket(), c.timeout)
	}
}

// TestPauseUnpause: the two POSTs go to the versioned container paths with
// an empty body, a 204 is success, and the daemon's error comes back.
func TestPauseUnpause(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			io.WriteString(w, "OK")
			return
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, len(body)))
		mu.Unlock()
		if strings.Contains(r.URL.Path, "/gone/") {
			writeError(w, http.StatusNotFound, "No such container: gone")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	if err := c.Pause(t.Context(), "web"); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if err := c.Unpause(t.Context(), "web"); err != nil {
		t.Fatalf("Unpause: %v", err)
	}
	err := c.Pause(t.Context(), "gone")
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != 404 || !strings.Contains(err.Error(), "No such container") || se.Endpoint != "POST /v1.41/containers/gone/pause" {
		t.Errorf("Pause(gone) = %v; want the daemon's 404", err)
	}
	if err := c.Unpause(t.Context(), ""); err == nil {
		t.Error("Unpause(\"\") succeeded")
	}
	want := []string{"POST /v1.41/containers/web/pause 0", "POST /v1.41/containers/web/unpause 0", "POST /v1.41/containers/gone/pause 0"}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("requests %q, want %q", seen, want)
	}
}

// TestVersion reads GET /version as Docker 26.1 answered it (captured from
// trixie's dockerd in the rig): the engine and containerd's versions.
func TestVersion(t *testing.T) {
	d := &fakeDaemon{apiVersion: "1.45", minVersion: "1.24", routes: map[string]string{"/version": "version-26.1.json"}}
	c := serve(t, d)
	v, err := c.Version(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v.Version != "26.1.5+dfsg1" || v.Component("containerd") != "1.7.24~ds1" || v.Component("runc") != "1.1.15+ds1" || v.Component("nope") != "" {
		t.Errorf("got %+v", v)
	}
	if got := d.seen[len(d.seen)-1]; got != "/v1.45/version" {
		t.Errorf("path %s", got)
	}
}
