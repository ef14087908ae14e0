package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
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
	base    time.Time
	now     int64 // ns since base: the windows run so far
	parts   []*vpart
	cores   *vcores
	ops     []vevent // serial work not yet due, by time and key
	keys    vkeys    // the run's own events (joins, leaves, seeks)
	tkeys   vkeys    // the tracker's events
	net     *vnet
	stream  *vstream
	tracker *swarm.Core
	key     swarm.SwarmKey
	bySpec  []*vviewer // by spec index; joined or not
	byID    map[string]*vviewer
	rng     *rand.Rand
	spread  *spread
	pubAt   int64 // the origin's next publication (ns; -1: none)
}

// runVirtual runs the scenario in one mode in virtual time: the same engine
// core (internal/engine) and the same tracker core (internal/swarm) as
// production, as discrete events on the partitions' queues (vpart.go). It
// returns the run's report and the stream's bitrate.
func runVirtual(ctx context.Context, cfg Config, mode string, specs []viewerSpec) (*RunReport, float64, error) {
	wallStart := time.Now()
	// Millions of short-lived events: collect garbage less often (memory is
	// what a large run has to spare, not CPU).
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// A soft limit keeps the largest runs (100,000 viewers) within the
	// machine: the collector works harder only near it. GOMEMLIMIT wins.
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(vMemoryLimit))
	}
	start := vBase
	st, err := newVStream(cfg, start)
	if err != nil {
		return nil, 0, err
	}
	tr, err := swarm.New(swarm.Config{Rand: rand.New(rand.NewPCG(cfg.Seed, 0x74726b))})
	if err != nil {
		return nil, 0, err
	}
	r := &vrun{cfg: cfg, base: start, stream: st, tracker: tr, key: swarm.SwarmKey{Stream: st.name, Rendition: rendition},
		byID: make(map[string]*vviewer), bySpec: make([]*vviewer, len(specs)), spread: newSpread(),
		rng: rand.New(rand.NewPCG(cfg.Seed, 0x76726e)), net: &vnet{identity: cfg.pieceIdentity()},
		tkeys: vkeys{origin: vTrackerOrigin}, pubAt: -1}
	for i := range max(1, min(cfg.Cores, len(specs))) {
		r.parts = append(r.parts, newVPart(i, max(1, min(cfg.Cores, len(specs))), start, cfg.Logger))
	}
	r.cores = newVCores(r.parts)
	defer r.cores.stop()
	// CDN-only is the same engine with P2P switched off by the tracker's policy.
	tr.SetPolicy(start, st.name, signalling.Policy{P2PEnabled: mode == ModeHybrid})
	if !st.vod {
		r.pubAt = r.ns(st.nextAt)
	}
	for i, s := range specs {
		v := &vviewer{r: r, idx: i, spec: s, p: r.parts[i%len(r.parts)], keys: vkeys{origin: uint64(i + 1)}}
		r.bySpec[i] = v
		v.p.q.push(vevent{int64(s.Join), r.keys.next(), func() { r.join(v) }})
		if s.Leave > 0 {
			v.p.q.push(vevent{int64(s.Leave), r.keys.next(), func() { r.leave(v) }})
		}
		for _, sk := range s.Seeks {
			v.p.q.push(vevent{int64(sk.At), r.keys.next(), func() { r.seek(v, sk.To) }})
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
		for _, v := range r.bySpec {
			n += v.stats().BytesP2P
		}
		return n
	}
	for el := time.Second; el <= cfg.Duration; el += time.Second {
		if err := ctx.Err(); err != nil {
			return nil, 0, err // interrupted: no report of part of a run
		}
		r.runUntil(int64(el))
		edgeMedia, cdn := r.edgeBytes()
		p2p := p2pTotal()
		smp := Sample{TS: el.Seconds(), CDNMbps: float64(cdn-lastCDN) * 8 / 1e6, Watching: r.watching()}
		if d := (p2p - lastP2P) + (edgeMedia - lastMedia); d > 0 {
			smp.Offload = float64(p2p-lastP2P) / float64(d)
		}
		rr.Series = append(rr.Series, smp)
		rr.CDNPeakMbps = max(rr.CDNPeakMbps, smp.CDNMbps)
		lastCDN, lastMedia, lastP2P = cdn, edgeMedia, p2p
		if warmP2P < 0 && el >= warm {
			warmP2P, warmMedia = p2p, edgeMedia
			warmSeq = uint64(len(st.segs) - 1)
		}
		if cfg.Progress != nil && el%cfg.ProgressEvery < time.Second {
			off := 0.0
			if p2p+edgeMedia > 0 {
				off = float64(p2p) / float64(p2p+edgeMedia)
			}
			fmt.Fprintf(cfg.Progress, "\r%-8s %5.0f/%.0f s  watching %6d  CDN %8.1f Mbit/s  offload %5.1f%%  events %d  ",
				mode, el.Seconds(), cfg.Duration.Seconds(), smp.Watching, smp.CDNMbps, 100*off, r.events())
		}
	}
	if cfg.Progress != nil {
		fmt.Fprintln(cfg.Progress)
	}
	end := start.Add(time.Duration(r.now))
	if cfg.HeapProfile != nil {
		if err := writeHeapProfile(cfg.HeapProfile); err != nil {
			return nil, 0, err
		}
	}
	var viewers []*vviewer // in joining order
	for _, v := range r.bySpec {
		if !v.joined.IsZero() {
			viewers = append(viewers, v)
		}
	}
	slices.SortStableFunc(viewers, func(a, b *vviewer) int { return a.joined.Compare(b.joined) })
	for _, v := range viewers {
		v.stop(end)
	}
	rr.WallS = time.Since(wallStart).Seconds()
	rr.StreamS = end.Sub(start).Seconds()
	rr.Events = r.events()
	perSeg := make(map[string]int64)
	for _, p := range r.parts {
		rr.CDNMediaBytes += p.media
		rr.CDNOverheadBytes += p.overhead
		rr.EdgeRequestsPerS += float64(p.edgeRequests)
		rr.LinkSentBytes += p.sent
		rr.LinkReceivedBytes += p.received
		rr.LinkDroppedBytes += p.dropped
		for k, n := range p.perSeg {
			perSeg[k] += n
		}
	}
	rr.EdgeRequestsPerS /= end.Sub(start).Seconds()
	p50, p95 := r.spread.percentiles()
	rr.FreshPieceMsP50, rr.FreshPieceMsP95 = ms(p50), ms(p95)
	rr.CDNBytes = rr.CDNMediaBytes + rr.CDNOverheadBytes
	rr.CDNMediaBytesFinal = rr.CDNMediaBytes
	rr.EdgeCounterAgrees = true // one counter: the virtual edge's
	rr.CDNMeanMbps = float64(rr.CDNBytes) * 8 / rr.StreamS / 1e6
	results := make([]viewerResult, len(viewers))
	for i, v := range viewers {
		results[i] = viewerResult{spec: v.spec, joined: v.joined, left: v.left, final: v.final,
			cdnMedia: v.cdnMedia, checked: v.checked, mismatched: v.mismatched}
	}
	aggregate(rr, results, start, end)
	var segBytes, segSize int64
	for _, g := range st.segs {
		n, ok := perSeg[g.path]
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

func (r *vrun) ns(t time.Time) int64 { return int64(t.Sub(r.base)) }

func (r *vrun) at(ns int64) time.Time { return r.base.Add(time.Duration(ns)) }

// runUntil runs the windows up to end (ns): the partitions' events, what
// crossed between them, the serial work; the origin publishes at a
// window's start.
func (r *vrun) runUntil(end int64) {
	for r.now < end {
		for r.pubAt >= 0 && r.pubAt <= r.now {
			if err := r.stream.publish(r.at(r.pubAt)); err != nil {
				panic(err) // signing our own bytes cannot fail
			}
			_, d := r.stream.source(len(r.stream.segs))
			r.pubAt += int64(d)
		}
		w := min(r.now+int64(vWindow), end)
		if r.pubAt > r.now {
			w = min(w, r.pubAt)
		}
		r.cores.run(w)
		for _, p := range r.parts {
			for i, evs := range p.out {
				for _, ev := range evs {
					r.parts[i].q.push(ev)
				}
				clear(evs)
				p.out[i] = evs[:0]
			}
			for _, s := range p.served {
				r.spread.served(s.seq, s.first, s.count, s.at)
			}
			p.served = p.served[:0]
		}
		for _, p := range r.parts {
			for _, s := range p.verified {
				r.spread.verified(s.seq, s.idx, s.joined, s.at)
			}
			p.verified = p.verified[:0]
		}
		r.serial(w)
		r.now = w
	}
}

// serial runs the serial work due before end, in time and key order: what
// the tracker core does (every viewer's messages reach it a trip after they
// were sent, and its answers reach the viewers a trip later: after end).
func (r *vrun) serial(end int64) {
	for _, p := range r.parts {
		r.ops = append(r.ops, p.ops...)
		clear(p.ops)
		p.ops = p.ops[:0]
	}
	if len(r.ops) == 0 {
		return
	}
	sortOps(r.ops)
	n := 0
	for n < len(r.ops) && r.ops[n].at < end {
		r.now = r.ops[n].at
		r.ops[n].fn()
		n++
	}
	r.ops = slices.Delete(r.ops, 0, n)
}

// toViewer schedules fn at t as v's event, from the serial phase (the
// tracker).
func (r *vrun) toViewer(v *vviewer, t int64, fn func()) {
	if t < v.p.q.now {
		panic("bench: virtual tracker answer due before the window it lands in")
	}
	v.p.q.push(vevent{t, r.tkeys.next(), fn})
}

// edgeBytes are the edge's media bytes and all its bytes so far.
func (r *vrun) edgeBytes() (media, all int64) {
	for _, p := range r.parts {
		media += p.media
		all += p.media + p.overhead
	}
	return media, all
}

func (r *vrun) events() (n uint64) {
	for _, p := range r.parts {
		n += p.q.events
	}
	return n
}

func (r *vrun) watching() (n int) {
	for _, v := range r.bySpec {
		if v.watching() {
			n++
		}
	}
	return n
}

// join starts viewer v's engine and joins it to the swarm.
func (r *vrun) join(v *vviewer) {
	now := v.p.q.time()
	spec := v.spec
	v.joined = now
	v.rtt = 2*spec.Latency + edgeRTTBase
	v.host = &vhost{up: spec.Up, down: spec.Down, latency: spec.Latency, loss: spec.Loss,
		rng: rand.New(rand.NewPCG(r.cfg.Seed, 0x6c6f7373<<20|uint64(v.idx)))}
	ec := engine.Config{Stream: r.stream.name, Rendition: rendition, Swarm: true, Scheduler: r.cfg.Scheduler, Push: r.cfg.Push,
		Tick: peer.DefaultTick, NoDeliverData: r.net.identity, ReportPieces: true, Logger: v.p.log.With("viewer", spec.Name),
		VOD: engine.VODConfig{Start: spec.Start}}
	if spec.Up > 0 {
		ec.MaxUpload = int64(0.95 * spec.Up)
		ec.UploadCapacity = ec.MaxUpload
	} else {
		ec.MaxUpload = -1
		v.host.up = noUploadLink
	}
	// Ping tokens from the run's seed: the same JSON for the same seed.
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(v.idx)))
	ec.Rand = rng.Uint32
	v.core = engine.New(ec, now)
	v.markReady()
	// The tracker session: join, then the welcome a trip later.
	v.serial(v.p.q.now+int64(vTrackerDelay), func() {
		if !v.watching() {
			return
		}
		id := "v" + strconv.Itoa(v.idx) + "-" + strconv.FormatUint(r.rng.Uint64()%1e9, 36)
		p := swarm.Peer{ID: id, Addr: fmt.Sprintf("10.%d.%d.%d", v.idx>>16&255, v.idx>>8&255, v.idx&255), UploadCapacity: ec.UploadCapacity}
		if r.stream.vod {
			p.Pos, p.PosAt = spec.Start.Seconds(), r.at(r.now) // the join's position
		}
		w, outs, err := r.tracker.Join(r.at(r.now), r.key, p)
		if err != nil {
			return // banned or full: CDN only
		}
		v.tid = id
		r.byID[id] = v
		r.deliver(outs)
		r.toViewer(v, r.now+int64(vTrackerDelay), func() { r.welcome(v, id, w) })
	})
}

