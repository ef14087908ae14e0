//go:build !race

package peer

import (
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/tracker"
)

// TestSwarmOffload is the acceptance run: 10 peers over real WebRTC on
// loopback play the demo stream in real time for 60 s, beside 10 CDN-only
// peers (P2P disabled by tracker policy) joining at the same moments. Every
// segment the proxies serve equals the origin's; stalls and latency of the
// player model are the same in both runs; offload measured from the edge's own
// counter is at least 70%; the peers' figures agree with the edge's counter.
func TestSwarmOffload(t *testing.T) {
	if testing.Short() {
		t.Skip("70 s end-to-end run")
	}
	hybrid := newWorld(t, tracker.Config{})
	cdnOnly := newWorld(t, tracker.Config{DefaultPolicy: &signalling.Policy{P2PEnabled: false}})
	runs := runSwarms(t, []*world{hybrid, cdnOnly}, 10, 60*time.Second, nil)
	h, c := runs[0], runs[1]
	logRun(t, "hybrid", h)
	logRun(t, "cdn-only", c)

	if h.checked == 0 || c.checked == 0 {
		t.Fatalf("proxy segments checked: hybrid %d, cdn-only %d", h.checked, c.checked)
	}
	if off := h.offload(); off < 0.70 {
		t.Errorf("offload from the edge's counter %.1f%%, want ≥ 70%%", 100*off)
	}
	if off := c.offload(); off > 0 {
		t.Errorf("CDN-only run has offload %.1f%%", 100*off)
	}
	checkAgreement(t, h)
	checkAgreement(t, c)
	for i := range h.stats {
		hs, cs := h.stats[i], c.stats[i]
		if hs.BadPieces != 0 || hs.BytesP2P == 0 && i > 0 {
			t.Errorf("hybrid peer %d: %d bad pieces, %d P2P bytes", i, hs.BadPieces, hs.BytesP2P)
		}
		if cs.BytesP2P != 0 {
			t.Errorf("CDN-only peer %d received %d bytes from peers", i, cs.BytesP2P)
		}
		if !hs.Player.Started || !cs.Player.Started || hs.Player.Played < 25 {
			t.Errorf("peer %d: started hybrid %v cdn %v, played %d", i, hs.Player.Started, cs.Player.Started, hs.Player.Played)
		}
		if hs.Player.Stalls != cs.Player.Stalls || hs.Player.Stalls != 0 {
			t.Errorf("peer %d: stalls hybrid %d, CDN-only %d; want 0 and 0", i, hs.Player.Stalls, cs.Player.Stalls)
		}
		if hs.Player.StartSeq != cs.Player.StartSeq {
			t.Errorf("peer %d: started at seq %d hybrid, %d CDN-only", i, hs.Player.StartSeq, cs.Player.StartSeq)
		}
		if d := meanLatency(hs) - meanLatency(cs); d > 250*time.Millisecond || d < -250*time.Millisecond {
			t.Errorf("peer %d: mean latency hybrid %v, CDN-only %v", i, meanLatency(hs), meanLatency(cs))
		}
	}
}
