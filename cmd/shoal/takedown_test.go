package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestTakedownReachesEdges: a takedown through the tracker's admin API, with two
// edges in --takedown-edges, makes both answer 410 for the stream at once (no
// playlist expiry), and lifting it lets them serve it again.
func TestTakedownReachesEdges(t *testing.T) {
	const tok = "admin-tok"
	seg := "/live/demo/index/0-1.ts"
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != seg {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/mp2t")
		w.Write(make([]byte, 188))
	}))
	t.Cleanup(origin.Close)
	var urls []string
	for range 2 {
		e, err := edge.New(edge.Config{Origin: origin.URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		mux := http.NewServeMux()
		mux.Handle("/takedown/", e.TakedownHandler(tok))
		mux.Handle("/", e.Handler())
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	tr, err := tracker.New(tracker.Config{AdminToken: tok,
		OnTakedown: allTakedowns([]func(ctx context.Context, s string, down bool) error{edgeTakedown(urls[0], tok), edgeTakedown(urls[1], tok)})})
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(tr.Handler())
	t.Cleanup(api.Close)
	admin := func(method, path, body string) int {
		req, _ := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status := func(base string) int {
		resp, err := http.Get(base + seg)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, u := range urls {
		if got := status(u); got != 200 {
			t.Fatalf("edge %s before: %d", u, got)
		}
	}
	if got := admin("PUT", "/api/streams/demo/policy?create=1", `{"p2p_enabled":true}`); got != 200 {
		t.Fatalf("policy: %d", got)
	}
	if got := admin("POST", "/api/streams/demo/takedown", ""); got != 200 {
		t.Fatalf("takedown: %d", got)
	}
	for _, u := range urls {
		if got := status(u); got != http.StatusGone {
			t.Fatalf("edge %s right after the takedown: %d, want 410", u, got)
		}
	}
	if got := admin("DELETE", "/api/streams/demo/takedown", ""); got != 200 {
		t.Fatalf("lift: %d", got)
	}
	for _, u := range urls {
		if got := status(u); got != 200 {
			t.Fatalf("edge %s after the lift: %d", u, got)
		}
	}
}
