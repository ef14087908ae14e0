package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/shoal-cdn/shoal/internal/edge"
	"github.com/shoal-cdn/shoal/internal/media"
	"github.com/shoal-cdn/shoal/internal/origin"
	"github.com/shoal-cdn/shoal/internal/server"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/tracker"
	"github.com/shoal-cdn/shoal/internal/transport"
)

const (
	demoStream      = origin.DefaultDemoStream
	syntheticStream = "bench"
	rendition       = "index"
	// demoBitrate is the demo stream's nominal rate (8 segments of ~390 KB per 2 s).
	demoBitrate = 1.56e6
)

// env is one run's infrastructure: an origin publishing the stream, an edge in
// front of it and a tracker, the edge and the tracker on one loopback listener
// (as `shoal up` serves them). Each run gets a fresh env, so caches and
// counters start empty.
type env struct {
	stream  string
	clk     transport.Clock // the invocation's one clock
	origin  *origin.Origin
	osrv    *server.Server
	edge    *edge.Edge
	counter *edgeCounter
	tracker *tracker.Tracker
	srv     *server.Server
	ref     *reference

	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
	errc      chan error
}

func newEnv(ctx context.Context, cfg Config, clk transport.Clock, p2p bool) (*env, error) {
	log := cfg.Logger
	e := &env{stream: cfg.streamName(), clk: clk, errc: make(chan error, 8)}
	vod := isVOD(cfg.Scenario)
	pushed := cfg.pushed()
	ocfg := origin.Config{Demo: pushed == nil && !vod, Clock: clk, Logger: log.With("component", "origin")}
	if vod {
		e.stream = vodStream // a title pushed whole below (vodreal.go)
	}
	var err error
	if e.origin, err = origin.New(ocfg); err != nil {
		return nil, fmt.Errorf("bench: origin: %w", err)
	}
	if e.osrv, err = server.Listen(server.Config{Logger: log}, e.origin.Handler()); err != nil {
		return nil, fmt.Errorf("bench: origin listener: %w", err)
	}
	if e.edge, err = edge.New(edge.Config{Origin: e.osrv.URL(), Now: clk.Now, Logger: log.With("component", "edge")}); err != nil {
		return nil, fmt.Errorf("bench: edge: %w", err)
	}
	e.counter = newEdgeCounter(e.edge.Handler())
	if e.tracker, err = tracker.New(tracker.Config{
		// Viewers claim distinct addresses in X-Forwarded-For (see startViewer):
		// the tracker counts bans and strikes per address.
		TrustProxy: true,
		// Bans, strikes and swarm ages on the run's clock; its liveness
		// pings stay in real time (longer in stream time: harmless).
		Now:    clk.Now,
		Logger: log.With("component", "tracker"),
	}); err != nil {
		return nil, fmt.Errorf("bench: tracker: %w", err)
	}
	// CDN-only is the same engine with P2P switched off by the tracker's policy.
	e.tracker.SetPolicy(e.stream, signalling.Policy{P2PEnabled: p2p})
	mux := http.NewServeMux()
	mux.Handle("/live/", e.counter)
	mux.Handle("/tracker", e.tracker.Handler())
	mux.Handle("/api/", e.tracker.Handler())
	if e.srv, err = server.Listen(server.Config{Logger: log}, mux); err != nil {
		return nil, fmt.Errorf("bench: edge listener: %w", err)
	}
	e.ref = &reference{url: e.osrv.URL() + "/live/" + e.stream + "/", clk: clk, segs: make(map[string]refSeg)}

	ctx, e.cancel = context.WithCancel(ctx)
	run := func(name string, f func(context.Context) error) {
		e.wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				e.errc <- fmt.Errorf("bench: %s: %w", name, err)
			}
		})
	}
	run("origin server", e.osrv.Serve)
	run("edge server", e.srv.Serve)
	run("origin", e.origin.Run)
	run("tracker", e.tracker.Run)
	if vod {
		if err := e.pushTitle(ctx, cfg); err != nil {
			e.close()
			return nil, err
		}
	} else if pushed != nil {
		enc := &encoder{url: e.osrv.URL() + "/ingest/" + e.stream + "/", src: pushed, clk: clk, log: log}
		// Back-fill a few segments so that a player can start at once, as the
		// demo does.
		if err := enc.backfill(ctx, 4); err != nil {
			e.close()
			return nil, err
		}
		run("encoder", enc.run)
	}
	run("reference", e.ref.run)
	if err := e.ref.poll(ctx); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// edgeURL is the viewers' base URL; trackerURL their tracker.
func (e *env) edgeURL() string    { return e.srv.URL() }
func (e *env) trackerURL() string { return "ws" + strings.TrimPrefix(e.srv.URL(), "http") + "/tracker" }

// err reports the first background failure, if any.
func (e *env) err() error {
	select {
	case err := <-e.errc:
		return err
	default:
		return nil
	}
}

// close stops everything and waits for the servers' handlers; idempotent.
func (e *env) close() {
	e.closeOnce.Do(func() {
		e.cancel()
		e.wg.Wait()
		e.edge.Close()
		e.origin.Close() // its temporary store (a title's segments)
	})
}

