package engine

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestEvents(t *testing.T) {
	send := make(chan string)
	gotFilters := make(chan string, 1)
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("Api-Version", "1.41")
			return
		}
		if r.URL.Path != "/v1.41/events" {
			http.NotFound(w, r)
			return
		}
		gotFilters <- r.URL.Query().Get("filters")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for s := range send {
			io.WriteString(w, s)
			w.(http.Flusher).Flush()
		}
	}))
	ctx := context.Background()
	s, err := c.Events(ctx, map[string][]string{"type": {"container"}, "event": {"start"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f := <-gotFilters; f != `{"event":{"start":true},"type":{"container":true}}` {
		t.Errorf("filters %s", f)
	}
	send <- `{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"c1"}},"timeNano":5}` + "\n"
	e, err := s.Next()
	if err != nil || e.Actor.ID != "abc" || e.Verb() != "start" || e.TimeNano != 5 {
		t.Fatalf("Next = %+v, %v", e, err)
	}
	send <- `{"Type":"container","Action":"exec_start: sh -c date","Actor":{"ID":"abc"}}`
	if e, err := s.Next(); err != nil || e.Verb() != "exec_start" {
		t.Fatalf("Next = %+v, %v", e, err)
	}
	close(send) // the daemon goes away
	if _, err := s.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end = %v", err)
	}
}

func TestEventsCancel(t *testing.T) {
	c := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			return
		}
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Events(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := s.Next(); err == nil {
		t.Error("Next returned no error after cancel")
	}
	s.Close()
}

func TestEventsTimeout(t *testing.T) {
	c := New(silent(t))
	c.timeout = 100 * time.Millisecond
	start := time.Now()
	_, err := c.Events(context.Background(), nil)
	var te *TimeoutError
	if !errors.As(err, &te) || time.Since(start) > 2*time.Second {
		t.Errorf("Events on a silent socket = %v after %v", err, time.Since(start))
	}
}
