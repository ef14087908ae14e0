package peer

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/wire"
)

// getIfFound is get, except that a 404 answers ok false.
func getIfFound(t *testing.T, url string) ([]byte, bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, false
	case err != nil || resp.StatusCode != http.StatusOK:
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return b, true
}

// swarmRun is what one run of a swarm measured.
type swarmRun struct {
	peers     []*testPeer
	stats     []Stats
	edgeBytes int64               // the edge's own counter for the stream
	played    int64               // unique segment bytes the peers received (CDN media + P2P)
	checked   int                 // proxy segments compared byte for byte
	reported  tracker.StreamStats // the swarm's totals as the peers reported them to the tracker
}

// offload is 1 − (what the edge served) / (what the peers played): every edge
// byte (playlists, records, key included) counts against it.
func (r swarmRun) offload() float64 {
	if r.played == 0 {
		return 0
	}
	return 1 - float64(r.edgeBytes)/float64(r.played)
}

// runSwarm starts n peers (one every stagger), lets them play for d while
// checking every proxy's segments against the origin, then stops them all and
// collects their figures.
func runSwarm(t *testing.T, w *world, n int, d time.Duration, mod func(i int, c *Config)) swarmRun {
	t.Helper()
	return runSwarms(t, []*world{w}, n, d, mod)[0]
}

// joinOffset is when peer i joins after a publication: three peers per
// segment, 0.6–1.2 s after it, well clear of the moment a new segment appears
// (where the start position the player picks would be a coin toss) and of the
// edge's playlist cache lifetime.
func joinOffset(i int) time.Duration {
	return time.Duration(i/3)*2*time.Second + 600*time.Millisecond + time.Duration(i%3)*300*time.Millisecond
}

// waitPublication returns the moment the origin publishes its next segment.
func waitPublication(t *testing.T, w *world) time.Time {
	t.Helper()
	first := string(get(t, w.osrv.URL+"/live/demo/index.m3u8"))
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		if string(get(t, w.osrv.URL+"/live/demo/index.m3u8")) != first {
			return time.Now()
		}
	}
	t.Fatal("the origin published nothing for 5 s")
	return time.Time{}
}

// runSwarms runs one swarm per world side by side, peer i of every world
// joining at the same moment, so that their player models see the stream at
// the same phase and their stalls and latencies compare.
func runSwarms(t *testing.T, ws []*world, n int, d time.Duration, mod func(i int, c *Config)) []swarmRun {
	t.Helper()
	runs := make([]swarmRun, len(ws))
	t0 := waitPublication(t, ws[0])
	for i := range n {
		time.Sleep(time.Until(t0.Add(joinOffset(i))))
		for j, w := range ws {
			cfg := w.peerConfig(i)
			if mod != nil {
				mod(i, &cfg)
			}
			runs[j].peers = append(runs[j].peers, w.startPeer(cfg))
		}
	}
	seen := make([][]map[string]bool, len(ws))
	for j := range ws {
		for range n {
			seen[j] = append(seen[j], map[string]bool{})
		}
	}
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		time.Sleep(min(5*time.Second, time.Until(end)))
		for j, w := range ws {
			for i, tp := range runs[j].peers {
				runs[j].checked += checkProxy(t, w, tp, seen[j][i])
			}
		}
	}
	for j := range ws { // all at once: no survivor plays alone meanwhile
		for _, tp := range runs[j].peers {
			tp.cancel()
		}
	}
	for j := range ws {
		for _, tp := range runs[j].peers {
			tp.stop()
		}
	}
	for j, w := range ws {
		r := &runs[j]
		for _, tp := range r.peers {
			st := tp.p.Stats()
			r.stats = append(r.stats, st)
			r.played += st.BytesCDNMedia + st.BytesP2P
		}
		r.edgeBytes = w.edge.BytesServed("demo")
		if tr := w.tracker(); tr != nil {
			// The final stats travel just before each peer leaves; give the
			// tracker a moment to have read them.
			time.Sleep(200 * time.Millisecond)
			if ss, err := tr.Streams(context.Background(), "demo"); err == nil && len(ss) == 1 {
				r.reported = ss[0]
			}
		}
	}
	return runs
}

