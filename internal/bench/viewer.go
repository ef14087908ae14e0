package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/peer"
	"github.com/shoal-cdn/shoal/internal/transport"
	"github.com/shoal-cdn/shoal/internal/transport/emulated"
)

// noUploadLink is the uplink of a viewer that uploads no pieces: enough for
// its control frames.
const noUploadLink = 1e6

// viewer is one running peer engine of a run.
type viewer struct {
	spec   viewerSpec
	clk    transport.Clock
	p      *peer.Peer
	http   *clientCounter
	cancel context.CancelFunc
	done   chan struct{}
	joined time.Time
	left   time.Time  // zero while watching; written under mu
	final  peer.Stats // stats when it left (or when the run ended)

	// mu orders check and stop: no check of a stopped engine (its proxy
	// would fetch from the edge), and stop waits for a check under way.
	mu                  sync.Mutex
	seen                map[uint64]bool // segments whose proxy bytes were checked
	checked, mismatched int
	nextSeek            int // the next of spec.Seeks (loop-owned; vodreal.go)
}

// startViewer starts the real engine for spec. With an emulated network, every
// tracker session of the viewer gets a host with the spec's access link.
func startViewer(ctx context.Context, e *env, spec viewerSpec, idx int, net *emulated.Network, base http.RoundTripper, cfg Config) (*viewer, error) {
	v := &viewer{spec: spec, clk: e.clk, http: &clientCounter{base: base, shape: newShaper(e.clk, cfg.Speed, spec)}, done: make(chan struct{}), seen: make(map[uint64]bool)}
	pc := peer.Config{
		Edge:    e.edgeURL(),
		Tracker: e.trackerURL(),
		// Each viewer claims its own address: the tracker counts bans and
		// strikes per address, and real viewers do not share one.
		TrackerHeader: http.Header{"X-Forwarded-For": {fmt.Sprintf("10.%d.%d.%d", idx>>16&255, idx>>8&255, idx&255)}},
		Stream:        e.stream,
		Client:        &http.Client{Transport: v.http, Timeout: 20 * time.Second},
		Clock:         e.clk,
		Scheduler:     cfg.Scheduler,
		Push:          cfg.Push,
		Logger:        cfg.Logger.With("component", "peer", "viewer", spec.Name),
		VOD:           engine.VODConfig{Start: spec.Start},
	}
	if e.stream == vodStream {
		pc.OnSegment = v.vodCheck(e)
	}
	if spec.Up > 0 {
		// The engine paces its uploads a little below the access link, so that
		// frames do not queue in the link (framing adds a few percent).
		pc.MaxUpload = int64(0.95 * spec.Up)
		pc.UploadCapacity = pc.MaxUpload
	} else {
		pc.MaxUpload = -1
	}
	switch cfg.Transport {
	case TransportEmulated:
		hc := emulated.HostConfig{Up: spec.Up, Down: spec.Down, Latency: spec.Latency, Loss: spec.Loss, SendBuffer: 256 << 10}
		if spec.Up == 0 {
			// Uploads nothing (MaxUpload < 0: NAT-bound, or the user said
			// no), but its requests and announcements still need a link.
			hc.Up = noUploadLink
		}
		pc.NewDialer = func(id string, _ transport.SignalFunc) (transport.Dialer, error) {
			return net.AddHost(id, hc)
		}
	case TransportWebRTC:
		pc.ICEInterface = "lo"
	}
	p, err := peer.New(pc)
	if err != nil {
		return nil, fmt.Errorf("bench: viewer %s: %w", spec.Name, err)
	}
	v.p = p
	ctx, v.cancel = context.WithCancel(ctx)
	v.joined = e.clk.Now()
	go func() {
		defer close(v.done)
		p.Run(ctx)
	}()
	return v, nil
}

// stop ends the viewer and keeps its final figures.
func (v *viewer) stop() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.left.IsZero() {
		return
	}
	v.final = v.p.Stats()
	v.left = v.clk.Now()
	v.cancel()
}

// stats are the viewer's figures: live while it watches, final after.
func (v *viewer) stats() peer.Stats {
	if !v.left.IsZero() {
		return v.final
	}
	return v.p.Stats()
}

// check compares every segment the viewer has played and its proxy still
// lists with the origin's bytes, through the proxy a player would use. Only
// played segments are asked for (a request for an unplayed one would make
// it urgent), and not the oldest two listed (the engine may evict them under
// us, and the proxy would then fetch them from the edge).
func (v *viewer) check(ctx context.Context, e *env) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.left.IsZero() || e.stream == vodStream { // a title's viewers are checked by vodCheck
		return
	}
	st := v.p.Stats()
	if !st.Player.Started {
		return
	}
	played := st.Player.StartSeq + uint64(st.Player.Played) // seqs below were played
	h := v.p.Handler()
	base := "/live/" + e.stream + "/"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, base+rendition+".m3u8", nil))
	if rec.Code != http.StatusOK || ctx.Err() != nil {
		return
	}
	pl, err := media.ParseMedia(rec.Body.Bytes())
	if err != nil {
		v.mismatched++ // the proxy's playlist must parse
		return
	}
	for i, s := range pl.Segments {
		if i < 2 {
			continue
		}
		_, seq, _, _, err := media.ParseSegmentName(s.URI[strings.LastIndexByte(s.URI, '/')+1:])
		if err != nil || seq < st.Player.StartSeq || seq >= played || v.seen[seq] {
			continue
		}
		ref, ok := e.ref.get(base + s.URI)
		if !ok {
			continue
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, base+s.URI, nil))
		if ctx.Err() != nil {
			return // cut short by the caller's deadline: not a verdict
		}
		v.seen[seq] = true
		v.checked++
		if rec.Code != http.StatusOK || int64(rec.Body.Len()) != ref.size || sha256.Sum256(rec.Body.Bytes()) != ref.sum {
			v.mismatched++
		}
	}
}
