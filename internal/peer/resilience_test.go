//go:build !race

package peer

import (
	"context"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// TestMaliciousPeer: one peer flips a byte of every piece it uploads. Every
// honest peer detects each bad piece it receives (none is stored: every
// segment its proxy serves equals the origin's), drops and reports the liar,
// which the tracker bans (reports from two addresses); no honest peer is
// banned and none stalls.
func TestMaliciousPeer(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	r := runSwarm(t, w, 6, 25*time.Second, func(i int, c *Config) {
		if i == 0 {
			c.tamper = func(_ wire.SegmentID, _ int, b []byte) []byte {
				b[len(b)/2] ^= 0x5a
				return b
			}
		}
	})
	logRun(t, "malicious", r)
	liar := r.stats[0]
	if liar.BytesUp == 0 {
		t.Fatal("the liar uploaded nothing: the test proves nothing")
	}
	var detected int64
	for i, st := range r.stats[1:] {
		detected += st.BadPieces
		if st.Player.Stalls != 0 {
			t.Errorf("honest peer %d: %d stalls", i+1, st.Player.Stalls)
		}
		if st.PeerID == "" {
			t.Errorf("honest peer %d lost its tracker session (banned?)", i+1)
		}
	}
	if detected == 0 {
		t.Error("no bad piece detected")
	}
	if liar.PeerID != "" {
		t.Errorf("the liar still has a tracker session (%s): not banned", liar.PeerID)
	}
	if r.checked == 0 {
		t.Error("no proxy segment checked")
	}
	st, err := w.tracker().Streams(context.Background(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tracker: %+v", st)
}

// TestTrackerOutage: the tracker dies mid-stream: playback goes on (links
// that exist keep working, the rest comes from the edge) without a stall; when
// it is back, peers rejoin and P2P resumes. Then every peer but one leaves:
// the lone peer plays from the edge alone, still without a stall.
func TestTrackerOutage(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	var peers []*testPeer
	t0 := waitPublication(t, w)
	for i := range 4 {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		peers = append(peers, w.startPeer(w.peerConfig(i)))
	}
	time.Sleep(10 * time.Second)
	p2pBefore := sumP2P(peers)
	if p2pBefore == 0 {
		t.Fatal("no P2P before the outage")
	}
	ids := peers[1].p.Stats().PeerID

	w.stopTracker()
	time.Sleep(6 * time.Second)
	for i, tp := range peers {
		if st := tp.p.Stats(); st.Player.Stalls != 0 {
			t.Errorf("peer %d stalled during the tracker outage", i)
		}
	}
	w.startTracker()
	time.Sleep(12 * time.Second)
	p2pAfter := sumP2P(peers)
	for i, tp := range peers {
		st := tp.p.Stats()
		t.Logf("peer %d after the outage: id %s neighbours %d p2p %d stalls %d", i, st.PeerID, st.Neighbours, st.BytesP2P, st.Player.Stalls)
		if st.PeerID == "" || st.Neighbours == 0 {
			t.Errorf("peer %d did not rejoin the swarm (id %q, %d neighbours)", i, st.PeerID, st.Neighbours)
		}
	}
	if peers[1].p.Stats().PeerID == ids {
		t.Error("peer 1 kept its old id: it never reconnected")
	}
	mark := sumP2P(peers)
	time.Sleep(4 * time.Second)
	if sumP2P(peers) <= mark {
		t.Errorf("P2P did not resume after the tracker came back (%d → %d → %d)", p2pBefore, p2pAfter, sumP2P(peers))
	}

	// All peers but one leave.
	for _, tp := range peers[1:] {
		tp.stop()
	}
	lone := peers[0]
	before := lone.p.Stats()
	time.Sleep(10 * time.Second)
	after := lone.p.Stats()
	t.Logf("lone peer: cdn media %d → %d, p2p %d → %d, played %d → %d, stalls %d", before.BytesCDNMedia, after.BytesCDNMedia,
		before.BytesP2P, after.BytesP2P, before.Player.Played, after.Player.Played, after.Player.Stalls)
	if after.Player.Stalls != 0 {
		t.Errorf("lone peer: %d stalls", after.Player.Stalls)
	}
	if after.Player.Played < before.Player.Played+4 || after.BytesCDNMedia <= before.BytesCDNMedia {
		t.Error("lone peer did not keep playing from the edge")
	}
	checkProxy(t, w, lone, nil)
}

func sumP2P(peers []*testPeer) int64 {
	var n int64
	for _, tp := range peers {
		n += tp.p.Stats().BytesP2P
	}
	return n
}

// TestUploadCap: one peer uploads with an 800 kbit/s cap to three peers that
// upload nothing and want ~1.6 Mbit/s each: it is saturated, and what it sends
// stays within 10% of the cap.
func TestUploadCap(t *testing.T) {
	const capBits = 800_000
	w := newWorld(t, tracker.Config{})
	var peers []*testPeer
	t0 := waitPublication(t, w)
	for i := range 4 {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		cfg := w.peerConfig(i)
		if i == 0 {
			cfg.MaxUpload = capBits
		} else {
			cfg.MaxUpload = -1
		}
		peers = append(peers, w.startPeer(cfg))
	}
	time.Sleep(8 * time.Second) // links up, seeder holding segments
	up0, at0 := peers[0].p.Stats().BytesUp, time.Now()
	time.Sleep(20 * time.Second)
	up1, at1 := peers[0].p.Stats().BytesUp, time.Now()
	rate := float64(up1-up0) * 8 / at1.Sub(at0).Seconds()
	t.Logf("capped peer uploaded %.0f bit/s (cap %d)", rate, capBits)
	if rate > 1.10*capBits {
		t.Errorf("upload %.0f bit/s exceeds the %d bit/s cap by more than 10%%", rate, capBits)
	}
	if rate < 0.5*capBits {
		t.Errorf("upload %.0f bit/s: the capped peer was not loaded, the test proves nothing", rate)
	}
	for i, tp := range peers {
		st := tp.p.Stats()
		if st.Player.Stalls != 0 {
			t.Errorf("peer %d: %d stalls", i, st.Player.Stalls)
		}
		if i > 0 && st.BytesUp != 0 {
			t.Errorf("peer %d uploads nothing by config but sent %d bytes", i, st.BytesUp)
		}
	}
}