func (r *vrun) welcome(v *vviewer, id string, w signalling.Welcome) {
	if !v.watching() {
		return
	}
	v.id = id
	v.sess++
	v.step(engine.SessionUp{Session: v.sess, PeerID: w.PeerID,
		Policy: peer.EnginePolicy(w.Policy), Stripe: peer.EngineStripe(w.Stripe)})
	for _, n := range w.Neighbours {
		if n.Initiator {
			r.dial(v, n.PeerID)
		}
	}
	v.statsLater(v.sess)
}

// statsLater sends the tracker v's stats every peer.DefaultStatsInterval of
// session sess, as a real peer's session does (the tracker acts on them:
// seeders' shown upload, refills).
func (v *vviewer) statsLater(sess engine.SessionID) {
	v.at(v.p.q.now+int64(peer.DefaultStatsInterval), func() {
		if !v.watching() || v.sess != sess || v.id == "" {
			return
		}
		m := peer.TrackerStats(v.stats())
		v.trackerHandle(&m)
		v.statsLater(sess)
	})
}

// dial opens a link from v to the viewer named id, as an emulated Dial (no
// signalling): v's end is up at once, the other's when the first bits
// reach it, a latency later; if that viewer has left or has no session yet,
// it closes its end (and v learns a latency later).
func (r *vrun) dial(v *vviewer, id string) {
	o := r.byID[id]
	if o == nil || o == v {
		return
	}
	v.nlinks++
	ea := &vend{id: engine.LinkID(v.idx)<<32 | v.nlinks<<1, v: v, host: v.host}
	eb := &vend{id: ea.id | 1, v: o, host: o.host}
	ea.peer, eb.peer = eb, ea
	v.links = append(v.links, ea)
	v.step(engine.LinkUp{Session: v.sess, Link: ea.id, Remote: id})
	self, lat := v.id, ea.lat()
	v.toViewer(o, v.p.q.now+lat, func() {
		if !o.watching() || o.sess == 0 {
			eb.closed = true
			closeLater(o, ea, o.p.q.now+lat)
			return
		}
		o.links = append(o.links, eb)
		o.step(engine.LinkUp{Session: o.sess, Link: eb.id, Remote: self})
	})
}

