//go:build !race

package peer

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/wire"
)

// vodStarts are the six viewers' start positions in the 40 s title, and
// vodSeeker the viewer that seeks back to vodSeekTo after vodSeekAfter.
var vodStarts = []time.Duration{0, 0, 6 * time.Second, 12 * time.Second, 4 * time.Second, 20 * time.Second}

const (
	vodSeeker    = 3
	vodSeekTo    = 2 * time.Second
	vodSeekAfter = 8 * time.Second
	vodRunFor    = 18 * time.Second
)

// TestVODSwarm: six Go peers over real WebRTC on loopback watch a --vod-dir
// title from different positions (one seeks back), beside six CDN-only peers
// that do the same: every segment each delivered is the origin's, the
// hybrid edge served fewer bytes than the CDN-only one, P2P moved bytes, no
// viewer stalled in either run, and the seek resumed playback.
func TestVODSwarm(t *testing.T) {
	dir := makeTitle(t, 40)
	ws := []*world{newVODWorld(t, dir), newVODWorld(t, dir)} // CDN-only, hybrid
	type viewer struct {
		tp   *testPeer
		hook *segmentHook
	}
	runs := make([][]viewer, 2)
	start := time.Now()
	for i, pos := range vodStarts {
		for j, w := range ws {
			cfg := w.vodPeerConfig(i)
			if j == 0 {
				cfg.Tracker = ""
			}
			cfg.VOD.Start = pos
			cfg.VOD.BufferGoal = 10 * time.Second
			h := &segmentHook{sums: make(map[wire.SegmentID][sha256.Size]byte)}
			cfg.OnSegment = h.on
			runs[j] = append(runs[j], viewer{w.startPeer(cfg), h})
		}
		time.Sleep(time.Second)
	}
	time.Sleep(time.Until(start.Add(vodSeekAfter)))
	for j := range ws {
		if !runs[j][vodSeeker].tp.p.Seek(context.Background(), vodSeekTo) {
			t.Fatal("seek not taken")
		}
	}
	time.Sleep(time.Until(start.Add(vodRunFor)))
	for j := range ws {
		for _, v := range runs[j] {
			v.tp.cancel()
		}
	}
	names := []string{"cdn-only", "hybrid"}
	var edgeBytes [2]int64
	for j, w := range ws {
		var p2p int64
		for i, v := range runs[j] {
			v.tp.stop()
			st := v.tp.p.Stats()
			p2p += st.BytesP2P
			ps := st.Player
			t.Logf("%s viewer %d (from %v): cdn media %d p2p %d up %d | startup %v stalls %d played %d seeks %d seek time %v",
				names[j], i, vodStarts[i], st.BytesCDNMedia, st.BytesP2P, st.BytesUp, ps.Startup, ps.Stalls, ps.Played, ps.Seeks, ps.SeekTime)
			if !ps.Started || ps.Played < 5 {
				t.Errorf("%s viewer %d: started %v, played %d segments", names[j], i, ps.Started, ps.Played)
			}
			if ps.Stalls != 0 {
				t.Errorf("%s viewer %d: %d stalls", names[j], i, ps.Stalls)
			}
			if st.BadPieces != 0 {
				t.Errorf("%s viewer %d: %d bad pieces", names[j], i, st.BadPieces)
			}
			if i == vodSeeker && (ps.Seeks != 1 || ps.SeekTime <= 0 || ps.SeekTime > 2*time.Second) {
				t.Errorf("%s viewer %d: %d seeks, the last took %v", names[j], i, ps.Seeks, ps.SeekTime)
			}
			v.hook.mu.Lock()
			for id, sum := range v.hook.sums {
				b := get(t, w.osrv.URL+"/live/"+vodTitle+"/index/"+id.String()+".ts")
				if sha256.Sum256(b) != sum {
					t.Errorf("%s viewer %d: segment %s differs from the origin's", names[j], i, id)
				}
			}
			if len(v.hook.sums) < ps.Played {
				t.Errorf("%s viewer %d: %d segments delivered, %d played", names[j], i, len(v.hook.sums), ps.Played)
			}
			v.hook.mu.Unlock()
		}
		edgeBytes[j] = w.edge.BytesServed(vodTitle)
		t.Logf("%s: edge served %d bytes, p2p %d", names[j], edgeBytes[j], p2p)
		if j == 1 && p2p == 0 {
			t.Error("hybrid: no byte went peer to peer")
		}
	}
	if edgeBytes[1] >= edgeBytes[0] {
		t.Errorf("hybrid edge bytes %d, not below CDN-only %d", edgeBytes[1], edgeBytes[0])
	}
	t.Logf("edge bytes hybrid / CDN-only: %.1f%%", 100*float64(edgeBytes[1])/float64(edgeBytes[0]))
}
