//go:build race

package peer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// soakCacheBytes bounds the test edge's cache: about five demo segments, so that the
// rounds below evict.
const soakCacheBytes = 2 << 20

// TestSoakBaseline is the soak's CI form (scripts/soak.sh runs the long one) and the
// small -race variant of the WebRTC swarm tests (the big ones are !race): three rounds
// of three viewers join the swarm, play 2 segments and leave. Asserted without timing:
// after rounds 2 and 3 the process's goroutines and open file descriptors return to
// the baseline taken after the first (no growth per round), the tracker's swarm is
// empty after each, and the
// edge's cache never held more than its bound. It runs under -race only, so that CI
// runs it once (the !race pass runs the rest of the package again).
func TestSoakBaseline(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	e, err := edge.New(edge.Config{Origin: w.osrv.URL, CacheBytes: soakCacheBytes})
	if err != nil {
		t.Fatal(err)
	}
	esrv := httptest.NewServer(e.Handler())
	t.Cleanup(func() { esrv.Close(); e.Close() })

	settle := func() (goroutines, fds int) {
		// Idle keep-alive connections are not leaks: close them before counting.
		esrv.CloseClientConnections()
		httpClientsIdle()
		return runtime.NumGoroutine(), openFDs(t)
	}
	// The baseline is taken after a first round: it starts what lives as long as the
	// servers (the tracker's nbio engine, the edge's keep-alive connections to the origin).
	baseG, baseF := -1, -1
	const slack = 4 // goroutines of a timer or a connection closing as we count
	maxCache := int64(0)
	for round := range 3 {
		var peers []*testPeer
		for i := range 3 {
			cfg := w.peerConfig(round*3 + i)
			cfg.Edge = esrv.URL
			peers = append(peers, w.startPeer(cfg))
		}
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			maxCache = max(maxCache, e.CacheBytes())
			played := 0
			for _, tp := range peers {
				if tp.p.Stats().Player.Played >= 2 {
					played++
				}
			}
			if played == len(peers) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: %d of %d viewers played 2 segments within 30 s", round, played, len(peers))
			}
		}
		for _, tp := range peers {
			tp.stop()
		}
		var g, f, inSwarm int
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			g, f = settle()
			inSwarm = swarmPeers(t, w)
			if round == 0 && inSwarm == 0 {
				time.Sleep(time.Second) // the viewers' goroutines wind down
				baseG, baseF = settle()
				g, f = baseG, baseF
			}
			if g <= baseG+slack && f <= baseF+slack && inSwarm == 0 {
				break
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("round %d: 10 s after the viewers left: %d goroutines (baseline %d), %d fds (baseline %d), %d in the swarm\n%s",
					round, g, baseG, f, baseF, inSwarm, buf[:runtime.Stack(buf, true)])
			}
		}
		t.Logf("round %d: goroutines %d (baseline %d), fds %d (baseline %d), cache peak %d of %d bytes", round, g, baseG, f, baseF, maxCache, soakCacheBytes)
	}
	if maxCache > soakCacheBytes || maxCache == 0 {
		t.Errorf("edge cache peaked at %d bytes, bound %d", maxCache, soakCacheBytes)
	}
}

// httpClientsIdle closes the default client's idle connections (the test's own GETs).
func httpClientsIdle() {
	if tr, ok := httpDefaultTransport(); ok {
		tr.CloseIdleConnections()
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// swarmPeers is the number of peers in the demo swarm of w's tracker.
func swarmPeers(t *testing.T, w *world) int {
	t.Helper()
	st, err := w.tracker().Streams(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range st {
		n += s.Peers
	}
	return n
}

func httpDefaultTransport() (interface{ CloseIdleConnections() }, bool) {
	tr, ok := http.DefaultTransport.(*http.Transport)
	return tr, ok
}