// deliver hands the tracker core's messages to their viewers, a trip
// later (serial phase).
func (r *vrun) deliver(outs []swarm.Out) {
	for _, o := range outs {
		v := r.byID[o.To]
		if v == nil {
			continue
		}
		m := o.Msg
		r.toViewer(v, r.now+int64(vTrackerDelay), func() {
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

// trackerHandle sends m to the tracker, which gets it a trip later.
func (v *vviewer) trackerHandle(m signalling.Message) {
	r := v.r
	v.serial(v.p.q.now+int64(vTrackerDelay), func() {
		if v.tid != "" {
			r.deliver(r.tracker.Handle(r.at(r.now), r.key, v.tid, m))
		}
	})
}

// seek moves v's playhead to pos and tells the tracker in a stats message
// (the viewer's figures, as a real peer's, and the new position).
func (r *vrun) seek(v *vviewer, pos time.Duration) {
	v.step(engine.Seek{Pos: pos})
	if v.id != "" && v.watching() {
		m, s := peer.TrackerStats(v.stats()), pos.Seconds()
		m.Position = &s
		v.trackerHandle(&m)
	}
}

// leave takes v out: its engine stops, its links close, the tracker is told.
func (r *vrun) leave(v *vviewer) {
	v.stop(v.p.q.time())
	v.serial(v.p.q.now, func() {
		if v.tid != "" {
			outs, _ := r.tracker.Leave(r.at(r.now), r.key, v.tid)
			delete(r.byID, v.tid)
			v.tid = ""
			r.deliver(outs)
		}
	})
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
