// Command fakedockerd plays dockerd for tools/crashtest, so that the kills
// land in dlr's reload path too: built as a binary named "dockerd" (dlr
// checks /proc/PID/comm), it serves GET /_ping and /v1.41/info on a unix
// socket, and on SIGHUP re-reads its --config-file the way dockerd's reload
// does: only keys present in the file are applied ("live-restore" absent
// leaves the running value), and a file it cannot read changes nothing.
//
//	dockerd --config-file FILE --socket SOCK --pidfile FILE
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
)

func main() {
	config := flag.String("config-file", "", "daemon.json")
	socket := flag.String("socket", "", "the API socket")
	pidfile := flag.String("pidfile", "", "where to write the PID")
	flag.Parse()
	var mu sync.Mutex
	liveRestore := false
	reload := func() {
		b, err := os.ReadFile(*config)
		if err != nil {
			return
		}
		// Docker 24.0 and later read a UTF-8 byte order mark; the fake
		// plays them in this (20.10 refuses the file).
		b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			return // dockerd keeps its configuration
		}
		if v, ok := m["live-restore"].(bool); ok {
			mu.Lock()
			liveRestore = v
			mu.Unlock()
		}
	}
	reload()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			reload()
		}
	}()
	os.Remove(*socket)
	l, err := net.Listen("unix", *socket)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakedockerd:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*pidfile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "fakedockerd:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/v1.41/info", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		lr := liveRestore
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"LiveRestoreEnabled": lr, "ServerVersion": "20.10.24",
			"ContainersRunning": 1, "Swarm": map[string]any{"LocalNodeState": "inactive"}})
	})
	http.Serve(l, mux)
}
