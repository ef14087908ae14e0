package tracker

import (
	"errors"
	"slices"
	"testing"
)

// TestWelcomeFailoverLists: the configured tracker nodes and edges reach every
// viewer in its welcome; lists a welcome could not carry are refused at New.
func TestWelcomeFailoverLists(t *testing.T) {
	trackers := []string{"ws://127.0.0.1:8084/tracker", "wss://trk-c.example.net/tracker"}
	edges := []string{"http://127.0.0.1:8090", "https://edge2.example.net"}
	h := newHarness(t, Config{WelcomeTrackers: trackers, WelcomeEdges: edges})
	c := h.dial(Join{Stream: "demo", Rendition: "index", UploadCapacity: 1e6}, "10.0.0.1")
	w := c.Welcome()
	if !slices.Equal(w.Trackers, trackers) || !slices.Equal(w.Edges, edges) {
		t.Fatalf("welcome trackers %v edges %v, want %v %v", w.Trackers, w.Edges, trackers, edges)
	}
	if _, err := New(Config{WelcomeEdges: []string{"ftp://x"}}); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("ftp edge: %v", err)
	}
}
