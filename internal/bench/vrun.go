package bench

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"time"

	"github.com/shoal-cdn/shoal/internal/engine"
	"github.com/shoal-cdn/shoal/internal/peer"
	"github.com/shoal-cdn/shoal/internal/signalling"
	"github.com/shoal-cdn/shoal/internal/swarm"
)

// vMemoryLimit is the virtual bench's soft heap limit: under the 20 GiB a
// 100,000-viewer run may take (docs/benchmarks.md).
const vMemoryLimit = 16 << 30

var errVirtual404 = errors.New("bench: virtual edge: 404")

// vTrackerDelay is a tracker message's trip: the real bench's tracker is on
// loopback beside the edge.
const vTrackerDelay = time.Millisecond

// vBase is virtual time's origin: a fixed instant, so runs repeat exactly.
var vBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// vrun is one mode of a virtual-time invocation.
type vrun struct {
	cfg     Config
	q       *vqueue
	net     *vnet
	stream  *vstream
	tracker *swarm.Core
	log     *slog.Logger // cfg.Logger on the virtual clock
	key     swarm.SwarmKey
	viewers []*vviewer // in joining order
	bySpec  []*vviewer // by spec index
	byID    map[string]*vviewer
	rng     *rand.Rand
	spread  *spread
	// edgeRequests counts every request the edge answered (playlists,
	// records, the key, media).
	edgeRequests int64
}

