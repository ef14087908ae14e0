//go:build race

package peer

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// Small variants of the WebRTC swarm tests that are too heavy for the race detector
// (resilience_test.go, edge_failover_test.go: //go:build !race), so that the code paths
// they drive (a liar's pieces, a tracker that dies and returns, an edge that dies) also
// run under -race. They assert what the race detector's slowness leaves deterministic:
// integrity, sessions, failover; the stall counts stay with the full tests.

// TestMaliciousPeerSmall: one of four peers flips a byte of every piece it uploads;
// honest peers catch its pieces and no bad byte reaches a proxy (runSwarm compares
// every proxy segment with the origin's).
func TestMaliciousPeerSmall(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	r := runSwarm(t, w, 4, 5*time.Second, func(i int, c *Config) {
		if i == 0 {
			c.tamper = func(_ wire.SegmentID, _ int, b []byte) []byte {
				b[len(b)/2] ^= 0x5a
				return b
			}
		}
	})
	if r.checked == 0 {
		t.Fatal("no proxy segment checked")
	}
	var detected int64
	for _, st := range r.stats[1:] {
		detected += st.BadPieces
	}
	t.Logf("the liar uploaded %d bytes; honest peers caught %d bad pieces; %d proxy segments equal the origin's", r.stats[0].BytesUp, detected, r.checked)
	if r.stats[0].BytesUp > 0 && detected == 0 {
		t.Error("the liar uploaded, but no bad piece was detected")
	}
}

// TestTrackerOutageSmall: the tracker dies under two peers and comes back: both
// rejoin with new sessions and neighbours, and keep playing.
func TestTrackerOutageSmall(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	a, b := w.startPeer(w.peerConfig(0)), w.startPeer(w.peerConfig(1))
	waitFor(t, 20*time.Second, "both peers in the swarm", func() bool {
		return a.p.Stats().Neighbours > 0 && b.p.Stats().Neighbours > 0
	})
	old := a.p.Stats().PeerID
	w.stopTracker()
	time.Sleep(2 * time.Second)
	w.startTracker()
	waitFor(t, 20*time.Second, "both peers back with new sessions", func() bool {
		sa, sb := a.p.Stats(), b.p.Stats()
		return sa.PeerID != "" && sa.PeerID != old && sb.PeerID != "" && sa.Neighbours > 0 && sb.Neighbours > 0
	})
	played := a.p.Stats().Player.Played
	waitFor(t, 10*time.Second, "playback after the outage", func() bool { return a.p.Stats().Player.Played > played })
	checkProxy(t, w, a, nil)
}

// TestEdgeFailoverSmall: the first of two edges dies under two peers; their requests
// move to the second and every proxy segment still equals the origin's.
func TestEdgeFailoverSmall(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	e2, err := edge.New(edge.Config{Origin: w.osrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewServer(e2.Handler())
	t.Cleanup(func() { srv2.Close(); e2.Close() })
	var peers []*testPeer
	for i := range 2 {
		cfg := w.peerConfig(i)
		cfg.Edges = []string{srv2.URL}
		peers = append(peers, w.startPeer(cfg))
	}
	waitFor(t, 20*time.Second, "playback", func() bool {
		return peers[0].p.Stats().Player.Played > 0 && peers[1].p.Stats().Player.Played > 0
	})
	before := e2.BytesServed("demo")
	w.esrv.CloseClientConnections()
	w.esrv.Close()
	waitFor(t, 12*time.Second, "a request on the second edge", func() bool { return e2.BytesServed("demo") > before })
	played := peers[0].p.Stats().Player.Played
	waitFor(t, 12*time.Second, "playback after the failover", func() bool { return peers[0].p.Stats().Player.Played > played })
	for i, tp := range peers {
		if n := checkProxy(t, w, tp, nil); n == 0 {
			t.Errorf("peer %d: no proxy segment checked", i)
		}
		if st := tp.p.Stats(); st.BadPieces != 0 {
			t.Errorf("peer %d: %d bad pieces with no liar", i, st.BadPieces)
		}
	}
}

// waitFor polls cond every 50 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
	}
}
