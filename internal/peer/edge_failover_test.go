//go:build !race

package peer

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestEdgeFailover: 6 Go peers get two edges of one origin; the first edge dies
// mid-stream. Every peer moves to the second at its next request and plays on with
// 0 stalls, segments equal to the origin's; the edges' own counters show the move.
func TestEdgeFailover(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	e2, err := edge.New(edge.Config{Origin: w.osrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(e2.Handler())
	t.Cleanup(func() { srv2.Close(); e2.Close() })

	const n = 6
	var peers []*testPeer
	t0 := waitPublication(t, w)
	for i := range n {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		cfg := w.peerConfig(i)
		cfg.Edges = []string{srv2.URL}
		peers = append(peers, w.startPeer(cfg))
	}
	seen := make([]map[string]bool, n)
	for i := range seen {
		seen[i] = map[string]bool{}
	}
	checked := 0
	play := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			time.Sleep(min(3*time.Second, time.Until(end)))
			for i, tp := range peers {
				checked += checkProxy(t, w, tp, seen[i])
			}
		}
	}
	play(10 * time.Second)
	firstBefore, secondBefore := w.edge.BytesServed("demo"), e2.BytesServed("demo")
	if firstBefore == 0 {
		t.Fatal("the first edge served nothing before the kill")
	}
	w.esrv.CloseClientConnections()
	w.esrv.Close() // the first edge is gone: connections refused from now on
	killed := time.Now()
	for e2.BytesServed("demo") == secondBefore {
		if time.Since(killed) > 3*2*time.Second {
			t.Fatal("no request reached the second edge within 3 segment durations of the kill")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("first request on the second edge %v after the kill", time.Since(killed))
	play(14 * time.Second)
	firstAfter, secondAfter := w.edge.BytesServed("demo"), e2.BytesServed("demo")
	t.Logf("edge 1 served %d bytes before the kill, %d after; edge 2 %d before, %d after", firstBefore, firstAfter-firstBefore, secondBefore, secondAfter-secondBefore)
	if secondAfter-secondBefore == 0 || firstAfter != firstBefore {
		t.Errorf("edge counters: first %d → %d, second %d → %d", firstBefore, firstAfter, secondBefore, secondAfter)
	}
	for _, tp := range peers {
		tp.cancel()
	}
	for i, tp := range peers {
		tp.stop()
		st := tp.p.Stats()
		if !st.Player.Started || st.Player.Stalls != 0 || st.BadPieces != 0 || st.Player.Played < 10 {
			t.Errorf("peer %d: started %v, %d stalls, %d bad pieces, played %d", i, st.Player.Started, st.Player.Stalls, st.BadPieces, st.Player.Played)
		}
	}
	if checked == 0 {
		t.Error("no proxy segment checked")
	}
	t.Logf("%d proxy segments checked against the origin", checked)
}

// TestWelcomeEdgeFailover: peers configured with one edge learn a second from the
// tracker's welcome (WelcomeEdges) and move to it when the first dies, with 0 stalls.
func TestWelcomeEdgeFailover(t *testing.T) {
	var e2h atomic.Pointer[http.Handler] // the second edge, made once the origin is up
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := e2h.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.Error(w, "not ready", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv2.Close)
	w := newWorld(t, tracker.Config{WelcomeEdges: []string{srv2.URL}})
	e2, err := edge.New(edge.Config{Origin: w.osrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e2.Close() })
	h := e2.Handler()
	e2h.Store(&h)

	const n = 3
	var peers []*testPeer
	t0 := waitPublication(t, w)
	for i := range n {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		peers = append(peers, w.startPeer(w.peerConfig(i))) // no Edges: only the welcome's
	}
	time.Sleep(6 * time.Second)
	w.esrv.CloseClientConnections()
	w.esrv.Close()
	before := e2.BytesServed("demo")
	time.Sleep(10 * time.Second)
	if e2.BytesServed("demo") == before {
		t.Fatal("the welcome's edge served nothing after the first edge died")
	}
	for _, tp := range peers {
		tp.cancel()
	}
	for i, tp := range peers {
		tp.stop()
		st := tp.p.Stats()
		if !st.Player.Started || st.Player.Stalls != 0 || st.BadPieces != 0 || st.Player.Played < 5 {
			t.Errorf("peer %d: started %v, %d stalls, %d bad pieces, played %d", i, st.Player.Started, st.Player.Stalls, st.BadPieces, st.Player.Played)
		}
	}
}