// runVirtual runs the scenario in one mode in virtual time: the same engine
// core (internal/engine) and the same tracker core (internal/swarm) as
// production, as discrete events on one queue. It returns the run's report
// and the stream's bitrate.
func runVirtual(cfg Config, mode string, specs []viewerSpec) (*RunReport, float64, error) {
	wallStart := time.Now()
	// Millions of short-lived events: collect garbage less often (memory is
	// what a large run has to spare, not CPU).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// A soft limit keeps the largest runs (100,000 viewers) within the
	// machine: the collector works harder only near it. GOMEMLIMIT wins.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(vMemoryLimit))
	}
	q := &vqueue{base: vBase}
	start := vBase
	st, err := newVStream(cfg, start)
	if err != nil {
		return nil, 0, err
	}
	tr, err := swarm.New(swarm.Config{Rand: rand.New(rand.NewPCG(cfg.Seed, 0x74726b))})
	if err != nil {
		return nil, 0, err
	}
	r := &vrun{cfg: cfg, q: q, log: slog.New(vtimeHandler{cfg.Logger.Handler(), q}), stream: st, tracker: tr, key: swarm.SwarmKey{Stream: st.name, Rendition: rendition},
		byID: make(map[string]*vviewer), bySpec: make([]*vviewer, len(specs)), spread: newSpread(), rng: rand.New(rand.NewPCG(cfg.Seed, 0x76726e)),
		net: &vnet{q: q, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6c6f7373)), identity: cfg.pieceIdentity()}}
	// CDN-only is the same engine with P2P switched off by the tracker's policy.
	tr.SetPolicy(start, st.name, signalling.Policy{P2PEnabled: mode == ModeHybrid})

	// The origin publishes one segment per segment duration.
	var publish func()
	publish = func() {
		if err := st.publish(q.time()); err != nil {
			panic(err) // signing our own bytes cannot fail
		}
		_, d := st.source(len(st.segs))
		q.after(d, publish)
	}
	if !st.vod {
		q.at(st.nextAt, publish)
	}

	for i, s := range specs {
		q.at(start.Add(s.Join), func() { r.join(i, s) })
		if s.Leave > 0 {
			q.at(start.Add(s.Leave), func() { r.leave(r.bySpec[i]) })
		}
		for _, sk := range s.Seeks {
			q.at(start.Add(sk.At), func() { r.seek(r.bySpec[i], sk.To) })
		}
	}

	rr := &RunReport{}
	var (
		lastCDN, lastMedia, lastP2P int64
		warm                              = min(20*time.Second, cfg.Duration/4)
		warmP2P, warmMedia          int64 = -1, -1
		warmSeq                     uint64
	)
	p2pTotal := func() (n int64) {
		for _, v := range r.viewers {
			n += v.stats().BytesP2P
		}
		return n
	}
	for el := time.Second; el <= cfg.Duration; el += time.Second {
		q.runUntil(start.Add(el))
		cdn := st.media + st.overhead
		p2p := p2pTotal()
		smp := Sample{TS: el.Seconds(), CDNMbps: float64(cdn-lastCDN) * 8 / 1e6, Watching: r.watching()}
		if d := (p2p - lastP2P) + (st.media - lastMedia); d > 0 {
			smp.Offload = float64(p2p-lastP2P) / float64(d)
		}
		rr.Series = append(rr.Series, smp)
		rr.CDNPeakMbps = max(rr.CDNPeakMbps, smp.CDNMbps)
		lastCDN, lastMedia, lastP2P = cdn, st.media, p2p
		if warmP2P < 0 && el >= warm {
			warmP2P, warmMedia = p2p, st.media
			warmSeq = uint64(len(st.segs) - 1)
		}
		if cfg.Progress != nil && el%cfg.ProgressEvery < time.Second {
			off := 0.0
			if p2p+st.media > 0 {
				off = float64(p2p) / float64(p2p+st.media)
			}
			fmt.Fprintf(cfg.Progress, "\r%-8s %5.0f/%.0f s  watching %6d  CDN %8.1f Mbit/s  offload %5.1f%%  events %d  ",
				mode, el.Seconds(), cfg.Duration.Seconds(), smp.Watching, smp.CDNMbps, 100*off, q.events)
		}
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	end := q.time()
	if cfg.HeapProfile != nil {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return nil, 0, err
		}
	}
	for _, v := range r.viewers {
		v.stop(end)
	}
	rr.WallS = time.Since(wallStart).Seconds()
	rr.StreamS = end.Sub(start).Seconds()
	rr.Events = q.events
	rr.EdgeRequestsPerS = float64(r.edgeRequests) / end.Sub(start).Seconds()
	p50, p95 := r.spread.percentiles()
	rr.FreshPieceMsP50, rr.FreshPieceMsP95 = ms(p50), ms(p95)
	rr.CDNMediaBytes, rr.CDNOverheadBytes = st.media, st.overhead
	rr.CDNBytes = st.media + st.overhead
	rr.CDNMediaBytesFinal = st.media
	rr.EdgeCounterAgrees = true // one counter: the virtual edge's
	rr.CDNMeanMbps = float64(rr.CDNBytes) * 8 / rr.StreamS / 1e6
	rr.LinkSentBytes, rr.LinkReceivedBytes, rr.LinkDroppedBytes = r.net.sent, r.net.received, r.net.dropped
	results := make([]viewerResult, len(r.viewers))
	for i, v := range r.viewers {
		results[i] = viewerResult{spec: v.spec, joined: v.joined, left: v.left, final: v.final,
			cdnMedia: v.cdnMedia, checked: v.checked, mismatched: v.mismatched}
	}
	aggregate(rr, results, start, end)
	var segBytes, segSize int64
	for _, g := range st.segs {
		n, ok := st.perSeg[g.path]
		if !ok {
			continue
		}
		segBytes += n
		segSize += int64(len(g.data))
		rr.Segments = append(rr.Segments, SegmentReport{Seq: g.seq, Size: int64(len(g.data)), EdgeBytes: n})
	}
	slices.SortFunc(rr.Segments, func(a, b SegmentReport) int { return cmp.Compare(a.Seq, b.Seq) })
	if segSize > 0 {
		rr.CDNCopiesPerSegment = float64(segBytes) / float64(segSize)
	}
	rr.offloads(warmP2P, warmMedia, warmSeq, uint64(len(st.segs)-1), true)
	rr.FramingBytes = max(0, rr.LinkSentBytes-rr.UploadBytes)
	var bytes int64
	var dur time.Duration
	for _, g := range st.segs {
		bytes += int64(len(g.data))
		dur += g.dur
	}
	return rr, float64(bytes) * 8 / dur.Seconds(), nil
}

func (r *vrun) watching() (n int) {
	for _, v := range r.viewers {
		if v.watching() {
			n++
		}
	}
	return n
}