func logRun(t *testing.T, name string, r swarmRun) {
	t.Helper()
	for i, st := range r.stats {
		t.Logf("%s peer %d: cdn %d (media %d) p2p %d up %d dup %d bad %d nb %d edge pieces %v | started %v startup %v stalls %d played %d latency %v",
			name, i, st.BytesCDN, st.BytesCDNMedia, st.BytesP2P, st.BytesUp, st.BytesDup, st.BadPieces, st.Neighbours, st.EdgePieces,
			st.Player.Started, st.Player.Startup, st.Player.Stalls, st.Player.Played, meanLatency(st))
	}
	t.Logf("%s: edge served %d bytes, peers played %d: offload %.1f%%; %d proxy segments checked", name, r.edgeBytes, r.played, 100*r.offload(), r.checked)
}

func meanLatency(st Stats) time.Duration {
	if len(st.Latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, l := range st.Latencies {
		sum += l
	}
	return sum / time.Duration(len(st.Latencies))
}

// checkAgreement: the peers' own CDN counters, and the totals they reported
// to the tracker, add up to the edge's counter (within 2%).
func checkAgreement(t *testing.T, r swarmRun) {
	t.Helper()
	var sum, p2p int64
	for _, st := range r.stats {
		sum += st.BytesCDN
		p2p += st.BytesP2P
	}
	near := func(a, b int64) bool { return a-b <= b/50 && b-a <= b/50 }
	if !near(sum, r.edgeBytes) {
		t.Errorf("peers count %d CDN bytes, the edge served %d (more than 2%% apart)", sum, r.edgeBytes)
	}
	if rep := int64(r.reported.BytesCDN); !near(rep, r.edgeBytes) {
		t.Errorf("peers reported %d CDN bytes to the tracker, the edge served %d (more than 2%% apart)", rep, r.edgeBytes)
	}
	if rep := int64(r.reported.BytesP2P); !near(rep, p2p) {
		t.Errorf("peers reported %d P2P bytes to the tracker, counted %d", rep, p2p)
	}
	t.Logf("edge served %d; peers counted %d CDN / %d P2P; reported to the tracker %d CDN / %d P2P (offload %.1f%%)",
		r.edgeBytes, sum, p2p, r.reported.BytesCDN, r.reported.BytesP2P, 100*r.reported.Offload)
}

// segmentHook records what Config.OnSegment reports for one peer.
type segmentHook struct {
	mu    sync.Mutex
	sums  map[wire.SegmentID][sha256.Size]byte
	calls int
}

func (h *segmentHook) on(id wire.SegmentID, data []byte) {
	sum := sha256.Sum256(data)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	h.sums[id] = sum
}

// TestSwarmSmall: 3 peers over real WebRTC on loopback (also under -race).
func TestSwarmSmall(t *testing.T) {
	w := newWorld(t, tracker.Config{})
	hooks := make([]*segmentHook, 3)
	r := runSwarm(t, w, 3, 20*time.Second, func(i int, c *Config) {
		hooks[i] = &segmentHook{sums: make(map[wire.SegmentID][sha256.Size]byte)}
		c.OnSegment = hooks[i].on
	})
	logRun(t, "small", r)
	// OnSegment: once per complete segment, with the origin's bytes.
	compared := 0
	for i, h := range hooks {
		h.mu.Lock()
		if h.calls != len(h.sums) {
			t.Errorf("peer %d: OnSegment called %d times for %d segments", i, h.calls, len(h.sums))
		}
		if played := r.stats[i].Player.Played; len(h.sums) < played {
			t.Errorf("peer %d: OnSegment reported %d segments, the player played %d", i, len(h.sums), played)
		}
		for id, sum := range h.sums {
			b, ok := getIfFound(t, w.osrv.URL+"/live/demo/index/"+id.String()+".ts")
			if !ok {
				continue // left the origin's window
			}
			compared++
			if sha256.Sum256(b) != sum {
				t.Errorf("peer %d: OnSegment gave segment %s bytes that differ from the origin's", i, id)
			}
		}
		h.mu.Unlock()
	}
	if compared == 0 {
		t.Error("no OnSegment segment compared with the origin")
	}
	var p2p int64
	for i, st := range r.stats {
		if !st.Player.Started || st.Player.Played < 5 {
			t.Errorf("peer %d: player started %v, played %d segments", i, st.Player.Started, st.Player.Played)
		}
		if st.Player.Stalls != 0 {
			t.Errorf("peer %d: %d stalls", i, st.Player.Stalls)
		}
		if st.BadPieces != 0 {
			t.Errorf("peer %d: %d bad pieces", i, st.BadPieces)
		}
		p2p += st.BytesP2P
	}
	if p2p == 0 {
		t.Error("no byte went peer to peer")
	}
	if r.checked == 0 {
		t.Error("no proxy segment checked")
	}
	checkAgreement(t, r)
}