// reference is what the origin published: the size and hash of every segment,
// fetched from the origin directly (not through the edge, so it costs no CDN
// bytes), for the byte-identity check and CDN copies per segment.
type reference struct {
	url string // origin /live/{stream}/
	clk transport.Clock
	mu  sync.Mutex
	// segs maps the edge path /live/{stream}/{rendition}/{epoch}-{seq}.ts to
	// the segment; bounded by the run's length (a few dozen bytes each).
	segs map[string]refSeg
}

type refSeg struct {
	size int64
	sum  [sha256.Size]byte
	dur  time.Duration
}

func (r *reference) run(ctx context.Context) error {
	for transport.Sleep(ctx, r.clk, 500*time.Millisecond) {
		if err := r.poll(ctx); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

func (r *reference) poll(ctx context.Context) error {
	b, err := httpGet(ctx, r.url+rendition+".m3u8")
	if err != nil {
		return err
	}
	pl, err := media.ParseMedia(b)
	if err != nil {
		return fmt.Errorf("bench: origin playlist: %w", err)
	}
	base := strings.TrimPrefix(r.url, r.url[:strings.Index(r.url, "/live/")])
	for _, s := range pl.Segments {
		p := path.Clean(base + s.URI)
		r.mu.Lock()
		_, ok := r.segs[p]
		r.mu.Unlock()
		if ok {
			continue
		}
		data, err := httpGet(ctx, r.url+s.URI)
		if err != nil {
			return err
		}
		r.mu.Lock()
		r.segs[p] = refSeg{size: int64(len(data)), sum: sha256.Sum256(data), dur: s.Duration}
		r.mu.Unlock()
	}
	return nil
}

func (r *reference) get(p string) (refSeg, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.segs[p]
	return s, ok
}

func (r *reference) all() map[string]refSeg {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]refSeg, len(r.segs))
	for k, v := range r.segs {
		m[k] = v
	}
	return m
}

func httpGet(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: get %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("bench: get %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: get %s: %s: %.200s", u, resp.Status, b)
	}
	return b, nil
}

// encoder pushes a stream to the origin's ingest, like ffmpeg -f hls
// -method PUT: each segment when its duration has passed since the one
// before, then the playlist listing the last few.
type encoder struct {
	url  string // origin /ingest/{stream}/
	src  source
	clk  transport.Clock
	log  *slog.Logger
	next int
	durs []time.Duration // of the last encoderListed segments pushed: the playlist's EXTINFs
}

const encoderListed = 6

func (e *encoder) backfill(ctx context.Context, n int) error {
	for range n {
		if err := e.push(ctx); err != nil {
			return err
		}
	}
	return nil
}

// run pushes the segments after the back-fill, each on a schedule kept
// from the start (a slow PUT does not shift the ones after it).
func (e *encoder) run(ctx context.Context) error {
	at := e.clk.Now()
	for {
		_, d := e.src(e.next)
		at = at.Add(d)
		if !transport.Sleep(ctx, e.clk, at.Sub(e.clk.Now())) {
			return nil
		}
		if err := e.push(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			e.log.Warn("bench: encoder", "err", err)
		}
	}
}

func (e *encoder) push(ctx context.Context) error {
	n := e.next
	data, d := e.src(n)
	if err := httpPut(ctx, e.url+fmt.Sprintf("seg%d.ts", n), data); err != nil {
		return err
	}
	e.next++
	if e.durs = append(e.durs, d); len(e.durs) > encoderListed {
		e.durs = append(e.durs[:0], e.durs[1:]...)
	}
	first := e.next - len(e.durs)
	var pl bytes.Buffer
	fmt.Fprintf(&pl, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n",
		media.TargetDuration(e.durs...), first)
	for i, d := range e.durs {
		fmt.Fprintf(&pl, "#EXTINF:%.3f,\nseg%d.ts\n", d.Seconds(), first+i)
	}
	return httpPut(ctx, e.url+"index.m3u8", pl.Bytes())
}

// synthetic is MPEG-TS made up at a bitrate: 188-byte packets with a sync
// byte, a PID and a continuity counter, and pseudo-random payload
// (different for every segment).
type synthetic struct {
	bitrate int64
	segDur  time.Duration
	seed    uint64
}

func (s synthetic) segment(n int) ([]byte, time.Duration) {
	const pkt = 188
	size := max(pkt, int(float64(s.bitrate)*s.segDur.Seconds()/8)/pkt*pkt)
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(s.seed, uint64(n)))
	for off, cc := 0, 0; off < size; off, cc = off+pkt, cc+1 {
		b[off], b[off+1], b[off+2], b[off+3] = 0x47, 0x01, 0x00, byte(0x10|cc&0x0f)
		for i := off + 4; i < off+pkt; i += 8 {
			v := rng.Uint64()
			for j := 0; j < 8 && i+j < off+pkt; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
	}
	return b, s.segDur
}

func httpPut(ctx context.Context, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("bench: put %s: %w", u, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bench: put %s: %s: %s", u, resp.Status, msg)
	}
	return nil
}