// join starts viewer i's engine and joins it to the swarm.
func (r *vrun) join(i int, spec viewerSpec) {
	now := r.q.time()
	v := &vviewer{r: r, idx: i, spec: spec, joined: now, links: make(map[engine.LinkID]*vend),
		rtt:  2*spec.Latency + edgeRTTBase,
		host: &vhost{up: spec.Up, down: spec.Down, latency: spec.Latency, loss: spec.Loss}}
	ec := engine.Config{Stream: r.stream.name, Rendition: rendition, Swarm: true, Scheduler: r.cfg.Scheduler, Push: r.cfg.Push,
		Tick: peer.DefaultTick, NoDeliverData: r.net.identity, ReportPieces: true, Logger: r.log.With("viewer", spec.Name),
		VOD: engine.VODConfig{Start: spec.Start}}
	if spec.Up > 0 {
		ec.MaxUpload = int64(0.95 * spec.Up)
		ec.UploadCapacity = ec.MaxUpload
	} else {
		ec.MaxUpload = -1
		v.host.up = noUploadLink
	}
	// Ping tokens from the run's seed: the same JSON for the same seed.
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(i)))
	ec.Rand = rng.Uint32
	v.core = engine.New(ec, now)
	r.viewers = append(r.viewers, v)
	r.bySpec[i] = v
	v.markReady()
	// The tracker session: join, then the welcome a moment later.
	r.q.after(vTrackerDelay, func() {
		if !v.watching() {
			return
		}
		v.id = "v" + strconv.Itoa(i) + "-" + strconv.FormatUint(r.rng.Uint64()%1e9, 36)
		p := swarm.Peer{ID: v.id, Addr: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), UploadCapacity: ec.UploadCapacity}
		if r.stream.vod {
			p.Pos, p.PosAt = spec.Start.Seconds(), r.q.time() // the join's position
		}
		w, outs, err := r.tracker.Join(r.q.time(), r.key, p)
		if err != nil {
			return // banned or full: CDN only
		}
		r.byID[v.id] = v
		r.deliver(outs)
		r.q.after(vTrackerDelay, func() { r.welcome(v, w) })
	})
}

func (r *vrun) welcome(v *vviewer, w signalling.Welcome) {
	if !v.watching() {
		return
	}
	v.sess++
	v.step(engine.SessionUp{Session: v.sess, PeerID: w.PeerID,
		Policy: peer.EnginePolicy(w.Policy), Stripe: peer.EngineStripe(w.Stripe)})
	for _, n := range w.Neighbours {
		if n.Initiator {
			r.dial(v, n.PeerID)
		}
	}
}

// dial opens a link from v to the viewer named id, as an emulated Dial
// (no signalling): both ends are up at once.
func (r *vrun) dial(v *vviewer, id string) {
	o := r.byID[id]
	if o == nil || !o.watching() || o == v || o.sess == 0 {
		return
	}
	a, b := r.net.connect(v, o)
	v.links[a.id], o.links[b.id] = a, b
	v.step(engine.LinkUp{Session: v.sess, Link: a.id, Remote: o.id})
	o.step(engine.LinkUp{Session: o.sess, Link: b.id, Remote: v.id})
}

// deliver hands the tracker core's messages to their viewers.
func (r *vrun) deliver(outs []swarm.Out) {
	for _, o := range outs {
		v := r.byID[o.To]
		if v == nil {
			continue
		}
		m := o.Msg
		r.q.after(vTrackerDelay, func() {
			if !v.watching() || v.sess == 0 {
				return
			}
			switch m := m.(type) {
			case *signalling.Neighbours:
				if len(m.Remove) > 0 {
					v.step(engine.NeighboursRemoved{Session: v.sess, IDs: m.Remove})
				}
				for _, n := range m.Add {
					if n.Initiator {
						r.dial(v, n.PeerID)
					}
				}
			case *signalling.Stripe:
				v.step(engine.StripeChanged{Session: v.sess, Stripe: peer.EngineStripe(*m)})
			case *signalling.Policy:
				v.step(engine.PolicyChanged{Session: v.sess, Policy: peer.EnginePolicy(*m)})
			}
		})
	}
}

func (r *vrun) trackerHandle(v *vviewer, m signalling.Message) {
	r.q.after(vTrackerDelay, func() { r.deliver(r.tracker.Handle(r.q.time(), r.key, v.id, m)) })
}

// seek moves v's playhead to pos and tells the tracker, as a viewer's stats do.
func (r *vrun) seek(v *vviewer, pos time.Duration) {
	v.step(engine.Seek{Pos: pos})
	if v.id != "" && v.watching() {
		s := pos.Seconds()
		r.trackerHandle(v, &signalling.Stats{Position: &s})
	}
}

// leave takes v out: its engine stops, the tracker is told, its links close.
func (r *vrun) leave(v *vviewer) {
	now := r.q.time()
	v.stop(now)
	if v.id != "" {
		outs, _ := r.tracker.Leave(now, r.key, v.id)
		delete(r.byID, v.id)
		r.deliver(outs)
	}
}

// writeHeapProfile writes the live heap, after a collection, to open().
func writeHeapProfile(open func() (io.WriteCloser, error)) error {
	w, err := open()
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(w); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
